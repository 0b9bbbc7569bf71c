"""relay -> cache -> GET /api/v1/series (src/history, on a real http::Server at 127.0.0.1):
tiles against brute force over the cached records, for random ranges and widths, over rotated
files and the file the relay is writing; sidecars after the files are closed; errors."""
import bisect
import json
import os
import random
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

import sdtest
from pivot_helpers import EXAMPLE, T0_NS, send_records

BUILD = Path(os.environ.get("SPEEDDATA_BUILD_DIR", sdtest.REPO / "build"))
FIELDS = ["counter", "sine_wave", "ramp", "noise"]


@pytest.fixture
def stack(tmp_path):
    s = sdtest.Stack(tmp_path)
    yield s
    s.close()


class HistoryServer:
    def __init__(self, stack):
        self.proc = sdtest.Proc([str(BUILD / "history_server"), str(stack.data_dir / "avro"),
                                 str(stack.data_dir / "state" / "history")], stack.root / "history.log")
        stack.procs.append(self.proc)
        sdtest.wait_for(lambda: "port " in self.proc.output() or not self.proc.alive(), 10, what="history server")
        assert self.proc.alive(), self.proc.output()
        self.port = int(self.proc.output().split("port ")[1].split()[0])

    def get(self, **params):
        url = f"http://127.0.0.1:{self.port}/api/v1/series?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=30) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())


def brute(records, field, start, end, points):
    """Tiles by the documented semantics, straight from the records (file order)."""
    span = end - start
    bounds = [start + k * span // points for k in range(points)]  # tile starts, as documented
    tiles = [None] * points
    for r in records:
        t = r["time"]
        if not start <= t < end:
            continue
        k = bisect.bisect_right(bounds, t) - 1
        v = float(r[field])
        g = tiles[k]
        if g is None:
            tiles[k] = dict(count=1, min=v, max=v, first=v, last=v, tf=t, tl=t)
            continue
        g["count"] += 1
        g["min"] = min(g["min"], v)
        g["max"] = max(g["max"], v)
        if t < g["tf"]:
            g["first"], g["tf"] = v, t
        if t >= g["tl"]:
            g["last"], g["tl"] = v, t
    return tiles


def check(server, records, start, end, points):
    status, body = server.get(signals=",".join("example." + f for f in FIELDS), start=start, end=end, points=points)
    assert status == 200, body
    assert len(body["t0"]) == points and body["t0"][0] == start and body["t1"][-1] == end
    for s, field in zip(body["series"], FIELDS):
        assert s["signal"] == "example." + field
        want = brute(records, field, start, end, points)
        for k, w in enumerate(want):
            if w is None:
                assert s["count"][k] == 0 and s["min"][k] is None and s["first"][k] is None, (field, k)
                continue
            got = (s["count"][k], s["min"][k], s["max"][k], s["first"][k], s["last"][k])
            assert got == (w["count"], w["min"], w["max"], w["first"], w["last"]), (field, k, start, end, points)
            assert (s["first_t"][k], s["last_t"][k]) == (w["tf"], w["tl"])
    return body


def test_tiles_match_brute_force_over_rotated_files_and_the_file_being_written(stack):
    port = stack.add_channel("example", block_size="4KiB", flush_interval="50ms",
                             rotation={"max_size": "96KiB"})
    relay = stack.start_relay("example")
    n = 20000
    recs = [sdtest.example_record(i) for i in range(n)]
    send_records(stack, "example", port, EXAMPLE, recs, pace_every=20)
    assert relay.alive()
    assert len(stack.avro_files("example")) >= 3
    cached = stack.cached_records("example")
    assert len(cached) == n
    server = HistoryServer(stack)
    rng = random.Random(7)
    lo, hi = T0_NS - 10**9, T0_NS + n * 10**6 + 10**9
    for _ in range(25):
        a, b = sorted(rng.randrange(lo, hi) for _ in range(2))
        if a == b:
            continue
        check(server, cached, a, b, rng.choice([1, 2, 7, 50, 333, 1000, 2500]))
    # Zoomed all the way out and back, while the relay still writes the newest file.
    for p in (1, 10, 100, 1000):
        body = check(server, cached, lo, hi, p)
    assert body["series"][0]["coverage"]["first_ns"] == T0_NS
    assert body["series"][0]["coverage"]["last_ns"] == T0_NS + (n - 1) * 10**6
    assert sum(body["series"][0]["count"]) == n

    # More records arrive in the file being written: the next answer has them.
    more = [sdtest.example_record(i) for i in range(n, n + 3000)]
    send_records(stack, "example", port, EXAMPLE, more, pace_every=20)
    cached = stack.cached_records("example")
    assert len(cached) == n + 3000
    body = check(server, cached, lo, hi + 3 * 10**9, 100)
    stats_live = body["stats"]
    assert stats_live["summaries_used"] > 0, stats_live

    # Closed files are summarised once into sidecars; a restarted server loads them.
    relay.stop()
    sidecars = sorted((stack.data_dir / "state" / "history" / "example").glob("*.sum"))
    assert len(sidecars) == len(stack.avro_files("example")) - 1  # all but the newest
    server.proc.stop()
    server2 = HistoryServer(stack)
    body = check(server2, cached, lo, hi + 3 * 10**9, 100)
    assert body["stats"]["sidecars_loaded"] == len(sidecars)
    assert body["stats"]["sidecars_written"] == 0
    assert body["stats"]["records_read"] < len(cached) / 2, body["stats"]


def test_retention_removes_data_and_stale_sidecars(stack):
    port = stack.add_channel("example", block_size="2KiB", flush_interval="50ms",
                             rotation={"max_size": "32KiB"}, retention={"max_size": "256KiB", "min_free": 0})
    relay = stack.start_relay("example")
    send_records(stack, "example", port, EXAMPLE, [sdtest.example_record(i) for i in range(4000)])
    server = HistoryServer(stack)
    lo, hi = T0_NS - 10**9, T0_NS + 40 * 10**9
    check(server, stack.cached_records("example"), lo, hi, 20)
    sumdir = stack.data_dir / "state" / "history" / "example"
    before = {p.name for p in sumdir.glob("*.sum")}
    assert before
    send_records(stack, "example", port, EXAMPLE, [sdtest.example_record(i) for i in range(4000, 12000)])
    relay.stop()
    assert stack.counters("example")["files_deleted"] > 0
    cached = stack.cached_records("example")
    assert cached[0]["counter"] > 0
    check(server, cached, lo, hi, 20)
    avro_names = {p.name for p in stack.avro_files("example")}
    left = {p.name[:-4] for p in sumdir.glob("*.sum")}
    assert left <= avro_names  # no sidecar outlives its file
    assert before - {n + ".sum" for n in avro_names}, "retention should have removed summarised files"


def test_errors_name_the_parameter(stack):
    port = stack.add_channel("example")
    stack.start_relay("example")
    send_records(stack, "example", port, EXAMPLE, [sdtest.example_record(i) for i in range(50)])
    server = HistoryServer(stack)
    cases = [
        (dict(start="now-1s"), 400, "signals: required"),
        (dict(signals="example.sine_wave", start="yesterday"), 400, "start:"),
        (dict(signals="example.sine_wave", start="now-1s", points="0"), 400, "points:"),
        (dict(signals="example.sine_wave", start="now-1s", points="100000"), 400, "points:"),
        (dict(signals="example.message", start="now-1s"), 400, "signals: 'example.message' is not a numeric signal"),
        (dict(signals="nope.x", start="now-1s"), 404, "signals: unknown channel 'nope' (known: example)"),
        (dict(signals="example.volts", start="now-1s"), 404, "signals: unknown signal 'example.volts' (known: example.counter"),
        (dict(signals="exmple.counter", start="now-1s"), 404, "signals: unknown channel 'exmple' (did you mean 'example'? known: example)"),
        (dict(signals="example.countr", start="now-1s"), 404,
         "signals: unknown signal 'example.countr' (did you mean 'example.counter'? known: example.counter"),
    ]
    for params, code, msg in cases:
        status, body = server.get(**params)
        assert status == code, (params, body)
        assert body["error"].startswith(msg), (params, body)
        assert body["status"] == code
    status, body = server.get(signals="example.counter", start=str(T0_NS), end=str(T0_NS + 50 * 10**6), points=5)
    assert status == 200 and body["series"][0]["count"] == [10] * 5
    assert body["series"][0]["min"] == [0, 10, 20, 30, 40] and body["series"][0]["last"] == [9, 19, 29, 39, 49]


def test_several_receive_threads_tiles_match_and_no_streams_open_file_gets_a_sidecar(stack):
    # A relay with receive_threads: 3 writes three file streams (_s1, _s2). The tiles cover
    # every stream; the newest file of each stream may still grow, so none of them is
    # summarised into a sidecar while the relay runs.
    port = stack.add_channel("example", receive_threads=3, block_size="4KiB", flush_interval="50ms",
                             rotation={"max_size": "96KiB"})
    relay = stack.start_relay("example")
    n = 20000
    send_records(stack, "example", port, EXAMPLE, [sdtest.example_record(i) for i in range(n)], pace_every=20)
    files = stack.avro_files("example")
    assert {f.name.endswith("_s1.avro") for f in files} == {True, False}
    assert any(f.name.endswith("_s2.avro") for f in files)
    cached = stack.cached_records("example")
    assert sorted(r["counter"] for r in cached) == list(range(n))
    server = HistoryServer(stack)
    lo, hi = T0_NS - 10**9, T0_NS + n * 10**6 + 10**9
    for p in (1, 10, 100, 1000):
        body = check(server, cached, lo, hi, p)
    assert sum(body["series"][0]["count"]) == n
    rng = random.Random(11)
    for _ in range(10):
        a, b = sorted(rng.randrange(lo, hi) for _ in range(2))
        if a < b:
            check(server, cached, a, b, rng.choice([1, 7, 333, 2500]))
    sidecars = {p.name[:-4] for p in (stack.data_dir / "state" / "history" / "example").glob("*.sum")}
    assert relay.alive()
    files = stack.avro_files("example")
    newest = {}
    for f in files:  # names sort by stamp: the last of each stream is its open file
        newest[f.name.split("Z")[-1]] = f.name
    assert len(newest) == 3, newest
    assert sidecars, "closed files should have been summarised"
    assert not sidecars & set(newest.values()), (sorted(sidecars), newest)
    relay.stop()
