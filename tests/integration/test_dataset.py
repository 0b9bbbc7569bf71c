"""lib/python/dataset.py against files made by the pivot (read_hdf5) and by the relay
(read_avro): values, time, access paths, ambiguity, repr; both import forms."""
import shutil
import subprocess
import sys

import numpy as np
import pytest

import sdtest
from pivot_helpers import (ALL_TYPES, EXAMPLE, MODES, T0_NS, T0_US, all_types_record, export_cli, iso,
                           send_records, write_pivot_config)


def test_both_import_forms():
    code = ("from lib.python.dataset import read_hdf5, read_avro, Set; "
            "import sys; sys.path.insert(0, 'lib/python'); from dataset import read_hdf5 as r2; print('ok')")
    r = subprocess.run([sys.executable, "-c", code], cwd=sdtest.REPO, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


@pytest.fixture
def two_channels(stack, tmp_path):
    write_pivot_config(stack)
    p1 = stack.add_channel("example")
    p2 = stack.add_channel("other", schema="agents/example.avsc")
    p3 = stack.add_channel("alltypes", schema="agents/pivot_all_types.avsc", time_unit="us")
    for c in ("example", "other", "alltypes"):
        stack.start_relay(c)
    ex = [sdtest.example_record(i) for i in range(300)]
    send_records(stack, "example", p1, EXAMPLE, ex)
    send_records(stack, "other", p2, EXAMPLE, [sdtest.example_record(i + 1000) for i in range(300)])
    at = [all_types_record(i) for i in range(300)]
    send_records(stack, "alltypes", p3, ALL_TYPES, at)
    return stack, ex, at


def test_read_hdf5_of_a_pivot_export(two_channels, tmp_path):
    from dataset import Set, read_hdf5
    stack, ex, at = two_channels
    out = tmp_path / "set.h5"
    r = export_cli(stack, out, iso(T0_NS), duration="PT2S", channels="example,other,alltypes")
    assert r.returncode == 0, r.stderr
    data = read_hdf5(out)
    assert isinstance(data, Set) and data.channels == ["alltypes", "example", "other"]
    assert Set.from_hdf5(out).channels == data.channels
    e = data.channel["example"]
    assert list(e.counter) == list(range(300)) and list(data.example.counter) == list(range(300))
    assert e.time_ns.dtype == np.int64 and list(e.time_ns) == [x["time"] for x in ex]
    assert np.allclose(e.time, [x["time"] / 1e9 for x in ex], rtol=0, atol=1e-6)
    assert list(e.message) == [x["message"] for x in ex]
    assert list(data.other.counter) == list(range(1000, 1300))
    # A signal in one channel only is reachable from the Set; one in two is ambiguous.
    assert list(data.i64) == [x["i64"] for x in at]
    with pytest.raises(AttributeError, match="ambiguous: channels example, other have it"):
        data.sine_wave
    with pytest.raises(AttributeError, match="no channel or signal 'volts'"):
        data.volts
    # Nullable -> masked array; nested fields by attribute or by dotted name; enums as indices.
    a = data.alltypes
    assert [None if m else v for v, m in zip(a.opt.data, np.ma.getmaskarray(a.opt))] == [x["opt"] for x in at]
    assert list(a.pos.x) == list(a["pos.x"]) == [x["pos"]["x"] for x in at]
    assert [MODES[i] for i in a.mode] == [x["mode"] for x in at]
    assert list(a.time_ns) == [x["time"] * 1000 for x in at]
    text = repr(data)
    assert "example: 300 rows" in text and "sine_wave" in text and "alltypes" in text and "pos.label" in text
    assert "example" in dir(data) and "sine_wave" in dir(e)
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError):
            e.to_pandas()
    else:
        df = e.to_pandas()
        assert list(df["counter"]) == list(range(300))


def test_read_avro_of_relay_files(two_channels):
    from dataset import Set, read_avro
    stack, ex, at = two_channels
    files = stack.avro_files("example")
    assert len(files) == 1  # the relay is still writing it: flushed blocks are read
    data = read_avro(str(files[0]))
    assert data.channels == ["example"]
    e = data.example
    assert list(e.counter) == list(range(300))
    assert list(e.time_ns) == [x["time"] for x in ex]
    assert list(e.message) == [x["message"] for x in ex]
    for k in ("sine_wave", "ramp", "square_wave", "noise"):
        assert list(getattr(e, k)) == [x[k] for x in ex], k
    # The v0.5 signature, with a channel name of our choosing.
    d2 = Set.from_avro(str(files[0]), str(EXAMPLE), "renamed")
    assert list(d2.renamed.counter) == list(range(300))
    # A schema the numpy decoder does not cover falls back and gives the same values.
    a = read_avro(str(stack.avro_files("alltypes")[0])).alltypes
    assert list(a.time_ns) == [x["time"] * 1000 for x in at]
    assert list(a.i32) == [x["i32"] for x in at]
    assert list(a["pos.x"]) == [x["pos"]["x"] for x in at]


def test_read_avro_numpy_decoder_matches_python_avro(tmp_path):
    """Many blocks of varying sizes, deflate and null codecs: same values as python3-avro."""
    import avro.datafile
    import avro.io
    from dataset import read_avro
    schema = sdtest.load_schema(EXAMPLE)
    for codec in ("null", "deflate"):
        path = tmp_path / f"x_{codec}.avro"
        with open(path, "wb") as f:
            w = avro.datafile.DataFileWriter(f, avro.io.DatumWriter(), schema, codec=codec)
            w.set_meta("speeddata.channel", b"example")
            for i in range(5000):
                w.append(sdtest.example_record(i))
                if i % 777 == 0:
                    w.flush()
            w.close()
        recs, _ = sdtest.read_container(path)
        d = read_avro(str(path)).example
        assert list(d.counter) == [r["counter"] for r in recs]
        assert list(d.message) == [r["message"] for r in recs]
        assert list(d.noise) == [r["noise"] for r in recs]
        assert list(d.time_ns) == [r["time"] for r in recs]


def test_read_avro_numpy_decoder_nullable_fields(tmp_path):
    """["null", T] fields stay on the numpy path and come back as masked arrays."""
    import json
    import avro.datafile
    import avro.io
    import avro.schema
    import dataset
    sj = {"type": "record", "name": "n", "fields": [
        {"name": "time", "type": "long"}, {"name": "x", "type": ["null", "double"]},
        {"name": "s", "type": ["string", "null"]}, {"name": "k", "type": ["null", "int"]},
        {"name": "flag", "type": "boolean"}]}
    assert dataset._flat_plan(sj) is not None
    schema = avro.schema.parse(json.dumps(sj))
    recs = [{"time": 1_700_000_000_000_000_000 + i, "x": None if i % 3 == 0 else i * 0.25,
             "s": None if i % 4 == 1 else "é" * (i % 5), "k": None if i % 2 else -i, "flag": i % 7 == 0}
            for i in range(3000)]
    path = tmp_path / "n.avro"
    with open(path, "wb") as f:
        w = avro.datafile.DataFileWriter(f, avro.io.DatumWriter(), schema)
        for i, r in enumerate(recs):
            w.append(r)
            if i % 500 == 0:
                w.flush()
        w.close()
    d = dataset.read_avro(str(path)).n
    for name in ("x", "s", "k"):
        col = getattr(d, name)
        assert isinstance(col, np.ma.MaskedArray), name
        assert [None if m else v for v, m in zip(col.data.tolist(), np.ma.getmaskarray(col))] == \
            [r[name] for r in recs], name
    assert list(d.flag) == [r["flag"] for r in recs]
    assert list(d.time_ns) == [r["time"] for r in recs]
