"""The stripchart's history, tags, downloads and layouts in headless Chromium (playwright-core +
Debian chromium), against a real relay fed by `speeddata send` at the demo's settings (10/s,
decimation factor 10 minmax), a real stripchart server and a real pivot server. Screenshots go to
tests/artifacts/stripchart-*.png."""
import csv
import json
import math
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from sdtest import IN_NETNS, REPO, Stack, read_container, wait_for

pytestmark = [pytest.mark.skipif(not IN_NETNS, reason="needs tests/netns-run (multicast)"),
              pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="no chromium")]

DRIVER = Path(__file__).with_name("history_driver.js")
ARTIFACTS = REPO / "tests" / "artifacts"
PORT = 8081
BASE = f"http://127.0.0.1:{PORT}"


def drive(mode, timeout=180, **args):
    ARTIFACTS.mkdir(exist_ok=True)
    r = subprocess.run(["/usr/bin/node", str(DRIVER), mode, BASE, str(ARTIFACTS), json.dumps(args)],
                       capture_output=True, text=True, timeout=timeout)
    steps = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert r.returncode == 0, r.stdout + r.stderr
    (step,) = [s for s in steps if s["step"] == mode]
    assert step["errors"] == [], step["errors"]
    return step


def _wait_http(port):
    import sys
    sys.path.insert(0, str(REPO / "tests" / "integration"))
    from stripchart_ws import wait_http
    wait_http(port)


def cached(stack, channel="example"):
    """(time ms, record) of every record in the channel's cache, in time order."""
    out = []
    for f in stack.avro_files(channel):
        recs, _ = read_container(f)
        out.extend((r["time"] / 1e6, r) for r in recs)
    out.sort(key=lambda x: x[0])
    return out


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """One stack for the whole file: each test needs tens of seconds of cache at the demo's
    10 records/s, so they share it (run in file order, each waits until the cache holds what
    it needs) instead of filling a cache of their own."""
    s = Stack(tmp_path_factory.mktemp("history"))
    yield s
    s.close()


@pytest.fixture(scope="module")
def demo(stack):
    """The demo's example channel (10 records/s, decimation 10 minmax), the stripchart and the
    pivot on their default ports, and config/dashboards/test.json."""
    stack.add_channel("example", decimation={"factor": 10, "algorithm": "minmax"})
    stack.add_channel("temperature", schema="agents/temperature.avsc", decimation={"factor": 1})
    (stack.config_dir / "stripchart.yaml").write_text(yaml.safe_dump({"orchestrator": {"poll_interval": 0}}))
    (stack.config_dir / "pivot.yaml").write_text(yaml.safe_dump({"http": {"port": 8000}}))
    (stack.config_dir / "dashboards").mkdir()
    (stack.config_dir / "dashboards" / "test.json").write_text(json.dumps({
        "title": "Test bench", "window": 20, "linked": True,
        "charts": [{"signals": ["example.sine_wave", "example.ramp"], "height": 240, "ymin": -1.5, "ymax": 1.5},
                   {"signals": ["temperature.temperature_c"]}]}))
    stack.start_relay("example")
    stack.start_relay("temperature")
    stack.start("send", "--channel", "example", "--rate", "10", name="send-example")
    stack.start("send", "--channel", "temperature", "--rate", "5", name="send-temperature")
    stack.server = stack.start("stripchart", name="stripchart")
    _wait_http(PORT)
    stack.pivot = stack.start("pivot", "serve", name="pivot")
    _wait_http(8000)
    return stack


def wait_cached(stack, seconds):
    wait_for(lambda: len(cached(stack)) > 1 and cached(stack)[-1][0] - cached(stack)[0][0] > seconds * 1000,
             seconds + 30, interval=0.5, what=f"{seconds} s in the cache")


def test_page_opens_full_from_the_cache_then_continues_live(demo):
    wait_cached(demo, 25)
    s = drive("full", window=20)
    # The whole window is drawn within a second of the first frame, not filling from the right
    # (samples every 100 ms from the cache, every 500 ms from the decimated stream).
    assert s["full1"]["share"] > 0.97 and s["full1"]["leadMs"] < 300 and s["full1"]["maxGapMs"] < 700, s
    assert s["s1"]["historyRequests"] > 0 and s["s1"]["historyAvailable"], s["s1"]
    assert s["s1"]["split"] > s["s1"]["start"] + 15000, s["s1"]  # drawn from tiles up to near the edge
    # Then live, with no hole at the join of history and the live stream.
    assert s["full2"]["share"] > 0.97 and s["full2"]["leadMs"] < 300 and s["full2"]["maxGapMs"] < 700, s
    assert s["s2"]["live"] and s["s2"]["status"] == "live"


def test_zoom_and_pan_back_into_history_then_live_returns(demo):
    wait_cached(demo, 30)
    s = drive("navigate")
    assert s["live0"]["live"] and abs(s["live0"]["span"] - 10000) < 1
    z = s["zoomed"]
    assert z["live"] and z["span"] > 15000, z  # wheel out while live: wider, still following
    assert s["zoomed2"]["span"] == z["span"]  # the charts share the time axis
    p = s["panned"]
    assert not p["live"] and p["status"] == "paused" and p["end"] < p["liveRight"] - 5000, p
    assert s["panned2"]["end"] == p["end"]  # ... and the pan
    zin = s["zin"]
    assert zin["span"] < p["span"] and abs(s["tUnder2"] - s["tUnder"]) < zin["span"] * 0.02  # zoom about the pointer
    assert zin["historyRequests"] > 0 and zin["points"] > 0
    assert s["fill"]["share"] > 0.95 and s["fill"]["maxGapMs"] < 300, s  # drawn from the cache's tiles
    far = s["far"]  # dragged far back: stopped where the cache begins
    first = far["coverage"]["example"]["first"]
    assert far["start"] < first < far["end"] and far["end"] - far["span"] * 0.1 >= first - 1, far
    assert s["panFps"] >= 50, s["panFps"]
    b = s["back"]
    assert b["live"] and b["status"] == "live" and abs(b["end"] - b["liveRight"]) < 1000, b
    assert s["back2"]["live"]


def test_range_selection_makes_a_tag_seen_on_a_second_page(demo):
    wait_cached(demo, 10)
    name = f"spike-{int(time.time())}"
    s = drive("tag", name=name)
    assert s["msg"].startswith("tagged") or s["msg"] == "closed", s["msg"]
    (tag,) = [t for t in s["tagsB"] if t["name"] == name]
    sel = s["sel"]
    assert abs(tag["start"] - sel["start"]) < 0.01 and abs(tag["end"] - sel["end"]) < 0.01, (tag, sel)
    assert tag["channels"] == ["example"] and tag["note"] == "made in the browser"
    assert tag["id"] in s["shownB"]  # drawn on the other page's chart
    assert s["seenMs"] < 5000
    # The pivot has it (the same range), with its HDF5 file.
    listed = json.loads(subprocess.run(
        ["curl", "-s", "http://127.0.0.1:8000/api/v1/tags"], capture_output=True, text=True).stdout)["tags"]
    assert any(t["name"] == name and t["rows"] > 0 for t in listed)


def test_csv_and_hdf5_downloads_hold_exactly_the_selected_range(demo, tmp_path):
    import h5py
    wait_cached(demo, 25)
    s = drive("download", dir=str(tmp_path))
    start, end = s["sel"]["start"], s["sel"]["end"]
    time.sleep(1.5)  # the cache has everything of the range
    expect = [r for t, r in cached(demo) if start <= t < end]
    assert len(expect) > 20
    assert "path" in s["files"]["hdf5"], s["files"]["hdf5"]["message"]
    with h5py.File(s["files"]["hdf5"]["path"], "r") as f:
        t_ns = f["example"]["time"][:] if "time" in f["example"] else f["example"]["time_ns"][:]
        sine = f["example"]["sine_wave"][:]
    assert list(sine) == [r["sine_wave"] for r in expect]
    assert t_ns.min() >= start * 1e6 - 1000 and t_ns.max() < end * 1e6 + 1000
    assert s["files"]["hdf5"]["suggested"].endswith(".h5")
    assert "path" in s["files"]["csv"], s["files"]["csv"]["message"]
    rows = list(csv.DictReader(open(s["files"]["csv"]["path"], newline="")))
    assert [float(r["sine_wave"]) for r in rows] == [r["sine_wave"] for r in expect]
    assert s["files"]["csv"]["suggested"].endswith(".csv")


def test_saved_layout_reopens_by_url_with_its_view(demo):
    wait_cached(demo, 15)
    s = drive("layout", name="test")
    o = s["opened"]
    assert o["charts"] == [["example.sine_wave", "example.ramp"], ["temperature.temperature_c"]]
    assert o["title"] == "Test bench" and o["heights"][0] == 240 and abs(o["view"]["span"] - 20000) < 1
    assert o["view"]["live"] and "layout=test" in o["url"]
    p = s["panned"]
    assert not p["view"]["live"] and "start=" in p["url"] and "end=" in p["url"], p["url"]
    r = s["reopened"]
    assert r["charts"] == o["charts"]
    assert not r["view"]["live"]
    assert abs(r["view"]["end"] - p["view"]["end"]) < 2 and abs(r["view"]["start"] - p["view"]["start"]) < 2
    assert all(abs(v["end"] - r["view"]["end"]) < 2 for v in r["views"])  # linked axes
    e = s["edited"]
    assert e["charts"] == [["example.sine_wave", "example.ramp", "example.square_wave"]]
    assert "charts=example.sine_wave,example.ramp,example.square_wave" in e["url"], e["url"]
    assert s["file"]["charts"] == [{"signals": ["example.sine_wave", "example.ramp", "example.square_wave"],
                                    "height": 240, "ymin": -1.5, "ymax": 1.5}]


def test_demo_sine_is_drawn_rising_where_it_rises(demo):
    wait_cached(demo, 22)
    s = drive("sine", window=20)
    recs = cached(demo)
    w, h = s["width"], s["height"]
    lo, hi = s["yRange"]
    # The known signal: sin(2 pi counter / 20), at each column's centre time, from the cache.
    ts = [t for t, _ in recs]
    import bisect
    drawn, expect = [], []
    for x, row in enumerate(s["rows"]):
        if row is None:
            continue
        t = s["start"] + (x + 0.5) / w * (s["end"] - s["start"])
        i = bisect.bisect_left(ts, t)
        if i == 0 or i >= len(ts):
            continue
        (t0, r0), (t1, r1) = recs[i - 1], recs[i]
        c = r0["counter"] + (t - t0) / (t1 - t0) * (r1["counter"] - r0["counter"])
        expect.append(math.sin(2 * math.pi * c / 20))
        drawn.append(hi - row[0] / h * (hi - lo))
    assert len(drawn) > 0.8 * w, (len(drawn), w, s["modes"], s["used"], s["pts"], s["multi"], s["split"], s["liveFirst"])
    n = len(drawn)
    me, md = sum(expect) / n, sum(drawn) / n
    cov = sum((a - me) * (b - md) for a, b in zip(expect, drawn))
    corr = cov / math.sqrt(sum((a - me) ** 2 for a in expect) * sum((b - md) ** 2 for b in drawn))
    assert corr > 0.9, corr
    # Where the signal rises steeply, the drawn line rises (screen rows go up).
    step = max(2, w // 300)
    # Largest change of the sine over `step` columns: 2 pi / 20 per sample, 10 samples/s.
    max_delta = 2 * math.pi / 20 * 10 * step * (s["end"] - s["start"]) / 1000 / w
    agree = total = 0
    for k in range(0, n - step, step):
        de = expect[k + step] - expect[k]
        if abs(de) < 0.5 * max_delta:
            continue
        total += 1
        agree += (drawn[k + step] - drawn[k]) * de > 0
    assert total > 20 and agree / total > 0.9, (agree, total)
    assert s["modes"] == ["line"]  # 10/s in a 20 s window: a line, not an envelope
