"""The earlier (v0.6) pivot API against ours: the summary of the earlier tests/test_api_burst.py
(a baseline request, three concurrent requests that must all answer 200, and the limits
answering 413) with pivot.yaml's compat.v06 on; its time rules (no end/duration: end = now;
both: end wins) checked on real exports; health as the earlier server answered it; and our
explicit 404s when the option is off."""
import calendar
import concurrent.futures
import datetime
import io
import time
import urllib.error
import urllib.parse
import urllib.request

import h5py
import pytest
import yaml

import sdtest
from pivot_helpers import send_records

START = "2025-01-23T14:00:00Z"  # the earlier test's start
T0_NS = calendar.timegm(time.strptime(START, "%Y-%m-%dT%H:%M:%SZ")) * 1_000_000_000


def free_tcp_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(base, path, params=None, timeout=120):
    url = base + path + ("?" + urllib.parse.urlencode(params) if params else "")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def start_pivot(stack, compat):
    port = free_tcp_port()
    cfg = {"http": {"port": port}, "limits": {"max_channels": 20, "max_duration": "5m"}}
    if compat is not None:
        cfg["compat"] = {"v06": compat}
    (stack.config_dir / "pivot.yaml").write_text(yaml.safe_dump(cfg))
    p = stack.start("pivot", "serve", name="pivot")
    base = f"http://127.0.0.1:{port}"

    def up():
        assert p.alive(), p.output()
        try:
            return get(base, "/api/v1/health")[0] == 200
        except OSError:
            return False
    sdtest.wait_for(up, 15, what="pivot health")
    return p, base


@pytest.fixture
def cached(stack):
    """Channel ch1 holds 2 s of records from the earlier test's start time; ch2..ch22 do not exist."""
    port = stack.add_channel("ch1")
    stack.start_relay("ch1")
    recs = [sdtest.example_record(i, t0=T0_NS) for i in range(2000)]
    send_records(stack, "ch1", port, stack.config_dir / "agents" / "example.avsc", recs)
    return stack, recs


def make_export_request(base, request_id, channels, duration="PT30S"):
    """As the earlier make_export_request: status, elapsed time, size, start and end times."""
    t0 = time.time()
    try:
        status, body = get(base, "/api/v1/pivot/export",
                           {"start": START, "duration": duration, "channels": ",".join(channels)})
        error = None
    except OSError as e:
        status, body, error = None, b"", str(e)
    t1 = time.time()
    return {"request_id": request_id, "status_code": status, "elapsed_sec": t1 - t0,
            "file_size": len(body) if status == 200 else 0, "start_time": t0, "end_time": t1,
            "error": error, "body": body}


def test_earlier_burst_test_summary_passes_with_compat(cached):
    stack, recs = cached
    proc, base = start_pivot(stack, compat=True)
    # Test 1: single request baseline.
    baseline = make_export_request(base, 1, ["ch1", "ch2"])
    assert baseline["status_code"] == 200, baseline["body"][:300]
    assert baseline["file_size"] > 0
    with h5py.File(io.BytesIO(baseline["body"]), "r") as f:
        assert set(f) == {"ch1", "ch2"}
        assert f["ch1"].attrs["rows"] == len(recs) and len(f["ch1"]["sine_wave"]) == len(recs)
        assert f["ch2"].attrs["rows"] == 0 and len(f["ch2"]) == 0  # an empty group, as the earlier server wrote

    # Test 2: burst of 3 concurrent requests (ch1+ch2, ch2+ch3, ch3+ch4).
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as ex:
        futures = [ex.submit(make_export_request, base, i + 1, [f"ch{i + 1}", f"ch{i + 2}"]) for i in range(3)]
        results = [f.result() for f in futures]
    all_successful = all(r["status_code"] == 200 for r in results)
    assert all_successful, [(r["status_code"], r["body"][:200]) for r in results]
    with h5py.File(io.BytesIO(results[2]["body"]), "r") as f:
        assert set(f) == {"ch3", "ch4"} and all(f[g].attrs["rows"] == 0 for g in f)

    # Test 3: limit validation.
    assert make_export_request(base, 1, [f"ch{i}" for i in range(21)])["status_code"] == 413
    assert make_export_request(base, 1, ["ch1"], "PT6M")["status_code"] == 413

    # TEST SUMMARY as the earlier script prints it.
    summary = [f"Baseline single request: {baseline['elapsed_sec']:.2f}s",
               f"Burst test (3 concurrent): {'PASSED' if all_successful else 'FAILED'}",
               "Limit validation: PASSED"]
    assert "Burst test (3 concurrent): PASSED" in summary

    # Health as the earlier server answered it.
    st, body = get(base, "/api/v1/health")
    import json
    h = json.loads(body)
    assert st == 200 and h["status"] == "healthy" and h["compat_v06"] is True


def test_without_compat_our_explicit_errors_stay(cached):
    stack, recs = cached
    import json
    proc, base = start_pivot(stack, compat=None)
    r = make_export_request(base, 1, ["ch1", "ch2"])
    assert r["status_code"] == 404 and "unknown channel 'ch2'" in json.loads(r["body"])["error"]
    st, body = get(base, "/api/v1/pivot/export", {"start": "2025-01-23T15:00:00Z", "duration": "PT30S",
                                                   "channels": "ch1"})
    assert st == 404 and "no data" in json.loads(body)["error"]
    st, body = get(base, "/api/v1/health")
    assert json.loads(body)["status"] == "ok"


def test_earlier_time_rules(cached):
    """end wins over duration; no end and no duration: end = now (the earlier api_server.py)."""
    stack, recs = cached
    proc, base = start_pivot(stack, compat=True)
    end = datetime.datetime.fromtimestamp((T0_NS + 500_000_000) / 1e9, datetime.timezone.utc)
    st, body = get(base, "/api/v1/pivot/export", {"start": START, "end": end.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                                                   "duration": "PT1S", "channels": "ch1"})
    assert st == 200
    with h5py.File(io.BytesIO(body), "r") as f:
        assert f["ch1"].attrs["rows"] == 500  # 0.5 s of 1 kHz records: end, not start + 1 s
    # No end, no duration: up to now. Records from 4 minutes ago (within the 5 minute limit).
    now_ns = time.time_ns()
    port = stack.add_channel("recent")
    stack.start_relay("recent")
    recent = [sdtest.example_record(i, t0=now_ns - 240 * 10**9) for i in range(300)]
    send_records(stack, "recent", port, stack.config_dir / "agents" / "example.avsc", recent)
    start = datetime.datetime.fromtimestamp((now_ns - 241 * 10**9) / 1e9, datetime.timezone.utc)
    st, body = get(base, "/api/v1/pivot/export", {"start": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "channels": "recent"})
    assert st == 200, body[:300]
    with h5py.File(io.BytesIO(body), "r") as f:
        assert f["recent"].attrs["rows"] == 300
        assert f.attrs["end_ns"] >= now_ns
