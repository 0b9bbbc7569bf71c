"""lib/python as one package (speeddata/) with the earlier flat names as aliases, importable
from any directory through the venv that ./install makes (.pth), and `speeddata` on the
venv's PATH."""
import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VENV_PYTHON = REPO / ".venv" / "bin" / "python"

# Every import path a user was told about (README, v0.6 registration README, docstrings).
DOCUMENTED = """
from lib.python.dataset import read_hdf5, read_avro, Set
from lib.python.speeddata_config import load_config
from lib.python.speeddata_client import SpeedDataClient
from lib.python.speeddata_sender import Sender
from dataset import read_hdf5 as read_hdf5_flat
from speeddata_client import SpeedDataClient as client_flat, SpeedDataError
from speeddata_config import load_config as load_config_flat
from speeddata_sender import Sender as sender_flat
from speeddata_multicast import Subscriber, parse_datagram
import speeddata
from speeddata.dataset import read_hdf5 as read_hdf5_pkg
import lib.python.dataset, dataset, speeddata.dataset

# One module object per module, whatever the path it was imported by.
assert lib.python.dataset is dataset is speeddata.dataset
assert read_hdf5 is read_hdf5_flat is read_hdf5_pkg is speeddata.read_hdf5
assert SpeedDataClient is client_flat is speeddata.SpeedDataClient
assert load_config is load_config_flat and Sender is sender_flat
assert dataset._flat_plan  # private names reachable through the old name
print(sorted(load_config('relay')['channels'])[0], speeddata.dataset.__file__)
"""


def venv_env():
    """The environment of a user's shell: no PYTHONPATH, no config override."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SPEEDDATA_CONFIG")}


@pytest.mark.skipif(not VENV_PYTHON.exists(), reason="no .venv (run ./install)")
@pytest.mark.parametrize("cwd", ["/tmp", "/", "/usr"])
def test_every_documented_import_path_works_from_any_directory(cwd):
    r = subprocess.run([str(VENV_PYTHON), "-c", DOCUMENTED], cwd=cwd, env=venv_env(), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    channel, path = r.stdout.split()
    assert channel == "example"  # the repository's config/, found from the library's location
    assert Path(path) == REPO / "lib" / "python" / "speeddata" / "dataset.py"


@pytest.mark.skipif(not VENV_PYTHON.exists(), reason="no .venv (run ./install)")
def test_the_pth_is_what_install_writes():
    site = subprocess.run([str(VENV_PYTHON), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    pth = Path(site) / "speeddata.pth"
    assert pth.read_text() == f"{REPO / 'lib' / 'python'}\nimport speeddata._site\n"


def test_from_the_repo_root_without_the_venv():
    """The Debian interpreter, no .pth: `lib.python.<name>` from the repository root as before."""
    code = ("from lib.python.dataset import read_hdf5; from lib.python.speeddata_config import load_config; "
            "from lib.python.speeddata_client import SpeedDataClient; print(load_config('relay')['storage']['avro_path'])")
    r = subprocess.run(["/usr/bin/python3", "-c", code], cwd=REPO, env=venv_env(), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "./data/avro"


def test_a_lib_package_of_another_project_still_wins(tmp_path):
    """The `lib` finder only helps when nothing else provides a regular `lib` package."""
    if not VENV_PYTHON.exists():
        pytest.skip("no .venv")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "__init__.py").write_text("MINE = True\n")
    r = subprocess.run([str(VENV_PYTHON), "-c", "import lib; print(lib.MINE); import dataset; print('ok')"],
                       cwd=tmp_path, env=venv_env(), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "ok"]


@pytest.mark.skipif(not VENV_PYTHON.exists(), reason="no .venv (run ./install)")
def test_activate_gives_python_with_the_library_and_speeddata():
    binary = REPO / "build" / "speeddata"
    if not binary.exists():
        pytest.skip("build/speeddata not built")
    script = f"source {REPO}/.venv/bin/activate && cd /tmp && python -c 'import speeddata, dataset' && speeddata --help"
    r = subprocess.run(["bash", "-c", script], env=venv_env(), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "pivot" in r.stdout and "relay" in r.stdout
    assert os.path.realpath(REPO / ".venv" / "bin" / "speeddata") == str(binary.resolve())


@pytest.mark.skipif(not VENV_PYTHON.exists(), reason="no .venv (run ./install)")
def test_install_is_idempotent():
    """A second ./install --no-build rewrites neither the .pth nor the link."""
    site = Path(subprocess.run([str(VENV_PYTHON), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    made = [site / "speeddata.pth", REPO / ".venv" / "share" / "jupyter" / "kernels" / "python3" / "kernel.json",
            *sorted((REPO / ".venv" / "bin").glob("jupyter*"))]
    link = REPO / ".venv" / "bin" / "speeddata"

    def stamps():
        return [p.stat().st_mtime_ns for p in made] + [link.lstat().st_mtime_ns if link.is_symlink() else None]
    before = stamps()
    r = subprocess.run([str(REPO / "install"), "--no-build"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert stamps() == before


@pytest.mark.skipif(not VENV_PYTHON.exists(), reason="no .venv (run ./install)")
def test_jupyter_from_the_venv_runs_on_the_venv():
    """`jupyter ...` from .venv/bin: its subcommands and its python kernel use the venv's
    interpreter (Debian's /usr/bin/jupyter* and /usr/share/jupyter kernel use /usr/bin/python3)."""
    bin_dir = REPO / ".venv" / "bin"
    for tool in ("jupyter", "jupyter-notebook", "jupyter-nbconvert"):
        assert (bin_dir / tool).read_text().splitlines()[0] == f"#!{VENV_PYTHON}", tool
    env = {**venv_env(), "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"}
    r = subprocess.run([str(bin_dir / "jupyter"), "kernelspec", "list", "--json"], cwd="/tmp", env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    spec = json.loads(r.stdout)["kernelspecs"]["python3"]["spec"]
    assert spec["argv"][0] == str(VENV_PYTHON)
    r = subprocess.run([str(bin_dir / "jupyter"), "nbconvert", "--version"], cwd="/tmp", env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip(), r.stderr
