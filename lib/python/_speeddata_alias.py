"""The one implementation of the earlier flat module names (dataset, speeddata_config, ...).

Each flat module calls module_for() and replaces itself in sys.modules with the package's
module, so `import dataset`, `import lib.python.dataset` and `import speeddata.dataset` give
one module object (same classes, same state, private names reachable)."""
import importlib
import importlib.util
import os

_PACKAGE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "speeddata")


def module_for(submodule):
    """speeddata.<submodule>: the top-level package's when it is this directory's (lib/python is
    on sys.path: the venv's .pth) or when imported flat; else lib.python.speeddata's (imported
    as lib.python.<name> from the repository root without the venv)."""
    spec = importlib.util.find_spec("speeddata")
    top_is_ours = spec is not None and _PACKAGE_DIR in [os.path.abspath(p) for p in (spec.submodule_search_locations or ())]
    if top_is_ours or not __package__:
        return importlib.import_module("speeddata." + submodule)
    return importlib.import_module(__package__ + ".speeddata." + submodule)
