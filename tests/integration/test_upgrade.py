"""Upgrading from the earlier version (v0.6), as its users would: their config/ copied verbatim
(tests/data/v0.6/config, with its agents/*.avsc), their sources unchanged (records encoded by
python3-avro as the earlier examples/sender/*.py encoded them), their commands (`speeddata relay
NAME`, RELAY_* variables, make start/stop). docs/upgrading.md lists what still differs.

Binds the earlier default ports (8000, 8080, 8081, 26000, 26001): only inside tests/netns-run.
"""
import io
import json
import math
import os
import random
import re
import shutil
import socket
import subprocess
import time
import urllib.request
import warnings
from pathlib import Path

import avro.io
import avro.schema
import h5py
import pytest

import sdtest
from sdtest import BIN, REPO, Proc, read_container, wait_for

V06 = REPO / "tests" / "data" / "v0.6" / "config"
WORDS = ["apple", "banana", "cherry", "date", "elder"]

pytestmark = pytest.mark.skipif(not sdtest.IN_NETNS, reason="binds the earlier default ports: only in tests/netns-run")
warnings.filterwarnings("ignore", message=".*timestamp-nanos.*")

# Every old-form key of the earlier files: (file, key as written). One notice each.
OLD_KEYS = [
    ("global.yaml", "multicast.full_rate.address"), ("global.yaml", "multicast.full_rate.port"),
    ("global.yaml", "multicast.decimated.address"),
    ("relay.yaml", "channels"), ("relay.yaml", "channels[0].schema"), ("relay.yaml", "decimation.enabled"),
    ("relay.yaml", "decimation.factor"), ("relay.yaml", "decimation.algorithm"), ("relay.yaml", "rotation"),
    ("relay.yaml", "retention"),
    ("stripchart.yaml", "websocket.port"), ("stripchart.yaml", "decimation.pass_through"),
    ("pivot.yaml", "api.port"), ("pivot.yaml", "api.limits.max_channels"),
    ("pivot.yaml", "api.limits.max_duration_minutes"), ("pivot.yaml", "api.limits.timeout_seconds"),
]


def copy_v06(root):
    """The earlier config/ verbatim under root/config; its data goes to root/data ("./data")."""
    cfg = Path(root) / "config"
    shutil.copytree(V06, cfg)
    return cfg


def run(*args, env=None, timeout=60):
    return subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def notices(stderr):
    """(file, key) of each notice line: 'notice: <dir>/FILE: KEY: ...'."""
    out = []
    for line in stderr.splitlines():
        m = re.search(r"notice: \S*?([a-z]+\.yaml): (\S+): ", line)
        if m:
            out.append((m.group(1), m.group(2)))
    return out


# ---- sources as the earlier version wrote them: python3-avro, one datum per datagram --------

def earlier_encode(schema, record):
    # examples/sender/sender.py of v0.6: DatumWriter(schema).write(data, BinaryEncoder(BytesIO()))
    buf = io.BytesIO()
    avro.io.DatumWriter(schema).write(record, avro.io.BinaryEncoder(buf))
    return buf.getvalue()


def earlier_example_records(n, t0=None):
    t0 = t0 or time.time_ns()
    rng = random.Random(5)
    return [{"time": t0 + i * 1_000_000, "message": rng.choice(WORDS), "counter": i,
             "sine_wave": math.sin(2 * math.pi * i / 20.0), "ramp": (i % 40) / 40.0 * 2.0 - 1.0,
             "square_wave": 1.0 if (i % 20) < 10 else -1.0, "noise": rng.uniform(-0.5, 0.5)} for i in range(n)]


def earlier_temperature_records(n, t0=None):
    t0 = t0 or time.time_ns()
    out = []
    for i in range(n):
        c = 22.0 + math.sin(2 * math.pi * i / 200.0) * 2.0
        out.append({"time": t0 + i * 1_000_000, "device_id": "TEMP-SENSOR-001", "temperature_c": c,
                    "temperature_f": c * 9.0 / 5.0 + 32.0, "pressure_pa": 101325.0 - c * 100.0,
                    "humidity_pct": 45.0, "status": "ok"})
    return out


def send_earlier(schema_path, records, port):
    schema = avro.schema.parse(Path(schema_path).read_text())
    sdtest.send_datagrams(port, [earlier_encode(schema, r) for r in records])


def status(root, channel):
    try:
        return json.loads((Path(root) / "data" / "state" / "relays" / f"{channel}.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def records_of(root, channel):
    return (status(root, channel) or {}).get("counters", {}).get("records", 0)


def cached(cache_dir):
    out = []
    for f in sorted(Path(cache_dir).glob("*.avro")):
        recs, _ = read_container(f)
        out.extend(recs)
    return out


def http_get(port, path, timeout=30):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
        return r.status, r.read()


def http_ok(port, path):
    try:
        return http_get(port, path, timeout=2)[0] == 200
    except OSError:
        return False


# ---- config check / migrate ------------------------------------------------------------------

def test_config_check_passes_on_the_earlier_files_with_one_notice_per_old_key(tmp_path):
    cfg = copy_v06(tmp_path)
    r = run("config", "check", "--config-dir", cfg)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "config OK: 1 channels"
    assert notices(r.stderr) == OLD_KEYS, r.stderr
    for line in r.stderr.splitlines()[:-1]:
        # Each names the file, the key as written and its new spelling (or that it has none).
        assert str(cfg) in line and re.search(r"earlier spelling of \S|; now \S|no longer an option", line), line
    assert "16 keys in the earlier (v0.6) form" in r.stderr and "speeddata config migrate" in r.stderr
    # Nothing was written to the files.
    for f in V06.rglob("*"):
        if f.is_file():
            assert (cfg / f.relative_to(V06)).read_bytes() == f.read_bytes()


def test_config_migrate_dry_run_writes_nothing_then_migrate_checks_clean(tmp_path):
    cfg = copy_v06(tmp_path)
    before = run("config", "show", "--json", "--config-dir", cfg)
    assert before.returncode == 0, before.stderr
    dry = run("config", "migrate", "--dry-run", "--config-dir", cfg)
    assert dry.returncode == 0, dry.stderr
    assert "(new form, not written)" in dry.stdout and "full:\n    group:" in dry.stdout
    assert (cfg / "relay.yaml").read_bytes() == (V06 / "relay.yaml").read_bytes()
    assert not list(cfg.glob("*.before-migrate"))

    m = run("config", "migrate", "--config-dir", cfg)
    assert m.returncode == 0, m.stderr
    for f in ("global.yaml", "relay.yaml", "stripchart.yaml", "pivot.yaml"):
        assert f"migrated {cfg / f}" in m.stdout
        assert (cfg / f"{f}.before-migrate").read_bytes() == (V06 / f).read_bytes()
    assert "comments not kept" in m.stdout and "# Options: time, size" in m.stdout
    assert "config OK: 1 channels, no notice" in m.stdout
    relay = (cfg / "relay.yaml").read_text()
    assert "# For 1Hz test data" in relay and "channels:\n  example:\n" in relay and "full_rate" not in relay
    check = run("config", "check", "--config-dir", cfg)
    assert check.returncode == 0 and check.stderr == "", check.stderr
    after = run("config", "show", "--json", "--config-dir", cfg)
    assert json.loads(after.stdout) == json.loads(before.stdout)  # the same effective configuration
    again = run("config", "migrate", "--config-dir", cfg)
    assert again.returncode == 0 and "nothing to do" in again.stdout


def test_unknown_keys_stay_errors_naming_file_and_key(tmp_path):
    cfg = copy_v06(tmp_path)
    (cfg / "relay.yaml").write_text((cfg / "relay.yaml").read_text().replace("factor: 5", "facter: 5"))
    r = run("config", "check", "--config-dir", cfg)
    assert r.returncode == 2
    assert f"{cfg / 'relay.yaml'}: decimation.facter (now defaults.decimation.facter): unknown key " \
           f"(did you mean 'factor'?)" in r.stderr


# ---- the stack on the earlier files ----------------------------------------------------------

@pytest.mark.parametrize("form", ["verbatim", "migrated"])
def test_stack_runs_on_the_earlier_config_and_caches_the_earlier_sender(tmp_path, form):
    cfg = copy_v06(tmp_path)
    if form == "migrated":
        assert run("config", "migrate", "--config-dir", cfg).returncode == 0
    # The earlier relay's variables, left in the environment, reach no relay of the stack
    # (the earlier orchestrator replaced port and directory per relay, too).
    env = {**os.environ, "SPEEDDATA_CONFIG": str(cfg), "RELAY_RX_PORT": "26999",
           "RELAY_OUTPUT_DIR": str(tmp_path / "elsewhere")}
    env.pop("SPEEDDATA_CONFIG_NOTICES", None)
    up = Proc([BIN, "up"], tmp_path / "up.log", env=env)
    try:
        wait_for(lambda: http_ok(8080, "/api/v1/health") or not up.alive(), 30, what="orchestrator on :8080")
        assert up.alive(), up.output()
        wait_for(lambda: (status(tmp_path, "example") or {}).get("pid") or not up.alive(), 20,
                 what="example relay")
        wait_for(lambda: http_ok(8081, "/") and http_ok(8000, "/api/v1/health"), 20,
                 what="stripchart :8081 (websocket.port) and pivot :8000 (api.port)")

        t0 = time.time_ns()
        sent = earlier_example_records(50, t0)
        send_earlier(cfg / "agents" / "example.avsc", sent, 26000)
        wait_for(lambda: records_of(tmp_path, "example") >= 50, 20, what="50 records at the relay")
        wait_for(lambda: len(cached(tmp_path / "data" / "example")) >= 50, 20, what="50 records in the cache")
        assert cached(tmp_path / "data" / "example") == sent  # ./data/<channel>/, under the earlier names
        s = status(tmp_path, "example")
        assert s["counters"]["malformed"] == 0
        assert not (tmp_path / "elsewhere").exists()

        # The earlier decimation (factor 5, downsample) and multicast groups are in force.
        assert s["decimation"] == {"factor": 5, "algorithm": "downsample"}
        assert s["multicast"]["full"] == "239.1.1.1:6000" and s["multicast"]["decimated"] == "239.1.1.2:6001"

        # Exported through the pivot REST API: fields under their names, time in ns (the
        # field-level logicalType is no logical type; the relay infers ns from the values).
        start = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t0 // 1_000_000_000)) + "Z"
        st, body = http_get(8000, f"/api/v1/pivot/export?start={start}&duration=PT5S&channels=example")
        assert st == 200
        out = tmp_path / "export.h5"
        out.write_bytes(body)
        with h5py.File(out, "r") as f:
            g = f["example"]
            assert list(g["time"][...]) == [r["time"] for r in sent]
            assert list(g["message"].asstr()[...]) == [r["message"] for r in sent]
            assert list(g["counter"][...]) == list(range(50))
            assert list(g["ramp"][...]) == [r["ramp"] for r in sent]

        # ... and through lib/python/dataset.py, from the cache file itself.
        import sys
        sys.path.insert(0, str(REPO))
        from lib.python.dataset import read_avro
        files = sorted((tmp_path / "data" / "example").glob("*.avro"))
        got = [int(t) for f in files for t in read_avro(str(f)).example.time_ns]
        assert got == [r["time"] for r in sent]

        # Each notice once for the whole stack (its children do not repeat them).
        text = up.output()
        n = text.count("notice: ")
        assert n == (17 if form == "verbatim" else 0), text
        if form == "verbatim":
            assert text.count("multicast.full_rate.address: earlier spelling of multicast.full.group") == 1
    finally:
        assert up.stop(timeout=30) == 0
    assert not http_ok(8080, "/api/v1/health")


def test_earlier_temperature_channel_relay_by_name_and_environment(tmp_path):
    """A user who had added the temperature channel in the earlier form runs its relay as the
    earlier relay ran: by name, with RELAY_* overrides; the earlier temperature records land."""
    cfg = copy_v06(tmp_path)
    text = (cfg / "relay.yaml").read_text().replace(  # a second entry of the list, in the earlier form
        '    schema: "config/agents/example.avsc"\n',
        '    schema: "config/agents/example.avsc"\n'
        '  - name: "temperature"\n    port: 26001\n    schema: "config/agents/temperature.avsc"\n')
    (cfg / "relay.yaml").write_text(text)
    assert run("config", "check", "--config-dir", cfg).returncode == 0
    out_dir = tmp_path / "relay-out"
    env = {**os.environ, "SPEEDDATA_CONFIG": str(cfg), "RELAY_RX_PORT": "26011", "RELAY_OUTPUT_DIR": str(out_dir),
           "RELAY_DECIMATION_FACTOR": "2", "RELAY_DECIMATION_ENABLED": "true"}
    env.pop("SPEEDDATA_CONFIG_NOTICES", None)
    relay = Proc([BIN, "relay", "temperature"], tmp_path / "relay.log", env=env)
    try:
        wait_for(lambda: (status(tmp_path, "temperature") or {}).get("pid") == relay.pid or not relay.alive(), 15,
                 what="temperature relay")
        assert relay.alive(), relay.output()
        sent = earlier_temperature_records(30)
        send_earlier(cfg / "agents" / "temperature.avsc", sent, 26011)
        wait_for(lambda: records_of(tmp_path, "temperature") >= 30, 15, what="30 temperature records")
        s = status(tmp_path, "temperature")
        assert s["counters"]["malformed"] == 0 and s["decimation"]["factor"] == 2
    finally:
        assert relay.stop() == 0
    assert cached(out_dir / "temperature") == sent
    log = relay.output()
    for line in ("override: $RELAY_RX_PORT=26011 overrides channels.temperature.port (26001)",
                 f"override: $RELAY_OUTPUT_DIR={out_dir} overrides storage.avro_path ({tmp_path / 'data'}): "
                 f"the cache is {out_dir / 'temperature'}",
                 "override: $RELAY_DECIMATION_FACTOR=2 overrides decimation.factor (5)",
                 "override: $RELAY_DECIMATION_ENABLED=true: the decimated stream is always sent"):
        assert log.count(line) == 1, (line, log)
    # Alone, the relay reports the old keys of the files it reads itself: global.yaml's three,
    # relay.yaml's eight (two schema paths now), and the summary line.
    assert log.count("notice: ") == 12, log
    bad = run("relay", "temperature", env={"SPEEDDATA_CONFIG": str(cfg), "RELAY_RX_PORT": "abc"})
    assert bad.returncode == 2 and "$RELAY_RX_PORT: expected an integer 1..65535, got \"abc\"" in bad.stderr
    both = run("relay", "temperature", "--channel", "example", env={"SPEEDDATA_CONFIG": str(cfg)})
    assert both.returncode == 2 and "two channel names" in both.stderr


def test_demo_feeds_every_channel_it_starts(tmp_path):
    """The shipped config: `up --demo` runs the example source (what the earlier sender.py sent)
    and the temperature source (what the earlier temperature_sender.py sent)."""
    cfg = tmp_path / "config"
    shutil.copytree(REPO / "config", cfg)
    env = {**os.environ, "SPEEDDATA_CONFIG": str(cfg)}
    up = Proc([BIN, "up", "--demo", "--demo-rate", "50"], tmp_path / "up.log", env=env)
    try:
        data = tmp_path / "data"
        def records(ch):
            try:
                return json.loads((data / "state" / "relays" / f"{ch}.json").read_text())["counters"]["records"]
            except (FileNotFoundError, json.JSONDecodeError, KeyError):
                return 0
        wait_for(lambda: (records("example") >= 20 and records("temperature") >= 2) or not up.alive(), 40,
                 what="demo records on both channels")
        assert up.alive(), up.output()
    finally:
        assert up.stop(timeout=30) == 0
    ex = cached(data / "avro" / "example")
    temp = cached(data / "avro" / "temperature")
    assert ex and temp
    assert all(-1.0 <= r["ramp"] <= 1.0 and isinstance(r["message"], str) for r in ex)
    assert [r["counter"] for r in ex] == list(range(len(ex)))
    assert all(r["device_id"] == "TEMP-SENSOR-001" and r["status"] == "ok" for r in temp)
    assert "demo source     speeddata send --channel temperature (temperature, 1 records/s)" in up.output()


def test_make_start_and_stop(tmp_path):
    cfg = copy_v06(tmp_path)
    env = {**os.environ, "SPEEDDATA_CONFIG": str(cfg), "SPEEDDATA_PIDFILE": str(tmp_path / "sd.pid"),
           "SPEEDDATA_LOG": str(tmp_path / "sd.log")}
    start = subprocess.run(["make", "-s", "-C", str(REPO), "start"], capture_output=True, text=True, timeout=120,
                           env=env)
    assert start.returncode == 0, start.stdout + start.stderr
    pid = int((tmp_path / "sd.pid").read_text())
    try:
        assert "started in the background" in start.stdout
        assert http_ok(8080, "/api/v1/health")
        wait_for(lambda: records_of(tmp_path, "example") > 0, 20, what="demo records")
        again = subprocess.run(["make", "-s", "-C", str(REPO), "start"], capture_output=True, text=True, timeout=60,
                               env=env)
        assert again.returncode == 0 and "running already" in again.stdout
    finally:
        stop = subprocess.run(["make", "-s", "-C", str(REPO), "stop"], capture_output=True, text=True, timeout=60,
                              env=env)
    assert stop.returncode == 0, stop.stdout + stop.stderr
    assert f"stopped (pid {pid})" in stop.stdout
    assert not Path(f"/proc/{pid}").exists() and not (tmp_path / "sd.pid").exists()
    assert not http_ok(8080, "/api/v1/health")
    assert "not running" in subprocess.run(["make", "-s", "-C", str(REPO), "stop"], capture_output=True, text=True,
                                           timeout=60, env=env).stdout
