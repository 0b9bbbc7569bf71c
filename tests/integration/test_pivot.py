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
        assert list(g["word"].asstr()[...]) == [rec["word"] for rec in recs[100:200]]
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
    r = export_cli(stack, out, iso(T0_NS), duration="PT1S", signals="sine_wave,word")
    assert r.returncode == 0, r.stderr
    with h5py.File(out, "r") as f:
        assert sorted(f["example"].keys()) == ["sine_wave", "time", "word"]
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
            # long fields: rounded half away from zero (all positive here)
            want_c = [math.floor(v + 0.5) for v in expected_decimation([x["counter"] for x in window], 10, alg)]
            assert list(g["counter"][...]) == want_c, alg
            # other fields carry the window's last value (minmax: the last of the window, twice)
            words = list(g["word"].asstr()[...])
            last = [window[k + 9]["word"] for k in range(0, 100, 10)]
            if alg == "downsample":
                assert words == [window[k]["word"] for k in range(0, 100, 10)]
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
