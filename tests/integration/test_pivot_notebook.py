"""examples/jupyter/speeddata_analysis_example.ipynb runs headless against a live stack
(relay + pivot server): with `jupyter nbconvert --execute` when installed, else its code
cells run in order as one script (the same code, no kernel)."""
import json
import os
import shutil
import subprocess
import sys
import time

import sdtest
from pivot_helpers import EXAMPLE, send_records
from test_pivot_rest import start_server

NOTEBOOK = sdtest.REPO / "examples" / "jupyter" / "speeddata_analysis_example.ipynb"


def test_notebook_runs_against_a_live_stack(stack, tmp_path):
    port = stack.add_channel("example")
    stack.start_relay("example")
    t0 = time.time_ns() - 5_000_000_000
    send_records(stack, "example", port, EXAMPLE, [sdtest.example_record(i, t0=t0) for i in range(5000)])
    server, base = start_server(stack)
    env = {**os.environ, "SPEEDDATA_PIVOT_URL": base, "SPEEDDATA_REPO": str(sdtest.REPO), "MPLBACKEND": "Agg"}
    work = tmp_path / "nb"
    work.mkdir()
    if shutil.which("jupyter"):
        r = subprocess.run(["jupyter", "nbconvert", "--to", "notebook", "--execute", "--output-dir", str(work),
                            str(NOTEBOOK)], cwd=work, env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        out_nb = json.loads((work / NOTEBOOK.name).read_text())
        text = "".join("".join(o.get("text", "")) for c in out_nb["cells"] for o in c.get("outputs", []))
    else:
        nb = json.loads(NOTEBOOK.read_text())
        script = "\n\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
        (work / "notebook.py").write_text(script)
        r = subprocess.run([sys.executable, "notebook.py"], cwd=work, env=env, capture_output=True, text=True,
                           timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        text = r.stdout
    assert "pivot: 200 ok" in text
    assert "example: 5000 rows" in text            # the live export: everything cached (< 30 s)
    assert "tag 201" in text and "100 rows" in text  # samples 100..199
    assert "tagged segment: <Set: 1 channel(s)\n  example: 100 rows" in text
    assert "Sample rate: 1000.0 Hz; strongest frequency: 50.00 Hz" in text  # sin(2 pi n / 20) at 1 kHz
    assert (work / "live_export.h5").exists()
