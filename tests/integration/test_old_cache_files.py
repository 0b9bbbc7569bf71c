"""Cache files of the earlier (v0.6) relay: no container header, from byte 0 one block per
datagram (count 1, byte size, the datagram, a fixed 16-byte sync marker), null codec, files
named data_<unix seconds>.avro (relay/c/src/avro_writer.c of that version). Written here
byte for byte in that layout, the datums encoded by python3-avro (the independent oracle),
then read back with `speeddata avro cat/info --schema`, `speeddata pivot convert --schema`
(h5py) and lib/python's read_avro / Set.from_avro: every value must match exactly."""
import io
import json
import math
import subprocess
import warnings

import avro.io
import avro.schema
import h5py
import numpy as np
import pytest

import sdtest

V06_AGENTS = sdtest.REPO / "tests" / "data" / "v0.6" / "config" / "agents"
EXAMPLE_V06 = V06_AGENTS / "example.avsc"          # time in ns (1 kHz demo source)
TEMPERATURE_V06 = V06_AGENTS / "temperature.avsc"  # time in ms ("Unix timestamp in milliseconds")

# The earlier relay's sync marker (FIXED_SYNC_MARKER of its avro_writer.c).
V06_SYNC = bytes([0xa4, 0x8a, 0x1e, 0x90, 0x05, 0x04, 0x24, 0x78, 0x0a, 0x68, 0x33, 0x7f, 0xc2, 0x50, 0x95, 0x63])


def zigzag_varint(n):
    """Avro's long encoding, as the earlier relay's encode_long wrote it."""
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z > 0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def v06_block(datagram):
    return zigzag_varint(1) + zigzag_varint(len(datagram)) + datagram + V06_SYNC


def encode(schema, record):
    buf = io.BytesIO()
    avro.io.DatumWriter(schema).write(record, avro.io.BinaryEncoder(buf))
    return buf.getvalue()


def write_v06_file(path, schema, records, extra=()):
    """One datagram per record (the v0.6 sources sent one sample per packet); extra: raw
    datagrams (not datums of the schema) appended as the relay would have, unchecked."""
    with open(path, "wb") as f:
        for r in records:
            f.write(v06_block(encode(schema, r)))
        for d in extra:
            f.write(v06_block(d))
    return path


def example_records(n, start=0, t0=1_735_000_000_000_000_000):
    """What the v0.6 example sender sent: its fields (message, not today's word), ns time."""
    return [{"time": t0 + (start + i) * 1_000_000, "message": f"Hello from SpeedData #{start + i}",
             "counter": start + i, "sine_wave": math.sin(2 * math.pi * (start + i) / 20),
             "ramp": ((start + i) % 100) / 100.0, "square_wave": 1.0 if (start + i) % 40 < 20 else -1.0,
             "noise": math.sin((start + i) * 12.9898) * 43758.5453 % 1.0 - 0.5}
            for i in range(n)]


def temperature_records(n, t0_ms=1_735_000_000_000):
    return [{"time": t0_ms + i * 1000, "device_id": "sensor-1", "temperature_c": 20.0 + i / 7,
             "temperature_f": (20.0 + i / 7) * 9 / 5 + 32, "pressure_pa": 101325.0 - i * 3.25,
             "humidity_pct": 40.0 + (i % 9), "status": ["ok", "warning", "error"][i % 3]} for i in range(n)]


@pytest.fixture
def cache(tmp_path):
    """A v0.6 data directory: two rotated example files, an empty one (the relay opened it,
    nothing arrived yet), and a temperature file."""
    ex = avro.schema.parse(EXAMPLE_V06.read_text())
    te = avro.schema.parse(TEMPERATURE_V06.read_text())
    d = tmp_path / "data"
    d.mkdir()
    a = example_records(700)
    b = example_records(300, start=700)
    t = temperature_records(50)
    files = {
        "a": write_v06_file(d / "data_1735000000.avro", ex, a),
        "b": write_v06_file(d / "data_1735000700.avro", ex, b),
        "empty": write_v06_file(d / "data_1735001000.avro", ex, []),
        "temp": write_v06_file(d / "data_1735002000.avro", te, t),
    }
    return files, a + b, t


def run(*args):
    return subprocess.run([sdtest.BIN, *map(str, args)], capture_output=True, text=True, timeout=120)


def test_the_file_is_the_earlier_layout(cache):
    """Guard on the generator itself: first bytes are a block, not a header."""
    files, recs, _ = cache
    raw = files["a"].read_bytes()
    assert raw[:1] == b"\x02" and raw[:4] != b"Obj\x01"
    first = encode(avro.schema.parse(EXAMPLE_V06.read_text()), recs[0])
    assert raw[1:1 + len(zigzag_varint(len(first)))] == zigzag_varint(len(first))
    assert raw.count(V06_SYNC) == 700 and raw.endswith(V06_SYNC)


def test_avro_cat_with_the_schema(cache):
    files, recs, temps = cache
    r = run("avro", "cat", "--schema", EXAMPLE_V06, files["a"], files["empty"], files["b"])
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert [json.loads(line) for line in r.stdout.splitlines()] == recs
    r = run("avro", "cat", "--schema", TEMPERATURE_V06, files["temp"])
    assert r.returncode == 0, r.stderr
    assert [json.loads(line) for line in r.stdout.splitlines()] == temps


def test_avro_cat_without_the_schema_says_what_to_do(cache):
    files, _, _ = cache
    r = run("avro", "cat", files["a"])
    assert r.returncode == 1 and r.stdout == ""
    assert "looks like a cache file of the earlier relay" in r.stderr and "--schema" in r.stderr
    assert str(files["a"]) in r.stderr


def test_avro_info_with_the_schema(cache):
    files, _, _ = cache
    r = run("avro", "info", "--schema", EXAMPLE_V06, files["a"])
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["headerless"] is True and info["header_bytes"] == 0
    assert info["blocks"] == 700 and info["records"] == 700 and info["problems"] == []
    assert info["codec"] == "null" and info["sync"] == V06_SYNC.hex() and info["metadata"] == {}
    assert info["schema"] == json.loads(EXAMPLE_V06.read_text())


def test_pivot_convert_with_the_schema(cache, tmp_path):
    files, recs, temps = cache
    out = tmp_path / "old.h5"
    r = run("pivot", "convert", "--schema", EXAMPLE_V06, files["a"], files["empty"], files["b"], "-o", out)
    assert r.returncode == 0, r.stderr
    assert "1000 rows" in r.stdout
    with h5py.File(out, "r") as f:
        assert list(f) == ["data"]  # the group is named by the file-name rule: data_<time>.avro -> data
        g = f["data"]
        assert g["time"].dtype == np.int64 and list(g["time"][...]) == [x["time"] for x in recs]
        assert list(g["counter"][...]) == [x["counter"] for x in recs]
        for k in ("sine_wave", "ramp", "square_wave", "noise"):
            assert g[k].dtype == np.float64
            assert g[k][...].tolist() == [x[k] for x in recs], k
        assert list(g["message"].asstr()[...]) == [x["message"] for x in recs]
        assert g.attrs["time_unit"] == "inferred"
        assert [s.decode() if isinstance(s, bytes) else s for s in g.attrs["source_files"]] == \
            [files["a"].name, files["empty"].name, files["b"].name]
    # A range filter works on them as on any file.
    r = run("pivot", "convert", "--schema", EXAMPLE_V06, files["a"], files["b"], "-o", out,
            "--start", "2024-12-24T00:26:40.100Z", "--end", "2024-12-24T00:26:40.200Z")
    assert r.returncode == 0, r.stderr
    with h5py.File(out, "r") as f:
        assert list(f["data/counter"][...]) == list(range(100, 200))
    # Milliseconds in the file: ns in the HDF5 file, like every export.
    r = run("pivot", "convert", "--schema", TEMPERATURE_V06, files["temp"], "-o", out)
    assert r.returncode == 0, r.stderr
    with h5py.File(out, "r") as f:
        g = f["data"]
        assert list(g["time"][...]) == [x["time"] * 1_000_000 for x in temps]
        assert g["temperature_c"][...].tolist() == [x["temperature_c"] for x in temps]
        assert list(g["status"].asstr()[...]) == [x["status"] for x in temps]


def test_pivot_convert_without_the_schema_fails_clearly(cache, tmp_path):
    files, _, _ = cache
    out = tmp_path / "x.h5"
    r = run("pivot", "convert", files["a"], "-o", out)
    assert r.returncode == 4
    assert "looks like a cache file of the earlier relay" in r.stderr and not out.exists()
    r = run("pivot", "convert", "--schema", tmp_path / "missing.avsc", files["a"], "-o", out)
    assert r.returncode == 2 and "--schema" in r.stderr and "missing.avsc" in r.stderr


def test_python_read_avro_and_set_from_avro(cache):
    from dataset import Set, read_avro
    files, recs, temps = cache
    first = recs[:700]
    d = read_avro(str(files["a"]), str(EXAMPLE_V06))
    assert d.channels == ["data"]  # the schema's record name
    c = d.data
    assert c.time_ns.dtype == np.int64 and list(c.time_ns) == [x["time"] for x in first]
    assert list(c.counter) == [x["counter"] for x in first]
    for k in ("sine_wave", "ramp", "square_wave", "noise"):
        assert c[k].tolist() == [x[k] for x in first], k
    assert list(c.message) == [x["message"] for x in first]
    # The v0.5 signature: Set.from_avro(file, schema, channel).
    s = Set.from_avro(str(files["b"]), str(EXAMPLE_V06), "example")
    assert s.channels == ["example"] and list(s.example.counter) == list(range(700, 1000))
    assert len(read_avro(str(files["empty"]), str(EXAMPLE_V06)).data) == 0
    t = read_avro(str(files["temp"]), str(TEMPERATURE_V06), "temperature").temperature
    assert list(t.time_ns) == [x["time"] * 1_000_000 for x in temps]  # ms -> ns
    assert t.pressure_pa.tolist() == [x["pressure_pa"] for x in temps]
    with pytest.raises(ValueError, match="looks like a cache file of the earlier relay"):
        read_avro(str(files["a"]))


def test_a_datagram_that_was_not_a_datum_is_skipped_everywhere(tmp_path):
    """The earlier relay wrote whatever arrived: such a block is reported and skipped, the
    records around it are all there, by every reader."""
    from dataset import AvroDamageWarning, read_avro
    ex = avro.schema.parse(EXAMPLE_V06.read_text())
    recs = example_records(200)
    path = tmp_path / "data_1735000000.avro"
    with open(path, "wb") as f:
        for i, r in enumerate(recs):
            f.write(v06_block(encode(ex, r)))
            if i == 99:
                f.write(v06_block(b"\xff\xff\xff\x01 not a datum"))
    garbage_at = path.read_bytes().index(v06_block(b"\xff\xff\xff\x01 not a datum"))
    r = run("avro", "cat", "--schema", EXAMPLE_V06, path)
    assert r.returncode == 1  # damage is reported in the exit status...
    assert [json.loads(x)["counter"] for x in r.stdout.splitlines()] == list(range(200))  # ...nothing else lost
    assert f"damaged block at offset {garbage_at}" in r.stderr
    out = tmp_path / "g.h5"
    r = run("pivot", "convert", "--schema", EXAMPLE_V06, path, "-o", out)
    assert r.returncode == 0, r.stderr
    assert "warning" in r.stderr and str(garbage_at) in r.stderr
    with h5py.File(out, "r") as f:
        assert list(f["data/counter"][...]) == list(range(200))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        d = read_avro(str(path), str(EXAMPLE_V06))
    assert list(d.data.counter) == list(range(200))
    assert [str(x.message) for x in w if issubclass(x.category, AvroDamageWarning)] == \
        [f"{path}: damaged block at offset {garbage_at}: its records do not decode with the schema; skipped"]
