"""The relay with real processes, sockets, multicast (in a private netns) and files."""
import json
import math
import os
import socket
import struct
import subprocess
import time

import pytest

import sdtest
from sdtest import McastListener, encode, decode_all, example_record, load_schema, send_datagrams, wait_for

EXAMPLE = sdtest.REPO / "config" / "agents" / "example.avsc"


def test_values_counts_and_sequences_through_cache_and_both_streams(stack):
    port = stack.add_channel("example", decimation={"factor": 10, "algorithm": "downsample"})
    full = McastListener("239.1.1.1", 6000)
    dec = McastListener("239.1.1.2", 6001)
    relay = stack.start_relay("example")
    schema = load_schema(EXAMPLE)
    records = [example_record(i) for i in range(3000)]
    # One datum per datagram for the first half, then three datums back to back per datagram.
    datagrams = [encode(schema, r) for r in records[:1500]]
    datagrams += [b"".join(encode(schema, r) for r in records[i:i + 3]) for i in range(1500, 3000, 3)]
    send_datagrams(port, datagrams)
    wait_for(lambda: stack.counters("example").get("records") == 3000, 10, what="3000 records counted")
    time.sleep(0.3)
    assert relay.stop() == 0
    full.close()
    dec.close()

    # The cache: every record, in order, read back by python3-avro.
    cached = stack.cached_records("example")
    assert len(cached) == 3000
    for got, want in zip(cached, records):
        assert got == want
    _, meta = sdtest.read_container(stack.avro_files("example")[0])
    assert meta["speeddata.channel"] == b"example"
    # example.avsc (the earlier version's) declares no unit: its logicalType sits on the field,
    # not in the type. The metadata says so (empty); readers infer ns from the values.
    assert meta["speeddata.time_unit"] == b""
    # The writer names the release of this build: project(VERSION) of CMakeLists.txt.
    import re
    project = re.search(r"project\(speeddata VERSION ([\d.]+)", (sdtest.REPO / "CMakeLists.txt").read_text()).group(1)
    assert meta["speeddata.writer"] == f"speeddata relay {project}".encode()

    fp = sdtest.schema_fingerprint(stack, "agents/example.avsc")
    # Full-rate stream: every datum in order (consecutive datagrams may be packed together),
    # gap-free sequence numbers.
    msgs = full.parsed()
    assert [m["sequence"] for m in msgs] == list(range(len(msgs)))
    assert all(m["channel"] == "example" and m["fingerprint"] == fp and m["flags"] == 0 for m in msgs)
    streamed = [r for m in msgs for r in decode_all(schema, m["payload"], m["count"])]
    assert streamed == records
    assert sum(m["count"] for m in msgs) == 3000

    # Decimated stream: every 10th record, flagged, gap-free.
    dmsgs = dec.parsed()
    assert [m["sequence"] for m in dmsgs] == list(range(len(dmsgs)))
    assert all(m["flags"] & 1 for m in dmsgs)
    drecs = [r for m in dmsgs for r in decode_all(schema, m["payload"], m["count"])]
    assert drecs == records[::10]

    c = stack.status("example")["counters"]
    assert c["datagrams"] == len(datagrams)
    assert c["records"] == c["records_written"] == 3000
    assert c["malformed"] == 0 and c["records_not_written"] == 0
    assert c["multicast_full_datagrams"] == len(msgs)
    assert c["multicast_decimated_records"] == 300


def test_full_rate_packing_respects_the_configured_datagram_size(stack):
    stack.global_cfg["multicast"]["full_datagram_bytes"] = 300
    port = stack.add_channel("example")
    full = McastListener("239.1.1.1", 6000)
    stack.start_relay("example")
    schema = load_schema(EXAMPLE)
    records = [example_record(i) for i in range(2000)]
    # Sent in bursts so that the relay receives several datagrams per batch.
    send_datagrams(port, [encode(schema, r) for r in records], pace_every=200, pause=0.01)
    wait_for(lambda: sum(m["count"] for m in full.parsed()) == 2000, 10, what="2000 records on multicast")
    full.close()
    msgs = full.parsed()
    assert all(len(d) <= 300 for d in full.datagrams)
    assert any(m["count"] > 1 for m in msgs), "bursts should have been packed"
    assert [m["sequence"] for m in msgs] == list(range(len(msgs)))
    assert [r for m in msgs for r in decode_all(schema, m["payload"], m["count"])] == records


def _decim_records():
    times = [1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000]
    i = [1, 2, 3, 5, -1, -2, -3, -4, 7, 7]
    l = [10, 20, 30, 41, 3, 4, 0, 0, 7, 7]
    f = [0.5, 1.5, -2.0, 4.0, 1.0, 1.0, 1.0, 1.0, 7.0, 7.0]
    d = [1.0, 2.0, 3.0, 4.0, -1.0, 1.0, -1.0, 1.0, 7.0, 7.0]
    s = list("abcdefghij")
    b = [True, False, True, False, False, False, False, True, True, True]
    return [dict(time=times[k], i=i[k], l=l[k], f=f[k], d=d[k], s=s[k], b=b[k]) for k in range(10)]


# Hand-computed for factor 4 over the records above (the last two form an incomplete window).
EXPECTED = {
    "downsample": [_decim_records()[0], _decim_records()[4], _decim_records()[8]],
    "average": [
        dict(time=2500, i=3, l=25, f=1.0, d=2.5, s="d", b=False),
        dict(time=6500, i=-3, l=2, f=1.0, d=0.0, s="h", b=True),
    ],
    "rms": [
        dict(time=2500, i=3, l=28, f=math.sqrt(5.625), d=math.sqrt(7.5), s="d", b=False),
        dict(time=6500, i=3, l=3, f=1.0, d=1.0, s="h", b=True),
    ],
    # Per field the extreme that occurred first, then the other; times of the window's first
    # and last records. Window 2: i falls (-1 .. -4), l's max 4 (record 6) precedes its min 0
    # (record 7), f is constant, d's min -1 (record 5) precedes its max 1 (record 6).
    "minmax": [
        dict(time=1000, i=1, l=10, f=-2.0, d=1.0, s="d", b=False),
        dict(time=4000, i=5, l=41, f=4.0, d=4.0, s="d", b=False),
        dict(time=5000, i=-1, l=4, f=1.0, d=-1.0, s="h", b=True),
        dict(time=8000, i=-4, l=0, f=1.0, d=1.0, s="h", b=True),
    ],
}


@pytest.mark.parametrize("algorithm", ["downsample", "average", "rms", "minmax"])
def test_decimation_matches_hand_computed_values(stack, algorithm):
    port = stack.add_channel("dec", schema="agents/decim.avsc", time_unit="ns",
                             decimation={"factor": 4, "algorithm": algorithm})
    dec = McastListener("239.1.1.2", 6001)
    stack.start_relay("dec")
    schema = load_schema(stack.config_dir / "agents" / "decim.avsc")
    send_datagrams(port, [encode(schema, r) for r in _decim_records()])
    wait_for(lambda: stack.counters("dec").get("records") == 10, 10, what="10 records")
    time.sleep(0.3)
    dec.close()
    msgs = dec.parsed()
    got = [r for m in msgs for r in decode_all(schema, m["payload"], m["count"])]
    want = EXPECTED[algorithm]
    assert len(got) == len(want), got
    for g, w in zip(got, want):
        assert g.keys() == w.keys()
        for k in w:
            if isinstance(w[k], float):
                assert g[k] == pytest.approx(w[k], rel=1e-6), (k, g, w)
            else:
                assert g[k] == w[k], (k, g, w)
    assert all(bool(m["flags"] & 2) == (algorithm == "minmax") for m in msgs)


def test_malformed_datagrams_are_counted_and_dropped_valid_ones_kept(stack):
    port = stack.add_channel("example", max_datagram=2000)
    stack.start_relay("example")
    schema = load_schema(EXAMPLE)
    temp = load_schema(stack.config_dir / "agents" / "temperature.avsc")
    valid = [encode(schema, example_record(i)) for i in range(200)]
    bad = {
        "truncated": valid[0][:-3],
        "garbage": bytes(range(200, 256)) * 3,
        "oversized": valid[0] * 60,  # 60 valid datums, but more than max_datagram bytes
        "wrong_schema": encode(temp, {"time": 1, "device_id": "s", "temperature_c": 20.5, "temperature_f": 68.9,
                                      "pressure_pa": 1e5, "humidity_pct": 40.0, "status": "ok"}),
        "empty": b"",
        "trailing": valid[1] + b"\x01",
    }
    assert len(bad["oversized"]) > 2000
    stream = []
    for i, v in enumerate(valid):
        stream.append(v)
        if i % 20 == 10:
            stream.extend(bad.values())
    send_datagrams(port, stream)
    n_bad = len(bad) * 10
    wait_for(lambda: stack.counters("example").get("malformed") == n_bad, 10, what=f"{n_bad} malformed")
    wait_for(lambda: stack.counters("example").get("records") == 200, 10, what="200 records")
    c = stack.counters("example")
    assert c["malformed_by_kind"]["oversized"] == 10
    assert c["malformed_by_kind"]["empty"] == 10
    relay = stack.procs[-1]
    assert relay.alive()
    relay.stop()
    assert [r["counter"] for r in stack.cached_records("example")] == list(range(200))
    log = relay.output()
    assert "dropped malformed datagram from 127.0.0.1" in log
    # Rate-limited: far fewer log lines than malformed datagrams.
    assert log.count("dropped malformed datagram") < 10


def send_paced_by_relay(stack, channel, port, datagrams, records_per_datagram, chunk_records=8000):
    """Sends in chunks and waits for the relay to count each chunk before the next, so a
    loaded machine slows the test down instead of making the kernel drop datagrams."""
    sent = stack.counters(channel).get("records", 0)
    per_chunk = max(1, chunk_records // records_per_datagram)
    for i in range(0, len(datagrams), per_chunk):
        part = datagrams[i:i + per_chunk]
        send_datagrams(port, part, pace_every=20, pause=0.002)
        sent += len(part) * records_per_datagram
        wait_for(lambda: stack.counters(channel).get("records", 0) >= sent, 60,
                 what=f"{sent} records received")
    assert stack.counters(channel)["kernel_drops"] == 0


def test_rotation_by_size_and_quota_retention(stack):
    port = stack.add_channel("example", block_size="2KiB", flush_interval="50ms",
                             rotation={"max_size": "64KiB"}, retention={"max_size": "1MiB", "min_free": 0})
    relay = stack.start_relay("example")
    schema = load_schema(EXAMPLE)
    n = 40000  # about 2.5 MB of records: about 40 files' worth
    per = 4    # datums per datagram: a quarter of the packets for the kernel to queue
    records = [encode(schema, example_record(i)) for i in range(n)]
    send_paced_by_relay(stack, "example", port, [b"".join(records[i:i + per]) for i in range(0, n, per)], per)
    wait_for(lambda: stack.counters("example").get("records_written") == n, 60, what=f"{n} written")
    relay.stop()
    c = stack.status("example")["counters"]
    files = stack.avro_files("example")
    assert c["files_created"] >= 10 and c["files_deleted"] > 0
    total = sum(f.stat().st_size + f.with_name(f.name + ".idx").stat().st_size for f in files)
    assert total <= 1024 * 1024 + 70 * 1024  # the quota, plus at most the file being written
    assert c["bytes_on_disk"] == total
    # What remains is the newest data, contiguous, each file readable on its own.
    counters = [r["counter"] for r in stack.cached_records("example")]
    assert counters == list(range(counters[0], n))
    assert counters[0] > 0
    for f in files:
        assert f.stat().st_size <= 64 * 1024 + 4096


def test_rotation_by_time_and_ttl_retention(stack):
    port = stack.add_channel("example", flush_interval="50ms", rotation={"interval": "1s"},
                             retention={"ttl": "2s", "min_free": 0})
    relay = stack.start_relay("example")
    schema = load_schema(EXAMPLE)
    t0 = time.monotonic()
    i = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        while time.monotonic() - t0 < 15:
            s.sendto(encode(schema, example_record(i)), ("127.0.0.1", port))
            i += 1
            time.sleep(0.01)
            c = stack.counters("example")
            if c.get("files_created", 0) >= 6 and c.get("files_deleted", 0) >= 2:
                break
    c = stack.counters("example")
    assert c["files_created"] >= 6, c
    assert c["files_deleted"] >= 2, c
    # Files older than the TTL are gone (retention runs every 10 s at most, and at rotation).
    assert len(stack.avro_files("example")) <= 4
    relay.stop()


def test_kill_9_keeps_every_flushed_block_and_restart_starts_a_new_file(stack):
    port = stack.add_channel("example", flush_interval="50ms", block_size="4KiB")
    relay = stack.start_relay("example")
    schema = load_schema(EXAMPLE)
    send_datagrams(port, [encode(schema, example_record(i)) for i in range(2000)], pace_every=10)
    wait_for(lambda: stack.counters("example").get("records_written", 0) >= 1500, 10, what="blocks written")
    written = stack.counters("example")["records_written"]
    relay.kill9()
    files = stack.avro_files("example")
    assert len(files) == 1
    recs, _ = sdtest.read_container(files[0])  # python3-avro reads it to the end
    assert len(recs) >= written
    assert [r["counter"] for r in recs] == list(range(len(recs)))

    stack.start_relay("example")
    send_datagrams(port, [encode(schema, example_record(i)) for i in range(2000, 2100)])
    wait_for(lambda: stack.counters("example").get("records_written") == 100, 10, what="written after restart")
    stack.procs[-1].stop()
    files2 = stack.avro_files("example")
    assert len(files2) == 2 and files2[0] == files[0]
    assert [r["counter"] for r in sdtest.read_container(files2[1])[0]] == list(range(2000, 2100))


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount a tmpfs")
def test_full_disk_keeps_multicast_and_resumes_writing(stack, tmp_path):
    disk = tmp_path / "small"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], check=True)
    try:
        stack.global_cfg["storage"]["avro_path"] = str(disk / "avro")
        port = stack.add_channel("example", flush_interval="50ms", block_size="8KiB",
                                 retention={"min_free": 0})
        full = McastListener("239.1.1.1", 6000)
        relay = stack.start_relay("example")
        schema = load_schema(EXAMPLE)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        counter = [0]

        def pump(n):
            for _ in range(n):
                sock.sendto(encode(schema, example_record(counter[0])), ("127.0.0.1", port))
                counter[0] += 1
                if counter[0] % 20 == 0:
                    time.sleep(0.002)

        pump(500)
        wait_for(lambda: stack.counters("example").get("records_written") == 500, 10, what="first writes")
        # Fill the disk.
        filler = disk / "filler"
        with open(filler, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
            except OSError:
                pass
        pump(2000)
        wait_for(lambda: stack.counters("example").get("records_not_written", 0) > 0, 10, what="write failures")
        c = stack.counters("example")
        # disk_ok may already be true again: a small block can still fit into the slack of the
        # file's last page on a full tmpfs (how much depends on the file's size, so on the schema
        # text in its header). The failed writes are what must show.
        assert c["disk_write_errors"] > 0 and "No space left on device" in relay.output()
        assert relay.alive()
        wait_for(lambda: sum(m["count"] for m in full.parsed()) == counter[0], 10,
                 what="multicast of every record while the disk is full")
        # Space returns: writing resumes.
        filler.unlink()
        before = stack.counters("example")["records_written"]
        pump(500)
        wait_for(lambda: stack.counters("example").get("records_written", 0) >= before + 500, 10,
                 what="writes after space returned")
        assert stack.counters("example")["disk_ok"]
        relay.stop()
        full.close()
        c = stack.status("example")["counters"]
        cached = []
        for f in sorted((disk / "avro" / "example").glob("example_*.avro")):
            cached += sdtest.read_container(f)[0]
        assert len(cached) == c["records_written"]
        assert c["records_written"] + c["records_not_written"] == counter[0] == c["records"]
        assert [r["counter"] for r in cached][-500:] == list(range(counter[0] - 500, counter[0]))
    finally:
        subprocess.run(["umount", "-l", str(disk)])


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount a tmpfs")
def test_a_full_disk_does_not_make_the_watchdog_restart_the_relay(stack, tmp_path):
    # The status file is rewritten every second; on a full disk the rewrite fails. The relay
    # then touches the file (its mtime needs no free block), so the orchestrator's watchdog,
    # which watches the mtime, does not take it for hung, and multicast goes on.
    import orchlib
    disk = tmp_path / "small"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], check=True)
    proc = None
    try:
        stack.global_cfg["storage"]["avro_path"] = str(disk / "avro")
        stack.global_cfg["storage"]["state_path"] = str(disk / "state")
        port = stack.add_channel("example", flush_interval="50ms", block_size="8KiB", retention={"min_free": 0})
        full = McastListener("239.1.1.1", 6000)
        proc, api = orchlib.start_orchestrator(stack, settings={"relays": {"watchdog_timeout": "2s"}})
        pid = orchlib.wait_active(api, "example", 15)["pid"]
        status = disk / "state" / "relays" / "example.json"

        def relay_status():  # stack.status() reads the default state_path
            try:
                return json.loads(status.read_text())
            except (FileNotFoundError, json.JSONDecodeError):
                return {}
        wait_for(lambda: (relay_status() or {}).get("pid") == pid, 10, what="the relay's status file")
        schema = load_schema(EXAMPLE)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        counter = [0]

        def pump(n):
            for _ in range(n):
                sock.sendto(encode(schema, example_record(counter[0])), ("127.0.0.1", port))
                counter[0] += 1
                if counter[0] % 20 == 0:
                    time.sleep(0.002)

        pump(200)
        wait_for(lambda: relay_status().get("counters", {}).get("records_written") == 200, 10, what="first writes")
        with open(disk / "filler", "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
            except OSError:
                pass
        # The status file's content freezes (it cannot be rewritten) while its mtime moves on.
        frozen = relay_status()["updated_ns"]
        wait_for(lambda: relay_status()["updated_ns"] == frozen and
                 status.stat().st_mtime_ns > frozen + 1_500_000_000, 10, what="status content frozen, mtime current")
        # Several watchdog periods on a full disk, with data flowing: no restart.
        deadline = time.monotonic() + 7
        while time.monotonic() < deadline:
            pump(100)
            time.sleep(0.5)
        wait_for(lambda: sum(m["count"] for m in full.parsed()) == counter[0], 10,
                 what="multicast of every record while the disk is full")
        st, ch, _ = api.get("/api/v1/channels/example")
        assert st == 200 and ch["pid"] == pid, ch
        assert ch["watchdog_restarts"] == 0 and ch["restarts"] == 0, ch
        assert relay_status()["updated_ns"] == frozen  # the disk really was full all along
        assert "killed by the watchdog" not in proc.output()
        # Space returns: the status file is rewritten with current figures.
        (disk / "filler").unlink()
        wait_for(lambda: relay_status()["counters"]["records"] == counter[0], 10,
                 what="status rewritten after space returned")
        full.close()
    finally:
        if proc is not None:
            proc.stop()
        subprocess.run(["umount", "-l", str(disk)])


def _one_line_error(r):
    lines = [l for l in r.stderr.strip().splitlines() if l]
    assert r.returncode != 0
    assert len(lines) == 1, r.stderr
    return lines[0]


def test_bad_config_gives_one_line_error_naming_the_problem(stack):
    port = stack.add_channel("example")
    stack.relay_cfg["channels"]["example"]["decimaton"] = {"factor": 2}
    stack.write_config()
    msg = _one_line_error(stack.run("relay", "--channel", "example"))
    assert "relay.yaml" in msg and "decimaton" in msg

    del stack.relay_cfg["channels"]["example"]["decimaton"]
    stack.relay_cfg["channels"]["example"]["port"] = "abc"
    stack.write_config()
    msg = _one_line_error(stack.run("relay", "--channel", "example"))
    assert "relay.yaml" in msg and "port" in msg and "abc" in msg

    stack.relay_cfg["channels"]["example"]["port"] = port
    stack.relay_cfg["channels"]["example"]["schema"] = "agents/missing.avsc"
    stack.write_config()
    msg = _one_line_error(stack.run("relay", "--channel", "example"))
    assert "missing.avsc" in msg

    stack.relay_cfg["channels"]["example"]["schema"] = "agents/example.avsc"
    stack.write_config()
    blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blocker.bind(("127.0.0.1", port))
    try:
        msg = _one_line_error(stack.run("relay", "--channel", "example"))
        assert f"bind 127.0.0.1:{port}: Address already in use" in msg
    finally:
        blocker.close()

    msg = _one_line_error(stack.run("relay", "--channel", "nope"))
    assert "nope" in msg


def _load(stack, port, rate, duration, size=1400):
    r = stack.run("send", "--load", "--port", str(port), "--datagram-size", str(size), "--rate", str(rate),
                  "--duration", str(duration), timeout=duration + 60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def _disk_counters(stack, channel):
    """Every record's counter in the channel's files, in file order."""
    return [r["counter"] for r in stack.cached_records(channel)]


@pytest.mark.parametrize("buffer", ["64MiB", "0"])
def test_a_stalled_writer_loses_nothing_while_the_burst_buffer_has_room(stack, monkeypatch, buffer):
    # 2 s at 11 MB/s (well within any disk), the writer asleep for 200 ms after 500 ms: a
    # backlog of 2.2 MB. 64 MiB holds it: nothing may be missing. The smallest buffer (0:
    # two blocks and a datagram, 133 kB; overflowed by any rate over ~500 datagrams/s) does
    # not: what is lost must be counted exactly, and the rest must be on disk, once each, in
    # order.
    monkeypatch.setenv("SPEEDDATA_TEST_WRITER_STALL", "500:200")
    port = stack.add_channel("example", burst_buffer=buffer, block_size="64KiB", max_datagram=2000,
                             receive_buffer="32MiB")
    relay = stack.start_relay("example")
    sent = _load(stack, port, 8000, 2.0)
    wait_for(lambda: stack.counters("example").get("datagrams", 0) +
             stack.counters("example").get("kernel_drops", 0) >= sent["datagrams"], 30, what="every datagram")
    relay.stop()
    assert "test hook: the writer stalls for 200 ms" in relay.output()
    c = stack.status("example")["counters"]
    assert c["records"] > 0 and c["malformed"] == 0
    on_disk = _disk_counters(stack, "example")
    assert len(on_disk) == c["records_written"]
    assert len(set(on_disk)) == len(on_disk) and on_disk == sorted(on_disk)
    assert c["records_written"] + c["records_not_written"] == c["records"]
    if buffer == "64MiB":
        assert c["records_not_written"] == 0, c
        if c["kernel_drops"] == 0:  # the relay received everything: so has the disk
            assert c["records_written"] == sent["records"]
    else:
        # The backlog did not fit: whole datagrams were refused, and counted.
        assert c["records_not_written"] > 0, c
        assert c["disk_write_errors"] == 0


def test_a_burst_buffer_that_cannot_be_reserved_is_a_one_line_start_error(stack):
    import resource
    stack.add_channel("example", burst_buffer="2GiB")

    def limit_address_space():
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    r = subprocess.run([sdtest.BIN, "relay", "--channel", "example"], capture_output=True, text=True, timeout=30,
                       env={**os.environ, "SPEEDDATA_CONFIG": str(stack.config_dir)}, preexec_fn=limit_address_space)
    msg = _one_line_error(r)
    assert r.returncode == 1
    assert "burst_buffer: cannot reserve" in msg


def test_a_second_relay_of_a_channel_exits_with_already_running(stack):
    # With receive_threads > 1 the port is a SO_REUSEPORT group: a second relay of the same
    # user could join it and take datagrams. The channel lock stops it before it binds.
    port = stack.add_channel("example", receive_threads=2)
    relay = stack.start_relay("example")
    r = stack.run("relay", "--channel", "example")
    msg = _one_line_error(r)
    assert r.returncode == 1
    assert f"already running (pid {relay.pid})" in msg, msg
    # The first relay still gets every datagram.
    schema = load_schema(EXAMPLE)
    send_datagrams(port, [encode(schema, example_record(i)) for i in range(300)])
    wait_for(lambda: stack.counters("example").get("records") == 300, 10, what="300 records at the first relay")
    assert relay.stop() == 0
    # Once it has stopped, the channel can be relayed again.
    stack.start_relay("example").stop()


def _decode_one_datum(schema, datagram):
    """Decodes a datagram the earlier way: exactly one datum, nothing left over."""
    import io
    import avro.io
    buf = io.BytesIO(datagram)
    rec = avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(buf))
    assert buf.tell() == len(datagram), "more than one datum in a raw datagram"
    return rec


def test_raw_streams_carry_one_datum_per_datagram_as_the_earlier_relay(stack):
    port = stack.add_channel("example", decimation={"factor": 10, "algorithm": "minmax"},
                             multicast={"full": {"group": "239.1.1.5", "port": 6010, "format": "raw"},
                                        "decimated": {"group": "239.1.1.6", "port": 6011, "format": "raw"}})
    full = sdtest.DatagramCollector(_joined("239.1.1.5", 6010))
    dec = sdtest.DatagramCollector(_joined("239.1.1.6", 6011))
    relay = stack.start_relay("example")
    schema = load_schema(EXAMPLE)
    records = [example_record(i) for i in range(1500)]
    # One datum per datagram, then three per datagram: raw sends each datum alone either way.
    datagrams = [encode(schema, r) for r in records[:900]]
    datagrams += [b"".join(encode(schema, r) for r in records[i:i + 3]) for i in range(900, 1500, 3)]
    send_datagrams(port, datagrams)
    wait_for(lambda: len(full.datagrams) == 1500, 10, what="1500 raw datagrams")
    wait_for(lambda: len(dec.datagrams) == 300, 10, what="300 raw decimated datagrams")
    time.sleep(0.3)
    relay.stop()
    full.close()
    dec.close()
    assert [_decode_one_datum(schema, d) for d in full.datagrams] == records
    # The first 900 went out exactly as received.
    assert list(full.datagrams)[:900] == datagrams[:900]
    got = [_decode_one_datum(schema, d) for d in dec.datagrams]
    # minmax: a pair per window of 10, each record its own datagram; the first pair by hand.
    w = records[:10]
    assert got[0]["time"] == w[0]["time"] and got[1]["time"] == w[-1]["time"]
    assert {got[0]["counter"], got[1]["counter"]} == {0, 9}
    assert {got[0]["sine_wave"], got[1]["sine_wave"]} == {min(r["sine_wave"] for r in w), max(r["sine_wave"] for r in w)}
    c = stack.status("example")["counters"]
    assert c["multicast_full_datagrams"] == 1500 and c["multicast_decimated_datagrams"] == 300
    assert c["records_written"] == 1500  # the cache is the same whatever the stream format


def _joined(group, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((group, port))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(group) + socket.inet_aton("127.0.0.1"))
    return s


def test_a_raw_stream_on_a_group_another_channel_uses_is_a_config_error(stack):
    stack.add_channel("example")
    stack.add_channel("other", multicast={"full": {"format": "raw"}})
    msg = _one_line_error(stack.run("relay", "--channel", "example"))
    assert "channels.other.multicast.full" in msg and "239.1.1.1:6000" in msg and "no channel id" in msg, msg


def test_several_receive_threads_keep_every_record_once_and_readers_merge_by_time(stack, tmp_path):
    import re
    import h5py
    from speeddata.dataset import read_avro

    port = stack.add_channel("example", receive_threads=3, decimation={"factor": 10, "algorithm": "downsample"})
    full = McastListener("239.1.1.1", 6000)
    dec = McastListener("239.1.1.2", 6001)
    relay = stack.start_relay("example")
    assert stack.status("example")["receive_threads"] == 3
    schema = load_schema(EXAMPLE)
    n = 6000
    records = [example_record(i) for i in range(n)]
    datagrams = [encode(schema, r) for r in records[:4500]]
    datagrams += [b"".join(encode(schema, r) for r in records[i:i + 3]) for i in range(4500, n, 3)]
    send_datagrams(port, datagrams)
    wait_for(lambda: stack.counters("example").get("records") == n, 15, what=f"{n} records counted")
    time.sleep(0.3)
    assert relay.stop() == 0
    full.close()
    dec.close()

    files = stack.avro_files("example")
    streams = {}
    for f in files:
        m = re.search(r"_s(\d+)\.avro$", f.name)
        streams.setdefault(int(m.group(1)) if m else 0, []).append(f)
    # The kernel spread the datagrams over the three sockets: three file streams.
    assert sorted(streams) == [0, 1, 2], [f.name for f in files]
    per_stream = {k: [r for f in v for r in sdtest.read_container(f)[0]] for k, v in streams.items()}
    assert all(len(v) > 0 for v in per_stream.values())
    # Every record on disk exactly once across the streams; each stream in arrival order.
    counters_on_disk = sorted(r["counter"] for v in per_stream.values() for r in v)
    assert counters_on_disk == list(range(n))
    for v in per_stream.values():
        assert [r["counter"] for r in v] == sorted(r["counter"] for r in v)
    c = stack.status("example")["counters"]
    assert c["records_written"] == n and c["records_not_written"] == 0 and c["malformed"] == 0
    assert c["files"] == len(files)

    # The pivot merges the streams by time: the export is the records in time order.
    from pivot_helpers import write_pivot_config
    write_pivot_config(stack)
    out = tmp_path / "merged.h5"
    r = stack.run("pivot", "export", "--start", "2023-11-14T22:13:00Z", "--end", "2023-11-14T22:14:00Z",
                  "--channels", "example", "-o", str(out))
    assert r.returncode == 0, r.stderr
    with h5py.File(out) as h:
        assert list(h["example"]["counter"][:]) == list(range(n))
        assert list(h["example"]["time"][:]) == [rec["time"] for rec in records]
    # So does the Python reader of the channel's directory.
    data = read_avro(stack.data_dir / "avro" / "example")
    assert list(data.example.counter) == list(range(n))
    assert list(data.example.time_ns) == [rec["time"] for rec in records]

    # Multicast: one full-rate and one decimated stream, each with gap-free sequence numbers;
    # every record exactly once on the full-rate stream.
    msgs = full.parsed()
    assert [m["sequence"] for m in msgs] == list(range(len(msgs)))
    streamed = [rec for m in msgs for rec in decode_all(schema, m["payload"], m["count"])]
    assert sorted(rec["counter"] for rec in streamed) == list(range(n))
    dmsgs = dec.parsed()
    assert [m["sequence"] for m in dmsgs] == list(range(len(dmsgs)))
    drecs = [rec for m in dmsgs for rec in decode_all(schema, m["payload"], m["count"])]
    # The decimator is shared: one record per 10 of the full-rate stream as sent.
    assert [rec["counter"] for rec in drecs] == [rec["counter"] for rec in streamed][::10]
    assert c["multicast_decimated_records"] == n // 10


def test_retention_with_several_receive_threads_counts_every_stream_and_keeps_open_files(stack):
    # Retention is per channel: the quota counts every stream's files, the oldest closed file
    # goes first whichever stream wrote it, and no stream's open file is removed.
    import re
    port = stack.add_channel("example", receive_threads=3, block_size="2KiB", flush_interval="50ms",
                             rotation={"max_size": "64KiB"}, retention={"max_size": "1MiB", "min_free": 0})
    relay = stack.start_relay("example")
    schema = load_schema(EXAMPLE)
    n = 40000
    per = 4
    records = [encode(schema, example_record(i)) for i in range(n)]
    send_paced_by_relay(stack, "example", port, [b"".join(records[i:i + per]) for i in range(0, n, per)], per)
    wait_for(lambda: stack.counters("example").get("records_written") == n, 60, what=f"{n} written")
    relay.stop()
    c = stack.status("example")["counters"]
    files = stack.avro_files("example")
    streams = {int(m.group(1)) if (m := re.search(r"_s(\d+)\.avro$", f.name)) else 0 for f in files}
    assert streams == {0, 1, 2}, [f.name for f in files]
    assert c["files_created"] >= 10 and c["files_deleted"] > 0
    total = sum(f.stat().st_size + f.with_name(f.name + ".idx").stat().st_size for f in files)
    assert total <= 1024 * 1024 + 3 * 70 * 1024  # the quota, plus each stream's file being written
    assert c["bytes_on_disk"] == total and c["files"] == len(files)
    counters = [r["counter"] for f in files for r in sdtest.read_container(f)[0]]
    assert len(counters) == len(set(counters))
    # The newest records of every stream (in their open and newest closed files) survive.
    assert set(range(n - 2000, n)) <= set(counters)
    assert min(counters) > 0

