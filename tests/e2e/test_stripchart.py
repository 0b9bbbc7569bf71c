"""The stripchart pages in headless Chromium (playwright-core + Debian chromium): the dashboard
and the README's example page (opened from disk) show live data from a real relay fed by
`speeddata send`, in the documented colours and themes, and reconnect after a server restart.
Screenshots go to tests/artifacts/."""
import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from sdtest import IN_NETNS, REPO

pytestmark = [pytest.mark.skipif(not IN_NETNS, reason="needs tests/netns-run (multicast)"),
              pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="no chromium")]

DRIVER = Path(__file__).with_name("stripchart_driver.js")
ARTIFACTS = REPO / "tests" / "artifacts"
PORT = 8081  # the default: the example page opened from disk connects to ws://localhost:8081


def drive(mode, url, timeout=90):
    ARTIFACTS.mkdir(exist_ok=True)
    r = subprocess.run(["/usr/bin/node", str(DRIVER), mode, url, str(ARTIFACTS)], capture_output=True,
                       text=True, timeout=timeout)
    steps = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert r.returncode == 0, r.stdout + r.stderr
    return steps


def _wait(port=PORT):
    import sys
    sys.path.insert(0, str(REPO / "tests" / "integration"))
    from stripchart_ws import wait_http
    wait_http(port)


@pytest.fixture
def stack_live(stack):
    stack.add_channel("example", decimation={"factor": 1})
    stack.add_channel("temperature", schema="agents/temperature.avsc", decimation={"factor": 1})
    (stack.config_dir / "stripchart.yaml").write_text(yaml.safe_dump({"orchestrator": {"poll_interval": 0}}))
    stack.start_relay("example")
    stack.start_relay("temperature")
    stack.server = stack.start("stripchart", name="stripchart")
    _wait()
    stack.sender = stack.start("send", "--channel", "example", "--rate", "20", name="send-example")
    stack.start("send", "--channel", "temperature", "--rate", "5", name="send-temperature")
    return stack


def test_dashboard_shows_every_channel_live_in_both_themes(stack_live):
    steps = drive("dashboard", f"http://127.0.0.1:{PORT}/")
    assert [s["scheme"] for s in steps] == ["dark", "light"]
    for s in steps:
        assert s["errors"] == []
        a, b = s["before"], s["after"]
        assert set(a["vals"]) == {"example", "temperature"}
        # every numeric signal has its chart; time and strings do not
        assert set(a["charts"]) == {"example.counter", "example.sine_wave", "example.ramp", "example.square_wave",
                                    "example.noise", "temperature.temperature_c", "temperature.temperature_f",
                                    "temperature.pressure_pa", "temperature.humidity_pct"}
        ex_a, ex_b = a["vals"]["example"], b["vals"]["example"]
        assert ex_a["Time"].endswith("Z") and ex_a["Time"][4] == "-" and ex_a["Time"][10] == "T"
        assert ex_a["Time"] != ex_b["Time"] and ex_a["counter"] != ex_b["counter"]  # latest values change
        assert ex_b["message"] not in ("", "–")
        assert b["vals"]["temperature"]["status"] in ("ok", "warning", "error")  # a string, as the earlier sent
        assert s["canvas_before"]["hash"] != s["canvas_after"]["hash"]  # the chart moves
        assert s["canvas_after"]["status"] == "live"
        assert s["palette"]["counts"][0] > 50, s["palette"]  # first palette colour of the theme
        assert b["conn"] == "connected"
        dark = s["scheme"] == "dark"
        assert (b["bg"] == "rgb(22, 22, 23)") == dark
        # The legend and the latest-values panel show the same value (same record, same
        # format) for every chart's signal, at every look.
        for look in s["agree"]:
            for c in look:
                assert c["legend"] is not None and c["legend"] == c["panel"], c
                assert c["source"] == "latest", c
        # Readable numbers in the panel: integers as integers, else <= 6 significant digits,
        # never "-0" and never 1e-14-style noise.
        for ch, vals in b["vals"].items():
            for k, v in vals.items():
                if k in ("Time",) or not re.fullmatch(r"-?\d[\d.]*(e[+-]\d+)?", v):
                    continue
                assert v != "-0", (ch, k)
                mant = re.sub(r"e.*$", "", v).replace("-", "")
                if "." in mant:
                    assert len(mant.replace(".", "").lstrip("0")) <= 6, (ch, k, v)
                if "e-" in v:
                    assert int(v.split("e-")[1]) < 9, (ch, k, v)
        assert s["formats"] == ["0", "0", "0.951057", "12345", "1.5e-7"]
        # A favicon, and no failed request (the browser asks for one).
        assert s["favicon"]["href"] == "favicon.svg"
        assert s["favicon"]["linked"] == {"status": 200, "type": "image/svg+xml"}, s["favicon"]
        assert s["favicon"]["ico"] == {"status": 200, "type": "image/x-icon"}, s["favicon"]
        assert s["failed"] == [], s["failed"]
        assert not any("404" in m for m in s["console_errors"]), s["console_errors"]


def test_example_page_from_disk_colours_themes_pause(stack_live, tmp_path):
    # The README example as a user would have it: an HTML file on disk next to stripchart.js.
    for f in ("example.html", "stripchart.js"):
        shutil.copy(REPO / "web" / "stripchart" / f, tmp_path / f)
    steps = drive("example", (tmp_path / "example.html").as_uri())
    for s in steps:
        assert s["errors"] == []
        assert s["server"] == "ws://localhost:8081/ws"
        f0, f1, f2 = s["first"]
        assert f0["cssHeight"] == 300 and f1["cssHeight"] == 400 and f2["cssHeight"] == 300  # data-height
        assert f0["windowMs"] == 60000
        assert f0["yRange"] == [-1.2, 1.2] and f1["yRange"] == [-1.5, 1.5]  # data-ymin/ymax
        y2 = s["c2"]["yRange"]
        assert y2[0] < -0.9 and 0.9 < y2[1] < 1.3, y2  # auto-scaled to the data (3 s of a 1 Hz sine)
        assert s["c0"]["hash"] != f0["hash"]  # live
        dark = s["scheme"] == "dark"
        assert (s["c0"]["corner"] == [0, 0, 0]) == dark and (s["c0"]["corner"] == [255, 255, 255]) == (not dark)
        assert s["c0"]["counts"][0] > 100, s["c0"]  # Yellow (dark) / Blue (light)
        assert all(n > 40 for n in s["c1"]["counts"]), s["c1"]  # first three palette colours (legend swatch: 30)
        red, green, default = s["c2"]["counts"]
        assert red > 100 and green > 100, s["c2"]  # data-colors override...
        if dark:
            assert default == 0  # ...replaces the palette (no yellow)
        # Hover near the right edge: a time under the cursor and a value for every signal
        ro = s["readout"]
        assert ro and abs(ro["t"] - ro["at"]) < 10_000, ro
        assert all(v is not None and -1.01 <= v <= 1.01 for v in ro["values"]), ro
        # Pause: the chart freezes while the data keeps buffering; resume moves again.
        p1, p2, p3 = s["paused"]
        assert p1["status"] == "paused" and p1["hash"] == p2["hash"]
        assert s["buffered"][1] > s["buffered"][0]
        assert p3["status"] == "live" and p3["hash"] != p2["hash"]


def test_stale_data_then_reconnect_after_server_restart(stack_live):
    proc = subprocess.Popen(["/usr/bin/node", str(DRIVER), "reconnect", f"http://127.0.0.1:{PORT}/example.html",
                             str(ARTIFACTS)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    ARTIFACTS.mkdir(exist_ok=True)
    steps = []
    try:
        for line in proc.stdout:
            step = json.loads(line)
            steps.append(step)
            if step["step"] == "stop-source-now":
                stack_live.sender.stop()
                proc.stdin.write("ok\n")
                proc.stdin.flush()
            if step["step"] == "restart-now":
                assert stack_live.server.stop() == 0
            if step["step"] == "down":
                stack_live.server = stack_live.start("stripchart", name="stripchart")
                _wait()
                stack_live.sender = stack_live.start("send", "--channel", "example", "--rate", "20", name="send-example")
                proc.stdin.write("go\n")
                proc.stdin.flush()
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    by = {s["step"]: s for s in steps}
    assert "error" not in by, by.get("error")
    assert by["live"]["status"][0] == "live"
    assert by["stale"]["status"][0] == "stale"
    assert by["down"]["status"][0] in ("connecting", "closed")
    assert by["back"]["status"][0] == "live" and by["back"]["changed"]


def test_loss_marker_drawn_where_the_sequence_jumps(stack_live):
    import socket as so
    import struct
    import sys
    from sdtest import McastListener, encode, example_record, load_schema, parse_mcast
    sys.path.insert(0, str(REPO / "tests" / "integration"))
    ml = McastListener("239.1.1.2", 6001)
    proc = subprocess.Popen(["/usr/bin/node", str(DRIVER), "loss", f"http://127.0.0.1:{PORT}/example.html",
                             str(ARTIFACTS)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    ARTIFACTS.mkdir(exist_ok=True)
    steps = []
    try:
        for line in proc.stdout:
            step = json.loads(line)
            steps.append(step)
            if step["step"] == "inject-now":
                last = [d for d in ml.parsed() if d["channel"] == "example"][-1]
                schema = load_schema(stack_live.config_dir / "agents" / "example.avsc")
                rec = example_record(0, t0=time.time_ns())
                name = b"example"
                hdr = (b"SDM1" + bytes([1, 1]) + struct.pack("<HQQH", 28 + len(name), last["fingerprint"],
                                                             last["sequence"] + 40, 1) + bytes([len(name), 0]) + name)
                out = so.socket(so.AF_INET, so.SOCK_DGRAM)
                out.setsockopt(so.IPPROTO_IP, so.IP_MULTICAST_IF, so.inet_aton("127.0.0.1"))
                out.sendto(hdr + encode(schema, rec), ("239.1.1.2", 6001))
                out.close()
                proc.stdin.write("go\n")
                proc.stdin.flush()
        assert proc.wait(60) == 0
    finally:
        ml.close()
        if proc.poll() is None:
            proc.kill()
    by = {s["step"]: s for s in steps}
    assert "error" not in by, by.get("error")
    loss = by["loss"]
    assert loss["loss"][0]["missing"] >= 30  # ~39 datagrams skipped (the relay may have sent a few since)
    assert loss["before"] == 0 and loss["after"] > 50  # the dashed red marker line
