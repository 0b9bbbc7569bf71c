"""examples/jupyter/speeddata_analysis_example.ipynb, executed as a user runs it: the
stack of `make demo` (`speeddata up --demo`: orchestrator :8080, pivot :8000, the demo
source at 100 records/s; the default ports are free in this test's network namespace), then
`jupyter nbconvert --to notebook --execute` from the venv with no address given, so the
notebook's defaults are what is tested. Its outputs must hold the plots (image/png) and no
error, and print what a person wants to read."""
import json
import os
import re
import shutil
import subprocess

import sdtest
from sdtest import wait_for
from orchlib import Api

NOTEBOOK = sdtest.REPO / "examples" / "jupyter" / "speeddata_analysis_example.ipynb"
JUPYTER = sdtest.REPO / ".venv" / "bin" / "jupyter"


def test_notebook_runs_against_the_demo_stack(stack, tmp_path):
    assert JUPYTER.exists(), "no .venv/bin/jupyter: run ./install"
    stack.add_channel("example", port=26000)
    for f in ("stripchart.yaml", "pivot.yaml"):
        (stack.config_dir / f).write_text((sdtest.REPO / "config" / f).read_text())
    up = stack.start("up", "--demo", name="up")
    orchestrator, pivot = Api(8080), Api(8000)

    def served(api):
        assert up.alive(), up.output()
        try:
            return api.get("/api/v1/health")[0] == 200
        except OSError:
            return False
    wait_for(lambda: served(orchestrator) and served(pivot), 30, what="orchestrator and pivot under up --demo")
    # At least 3 s of demo data indexed, so the notebook's samples 100..199 exist.
    wait_for(lambda: any(c["name"] == "example" and c["records"] >= 300
                         for c in pivot.get("/api/v1/channels")[1]["channels"]), 60, what="300 cached records")

    work = tmp_path / "nb"
    work.mkdir()
    shutil.copy(NOTEBOOK, work / NOTEBOOK.name)  # the kernel runs in the notebook's directory
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SPEEDDATA_URL", "SPEEDDATA_PIVOT", "SPEEDDATA_CHANNEL", "MPLBACKEND", "PYTHONPATH"))}
    env["PATH"] = f"{sdtest.REPO / '.venv' / 'bin'}:{env.get('PATH', '')}"  # as after `source .venv/bin/activate`
    r = subprocess.run([str(JUPYTER), "nbconvert", "--to", "notebook", "--execute", "--output", "executed.ipynb",
                        "--ExecutePreprocessor.timeout=240", NOTEBOOK.name],
                       cwd=work, env=env, capture_output=True, text=True, timeout=400)
    assert r.returncode == 0, r.stderr[-4000:]
    nb = json.loads((work / "executed.ipynb").read_text())
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    assert [o for o in outputs if o["output_type"] == "error"] == []
    assert not [o for o in outputs if o.get("name") == "stderr"], [o["text"] for o in outputs if o.get("name") == "stderr"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 3, "time series, tagged segment, spectrum shown inline"
    text = "".join("".join(o.get("text", "")) for o in outputs)

    assert re.search(r"pivot server http://localhost:8000: ok, cache in /\S+", text), text
    assert "example: port 26000, status active, " in text
    assert re.search(r"example: \d+ records cached, 20\d\d-\d\d-\d\dT", text), text
    m = re.search(r"(\d+) samples from (\S+) to (\S+)", text)
    assert m and int(m.group(1)) >= 300, text
    assert re.search(r"example_\S+\.avro: \d+ samples, signals message, counter, sine_wave, ramp, square_wave, noise",
                     text), text
    m = re.search(r"Tagged 'notebook segment' as tag (\d+): 100 rows of example, (\S+) to (\S+)\n", text)
    assert m, text
    assert "tag 201" not in text  # an HTTP status is not for the reader
    assert "tagged segment: <Set: 1 channel(s)\n  example: 100 rows" in text
    m = re.search(r"Sample rate: ([\d.]+) Hz; strongest frequency: ([\d.]+) Hz", text)
    assert m, text
    rate, peak = float(m.group(1)), float(m.group(2))
    assert 9 <= rate <= 11, rate         # the demo source: 10 records/s
    assert abs(peak - 0.5) < 0.03, peak  # sin(2 pi counter / 20) at 10/s
    assert (work / "live_export.h5").exists() and list(work.glob("tagged_event_*.h5"))


def test_make_notebook_serves_the_example_on_localhost(tmp_path):
    """scripts/notebook (make notebook): Jupyter on 127.0.0.1 only, no browser, prints the
    notebook's URL, kernels on the venv's interpreter. No stack here: it says so and starts."""
    import signal
    import socket
    import urllib.request
    log = tmp_path / "notebook.log"
    env = {k: v for k, v in os.environ.items() if k not in ("SPEEDDATA_NOTEBOOK_PORT", "SPEEDDATA_PIVOT_URL")}
    env["BROWSER"] = "false"  # were a browser opened anyway, nothing would show up
    with open(log, "w") as out:
        p = subprocess.Popen([str(sdtest.REPO / "scripts" / "notebook")], stdout=out, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, env=env, cwd=tmp_path)
    try:
        wait_for(lambda: "running at" in log.read_text() or p.poll() is not None, 60, what="Jupyter up")
        text = log.read_text()
        assert p.poll() is None, text
        assert "no pivot server at http://localhost:8000: start the stack first (`make demo`" in text
        m = re.search(r"SpeedData notebook: (http://127\.0\.0\.1:(\d+)/notebooks/speeddata_analysis_example\.ipynb"
                      r"\?token=\w+)", text)
        assert m, text
        url, port = m.group(1), int(m.group(2))
        with urllib.request.urlopen(url, timeout=20) as r:
            assert r.status == 200 and b"speeddata_analysis_example" in r.read()
        specs = json.loads(urllib.request.urlopen(url.replace("/notebooks/speeddata_analysis_example.ipynb",
                                                              "/api/kernelspecs"), timeout=20).read())
        assert specs["kernelspecs"][specs["default"]]["spec"]["argv"][0] == str(sdtest.REPO / ".venv" / "bin" / "python")
        # Bound to loopback only: another address of this host is refused.
        with socket.socket() as s:
            s.bind(("127.0.0.2", 0))
            assert s.connect_ex(("127.0.0.2", port)) != 0
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(30)
