"""Every code block of README.md runs as written (issue: a newcomer's first hour).

The quick start's `make demo` stack runs (scripts/demo, what `make demo` runs after ./install)
in a scratch copy of the checkout: its own config/ and data/, the build, library, pages and
venv linked in. Then every fenced block with a language runs in README order, in that
directory, as the README says: in a second terminal, after `source .venv/bin/activate`:

* sh/bash: bash -e, must exit 0;
* python: the venv's python, must exit 0;
* html: saved as a file and opened from disk in headless Chromium: every chart goes live;
* cpp: compiled as a translation unit against include/.

A block may be skipped only with `<!-- readme-test: skip: REASON -->` right before it; the
reasons are checked to be there. Blocks without a language are pictures or output."""
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from sdtest import IN_NETNS, REPO, wait_for

pytestmark = [pytest.mark.skipif(not IN_NETNS, reason="needs tests/netns-run (multicast, default ports)"),
              pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="no chromium")]

README = REPO / "README.md"
RUNNABLE = {"sh", "bash", "python", "html", "cpp"}
FENCE = re.compile(r"(?:<!-- readme-test: (?P<directive>[^>]*?) -->\n)?```(?P<lang>[a-z+]*)\n(?P<body>.*?)```\n",
                   re.S)


def blocks():
    out = []
    text = README.read_text()
    for m in FENCE.finditer(text):
        line = text.count("\n", 0, m.start("lang")) + 1
        out.append({"lang": m.group("lang"), "body": m.group("body"), "line": line,
                    "directive": m.group("directive")})
    return out


def test_every_skip_says_why_and_every_block_is_known():
    bs = blocks()
    assert len([b for b in bs if b["lang"] in RUNNABLE]) >= 8
    for b in bs:
        if b["directive"] is not None:
            assert re.fullmatch(r"skip: .{10,}", b["directive"]), f"README.md:{b['line']}: {b['directive']!r}"
        assert b["lang"] in RUNNABLE | {""}, f"README.md:{b['line']}: block language {b['lang']!r} is not run"


def _health(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """A scratch checkout running the demo stack on the default ports."""
    root = tmp_path_factory.mktemp("readme")
    shutil.copytree(REPO / "config", root / "config")
    for name in ("build", "lib", "web", "examples", "include", "scripts", "node_modules", ".venv"):
        (root / name).symlink_to(REPO / name)
    assert (REPO / ".venv" / "bin" / "speeddata").resolve().is_file(), "no .venv/bin/speeddata: run ./install"
    env = dict(os.environ)
    env.pop("SPEEDDATA_CONFIG", None)
    env["SPEEDDATA_BIN"] = str(REPO / "build" / "speeddata")
    log = open(root / "demo.log", "w")
    demo = subprocess.Popen([str(root / "scripts" / "demo")], cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(lambda: "SpeedData is up" in (root / "demo.log").read_text() or demo.poll() is not None, 90,
                 what="make demo's stack up")
        assert demo.poll() is None, (root / "demo.log").read_text()
        assert all(_health(p) for p in (8080, 8081, 8000))
        # The snippets export [now-30s, now-20s): wait until the cache holds that much.
        first = time.time()
        wait_for(lambda: list((root / "data" / "avro" / "example").glob("*.avro")), 30, what="a cache file")
        time.sleep(max(0.0, 32 - (time.time() - first)))
        yield root
    finally:
        demo.send_signal(signal.SIGINT)  # as Ctrl-C: everything stops, relays flush
        try:
            demo.wait(30)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait()
        log.close()


def _run(cmd, root, timeout=120, **kw):
    env = {k: v for k, v in os.environ.items() if k not in ("SPEEDDATA_CONFIG", "PYTHONPATH")}
    return subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=timeout, **kw)


def test_every_block_runs_as_written(checkout):
    root = checkout
    ran = []
    for i, b in enumerate(blocks()):
        if b["lang"] not in RUNNABLE or b["directive"] is not None:
            continue
        where = f"README.md:{b['line']} ({b['lang']})"
        if b["lang"] in ("sh", "bash"):
            # A second terminal: the README says to activate the venv first.
            script = "set -eo pipefail\nsource .venv/bin/activate\n" + b["body"]
            r = _run(["/bin/bash", "-c", script], root)
        elif b["lang"] == "python":
            r = _run([str(root / ".venv" / "bin" / "python"), "-c", b["body"]], root)
        elif b["lang"] == "cpp":
            src = root / f"block{i}.cpp"
            src.write_text(b["body"])
            r = _run(["g++", "-std=c++20", "-Wall", "-Wextra", "-Werror", "-Iinclude", "-c", str(src), "-o",
                      str(root / f"block{i}.o")], root)
        else:
            page = root / f"block{i}.html"
            page.write_text("<!doctype html><html><body style='background:#000'>\n" + b["body"] + "</body></html>\n")
            shot = REPO / "tests" / "artifacts" / "readme-html.png"
            shot.parent.mkdir(exist_ok=True)
            r = _run(["/usr/bin/node", str(REPO / "tests" / "e2e" / "readme_driver.js"), str(page), str(shot)], root,
                     timeout=120)
            import json
            lines = [line for line in r.stdout.splitlines() if line.startswith("{")]
            assert r.returncode == 0 and lines, where + "\n" + r.stdout + r.stderr
            res = json.loads(lines[-1])
            assert res["errors"] == [], (where, res)
            assert res["charts"] and all(c["status"] == "live" and c["points"] > 0 for c in res["charts"]), (where, res)
        assert r.returncode == 0, f"{where} exited {r.returncode}\n--- block\n{b['body']}--- stdout\n{r.stdout}" \
                                  f"--- stderr\n{r.stderr}"
        assert "Traceback" not in r.stderr, where + "\n" + r.stderr
        ran.append((where, r.stdout))
    assert len(ran) >= 8, ran
    # What a reader looks at in the output: cached records, the relay's counters, the export.
    first = ran[0][1]
    assert first.count('"sine_wave"') == 3, first
    assert '"records_written"' in first and '"malformed": 0' in first, first
    assert any("['example']" in o for _, o in ran), ran
    for name in ("output.h5", "export.h5"):
        assert (root / name).read_bytes()[:8] == b"\x89HDF\r\n\x1a\n", name
