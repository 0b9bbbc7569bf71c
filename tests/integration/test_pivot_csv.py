"""relay -> cache -> `speeddata pivot export --format csv`: read back with Python's csv module,
every column equals the HDF5 export of the same range (example and all-types schemas,
strings that need RFC 4180 quoting, decimation), a zip for several channels, errors."""
import csv
import datetime
import io
import json
import zipfile

import h5py
import numpy as np
import pytest

import pivot_helpers
import sdtest
from pivot_helpers import (ALL_TYPES, EXAMPLE, MODES, T0_NS, T0_US, all_types_record, export_cli, iso,
                           send_records, write_pivot_config)


@pytest.fixture
def stack(tmp_path):
    s = sdtest.Stack(tmp_path)
    yield s
    s.close()


def read_csv(text):
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return rows[0], rows[1:]


def iso_ns(text):
    """'2023-11-14T22:13:20.123456789Z' -> int ns (exact, without float rounding)."""
    assert text.endswith("Z") and len(text.split(".")[1]) == 10, text
    whole, frac = text[:-1].split(".")
    dt = datetime.datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return int(dt.timestamp()) * 10**9 + int(frac)


def check_against_hdf5(header, rows, g):
    assert rows, "no rows"
    assert header[:2] == ["time", "time_ns"]
    cols = {name: [r[i] for r in rows] for i, name in enumerate(header)}
    assert len(rows) == g.attrs["rows"]
    times = list(g["time"][...])
    assert [int(x) for x in cols["time_ns"]] == times
    assert [iso_ns(x) for x in cols["time"]] == times
    hdf = sorted(k for k in g.keys() if k != "time" and not k.endswith("__valid") and not k.endswith("__length"))
    assert sorted(header[2:]) == hdf
    for name in header[2:]:
        d = g[name]
        text = cols[name]
        valid = g[name + "__valid"][...] if name + "__valid" in g else None
        if valid is not None:
            assert [t != "" for t in text] == list(valid), name
        kind = d.attrs.get("avro_type", "")
        if isinstance(kind, bytes):
            kind = kind.decode()
        if d.ndim == 2 and d.dtype == np.uint8 and "__length" not in name and name + "__length" not in g and \
                d.attrs.get("avro_type", b"") in (b"fixed", "fixed"):  # fixed
            assert [bytes.fromhex(t) for t in text] == [bytes(x) for x in d[...]], name
        elif d.ndim == 2:  # numeric arrays: JSON lists, zero-padded in HDF5
            lens = g[name + "__length"][...] if name + "__length" in g else [d.shape[1]] * len(text)
            assert [json.loads(t) for t in text] == [list(row[:n]) for row, n in zip(d[...].tolist(), lens)], name
        elif d.dtype.kind == "f":
            want = d[...]
            got = np.array([float(t) if t else 0.0 for t in text], dtype=d.dtype)
            assert np.array_equal(got, want, equal_nan=True), name  # exact, not approximate
        elif d.dtype == np.bool_:
            assert [t == "true" for t in text] == list(d[...]), name
        elif d.dtype.kind == "i" and "symbols" in d.attrs:
            symbols = [s.decode() if isinstance(s, bytes) else s for s in d.attrs["symbols"]]
            assert text == [symbols[i] for i in d[...]], name
        elif d.dtype.kind == "i" and d.ndim == 1:
            assert [int(t) if t else 0 for t in text] == list(d[...]), name
        elif h5py.check_string_dtype(d.dtype):
            want = list(d.asstr()[...])
            if kind == "json":
                assert [json.loads(t) for t in text] == [json.loads(w) for w in want], name
            else:
                ok = list(valid) if valid is not None else [True] * len(text)
                assert [t for t, v in zip(text, ok) if v] == [w for w, v in zip(want, ok) if v], name
        elif h5py.check_vlen_dtype(d.dtype) is not None:  # bytes
            assert [bytes.fromhex(t) for t in text] == [bytes(x) for x in d[...]], name
        else:
            raise AssertionError(f"unchecked column {name} {d.dtype}")


def test_csv_equals_the_hdf5_export(stack, tmp_path):
    write_pivot_config(stack)
    port = stack.add_channel("example")
    stack.start_relay("example")
    recs = [sdtest.example_record(i) for i in range(3000)]
    send_records(stack, "example", port, EXAMPLE, recs)
    h5 = tmp_path / "x.h5"
    out = tmp_path / "x.csv"
    start, dur = iso(T0_NS + 123_456_789), "PT2.5S"
    r = export_cli(stack, h5, start, duration=dur)
    assert r.returncode == 0, r.stderr
    r = export_cli(stack, out, start, duration=dur, format="csv")
    assert r.returncode == 0, r.stderr
    text = out.read_bytes().decode("utf-8")
    assert "\r\n" in text
    header, rows = read_csv(text)
    assert header == ["time", "time_ns", "message", "counter", "sine_wave", "ramp", "square_wave", "noise"]
    with h5py.File(h5, "r") as f:
        check_against_hdf5(header, rows, f["example"])
    assert [int(r[3]) for r in rows] == list(range(124, 2624))
    # Round-trip precision: the text reads back to the exact double that was sent.
    assert [float(r[4]) for r in rows] == [recs[i]["sine_wave"] for i in range(124, 2624)]
    # Decimated exports agree too.
    for alg in ("minmax", "average"):
        r = export_cli(stack, h5, start, duration=dur, decimate=10, algorithm=alg)
        assert r.returncode == 0, r.stderr
        r = export_cli(stack, out, start, duration=dur, decimate=10, algorithm=alg, format="csv")
        assert r.returncode == 0, r.stderr
        header, rows = read_csv(out.read_bytes().decode("utf-8"))
        with h5py.File(h5, "r") as f:
            check_against_hdf5(header, rows, f["example"])


def test_every_type_and_quoting(stack, tmp_path):
    write_pivot_config(stack)
    port = stack.add_channel("alltypes", schema="agents/pivot_all_types.avsc", time_unit="us")
    stack.start_relay("alltypes")
    tricky = ['plain', 'a,b', 'say "hi"', 'two\nlines', 'cr\rlf\r\n', '', ' lead', 'ünï,"cödé"\n']
    recs = []
    for i in range(400):
        rec = all_types_record(i)
        rec["text"] = tricky[i % len(tricky)] + str(i)
        recs.append(rec)
    send_records(stack, "alltypes", port, ALL_TYPES, recs)
    h5 = tmp_path / "a.h5"
    out = tmp_path / "a.csv"
    start = iso(T0_US * 1000)
    r = export_cli(stack, h5, start, duration="PT1S", channels="alltypes")
    assert r.returncode == 0, r.stderr
    r = export_cli(stack, out, start, duration="PT1S", channels="alltypes", format="csv")
    assert r.returncode == 0, r.stderr
    header, rows = read_csv(out.read_bytes().decode("utf-8"))
    assert len(rows) == 400
    col = header.index("text")
    assert [r[col] for r in rows] == [rec["text"] for rec in recs]
    mode = header.index("mode")
    assert [r[mode] for r in rows] == [MODES[i % 3] for i in range(400)]
    with h5py.File(h5, "r") as f:
        check_against_hdf5(header, rows, f["alltypes"])


def test_several_channels_make_a_zip_of_csvs(stack, tmp_path):
    write_pivot_config(stack)
    p1 = stack.add_channel("example")
    p2 = stack.add_channel("alltypes", schema="agents/pivot_all_types.avsc", time_unit="ns")
    stack.start_relay("example")
    stack.start_relay("alltypes")
    send_records(stack, "example", p1, EXAMPLE, [sdtest.example_record(i) for i in range(500)])
    at = []
    for i in range(300):
        rec = all_types_record(i)
        rec["time"] = T0_NS + i * 1_000_000
        at.append(rec)
    send_records(stack, "alltypes", p2, ALL_TYPES, at)
    z = tmp_path / "both.zip"
    r = export_cli(stack, z, iso(T0_NS), duration="PT1S", channels="example,alltypes", format="csv")
    assert r.returncode == 0, r.stderr
    assert not list(tmp_path.glob("*.part")), "temporary parts are removed"
    with zipfile.ZipFile(z) as zf:
        assert zf.testzip() is None
        assert sorted(zf.namelist()) == ["alltypes.csv", "example.csv"]
        for ch in ("example", "alltypes"):
            one = tmp_path / f"{ch}.csv"
            r = export_cli(stack, one, iso(T0_NS), duration="PT1S", channels=ch, format="csv")
            assert r.returncode == 0, r.stderr
            assert zf.read(f"{ch}.csv") == one.read_bytes()
    h5 = tmp_path / "both.h5"
    r = export_cli(stack, h5, iso(T0_NS), duration="PT1S", channels="example,alltypes")
    assert r.returncode == 0, r.stderr
    with zipfile.ZipFile(z) as zf, h5py.File(h5, "r") as f:
        for ch in ("example", "alltypes"):
            header, rows = read_csv(zf.read(f"{ch}.csv").decode("utf-8"))
            check_against_hdf5(header, rows, f[ch])


def test_csv_errors(stack, tmp_path):
    write_pivot_config(stack)
    port = stack.add_channel("example")
    stack.start_relay("example")
    send_records(stack, "example", port, EXAMPLE, [sdtest.example_record(i) for i in range(50)])
    out = tmp_path / "x.csv"
    r = export_cli(stack, out, "2020-01-01T00:00:00Z", duration="PT1H", format="csv")
    assert r.returncode == 3 and "no data in [2020-01-01T00:00:00Z" in r.stderr, r.stderr
    assert not out.exists()
    r = export_cli(stack, out, iso(T0_NS), duration="PT1S", format="xlsx")
    assert r.returncode == 2 and "--format: expected hdf5 or csv" in r.stderr, r.stderr
    r = export_cli(stack, out, iso(T0_NS), duration="PT1S", channels="nope", format="csv")
    assert r.returncode == 4 and "channels: unknown channel 'nope'" in r.stderr, r.stderr


def test_rest_format_csv_is_the_cli_csv(stack, tmp_path):
    """GET /api/v1/pivot/export?format=csv answers the same bytes as the CLI's --format csv:
    text/csv for one channel, a zip for several, and 400 for an unknown format."""
    import json
    import urllib.error
    import urllib.request
    import zipfile
    from orchlib import free_tcp_port
    port = stack.add_channel("example")
    pivot_helpers.write_pivot_config(stack)
    stack.start_relay("example")
    pivot_helpers.send_records(stack, "example", port, pivot_helpers.EXAMPLE,
                               [sdtest.example_record(i) for i in range(300)])
    start, duration = pivot_helpers.iso(pivot_helpers.T0_NS), "PT1S"
    cli = tmp_path / "cli.csv"
    r = pivot_helpers.export_cli(stack, cli, start, duration=duration, format="csv")
    assert r.returncode == 0, r.stderr
    hp = free_tcp_port()
    srv = stack.start("pivot", "serve", "--port", str(hp), name="pivot")
    base = f"http://127.0.0.1:{hp}/api/v1/pivot/export?start={start}&duration={duration}"

    def get(url):
        try:
            with urllib.request.urlopen(url, timeout=20) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()
        except OSError:
            return None, {}, b""
    sdtest.wait_for(lambda: get(f"http://127.0.0.1:{hp}/api/v1/health")[0] == 200 or not srv.alive(), 15,
                    what="pivot serve")
    st, headers, body = get(base + "&channels=example&format=csv")
    assert st == 200 and headers["Content-Type"].startswith("text/csv")
    assert headers["Content-Disposition"].endswith('.csv"')
    assert body == cli.read_bytes()
    st, headers, body = get(base + "&channels=example,example2&format=csv")
    assert st in (404, 200)  # example2 does not exist: 404 naming it
    st, headers, body = get(base + "&channels=example&format=xml")
    assert st == 400 and json.loads(body)["error"].startswith("format:")
