"""`speeddata pivot serve`: the REST export (as the v0.5 README's curl/Python examples use
it), every error code with its message, health, channel coverage, eight concurrent exports,
and a clean exit on SIGTERM/SIGINT."""
import json
import signal
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request

import h5py
import pytest

import sdtest
from pivot_helpers import EXAMPLE, T0_NS, export_cli, h5dump_ok, iso, send_records, write_pivot_config


def free_tcp_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(stack, **overrides):
    port = free_tcp_port()
    ov = dict(overrides)
    ov.setdefault("http", {})["port"] = port
    write_pivot_config(stack, **ov)
    p = stack.start("pivot", "serve", name="pivot")
    base = f"http://127.0.0.1:{port}"
    sdtest.wait_for(lambda: _up(base) or not p.alive(), 10, what="pivot server")
    assert p.alive(), p.output()
    return p, base


def _up(base):
    try:
        return get(base + "/api/v1/health")[0] == 200
    except OSError:
        return False


def get(url, params=None, method="GET", body=None):
    if params:
        url += "?" + urllib.parse.urlencode(params)
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


@pytest.fixture
def served(stack):
    port = stack.add_channel("example")
    stack.start_relay("example")
    recs = [sdtest.example_record(i) for i in range(2000)]
    send_records(stack, "example", port, EXAMPLE, recs)
    server, base = start_server(stack, limits={"max_channels": 2, "max_duration": "1m"})
    return stack, base, recs, server


def test_export_like_the_v05_readme(served, tmp_path):
    stack, base, recs, _ = served
    status, headers, body = get(base + "/api/v1/pivot/export",
                                {"start": iso(T0_NS), "duration": "PT1S", "channels": "example"})
    assert status == 200, body
    assert headers["Content-Type"] == "application/x-hdf5"
    assert 'filename="speeddata_example_' in headers["Content-Disposition"]
    out = tmp_path / "export.h5"
    out.write_bytes(body)
    with h5py.File(out, "r") as f:
        g = f["example"]
        assert list(g["counter"][...]) == list(range(1000))
        assert list(g["time"][...]) == [r["time"] for r in recs[:1000]]
        assert list(g["noise"][...]) == [r["noise"] for r in recs[:1000]]
    ok, text = h5dump_ok(out)
    assert ok, text
    # The Python library reads it as the README shows.
    from dataset import read_hdf5
    data = read_hdf5(out)
    assert list(data.channel["example"].counter) == list(range(1000))
    assert list(data.example.sine_wave) == [r["sine_wave"] for r in recs[:1000]]
    # end=, signals=, decimate= and algorithm= as query parameters; an offset in the time.
    status, _, body = get(base + "/api/v1/pivot/export",
                          {"start": "2023-11-14T23:13:20.5+01:00", "end": iso(T0_NS + 900_000_000),
                           "channels": "example", "signals": "counter", "decimate": "100", "algorithm": "minmax"})
    assert status == 200, body
    out.write_bytes(body)
    with h5py.File(out, "r") as f:
        # 23:13:20.5+01:00 is T0 + 0.5 s: counters 500..899, four windows of 100
        assert sorted(f["example"].keys()) == ["counter", "time"]
        assert list(f["example/counter"][...]) == [v for w in range(5, 9) for v in (w * 100, w * 100 + 99)]


def test_every_error_code_with_its_message(served):
    stack, base, _, _ = served
    url = base + "/api/v1/pivot/export"
    ok = {"start": iso(T0_NS), "duration": "PT1S", "channels": "example"}
    cases = [
        ({k: v for k, v in ok.items() if k != "start"}, 400, "start: required"),
        ({**ok, "start": "2025-13-01T00:00:00Z"}, 400, "start: '2025-13-01T00:00:00Z' is not an ISO 8601 time"),
        # Neither end nor duration: end = now (as the earlier pivot API), far past the limit here.
        ({k: v for k, v in ok.items() if k != "duration"}, 413, "end: the range is"),
        ({**ok, "duration": "PT1X"}, 400, "duration: 'PT1X' is not a duration"),
        ({"start": iso(T0_NS), "end": iso(T0_NS), "channels": "example"}, 400, "end: the range must end after start"),
        ({**ok, "start": "2025-01-23T14:00:00"}, 400, "start: '2025-01-23T14:00:00' has no time zone: add Z"),
        ({**ok, "start": "9999-12-31T00:00:00Z"}, 400, "start: '9999-12-31T00:00:00Z' is out of range"),
        ({**ok, "duration": "213503d"}, 400, "duration: '213503d' is too long"),
        ({k: v for k, v in ok.items() if k != "channels"}, 400, "channels: required"),
        ({**ok, "decimate": "ten"}, 400, "decimate: must be an integer 1..1000000000"),
        ({**ok, "algorithm": "median"}, 400, "algorithm:"),
        ({**ok, "signals": "volts"}, 400, "signals: no requested channel has a signal 'volts' "
         "(known: time, message, counter, sine_wave, ramp, square_wave, noise)"),
        ({**ok, "signals": "countr"}, 400, "signals: no requested channel has a signal 'countr' "
         "(did you mean 'counter'? known: time, message, counter, sine_wave, ramp, square_wave, noise)"),
        ({**ok, "channels": "bad name!"}, 400, "channels:"),
        ({**ok, "channels": "nope"}, 404, "channels: unknown channel 'nope' (known: example)"),
        ({**ok, "channels": "exmple"}, 404, "channels: unknown channel 'exmple' (did you mean 'example'? known: example)"),
        # What is cached, as GET /api/v1/channels says (2000 records, 1 ms apart, from T0).
        ({**ok, "start": "2020-01-01T00:00:00Z"}, 404, "no data in [2020-01-01T00:00:00Z, 2020-01-01T00:00:01Z) for channels example: "
         "channel 'example' has 2023-11-14T22:13:20Z .. 2023-11-14T22:13:21.999Z cached"),
        ({**ok, "channels": "a,b,c"}, 413, "channels: 3 channels requested; the limit is 2 (limits.max_channels in pivot.yaml)"),
        ({**ok, "duration": "PT2M"}, 413, "duration: the range is 120.000 s; the limit is 60 s (limits.max_duration in pivot.yaml)"),
    ]
    for params, code, msg in cases:
        status, headers, body = get(url, params)
        assert status == code, (params, status, body)
        j = json.loads(body)
        assert j["status"] == code and msg in j["error"], (params, j)
    status, _, body = get(base + "/api/v1/nothing")
    assert status == 404 and json.loads(body)["status"] == 404
    status, _, _ = get(url, ok, method="POST")
    assert status == 405


def test_health_and_channel_coverage(served):
    stack, base, recs, _ = served
    status, _, body = get(base + "/api/v1/health")
    assert status == 200 and json.loads(body)["status"] == "ok"
    status, _, body = get(base + "/api/v1/channels")
    assert status == 200
    chans = json.loads(body)["channels"]
    assert [c["name"] for c in chans] == ["example"]
    c = chans[0]
    files = stack.avro_files("example")
    assert c["files"] == len(files)
    assert c["bytes"] == sum(f.stat().st_size + f.with_name(f.name + ".idx").stat().st_size for f in files)
    assert c["records"] == len(recs)
    assert c["first_ns"] == recs[0]["time"] and c["last_ns"] == recs[-1]["time"]
    assert c["first"] == "2023-11-14T22:13:20Z"


def test_eight_concurrent_exports(served, tmp_path):
    stack, base, recs, _ = served
    results = {}

    def one(k):
        lo = k * 200
        results[k] = get(base + "/api/v1/pivot/export",
                         {"start": iso(T0_NS + lo * 1_000_000), "duration": f"PT{0.1 + k * 0.05:.2f}S",
                          "channels": "example"})

    threads = [threading.Thread(target=one, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(8):
        status, _, body = results[k]
        assert status == 200, body
        out = tmp_path / f"c{k}.h5"
        out.write_bytes(body)
        lo = k * 200
        n = min(100 + k * 50, 2000 - lo)
        with h5py.File(out, "r") as f:
            assert list(f["example/counter"][...]) == list(range(lo, lo + n)), k


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_clean_exit_on_signal(stack, sig):
    stack.add_channel("example")
    server, base = start_server(stack)
    server.p.send_signal(sig)
    assert server.p.wait(10) == 0, server.output()
