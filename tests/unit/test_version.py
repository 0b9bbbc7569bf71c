"""The version is written once, in CMakeLists.txt's project(VERSION), and every place that
shows it (speeddata --version; the relay's speeddata.writer and the health answers, tested
with their servers) shows that one."""
import os
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = os.environ.get("SPEEDDATA_BIN", str(REPO / "build" / "speeddata"))


def project_version():
    return re.search(r"project\(speeddata VERSION ([\d.]+)", (REPO / "CMakeLists.txt").read_text()).group(1)


def test_version_is_the_projects():
    r = subprocess.run([BIN, "--version"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and r.stdout.strip() == f"speeddata {project_version()}", r.stdout + r.stderr


def test_no_source_file_spells_the_version():
    v = re.escape(project_version())
    hits = [str(p.relative_to(REPO)) for p in (REPO / "src").rglob("*") if p.suffix in (".cpp", ".hpp")
            and re.search(rf'"[^"]*\b{v}\b[^"]*"', p.read_text(errors="replace"))]
    assert hits == [], f"the version is spelled in {hits}: use speeddata::version (core/version.hpp)"
