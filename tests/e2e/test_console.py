"""The orchestrator's web console in headless Chromium: register through the form, see the
channel go active, de-register it; screenshots kept in tests/artifacts/."""
import json
import subprocess
from pathlib import Path

import sdtest
from orchlib_path import orchlib  # noqa: F401  (puts tests/integration on sys.path)
from orchlib import pid_alive, send_example, start_orchestrator

HERE = Path(__file__).resolve().parent
ARTIFACTS = sdtest.REPO / "tests" / "artifacts"


def test_console_register_active_deregister(stack):
    stack.add_channel("example")
    proc, api = start_orchestrator(stack)
    try:
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "console.png"
        shot.unlink(missing_ok=True)
        r = subprocess.run(["/usr/bin/node", str(HERE / "console_driver.mjs"), api.base, str(ARTIFACTS), "web1",
                            str(sdtest.REPO / "config" / "agents" / "example.avsc")],
                           capture_output=True, text=True, timeout=90)
        assert r.stdout.strip(), r.stderr
        res = json.loads(r.stdout.strip().splitlines()[-1])
        assert r.returncode == 0, (res, r.stderr)
        assert res["steps"] == ["table", "registered", "active", "deregistered"]
        assert res["initial_rows"] == ["example"]
        assert "registered web1 on UDP port" in res["register_message"]
        assert res["schema_shown"] is True
        assert "stripchart not running" in res["ws_state"] or "live from" in res["ws_state"]
        assert res["duplicate_message"].startswith("409") and "exists" in res["duplicate_message"]
        assert res["kept_after_cancel"] is True
        assert res["page_errors"] == []
        assert res["theme"] in ("dark", "light")
        assert shot.stat().st_size > 10000
        # The API agrees: the channel is gone and its relay stopped.
        assert api.get("/api/v1/channels/web1")[0] == 404
    finally:
        proc.stop()


def test_console_shows_latest_values_from_the_stripchart(stack):
    stack.add_channel("example")
    for f in ("stripchart.yaml",):
        (stack.config_dir / f).write_text((sdtest.REPO / "config" / f).read_text())
    proc, api = start_orchestrator(stack)
    strip = stack.start("stripchart", "--port", "8081", name="stripchart")
    src = stack.start("send", "--channel", "example", "--rate", "200", name="send")
    try:
        ARTIFACTS.mkdir(exist_ok=True)
        r = subprocess.run(["/usr/bin/node", str(HERE / "console_values_driver.mjs"), api.base, str(ARTIFACTS),
                            "example", "counter"], capture_output=True, text=True, timeout=90)
        assert r.stdout.strip(), r.stderr
        res = json.loads(r.stdout.strip().splitlines()[-1])
        assert r.returncode == 0, (res, r.stderr, strip.output()[-2000:])
        assert "ws://" in res["ws_state"] and ":8081/ws" in res["ws_state"]
        # Live: the counter advances between two reads a second apart.
        c1 = float(res["first"]["counter"].replace(",", ""))
        c2 = float(res["second"]["counter"].replace(",", ""))
        assert c2 > c1
        assert {"time", "sine_wave", "ramp"} <= set(res["second"])
    finally:
        src.stop()
        strip.stop()
        proc.stop()
