"""sender -> relay -> cache -> `speeddata pivot export` -> h5py: every value and time stamp as
sent, for every supported Avro type; range edges, signal filter, decimation, the file still
being written, rotated files and retention; CLI errors."""
import json
import math

import h5py
import numpy as np
import pytest

import sdtest
from pivot_helpers import (ALL_TYPES, EXAMPLE, MODES, T0_NS, T0_US, all_types_record, expected_decimation,
                           export_cli, h5dump_ok, iso, send_records, write_pivot_config)


def _check_all_types(g, recs):
    n = len(recs)
    assert g.attrs["rows"] == n
    assert g.attrs["time_unit"] == "us"
    assert json.loads(g.attrs["schema"])["name"] == "all_types"
    assert list(g["time"][...]) == [r["time"] * 1000 for r in recs]  # us -> ns
    assert g["flag"].dtype == np.bool_ and list(g["flag"][...]) == [r["flag"] for r in recs]
    assert g["i32"].dtype == np.int32 and list(g["i32"][...]) == [r["i32"] for r in recs]
    assert g["i64"].dtype == np.int64 and list(g["i64"][...]) == [r["i64"] for r in recs]
    assert g["f32"].dtype == np.float32
    assert list(g["f32"][...]) == [np.float32(r["f32"]) for r in recs]
    assert list(g["f64"][...]) == [r["f64"] for r in recs]
    assert h5py.check_string_dtype(g["text"].dtype).encoding == "utf-8"
    assert list(g["text"].asstr()[...]) == [r["text"] for r in recs]
    assert [bytes(x) for x in g["raw"][...]] == [r["raw"] for r in recs]
    assert g["mode"].dtype == np.int32 and [MODES[x] for x in g["mode"][...]] == [r["mode"] for r in recs]
    assert list(g["mode"].attrs["symbols"]) == MODES
    assert g["id"].shape == (n, 4) and [bytes(x) for x in g["id"][...]] == [r["id"] for r in recs]
    valid = g["opt__valid"][...]
    assert list(valid) == [r["opt"] is not None for r in recs]
    assert [v if ok else None for v, ok in zip(g["opt"][...], valid)] == [r["opt"] for r in recs]
    assert list(g["pos.x"][...]) == [r["pos"]["x"] for r in recs]
    assert list(g["pos.y"][...]) == [np.float32(r["pos"]["y"]) for r in recs]
    lab = g["pos.label"].asstr()[...]
    lab_ok = g["pos.label__valid"][...]
    assert [s if ok else None for s, ok in zip(lab, lab_ok)] == [r["pos"]["label"] for r in recs]
    assert g["vec"].shape == (n, 3) and g["vec"][...].tolist() == [r["vec"] for r in recs]
    lens = g["samples__length"][...]
    assert list(lens) == [len(r["samples"]) for r in recs]
    assert [list(row[:ln]) for row, ln in zip(g["samples"][...], lens)] == [r["samples"] for r in recs]
    assert [json.loads(s) for s in g["attrs"].asstr()[...]] == [r["attrs"] for r in recs]
    def either(v):
        return None if v is None else ({"long": v} if isinstance(v, int) else {"string": v})
    assert [json.loads(s) for s in g["either"].asstr()[...]] == [either(r["either"]) for r in recs]


def test_every_type_round_trips_while_the_relay_writes(stack, tmp_path):
    write_pivot_config(stack)
    port = stack.add_channel("alltypes", schema="agents/pivot_all_types.avsc", time_unit="us",
                             flush_interval="100ms", rotation={"interval": "0s"})
    relay = stack.start_relay("alltypes")
    recs = [all_types_record(i) for i in range(600)]
    send_records(stack, "alltypes", port, ALL_TYPES, recs)
    # The relay is still running: its file is open and being written.
    assert relay.alive()
    out = tmp_path / "all.h5"
    r = export_cli(stack, out, iso(T0_US * 1000), duration="PT1M", channels="alltypes")
    assert r.returncode == 0, r.stderr
    with h5py.File(out, "r") as f:
        assert f.attrs["format"] == "speeddata-pivot 1"
        _check_all_types(f["alltypes"], recs)
    ok, text = h5dump_ok(out)
    assert ok, text
    assert 'DATASET "pos.label"' in text and "H5T_CSET_UTF8" in text
    # Range edges are exact: [time of record 100, time of record 250) in us.
    r = export_cli(stack, out, iso((T0_US + 100_000) * 1000), end=iso((T0_US + 250_000) * 1000),
                   channels="alltypes")
    assert r.returncode == 0, r.stderr
    with h5py.File(out, "r") as f:
        _check_all_types(f["alltypes"], recs[100:250])


def test_range_edges_signals_and_decimation(stack, tmp_path):
    write_pivot_config(stack)
    port = stack.add_channel("example")
    stack.start_relay("example")
    recs = [sdtest.example_record(i) for i in range(1000)]  # 1 ms apart from T0_NS
    send_records(stack, "example", port, EXAMPLE, recs)
    out = tmp_path / "e.h5"
    # [start, end): a record exactly at start is in, one exactly at end is out; offsets parse.
    r = export_cli(stack, out, iso(T0_NS + 100_000_000), end=iso(T0_NS + 200_000_000))
    assert r.returncode == 0, r.stderr
    with h5py.File(out, "r") as f:
        g = f["example"]
        assert list(g["counter"][...]) == list(range(100, 200))
        assert list(g["time"][...]) == [T0_NS + i * 1_000_000 for i in range(100, 200)]
        assert list(g["message"].asstr()[...]) == [rec["message"] for rec in recs[100:200]]
        assert list(g["sine_wave"][...]) == [rec["sine_wave"] for rec in recs[100:200]]
    # The same instant written with a +01:00 offset selects the same rows.
    import datetime
    start_local = datetime.datetime.fromtimestamp((T0_NS + 100_000_000) / 1e9,
                                                  datetime.timezone(datetime.timedelta(hours=1)))
    r = export_cli(stack, out, start_local.isoformat(), duration="PT0.1S")
    assert r.returncode == 0, r.stderr
    with h5py.File(out, "r") as f:
        assert list(f["example/counter"][...]) == list(range(100, 200))
    # Signal filter: only time and the named signals.
    r = export_cli(stack, out, iso(T0_NS), duration="PT1S", signals="sine_wave,message")
    assert r.returncode == 0, r.stderr
    with h5py.File(out, "r") as f:
        assert sorted(f["example"].keys()) == ["message", "sine_wave", "time"]
        assert len(f["example/time"]) == 1000
    # Decimation against hand-computed values (windows start at the first record in range).
    for alg in ("downsample", "average", "minmax", "rms"):
        r = export_cli(stack, out, iso(T0_NS + 5_000_000), duration="PT0.1S", decimate=10, algorithm=alg)
        assert r.returncode == 0, r.stderr
        window = recs[5:105]
        with h5py.File(out, "r") as f:
            g = f["example"]
            assert g.attrs["decimation_factor"] == 10 and g.attrs["decimation_algorithm"] == alg
            got = g["ramp"][...]
            want = expected_decimation([x["ramp"] for x in window], 10, alg)
            assert np.allclose(got, want, rtol=1e-12, atol=1e-15), (alg, got, want)
            if alg == "minmax":
                # By hand: ramp = (i % 40) / 20 - 1 wraps at i = 40, 80 (windows 3 and 7 fall);
                # sine_wave (period 20) falls from 1 over i = 5..14 and rises from -1 over 15..24.
                assert np.allclose(got, [x / 20 - 1 for x in (5, 14, 15, 24, 25, 34, 39, 0) * 2 + (5, 14, 15, 24)])
                s04 = math.sin(0.4 * math.pi)
                assert np.allclose(g["sine_wave"][...], [1, -s04, -1, s04] * 5)
            # long fields: rounded half away from zero (all positive here)
            want_c = [math.floor(v + 0.5) for v in expected_decimation([x["counter"] for x in window], 10, alg)]
            assert list(g["counter"][...]) == want_c, alg
            # other fields carry the window's last value (minmax: the last of the window, twice)
            words = list(g["message"].asstr()[...])
            last = [window[k + 9]["message"] for k in range(0, 100, 10)]
            if alg == "downsample":
                assert words == [window[k]["message"] for k in range(0, 100, 10)]
            elif alg == "minmax":
                assert words[1::2] == last
            else:
                assert words == last
            t = list(g["time"][...])
            if alg == "downsample":
                assert t == [window[k]["time"] for k in range(0, 100, 10)]
            elif alg == "minmax":
                assert t[0::2] == [window[k]["time"] for k in range(0, 100, 10)]
                assert t[1::2] == [window[k + 9]["time"] for k in range(0, 100, 10)]
            else:
                assert t == [(window[k]["time"] + window[k + 9]["time"]) // 2 for k in range(0, 100, 10)]


def test_rotated_files_and_retention(stack, tmp_path):
    write_pivot_config(stack)
    port = stack.add_channel("example", block_size="2KiB", flush_interval="50ms",
                             rotation={"max_size": "32KiB"}, retention={"max_size": "256KiB", "min_free": 0})
    relay = stack.start_relay("example")
    n = 12000
    recs = [sdtest.example_record(i) for i in range(n)]
    send_records(stack, "example", port, EXAMPLE, recs, pace_every=20)
    relay.stop()
    c = stack.counters("example")
    assert c["files_created"] >= 4 and c["files_deleted"] > 0, c
    files = stack.avro_files("example")
    assert len(files) >= 3
    cached = [r["counter"] for r in stack.cached_records("example")]
    assert cached[0] > 0  # retention removed the oldest files
    out = tmp_path / "r.h5"
    r = export_cli(stack, out, iso(T0_NS), duration="PT20S")
    assert r.returncode == 0, r.stderr
    with h5py.File(out, "r") as f:
        g = f["example"]
        assert list(g["counter"][...]) == cached
        assert len(g.attrs["source_files"]) == len(files)
    # A range across a rotation boundary, in the middle of what remains.
    lo, hi = cached[len(cached) // 4], cached[3 * len(cached) // 4]
    r = export_cli(stack, out, iso(T0_NS + lo * 1_000_000), end=iso(T0_NS + hi * 1_000_000))
    assert r.returncode == 0, r.stderr
    with h5py.File(out, "r") as f:
        assert list(f["example/counter"][...]) == list(range(lo, hi))
        assert len(f["example"].attrs["source_files"]) >= 2


def test_cli_errors_name_the_parameter(stack, tmp_path):
    write_pivot_config(stack)
    port = stack.add_channel("example")
    stack.start_relay("example")
    send_records(stack, "example", port, EXAMPLE, [sdtest.example_record(i) for i in range(50)])
    out = tmp_path / "x.h5"
    cases = [
        (dict(start="yesterday", duration="PT1S"), 2, "--start: 'yesterday' is not an ISO 8601 time"),
        (dict(start=iso(T0_NS)), 2, "--duration: required"),
        (dict(start=iso(T0_NS), duration="PT-1S"), 2, "--duration:"),
        (dict(start=iso(T0_NS), end=iso(T0_NS - 1)), 2, "--end: must be after --start"),
        (dict(start=iso(T0_NS), duration="PT1S", channels="nope"), 4, "channels: unknown channel 'nope'"),
        (dict(start=iso(T0_NS), duration="PT1S", channels="../etc"), 2, "channels:"),
        (dict(start=iso(T0_NS), duration="PT1S", signals="volts"), 2, "signals: no requested channel has a signal 'volts'"),
        (dict(start=iso(T0_NS), duration="PT1S", algorithm="median"), 2, "--algorithm:"),
        (dict(start=iso(T0_NS), duration="PT1S", decimate=0), 2, "--decimate: must be an integer >= 1"),
        (dict(start="2020-01-01T00:00:00Z", duration="PT1H"), 3, "no data in [2020-01-01T00:00:00Z, 2020-01-01T01:00:00Z) for channels example"),
    ]
    for kw, code, msg in cases:
        kw.setdefault("channels", "example")
        r = export_cli(stack, out, **kw)
        assert r.returncode == code, (kw, r.returncode, r.stderr)
        assert msg in r.stderr, (kw, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert not out.exists()


def test_cli_errors_say_what_is_cached_and_suggest_names(stack, tmp_path):
    """A range without data names each channel's cached extent (from the .idx, as `pivot
    channels` shows it); a mistyped channel or signal gets the closest name and the known ones."""
    write_pivot_config(stack)
    ports = {ch: stack.add_channel(ch) for ch in ("example", "other")}
    for ch, port in ports.items():
        stack.start_relay(ch)
        send_records(stack, ch, port, EXAMPLE, [sdtest.example_record(i) for i in range(50)])
    # The extent `pivot channels` reports, once every record is indexed.
    def coverage():
        r = stack.run("pivot", "channels", "--json")
        assert r.returncode == 0, r.stderr
        return {c["name"]: c for c in json.loads(r.stdout)}
    sdtest.wait_for(lambda: all(c["records"] == 50 for c in coverage().values()), 30, what="50 records indexed")
    cov = coverage()
    assert cov["example"]["first"] == "2023-11-14T22:13:20Z" and cov["example"]["last"] == "2023-11-14T22:13:20.049Z"
    out = tmp_path / "x.h5"
    fields = "time, message, counter, sine_wave, ramp, square_wave, noise"
    cases = [
        (dict(start="2020-01-01T00:00:00Z", duration="PT1H"), 3,
         "no data in [2020-01-01T00:00:00Z, 2020-01-01T01:00:00Z) for channels example: "
         "channel 'example' has 2023-11-14T22:13:20Z .. 2023-11-14T22:13:20.049Z cached"),
        (dict(start="2020-01-01T00:00:00Z", duration="PT1H", channels="example,other"), 3,
         "for channels example,other: channel 'example' has 2023-11-14T22:13:20Z .. 2023-11-14T22:13:20.049Z cached; "
         "channel 'other' has 2023-11-14T22:13:20Z .. 2023-11-14T22:13:20.049Z cached"),
        (dict(start=iso(T0_NS), duration="PT1S", channels="exmple"), 4,
         "channels: unknown channel 'exmple' (did you mean 'example'? known: example, other)"),
        (dict(start=iso(T0_NS), duration="PT1S", channels="nope"), 4, "channels: unknown channel 'nope' (known: example, other)"),
        (dict(start=iso(T0_NS), duration="PT1S", signals="sine_wav"), 2,
         f"signals: no requested channel has a signal 'sine_wav' (did you mean 'sine_wave'? known: {fields})"),
        (dict(start=iso(T0_NS), duration="PT1S", signals="volts"), 2,
         f"signals: no requested channel has a signal 'volts' (known: {fields})"),
    ]
    for kw, code, msg in cases:
        kw.setdefault("channels", "example")
        r = export_cli(stack, out, **kw)
        assert r.returncode == code, (kw, r.returncode, r.stderr)
        assert msg in r.stderr, (kw, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert not out.exists()
    # CSV exports say the same.
    r = export_cli(stack, tmp_path / "x.csv", "2020-01-01T00:00:00Z", duration="PT1H", format="csv")
    assert r.returncode == 3 and cases[0][2] in r.stderr, r.stderr


def test_convert_explicit_files_and_durations(stack, tmp_path):
    write_pivot_config(stack)
    port = stack.add_channel("example", rotation={"max_size": "16KiB"}, block_size="2KiB")
    relay = stack.start_relay("example")
    recs = [sdtest.example_record(i) for i in range(1500)]
    send_records(stack, "example", port, EXAMPLE, recs)
    relay.stop()
    files = stack.avro_files("example")
    assert len(files) >= 2
    out = tmp_path / "c.h5"
    r = stack.run("pivot", "convert", *map(str, files), "-o", str(out), "--signals", "counter")
    assert r.returncode == 0, r.stderr
    with h5py.File(out, "r") as f:
        assert list(f["example/counter"][...]) == list(range(1500))
        assert sorted(f["example"].keys()) == ["counter", "time"]
    # Durations: days and combined forms are accepted.
    for d in ("P1D", "PT1H30M", "PT0.5S", "30s", "P1DT2H"):
        r = export_cli(stack, out, iso(T0_NS), duration=d)
        assert r.returncode == 0, (d, r.stderr)


def test_channels_coverage_cli(stack):
    write_pivot_config(stack)
    port = stack.add_channel("example")
    stack.start_relay("example")
    send_records(stack, "example", port, EXAMPLE, [sdtest.example_record(i) for i in range(700)])
    sdtest.wait_for(lambda: stack.counters("example").get("blocks_written", 0) >= 1, 10, what="a block")
    r = stack.run("pivot", "channels", "--json")
    assert r.returncode == 0, r.stderr
    (c,) = json.loads(r.stdout)
    files = stack.avro_files("example")
    assert c["name"] == "example" and c["files"] == len(files) and c["records"] == 700
    assert c["bytes"] == sum(f.stat().st_size + f.with_name(f.name + ".idx").stat().st_size for f in files)
    assert c["first"] == "2023-11-14T22:13:20Z" and c["last"] == "2023-11-14T22:13:20.699Z"


def _on_terminal(argv, env, timeout=120):
    """Runs argv with stdout and stderr on a pseudo-terminal; returns (exit code, output)."""
    import os
    import pty
    import select
    import subprocess
    import time
    master, slave = pty.openpty()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if select.select([master], [], [], 0.2)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        elif p.poll() is not None:
            break
    os.close(master)
    return p.wait(10), out.decode()


def test_long_exports_show_a_progress_bar_on_a_terminal(stack, tmp_path):
    """A convert or export that takes a while shows a progress bar on a terminal (cleared at the
    end, the summary line stays); into a pipe nothing but the summary."""
    import math
    import os
    import re
    import time
    write_pivot_config(stack, hdf5={"compression": "gzip", "compression_level": 6})
    port = stack.add_channel("example", block_size="256KiB")
    relay = stack.start_relay("example")
    r = stack.run("send", "--load", "--datagram-size", "1400", "--rate", "20000", "--duration", "1.5", "--port",
                  str(port), timeout=60)
    assert r.returncode == 0, r.stderr
    sdtest.wait_for(lambda: stack.counters("example").get("records_written", 0) >= 25000, 30, what="records written")
    relay.stop()
    files = [str(f) for f in stack.avro_files("example")]
    env = {**os.environ, "SPEEDDATA_CONFIG": str(stack.config_dir)}
    out = tmp_path / "big.h5"
    # Into a pipe: the summary and no bar. Timed, so that the terminal run below can be made about
    # two seconds long on any machine (a bar appears after 0.5 s and redraws every 0.1 s).
    t0 = time.monotonic()
    piped = stack.run("pivot", "convert", *(files * 4), "-o", str(out), timeout=120)
    elapsed = time.monotonic() - t0
    assert piped.returncode == 0 and "[" not in piped.stderr + piped.stdout, piped.stderr
    copies = max(8, min(400, math.ceil(4 * 2.0 / max(elapsed, 0.01))))
    code, text = _on_terminal([sdtest.BIN, "pivot", "convert", *(files * copies), "-o", str(out)], env)
    assert code == 0, text
    bars = re.findall(r"\[([#.]{30})\] +(\d+) %  ([\d.]+) of ([\d.]+) MB", text)
    assert len(bars) >= 2, text
    percents = [int(b[1]) for b in bars]
    assert percents == sorted(percents) and percents[-1] > percents[0], percents
    assert len({b[3] for b in bars}) == 1  # one total
    assert text.rstrip().endswith("bytes of Avro read"), text
    assert re.search(r"\r\x1b\[K" + re.escape(str(out)) + r": \d+ rows", text), text  # the bar is cleared
