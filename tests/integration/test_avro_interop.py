"""Interoperability of SpeedData's own Avro core with the reference implementations.

Oracles (docs/ARCHITECTURE.md, "Dependencies"): Apache Avro C (`avrocat`, `avropipe`, `avromod` from
Debian avro-bin; it has no zstandard codec) and python3-avro (zstandard through
python3-zstandard; snappy only when python-snappy is installed).

 - files `speeddata avro write` produces, with each codec, read back with identical values by
   avrocat/avropipe and by python3-avro;
 - files python3-avro writes (null, deflate, zstandard, and snappy when it can) and files
   Avro C rewrites (avromod: null, deflate, snappy) read by `speeddata avro cat` with
   identical values.

Run: SPEEDDATA_BIN=build/speeddata /usr/bin/python3 -m pytest -q tests/integration/test_avro_interop.py
Everything happens in tmp_path; nothing touches the network.
"""

import datetime
import decimal
import json
import os
import random
import shutil
import struct
import subprocess
import uuid
import warnings
from pathlib import Path

import pytest

import avro.datafile
import avro.io
import avro.schema

REPO = Path(__file__).resolve().parents[2]
BIN = os.environ.get("SPEEDDATA_BIN", str(REPO / "build" / "speeddata"))
SCHEMA_FILES = {
    "example": REPO / "config" / "agents" / "example.avsc",
    "rich": REPO / "tests" / "data" / "avro" / "rich.avsc",
}
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)

try:
    import snappy  # noqa: F401  (python-snappy; python3-avro needs it for the snappy codec)

    PY_SNAPPY = True
except ImportError:
    PY_SNAPPY = False

warnings.filterwarnings("ignore", category=avro.errors.IgnoredLogicalType)


def need_tool(name):
    if shutil.which(name) is None:
        pytest.skip(f"{name} not installed (Debian package avro-bin)")


def run(args, stdin=None, check=True):
    p = subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError(f"{args} failed ({p.returncode}):\n{p.stderr}")
    return p


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def load_schema(name):
    return avro.schema.parse(SCHEMA_FILES[name].read_text())


# ---- test data (Avro JSON encoding, what `speeddata avro write` reads) --------------------

TEXT_PIECES = ["a", "Z", "_", " ", '"', "\\", "\n", "\t", "é", "€", "😀", "0", "ß"]


def text(rng, n=None):
    n = rng.randrange(12) if n is None else n
    return "".join(rng.choice(TEXT_PIECES) for _ in range(n))


def key(rng):
    return "k" + "".join(rng.choice("abcxyz019_") for _ in range(rng.randrange(6)))


def raw(rng, n):
    return bytes(rng.randrange(256) for _ in range(n)).decode("latin-1")


def twos(value, size=None):
    """Big-endian two's complement, minimal length unless size is given."""
    if size is None:
        size = max(1, (value + (value < 0)).bit_length() // 8 + 1)
    return value.to_bytes(size, "big", signed=True).decode("latin-1")


def double(rng):
    return rng.choice([0.0, -0.0, 1.0, -2.5, 1e-310, 1.7976931348623157e308, 5e-324,
                       rng.uniform(-1e6, 1e6), rng.uniform(-1e300, 1e300), rng.random()])


def point(rng):
    return {"x": double(rng), "y": double(rng), "label": None if rng.random() < 0.5 else {"string": text(rng)}}


def rich_record(rng):
    def linked(n):
        node = {"value": rng.randint(-1000, 1000), "next": None}
        for _ in range(n):
            node = {"value": rng.randint(-1000, 1000), "next": {"speeddata.test.node": node}}
        return node

    choice = rng.choice([
        lambda: {"int": rng.randint(-2**31, 2**31 - 1)},
        lambda: {"string": text(rng)},
        lambda: {"speeddata.test.color": rng.choice(["RED", "GREEN", "BLUE"])},
        lambda: {"array": [rng.randint(-5, 5) for _ in range(rng.randrange(4))]},
        lambda: {"map": {key(rng): text(rng) for _ in range(rng.randrange(3))}},
        lambda: {"speeddata.hash.md5": raw(rng, 16)},
    ])()
    ts_lo, ts_hi = -2208988800, 7258118400  # 1900 .. 2200 in seconds
    return {
        "n": None,
        "b": rng.random() < 0.5,
        "i": rng.choice([0, -1, 2**31 - 1, -2**31, rng.randint(-2**31, 2**31 - 1)]),
        "l": rng.choice([0, 2**63 - 1, -2**63, rng.randint(-2**63, 2**63 - 1), rng.randint(-100, 100)]),
        "f": f32(rng.uniform(-1e6, 1e6)),
        "d": double(rng),
        "raw": raw(rng, rng.randrange(20)),
        "s": text(rng),
        "color": rng.choice(["RED", "GREEN", "BLUE"]),
        "md5": raw(rng, 16),
        "tags": [text(rng) for _ in range(rng.randrange(4))],
        "samples": [double(rng) for _ in range(rng.randrange(6))],
        "attrs": {key(rng): rng.randint(-2**63, 2**63 - 1) for _ in range(rng.randrange(4))},
        "maybe": None if rng.random() < 0.3 else {"string": text(rng)},
        "choice": choice,
        "point": point(rng),
        "path": [point(rng) for _ in range(rng.randrange(4))],
        "list": linked(rng.randrange(5)),
        "price": twos(rng.randint(-10**10 + 1, 10**10 - 1)),
        "price_fixed": twos(rng.randint(-10**18 + 1, 10**18 - 1), 8),
        "id": str(uuid.UUID(int=rng.getrandbits(128))),
        "day": rng.randint(-700000, 2900000),
        "t_ms": rng.randrange(86400000),
        "t_us": rng.randrange(86400000000),
        "ts_ms": rng.randint(ts_lo * 1000, ts_hi * 1000),
        "ts_us": rng.randint(ts_lo * 10**6, ts_hi * 10**6),
        "ts_ns": rng.randint(-2**63, 2**63 - 1),
        "lts_ms": rng.randint(-2**63, 2**63 - 1),
        "lts_us": rng.randint(-2**63, 2**63 - 1),
        "lts_ns": rng.randint(-2**63, 2**63 - 1),
        "span": raw(rng, 12),
        "nested": {key(rng): [None if rng.random() < 0.4 else {"speeddata.test.point": point(rng)}
                              for _ in range(rng.randrange(3))] for _ in range(rng.randrange(3))},
    }


def example_record(rng, i):
    return {
        "time": 1700000000000000000 + i * 1000000,
        "message": rng.choice(["alpha", "beta", "gamma", "délta", "ε", "日本"]),
        "counter": i,
        "sine_wave": rng.uniform(-1, 1),
        "ramp": (i % 40) / 40 * 2 - 1,
        "square_wave": 1.0 if (i // 10) % 2 == 0 else -1.0,
        "noise": rng.random() - 0.5,
    }


def records(name, n=300, seed=1):
    rng = random.Random(seed)
    if name == "rich":
        return [rich_record(rng) for _ in range(n)]
    return [example_record(rng, i) for i in range(n)]


# ---- normalisation: every reader's output to one comparable form ---------------------------

def branch_for(union, name):
    for b in union.schemas:
        full = getattr(b, "fullname", None)
        if name in (full, b.type) or (full and name == full.split(".")[-1]):
            return b
    raise AssertionError(f"no branch {name!r} in {union}")


def logical(s):
    return s.props.get("logicalType") if hasattr(s, "props") else None


def plain(s, j, cut_at_nul=False):
    """Avro JSON (ours or avrocat's) -> comparable Python values.

    cut_at_nul: avrocat prints bytes and fixed through C strings, so they end at the first
    NUL byte; compare only that much (avropipe checks every byte, see below)."""
    if isinstance(s, avro.schema.UnionSchema):
        if j is None:
            return None
        ((k, v),) = j.items()
        return plain(branch_for(s, k), v, cut_at_nul)
    t = s.type
    if t in ("record", "error"):
        return {f.name: plain(f.type, j[f.name], cut_at_nul) for f in s.fields}
    if t == "array":
        return [plain(s.items, x, cut_at_nul) for x in j]
    if t == "map":
        return {k: plain(s.values, x, cut_at_nul) for k, x in j.items()}
    if t in ("bytes", "fixed"):
        b = j.encode("latin-1")
        return b.split(b"\0")[0] if cut_at_nul else b
    if t == "float":
        return f32(j)
    if t == "double":
        return float(j)
    return j


def to_native(s, j):
    """Avro JSON -> the Python objects python3-avro writes (logical types as date, Decimal...)."""
    if isinstance(s, avro.schema.UnionSchema):
        if j is None:
            return None
        ((k, v),) = j.items()
        return to_native(branch_for(s, k), v)
    t, lt = s.type, logical(s)
    if t == "record":
        return {f.name: to_native(f.type, j[f.name]) for f in s.fields}
    if t == "array":
        return [to_native(s.items, x) for x in j]
    if t == "map":
        return {k: to_native(s.values, x) for k, x in j.items()}
    if t in ("bytes", "fixed"):
        b = j.encode("latin-1")
        if lt == "decimal":
            return decimal.Decimal(int.from_bytes(b, "big", signed=True)).scaleb(-s.get_prop("scale"))
        return b
    if lt == "date":
        return datetime.date(1970, 1, 1) + datetime.timedelta(days=j)
    if lt in ("time-millis", "time-micros"):
        us = j * 1000 if lt == "time-millis" else j
        return (datetime.datetime(2000, 1, 1) + datetime.timedelta(microseconds=us)).time()
    if lt == "timestamp-millis":
        return EPOCH + datetime.timedelta(milliseconds=j)
    if lt == "timestamp-micros":
        return EPOCH + datetime.timedelta(microseconds=j)
    if t == "float":
        return f32(j)
    return j


def from_native(s, v):
    """What python3-avro reads -> comparable values (logical types back to their encoding)."""
    if isinstance(s, avro.schema.UnionSchema):
        for b in s.schemas:
            if b.validate(v) is not None:
                return from_native(b, v)
        raise AssertionError(f"{v!r} matches no branch of {s}")
    t, lt = s.type, logical(s)
    if t == "record":
        return {f.name: from_native(f.type, v[f.name]) for f in s.fields}
    if t == "array":
        return [from_native(s.items, x) for x in v]
    if t == "map":
        return {k: from_native(s.values, x) for k, x in v.items()}
    if lt == "decimal":
        return int(v.scaleb(s.get_prop("scale"))) if isinstance(v, decimal.Decimal) else int.from_bytes(v, "big", signed=True)
    if lt == "date" and isinstance(v, datetime.date):
        return (v - datetime.date(1970, 1, 1)).days
    if lt in ("time-millis", "time-micros") and isinstance(v, datetime.time):
        us = ((v.hour * 60 + v.minute) * 60 + v.second) * 10**6 + v.microsecond
        return us // 1000 if lt == "time-millis" else us
    if lt == "timestamp-millis" and isinstance(v, datetime.datetime):
        return (v - EPOCH) // datetime.timedelta(milliseconds=1)
    if lt == "timestamp-micros" and isinstance(v, datetime.datetime):
        return (v - EPOCH) // datetime.timedelta(microseconds=1)
    if t == "float":
        return f32(v)
    if t == "double":
        return float(v)
    return v


def pipe_leaves(s, j, path):
    """(path, expected avropipe text) for every non-float leaf, in avropipe's notation."""
    if isinstance(s, avro.schema.UnionSchema):
        if j is None:
            yield path, None
            return
        ((k, v),) = j.items()
        b = branch_for(s, k)
        yield from pipe_leaves(b, v, f"{path}/{getattr(b, 'name', b.type)}")
        return
    t = s.type
    if t == "record":
        for f in s.fields:
            yield from pipe_leaves(f.type, j[f.name], f"{path}/{f.name}")
    elif t == "array":
        for i, x in enumerate(j):
            yield from pipe_leaves(s.items, x, f"{path}/{i}")
    elif t == "map":
        for k, x in j.items():
            yield from pipe_leaves(s.values, x, f"{path}/{k}")
    elif t in ("float", "double"):
        return  # avropipe prints %f: not exact
    elif t in ("bytes", "fixed"):
        yield path, j.encode("latin-1")
    elif t in ("string", "enum"):
        yield path, j.encode("utf-8")
    else:
        yield path, j


def parse_avropipe(out):
    got = {}
    for line in out.splitlines():
        path, _, value = line.partition("\t")
        if value in ("{}", "[]"):
            continue
        v = json.loads(value)
        got[path] = v.encode("latin-1") if isinstance(v, str) else v  # strings: one \u00XX per byte
    return got


# ---- helpers -------------------------------------------------------------------------------

def write_ours(tmp_path, name, recs, codec, block_bytes=2000):
    path = tmp_path / f"ours_{name}_{codec}.avro"
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs)
    run([BIN, "avro", "write", "--schema", str(SCHEMA_FILES[name]), "--codec", codec,
         "--block-bytes", str(block_bytes), "--meta", "speeddata.channel=interop", "-o", str(path)], stdin=lines)
    return path


def cat_ours(path):
    p = run([BIN, "avro", "cat", str(path)])
    assert p.stderr == ""
    return [json.loads(line) for line in p.stdout.split("\n")[:-1]]


def write_python(tmp_path, name, recs, codec, monkeypatch):
    schema = load_schema(name)
    path = tmp_path / f"py_{name}_{codec}.avro"
    monkeypatch.setattr(avro.datafile, "SYNC_INTERVAL", 1500)  # several blocks per file
    with open(path, "wb") as f:
        w = avro.datafile.DataFileWriter(f, avro.io.DatumWriter(), schema, codec=codec)
        for r in recs:
            w.append(to_native(schema, r))
        w.close()
    return path


def read_python(path):
    with open(path, "rb") as f:
        return list(avro.datafile.DataFileReader(f, avro.io.DatumReader()))


def block_count(path):
    info = json.loads(run([BIN, "avro", "info", str(path)]).stdout)
    assert info["problems"] == []
    return info["blocks"]


# ---- files we write, read by the reference implementations ---------------------------------

@pytest.mark.parametrize("name", ["example", "rich"])
@pytest.mark.parametrize("codec", ["null", "deflate", "snappy"])
def test_avro_c_reads_what_we_write(tmp_path, name, codec):
    need_tool("avrocat")
    need_tool("avropipe")
    schema = load_schema(name)
    recs = records(name)
    path = write_ours(tmp_path, name, recs, codec)
    assert block_count(path) > 3

    out = run(["avrocat", str(path)]).stdout.split("\n")[:-1]
    assert len(out) == len(recs)
    for line, want in zip(out, recs):
        assert plain(schema, json.loads(line), cut_at_nul=True) == plain(schema, want, cut_at_nul=True)

    # avropipe prints every byte of bytes/fixed/strings (and every int) exactly.
    got = parse_avropipe(run(["avropipe", str(path)]).stdout)
    leaves = 0
    for i, rec in enumerate(recs):
        for p, want in pipe_leaves(schema, rec, f"/{i}"):
            assert got.get(p, "<missing>") == want, p
            leaves += 1
    assert leaves > len(recs)


@pytest.mark.parametrize("name", ["example", "rich"])
@pytest.mark.parametrize("codec", ["null", "deflate", "snappy", "zstandard"])
def test_python_reads_what_we_write(tmp_path, name, codec):
    if codec == "snappy" and not PY_SNAPPY:
        pytest.skip("python-snappy is not installed, so python3-avro has no snappy codec "
                    "(our snappy files are checked by avrocat/avropipe)")
    schema = load_schema(name)
    recs = records(name, seed=2)
    path = write_ours(tmp_path, name, recs, codec)
    assert block_count(path) > 3
    with open(path, "rb") as f:
        reader = avro.datafile.DataFileReader(f, avro.io.DatumReader())
        assert reader.get_meta("avro.codec").decode() == codec
        assert reader.get_meta("speeddata.channel") == b"interop"
        got = list(reader)
    assert len(got) == len(recs)
    for g, want in zip(got, recs):
        assert from_native(schema, g) == from_native(schema, to_native(schema, want))


def test_our_cat_gives_back_what_we_wrote(tmp_path):
    for name in SCHEMA_FILES:
        schema = load_schema(name)
        recs = records(name, seed=3)
        for codec in ["null", "deflate", "snappy", "zstandard"]:
            got = cat_ours(write_ours(tmp_path, name, recs, codec))
            assert [plain(schema, g) for g in got] == [plain(schema, r) for r in recs]
            # Union branch names come back exactly as written (full names).
            if name == "rich":
                assert [g["choice"] for g in got] == [r["choice"] for r in recs]


# ---- files the reference implementations write, read by us ---------------------------------

PY_CODECS = ["null", "deflate", "zstandard"] + (["snappy"] if PY_SNAPPY else [])


@pytest.mark.parametrize("name", ["example", "rich"])
@pytest.mark.parametrize("codec", PY_CODECS)
def test_we_read_what_python_writes(tmp_path, name, codec, monkeypatch):
    schema = load_schema(name)
    recs = records(name, seed=4)
    path = write_python(tmp_path, name, recs, codec, monkeypatch)
    assert block_count(path) > 3
    got = cat_ours(path)
    assert len(got) == len(recs)
    for g, want in zip(got, recs):
        # Through python3-avro's own reading of the same values, so that its choices (e.g. a
        # union branch picked by value) are compared as values.
        assert from_native(schema, to_native(schema, g)) == from_native(schema, to_native(schema, want))
    assert [from_native(schema, v) for v in read_python(path)] == [from_native(schema, to_native(schema, g)) for g in got]


@pytest.mark.parametrize("name", ["example", "rich"])
@pytest.mark.parametrize("codec", ["null", "deflate", "snappy"])
def test_we_read_what_avro_c_writes(tmp_path, name, codec, monkeypatch):
    need_tool("avromod")
    schema = load_schema(name)
    recs = records(name, seed=5)
    src = write_python(tmp_path, name, recs, "null", monkeypatch)
    path = tmp_path / f"c_{name}_{codec}.avro"
    run(["avromod", f"--codec={codec}", "--block-size=4000", str(src), str(path)])
    info = json.loads(run([BIN, "avro", "info", str(path)]).stdout)
    assert info["codec"] == codec and info["problems"] == [] and info["records"] == len(recs)
    got = cat_ours(path)
    assert [from_native(schema, to_native(schema, g)) for g in got] == \
           [from_native(schema, to_native(schema, r)) for r in recs]


# ---- the CLI around the core -----------------------------------------------------------------

def crc64_avro(data):
    empty = 0xC15D213AA4D7A795
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
        table.append(fp)
    fp = empty
    for b in data:
        fp = (fp >> 8) ^ table[(fp ^ b) & 0xFF]
    return fp


def test_schema_commands(tmp_path):
    files = sorted((REPO / "config" / "agents").glob("*.avsc")) + [SCHEMA_FILES["rich"]]
    out = run([BIN, "schema", "validate", *map(str, files)]).stdout.splitlines()
    assert len(out) == len(files)
    for line, f in zip(out, files):
        canonical = run([BIN, "schema", "canonical", str(f)]).stdout.strip()
        fp = run([BIN, "schema", "fingerprint", str(f)]).stdout.strip()
        assert len(fp) == 16 and int(fp, 16) == crc64_avro(canonical.encode())
        assert line == f"OK {f} (fingerprint 0x{fp})"
    # The spec's own vector: "null" has fingerprint 7195948357588979594.
    null = tmp_path / "null.avsc"
    null.write_text('{"type": "null"}')
    assert int(run([BIN, "schema", "fingerprint", str(null)]).stdout, 16) == 7195948357588979594

    bad = tmp_path / "bad.avsc"
    bad.write_text('{"type": "record", "name": "b", "namespace": "a",\n "fields": [{"name": "x", "type": "flot"}]}')
    p = run([BIN, "schema", "validate", str(files[0]), str(bad)], check=False)
    assert p.returncode == 1
    assert p.stdout.startswith(f"OK {files[0]}")
    assert f"{bad}: field 'x' of record 'a.b': unknown type 'flot'" in p.stderr
    broken = tmp_path / "broken.avsc"
    broken.write_text('{"type": "record",\n "name": "r",\n "fields": [,]}')
    p = run([BIN, "schema", "validate", str(broken)], check=False)
    assert p.returncode == 1 and f"{broken}: invalid JSON at line 3 col 13" in p.stderr


def test_info_and_metadata(tmp_path):
    recs = records("example", n=500)
    path = write_ours(tmp_path, "example", recs, "zstandard", block_bytes=4096)
    info = json.loads(run([BIN, "avro", "info", str(path)]).stdout)
    assert info["records"] == 500
    assert info["blocks"] >= 5
    assert info["codec"] == "zstandard"
    assert info["metadata"]["speeddata.channel"] == "interop"
    assert info["schema"]["name"] == "data"  # the earlier version's example.avsc
    assert info["problems"] == []
    assert len(info["sync"]) == 32


def test_cat_reports_damage_and_keeps_going(tmp_path):
    recs = records("example", n=400)
    path = write_ours(tmp_path, "example", recs, "snappy", block_bytes=2000)
    data = bytearray(path.read_bytes())
    with open(path, "rb") as f:
        sync = avro.datafile.DataFileReader(f, avro.io.DatumReader()).sync_marker
    # Damage the compressed data of the third block (its CRC32 no longer matches).
    third = [i for i in range(len(data)) if data[i:i + 16] == sync][2] + 16
    data[third + 10] ^= 0xFF
    path.write_bytes(bytes(data))
    p = run([BIN, "avro", "cat", str(path)], check=False)
    assert p.returncode == 1
    assert f"{path}: damaged block at offset {third}: snappy:" in p.stderr
    got = [json.loads(line) for line in p.stdout.split("\n")[:-1]]
    assert 300 < len(got) < 400
    assert got[0]["counter"] == 0 and got[-1]["counter"] == 399
    # Cut the file in the middle of its last block: everything before is printed.
    path.write_bytes(bytes(data[:-10]))
    p = run([BIN, "avro", "cat", str(path)], check=False)
    assert p.returncode == 1 and "incomplete block at offset" in p.stderr
    assert len(p.stdout.splitlines()) < len(got)


def test_write_rejects_bad_input_and_removes_output(tmp_path):
    out = tmp_path / "x.avro"
    good = json.dumps(records("example", n=1)[0])
    p = run([BIN, "avro", "write", "--schema", str(SCHEMA_FILES["example"]), "-o", str(out)],
            stdin=good + "\n" + '{"time": "soon"}\n', check=False)
    assert p.returncode == 1
    assert "stdin line 2: $.time: expected an integer for long, got string" in p.stderr
    assert not out.exists()
    p = run([BIN, "avro", "write", "--schema", str(SCHEMA_FILES["example"]), "--codec", "lz4", "-o", str(out)],
            stdin="", check=False)
    assert p.returncode == 1 and "unknown codec 'lz4'" in p.stderr
