"""Headless Chromium runs an earlier (v0.6) stripchart page against our server: an index.html
in the earlier form (latest values in <span class="data" id=FIELD>, three <canvas
class="stripchart"> charts, stripchart.js then frontend.js), fed by a real relay and
`speeddata send`. Its latest values and its charts change, in the earlier palettes:
  * served by our stripchart server with our stripchart.js and frontend.js;
  * opened from disk with our stripchart.js and a page script written the earlier way (it
    connects to ws://localhost:8081, fills the spans and calls stripcharts[i].addDataPoint).
Screenshots go to tests/artifacts/stripchart-v06-*.png."""
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from sdtest import IN_NETNS, REPO

pytestmark = [pytest.mark.skipif(not IN_NETNS, reason="needs tests/netns-run (multicast)"),
              pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="no chromium")]

DRIVER = Path(__file__).with_name("v06_driver.js")
ARTIFACTS = REPO / "tests" / "artifacts"
PORT = 8081  # the earlier pages connect to ws://localhost:8081

# An index.html in the earlier page's form (the markup its README documents).
EARLIER_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<title>SpeedData Stripchart</title>
<style>
  body { font-family: monospace; margin: 20px; }
  canvas.stripchart { display: block; width: 100%; border: 1px solid #ccc; margin: 10px 0; }
</style>
</head>
<body>
<h1>SpeedData Live Visualization</h1>
<div class="data-section">
  <p><strong>Time:</strong> <span id="time" class="data">Waiting for data...</span></p>
  <p><strong>Message:</strong> <span id="message" class="data">Waiting for data...</span>
     <span id="word" class="data">Waiting for data...</span></p>
  <p><strong>Counter:</strong> <span id="counter" class="data">Waiting for data...</span></p>
  <p><strong>Sine:</strong> <span id="sine_wave" class="data">Waiting for data...</span></p>
  <p><strong>Ramp:</strong> <span id="ramp" class="data">Waiting for data...</span></p>
</div>
<h2>Sine Wave</h2>
<canvas class="stripchart" data-signals="example.sine_wave" data-window="60" data-height="300"
        data-ymin="-1.2" data-ymax="1.2" data-theme="auto"></canvas>
<h2>All Test Signals</h2>
<canvas class="stripchart" data-signals="example.sine_wave,example.ramp,example.square_wave,example.noise"
        data-window="60" data-height="400" data-ymin="-1.5" data-ymax="1.5" data-theme="auto"></canvas>
<h2>Custom Colors</h2>
<canvas class="stripchart" data-signals="example.sine_wave,example.ramp" data-colors="#FF0000,#00FF00"
        data-window="60" data-height="300" data-ymin="-1.5" data-ymax="1.5" data-theme="auto"></canvas>
<script src="stripchart.js"></script>
<script src="frontend.js"></script>
</body>
</html>
"""

# A page script that uses the server and the chart globals exactly the way the earlier
# frontend.js did: one WebSocket on ws://localhost:8081, one JSON object per message, the
# spans by id, the charts through stripcharts / chart.signals / chart.addDataPoint.
EARLIER_STYLE_SCRIPT = """
var socket = new WebSocket("ws://localhost:8081");
socket.onmessage = function (event) {
  var record = JSON.parse(event.data);
  document.querySelectorAll(".data").forEach(function (span) {
    var field = span.getAttribute("id");
    if (record[field] !== undefined) span.textContent = record[field];
  });
  if (typeof stripcharts !== "undefined") {
    stripcharts.forEach(function (chart) {
      chart.signals.forEach(function (signal) {
        var name = signal.split(".").length > 1 ? signal.split(".")[1] : signal;
        if (record[name] !== undefined) chart.addDataPoint(signal, record[name]);
      });
    });
  }
};
"""


def drive(url, tag, schemes):
    ARTIFACTS.mkdir(exist_ok=True)
    r = subprocess.run(["/usr/bin/node", str(DRIVER), url, str(ARTIFACTS), tag, schemes], capture_output=True,
                       text=True, timeout=150)
    steps = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert r.returncode == 0, r.stdout + r.stderr
    return steps


@pytest.fixture
def live(stack, tmp_path):
    import sys
    sys.path.insert(0, str(REPO / "tests" / "integration"))
    from stripchart_ws import wait_http
    stack.add_channel("example", decimation={"factor": 1})
    (stack.config_dir / "stripchart.yaml").write_text(yaml.safe_dump({"orchestrator": {"poll_interval": 0}}))
    # The web root: our pages plus the earlier page, as a user who kept it would put it there.
    web = tmp_path / "web"
    shutil.copytree(REPO / "web" / "stripchart", web)
    (web / "earlier.html").write_text(EARLIER_PAGE)
    stack.start_relay("example")
    stack.server = stack.start("stripchart", "--web-root", str(web), name="stripchart")
    wait_http(PORT)
    stack.start("send", "--channel", "example", "--rate", "20", name="send-example")
    return stack


def check(step, fed):
    assert step["errors"] == [], step["errors"]
    g = step["globals"]
    assert g["Stripchart"] == "function" and g["stripcharts"] == 3 and g["instance"] is True
    assert g["addDataPoint"] == "function" and g["method"] == "function"
    assert g["signals"][1] == ["example.sine_wave", "example.ramp", "example.square_wave", "example.noise"]
    assert g["palettes"] == {"dark": ["#FFFF00", "#00FFFF", "#FF00FF", "#00FF00", "#FFA500", "#FF6B6B"],
                             "light": ["#0000FF", "#FF0000", "#00AA00", "#FF8000", "#8000FF", "#008080"]}
    a, b = step["before"], step["after"]
    # Latest values change: time as ISO 8601, the counter and the sine.
    assert a["time"].endswith("Z") and a["time"][10] == "T" and a["time"] != b["time"]
    assert int(b["counter"]) > int(a["counter"])
    assert a["sine_wave"] != b["sine_wave"] and -1.01 <= float(b["sine_wave"]) <= 1.01
    assert b["message"] != "Waiting for data..." or b["word"] != "Waiting for data..."
    # Charts change, in the earlier palettes; data-colors still wins.
    assert step["chart_before"]["hash"] != step["chart_after"]["hash"]
    assert step["chart_after"]["counts"][0] > 100, step["chart_after"]
    assert all(n > 40 for n in step["all"]["counts"]), step["all"]
    assert all(n > 40 for n in step["custom"]["counts"]), step["custom"]
    assert step["chart_after"]["fed"] is fed


def test_earlier_page_served_with_our_stripchart_and_frontend_js(live):
    steps = drive(f"http://localhost:{PORT}/earlier.html", "served", "dark,light")
    assert [s["scheme"] for s in steps] == ["dark", "light"]
    for s in steps:
        # Our frontend.js fills the spans from the root WebSocket; our charts take their own
        # stream (source time stamps), not addDataPoint.
        check(s, fed=False)


def test_earlier_page_from_disk_with_an_earlier_style_page_script(live, tmp_path):
    page = tmp_path / "page"
    page.mkdir()
    (page / "index.html").write_text(EARLIER_PAGE)
    shutil.copy(REPO / "web" / "stripchart" / "stripchart.js", page / "stripchart.js")
    (page / "frontend.js").write_text(EARLIER_STYLE_SCRIPT)
    steps = drive((page / "index.html").as_uri(), "disk", "dark")
    # The charts draw what the page gives them through addDataPoint, as the earlier ones did.
    check(steps[0], fed=True)
