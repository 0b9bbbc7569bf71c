"""Run at interpreter start by the venv's speeddata.pth (written by ./install).

The .pth puts lib/python on sys.path, which serves `import speeddata`, `import dataset`,
`import speeddata_config` and the other flat names. The documented `from lib.python.dataset
import read_hdf5` also needs the repository's `lib` package, and putting the whole repository
root on sys.path would make every top-level directory (build, tests, config, ...) importable
as a namespace package. So this adds a finder for the one name `lib`: a regular `lib`
package found on sys.path (the repository root is the current directory, or another project
has a `lib` package of its own) still wins; a plain `lib` directory (like /usr/lib when
Python runs in /usr) does not shadow the repository's.
"""
import importlib.machinery
import importlib.util
import os
import sys

_LIB_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # <repo>/lib


class _RepoLibFinder:
    """Finds the top-level package `lib` as <repo>/lib when nothing else on sys.path has it."""

    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        if fullname != "lib" or path is not None:
            return None
        found = importlib.machinery.PathFinder.find_spec(fullname)
        if found is not None and found.origin is not None:
            return found  # a regular package or module named lib on sys.path
        init = os.path.join(_LIB_DIR, "__init__.py")
        if not os.path.isfile(init):
            return found
        return importlib.util.spec_from_file_location("lib", init, submodule_search_locations=[_LIB_DIR])

    @classmethod
    def invalidate_caches(cls):
        pass


def install():
    """Puts the finder just before the path-based finder (idempotent)."""
    if any(getattr(f, "__name__", "") == "_RepoLibFinder" for f in sys.meta_path):
        return
    at = next((i for i, f in enumerate(sys.meta_path) if f is importlib.machinery.PathFinder), len(sys.meta_path))
    sys.meta_path.insert(at, _RepoLibFinder)


install()
