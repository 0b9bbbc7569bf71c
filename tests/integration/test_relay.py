"""The relay with real processes, sockets, multicast (in a private netns) and files."""
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
    assert meta["speeddata.time_unit"] == b"ns"

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
    "minmax": [
        dict(time=1000, i=1, l=10, f=-2.0, d=1.0, s="d", b=False),
        dict(time=4000, i=5, l=41, f=4.0, d=4.0, s="d", b=False),
        dict(time=5000, i=-4, l=0, f=1.0, d=-1.0, s="h", b=True),
        dict(time=8000, i=-1, l=4, f=1.0, d=1.0, s="h", b=True),
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
        "wrong_schema": encode(temp, {"time": 1, "sensor": "s", "temperature": 20.5, "humidity": 40.0, "status": "OK"}),
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


def test_rotation_by_size_and_quota_retention(stack):
    port = stack.add_channel("example", block_size="2KiB", flush_interval="50ms",
                             rotation={"max_size": "64KiB"}, retention={"max_size": "1MiB", "min_free": 0})
    relay = stack.start_relay("example")
    schema = load_schema(EXAMPLE)
    n = 40000  # about 2.5 MB of records: about 40 files' worth
    send_datagrams(port, [encode(schema, example_record(i)) for i in range(n)], pace_every=20)
    wait_for(lambda: stack.counters("example").get("records_written") == n, 30, what=f"{n} written")
    time.sleep(1.5)
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
        assert c["disk_write_errors"] > 0 and not c["disk_ok"]
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
