"""Every way of sending data (speeddata send, the Python sender library, the C++ header via
the example program) produces datagrams the relay accepts and caches intact."""
import math
import subprocess
import time

import pytest

import sdtest
from sdtest import BIN, BUILD_DIR, wait_for

from speeddata_sender import Sender


@pytest.fixture
def relays(stack):
    ex = stack.add_channel("example", decimation={"factor": 10, "algorithm": "minmax"})
    temp = stack.add_channel("temperature", schema="agents/temperature.avsc", decimation={"factor": 1})
    stack.start_relay("example")
    stack.start_relay("temperature")
    return stack, ex, temp


def stop_all(stack):
    for p in stack.procs:
        p.stop()


def test_speeddata_send_example_and_temperature(relays):
    stack, ex, temp = relays
    r = subprocess.run([BIN, "send", "--count", "500", "--rate", "5000", "--port", str(ex), "--per-datagram", "4"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([BIN, "send", "--source", "temperature", "--count", "20", "--rate", "200", "--port", str(temp)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    wait_for(lambda: stack.counters("example").get("records") == 500, 10, what="500 example records")
    wait_for(lambda: stack.counters("temperature").get("records") == 20, 10, what="20 temperature records")
    stop_all(stack)
    recs = stack.cached_records("example")
    assert [x["counter"] for x in recs] == list(range(500))
    for x in recs:
        i = x["counter"]
        assert x["sine_wave"] == pytest.approx(math.sin(2 * math.pi * i / 20), abs=1e-12)
        assert x["ramp"] == pytest.approx((i % 40) / 40 * 2 - 1)
        assert x["square_wave"] == (1.0 if i % 20 < 10 else -1.0)
        assert -0.5 <= x["noise"] < 0.5
    times = [x["time"] for x in recs]
    assert times == sorted(times) and abs(times[-1] / 1e9 - time.time()) < 60
    temps = stack.cached_records("temperature")
    assert len(temps) == 20 and all(t["status"] == "ok" and t["device_id"] == "TEMP-SENSOR-001" for t in temps)
    assert stack.status("example")["counters"]["malformed"] == 0


def test_python_sender_library(relays):
    stack, ex, temp = relays
    records = [sdtest.example_record(i) for i in range(300)]
    s = Sender(str(stack.config_dir / "agents" / "example.avsc"), port=ex)
    for r in records[:100]:
        assert s.send(r)
    s.send_many(records[100:], per_datagram=7)
    t = Sender(str(stack.config_dir / "agents" / "temperature.avsc"), port=temp)
    reading = {"time": time.time_ns(), "device_id": "lab-1", "temperature_c": 21.5, "temperature_f": 70.7,
               "pressure_pa": 101325.0, "humidity_pct": 40.25, "status": "warning"}
    assert t.send(reading)
    wait_for(lambda: stack.counters("example").get("records") == 300, 10, what="300 records")
    wait_for(lambda: stack.counters("temperature").get("records") == 1, 10, what="1 record")
    stop_all(stack)
    assert stack.cached_records("example") == records
    assert stack.cached_records("temperature") == [reading]


def test_cpp_header_sender_example(relays):
    stack, ex, _ = relays
    exe = BUILD_DIR / "example_sender"
    r = subprocess.run([str(exe), str(stack.config_dir / "agents" / "example.avsc"), str(ex), "2000", "200", "5"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    wait_for(lambda: stack.counters("example").get("records") == 200, 10, what="200 records")
    stop_all(stack)
    recs = stack.cached_records("example")
    assert [x["counter"] for x in recs] == list(range(200))
    assert stack.status("example")["counters"]["malformed"] == 0
    assert stack.status("example")["counters"]["datagrams"] == 40  # 5 datums per datagram
