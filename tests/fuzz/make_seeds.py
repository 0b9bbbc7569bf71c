"""Regenerates the seed files (seed-*) of the fuzz corpora in tests/fuzz/corpus/<target>/ from
real inputs. Crash regressions (crash-*, named after the finding) are kept as they are.

  schema     the repository's schemas (config/agents, tests/data) and the inputs of the Avro
             project's Parsing Canonical Form vectors (tests/data/avro/schema-tests.txt)
  container  files relays wrote (every codec; example, temperature, all-types and rich
             channels, fed over UDP by lib/python/speeddata_sender.py) and files
             `speeddata avro write` wrote; plus the damage a crash or a bad disk leaves:
             a cut-off last block, a flipped byte inside a block, a broken sync marker
  datum      a schema-selector byte + a datagram of 1..3 datums taken from those relay
             files (what sources sent), plus a 60-deep recursive rich datum
  config     channel entries: relay.yaml's, `speeddata config show --channel` output (YAML
             and JSON), the orchestrator's JSON mapping, and duration/size texts from the docs
  pivot      times (ISO 8601, now-30s), durations and channel/signal lists as the pivot's CLI
             and REST take them, and export requests (name=value lines) as GET /export gets them
  http       request targets: the servers' routes (docs), query strings, and the spellings of
             one path (//, %2f, ./, ..) that must normalise alike or be refused

Run from the repository root, inside a private network namespace (the relays multicast):
    tests/netns-run .venv/bin/python tests/fuzz/make_seeds.py [path/to/speeddata]
"""
import json
import warnings
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "integration"))
sys.path.insert(0, str(REPO / "lib" / "python"))

import sdtest  # noqa: E402

warnings.filterwarnings("ignore", message="Unknown .*, using")
import speeddata_sender  # noqa: E402

CORPUS = REPO / "tests" / "fuzz" / "corpus"
BIN = sys.argv[1] if len(sys.argv) > 1 else str(REPO / "build" / "speeddata")
# Index = the selector byte of the datum target (tests/fuzz/fuzz_datum.cpp, same order).
DATUM_SCHEMAS = ["config/agents/example.avsc", "config/agents/temperature.avsc",
                 "tests/data/pivot_all_types.avsc", "tests/data/avro/rich.avsc"]
CODECS = ["null", "deflate", "snappy", "zstandard"]


def fresh(target):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    for f in d.glob("seed-*"):
        f.unlink()
    return d


def put(target, name, data):
    (CORPUS / target / f"seed-{name}").write_bytes(data if isinstance(data, bytes) else data.encode())


# ---- container files: a minimal reader to take files apart --------------------------------

def read_long(buf, i):
    shift, v = 0, 0
    while True:
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return (v >> 1) ^ -(v & 1), i


def split_container(data):
    """(header bytes, sync, [(block offset, count, payload)]) of a well-formed file."""
    assert data[:4] == b"Obj\x01"
    i = 4
    while True:
        n, i = read_long(data, i)
        if n == 0:
            break
        if n < 0:
            _, i = read_long(data, i)
            n = -n
        for _ in range(n):
            for _ in range(2):
                length, i = read_long(data, i)
                i += length
    sync = data[i:i + 16]
    i += 16
    header = data[:i]
    blocks = []
    while i < len(data):
        start = i
        count, i = read_long(data, i)
        size, i = read_long(data, i)
        blocks.append((start, count, data[i:i + size]))
        i += size
        assert data[i:i + 16] == sync
        i += 16
    return header, sync, blocks


def datums_of(schema, payload, count):
    """Splits a null-codec block payload into its datums' bytes (python3-avro decodes)."""
    import io
    import avro.io
    buf = io.BytesIO(payload)
    dec = avro.io.BinaryDecoder(buf)
    reader = avro.io.DatumReader(schema)
    out, at = [], 0
    for _ in range(count):
        reader.read(dec)
        out.append(payload[at:buf.tell()])
        at = buf.tell()
    return out


# ---- records -------------------------------------------------------------------------------

def rich_python(rng):
    """A rich.avsc record as python values (speeddata_sender picks union branches by value)."""
    def point():
        return {"x": rng.uniform(-1e6, 1e6), "y": rng.uniform(-10, 10),
                "label": None if rng.random() < 0.5 else rng.choice(["a", "é", "€😀", ""])}

    def linked(n):
        node = {"value": rng.randint(-1000, 1000), "next": None}
        for _ in range(n):
            node = {"value": rng.randint(-1000, 1000), "next": node}
        return node

    return {
        "n": None, "b": rng.random() < 0.5, "i": rng.choice([0, -1, 2**31 - 1, -2**31]),
        "l": rng.choice([0, 2**63 - 1, -2**63, 12345]), "f": 1.5, "d": rng.choice([0.0, -0.0, 1e-310, 2.5]),
        "raw": bytes(rng.randrange(256) for _ in range(rng.randrange(8))),
        "s": rng.choice(["", "x", "ß€😀", "line\nbreak"]), "color": rng.choice(["RED", "GREEN", "BLUE"]),
        "md5": bytes(range(16)), "tags": ["t1", "ü"][:rng.randrange(3)],
        "samples": [rng.random() for _ in range(rng.randrange(4))],
        "attrs": {f"k{j}": rng.randint(-2**63, 2**63 - 1) for j in range(rng.randrange(3))},
        "maybe": rng.choice([None, "maybe"]),
        "choice": rng.choice([7, "text", [1, -2, 3], {"m": "v"}]),
        "point": point(), "path": [point() for _ in range(rng.randrange(3))],
        "list": linked(rng.randrange(4)), "price": b"\x01\x00", "price_fixed": bytes(8),
        "id": "123e4567-e89b-12d3-a456-426614174000", "day": 19000, "t_ms": 1000, "t_us": 10**6,
        "ts_ms": 1_700_000_000_000, "ts_us": 1_700_000_000_000_000, "ts_ns": 1_700_000_000_000_000_000 + rng.randrange(10**9),
        "lts_ms": 0, "lts_us": 0, "lts_ns": 0, "span": bytes(12),
        "nested": {"n": [None, point()]} if rng.random() < 0.5 else {},
    }


def temperature_record(i):
    return {"time": 1_700_000_000_000_000_000 + i * 10**9, "sensor": f"sensor-{i % 3}",
            "temperature": 20.0 + i * 0.25, "humidity": 40.0 + (i % 7), "status": ["OK", "WARN", "FAULT"][i % 3]}


def pivot_record(i):
    import pivot_helpers
    r = pivot_helpers.all_types_record(i)
    return r


CHANNELS = {  # name: (schema, settings, records)
    "example": ("config/agents/example.avsc", {}, lambda i, rng: sdtest.example_record(i)),
    "temperature": ("config/agents/temperature.avsc", {}, lambda i, rng: temperature_record(i)),
    "alltypes": ("tests/data/pivot_all_types.avsc", {"time_unit": "us"}, lambda i, rng: pivot_record(i)),
    "rich": ("tests/data/avro/rich.avsc", {"time_field": "ts_ns"}, lambda i, rng: rich_python(rng)),
}


def relay_files(work):
    """{(channel, codec): container file bytes}, each written by a relay fed over UDP."""
    out = {}
    for codec in CODECS:
        stack = sdtest.Stack(work / codec)
        shutil.copy(REPO / "tests" / "data" / "avro" / "rich.avsc", stack.config_dir / "agents")
        ports = {}
        for name, (schema, settings, _) in CHANNELS.items():
            ports[name] = stack.add_channel(name, schema="agents/" + Path(schema).name, codec=codec,
                                            block_size="1KiB", flush_interval="50ms", **settings)
        try:
            for name in CHANNELS:
                stack.start_relay(name)
            rng = random.Random(7)
            for name, (schema, _, make) in CHANNELS.items():
                enc = speeddata_sender.load_schema(str(REPO / schema))
                n = 12 if name == "rich" else 30
                grams = [speeddata_sender.encode(enc, make(i, rng)) for i in range(n)]
                # A few datagrams of two and three datums, as a source packing them sends.
                grams += [grams[0] + grams[1], grams[2] + grams[3] + grams[4]]
                sdtest.send_datagrams(ports[name], grams, pace_every=5, pause=0.01)
                sdtest.wait_for(lambda: stack.counters(name).get("records_written", 0) >= n + 5, 30,
                                what=f"{name} records written")
        finally:
            stack.close()
        for name in CHANNELS:
            files = stack.avro_files(name)
            assert len(files) == 1, files
            out[(name, codec)] = files[0].read_bytes()
    return out


def write_file(work, schema, lines, codec, name, block_bytes=512, meta=()):
    path = work / f"{name}.avro"
    args = [BIN, "avro", "write", "--schema", str(REPO / schema), "--codec", codec,
            "--block-bytes", str(block_bytes), "-o", str(path)]
    for m in meta:
        args += ["--meta", m]
    subprocess.run(args, input="".join(json.dumps(line) + "\n" for line in lines), text=True, check=True)
    return path.read_bytes()


# ---- targets ---------------------------------------------------------------------------

def schema_seeds():
    fresh("schema")
    for f in sorted((REPO / "config" / "agents").glob("*.avsc")) + sorted((REPO / "tests" / "data").rglob("*.avsc")):
        put("schema", f.stem + ".avsc", f.read_bytes())
    text = (REPO / "tests" / "data" / "avro" / "schema-tests.txt").read_text()
    # Inputs are "<<INPUT text" on one line or "<<INPUT" ... "INPUT" over several lines.
    inputs = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("<<INPUT "):
            inputs.append(line[len("<<INPUT "):])
        elif line == "<<INPUT":
            j = i + 1
            while lines[j] != "INPUT":
                j += 1
            inputs.append("\n".join(lines[i + 1:j]))
            i = j
        i += 1
    for k, s in enumerate(inputs):
        put("schema", f"vector-{k:03d}.json", s)
    return len(inputs)


def container_and_datum_seeds(work):
    fresh("container")
    fresh("datum")
    files = relay_files(work)
    import avro.schema
    parsed = {s: avro.schema.parse((REPO / s).read_text()) for s in DATUM_SCHEMAS}
    for (name, codec), data in sorted(files.items()):
        header, sync, blocks = split_container(data)
        # Whole files stay small: the header and the first few blocks.
        keep = blocks[:3] if codec == "null" else blocks[:2]
        end = len(data) if len(keep) == len(blocks) else blocks[len(keep)][0]
        small = data[:end]
        put("container", f"relay-{name}-{codec}.avro", small)
        if name == "example":
            # What a crash leaves (the last block cut off) and what a bad disk does.
            last = keep[-1][0]
            put("container", f"relay-{name}-{codec}-cut.avro", small[:last + (end - last) // 2])
            flipped = bytearray(small)
            flipped[keep[0][0] + 5] ^= 0x40
            put("container", f"relay-{name}-{codec}-flipped.avro", bytes(flipped))
            broken = bytearray(small)
            broken[keep[0][0] + 2 + len(keep[0][2]) + 3] ^= 0xFF  # inside the first sync marker
            put("container", f"relay-{name}-{codec}-badsync.avro", bytes(broken))
        if codec == "null":
            schema = CHANNELS[name][0]
            sel = bytes([DATUM_SCHEMAS.index(schema)])
            datums = []
            for _, count, payload in blocks:
                datums += datums_of(parsed[schema], payload, count)
            for k in range(0, min(len(datums), 9)):
                put("datum", f"{name}-{k}.bin", sel + datums[k])
            put("datum", f"{name}-packed2.bin", sel + datums[0] + datums[1])
            put("datum", f"{name}-packed3.bin", sel + b"".join(datums[2:5]))
    # Files `speeddata avro write` wrote: the rich schema (every type) with every codec,
    # and extra metadata.
    import test_avro_interop
    rng = random.Random(3)
    rich_lines = [test_avro_interop.rich_record(rng) for _ in range(4)]
    for codec in CODECS:
        put("container", f"write-rich-{codec}.avro",
            write_file(work, "tests/data/avro/rich.avsc", rich_lines, codec, f"rich-{codec}", block_bytes=600))
    put("container", "write-example-meta.avro",
        write_file(work, "config/agents/example.avsc", [sdtest.example_record(i) for i in range(5)], "deflate",
                   "meta", meta=["speeddata.channel=example", "note=fuzz seed"]))
    put("container", "write-example-empty.avro",
        write_file(work, "config/agents/example.avsc", [], "null", "empty"))
    # A deeply recursive rich datum (60 linked nodes), near the decoders' depth limits.
    rich_sel = bytes([DATUM_SCHEMAS.index("tests/data/avro/rich.avsc")])
    deep = rich_python(random.Random(5))
    node = {"value": 0, "next": None}
    for k in range(60):
        node = {"value": k, "next": node}
    deep["list"] = node
    enc = speeddata_sender.load_schema(str(REPO / "tests/data/avro/rich.avsc"))
    put("datum", "rich-deep60.bin", rich_sel + speeddata_sender.encode(enc, deep))


def config_seeds(work):
    fresh("config")
    import yaml
    relay = yaml.safe_load((REPO / "config" / "relay.yaml").read_text())
    for name, entry in relay["channels"].items():
        put("config", f"relay-{name}.yaml", yaml.safe_dump(entry, sort_keys=False))
        put("config", f"relay-{name}-with-defaults.yaml", yaml.safe_dump({**relay["defaults"], **entry}, sort_keys=False))
    for name in relay["channels"]:
        shown = subprocess.run([BIN, "config", "show", "--config-dir", str(REPO / "config"), "--channel", name],
                               capture_output=True, text=True, check=True).stdout
        put("config", f"show-{name}.yaml", shown)
        shown = subprocess.run([BIN, "config", "show", "--config-dir", str(REPO / "config"), "--channel", name, "--json"],
                               capture_output=True, text=True, check=True).stdout
        put("config", f"show-{name}.json", shown)
    # The orchestrator's mapping (REST registration: config + port + schema), as JSON.
    put("config", "orchestrator-mapping.json", json.dumps(
        {"decimation": {"factor": 5, "algorithm": "average"}, "codec": "zstandard", "codec_level": 3,
         "port": 26010, "schema": "agents/temperature.avsc"}))
    put("config", "codec-deflate.yaml", "port: 26011\nschema: agents/example.avsc\ncodec: deflate\ncodec_level: 9\n"
        "block_size: 1.5MB\nflush_interval: 250ms\nrotation: {interval: 30m, max_size: 2GiB}\n")
    put("config", "multicast-off.yaml", "port: 26012\nschema: agents/example.avsc\nmulticast:\n  enabled: false\n"
        "  full: {group: 239.9.9.9, port: 7000}\n  ttl: 0\nretention: {ttl: 0, max_size: 10GB, min_free: 0}\n")
    put("config", "time-unit.yaml", "port: 26013\nschema: agents/temperature.avsc\ntime_field: time\ntime_unit: ns\n"
        "stats_interval: 0\nreceive_buffer: 64KiB\nbatch: 1\nmax_datagram: 1472\n")
    # Mistakes the docs name: each must be rejected with the key.
    put("config", "bad-port.yaml", "port: abc\nschema: agents/example.avsc\n")
    put("config", "bad-key.yaml", "port: 26014\nschema: agents/example.avsc\ndecimaton: {factor: 2}\n")
    put("config", "bad-field.yaml", "port: 26015\nschema: agents/example.avsc\ntime_field: nope\n")
    put("config", "clash-port.yaml", "port: 26099\nschema: agents/example.avsc\n")
    # Durations and sizes alone (the same bytes are also parsed as a duration and a size).
    docs = (REPO / "docs" / "config.md").read_text()
    units = sorted(set(re.findall(r"`(\d+(?:\.\d+)?\s?(?:ms|s|m|h|d|k|KiB|MiB|GiB|TiB|kB|KB|MB|GB|TB|B)?)`", docs)))
    for k, u in enumerate(units[:24]):
        put("config", f"unit-{k:02d}.txt", u)
    return len(units[:24])


def pivot_seeds():
    fresh("pivot")
    # Times and durations as docs/pivot.md and the tests write them, and the int64 edges.
    times = ["2025-01-23T14:00:00Z", "2025-01-23T14:00:00.123456+01:00", "2025-01-23 14:00:00+0100",
             "2025-01-23", "2024-02-29T23:59:60Z", "1970-01-01T00:00:00Z", "1969-12-31T23:59:59.999999999Z",
             "2262-04-11T23:47:16.854775807Z", "1677-09-21T00:12:43.145224192Z", "2025-06-30t12:00:00,5z",
             "2025-01-23T24:00Z", "2025-01-23T14:00-05:30", "now", "now-30s", "now-PT5M", "now+1h",
             "2025-01-23T14:00:00"]
    durations = ["PT30S", "PT1M", "PT1H30M", "P1D", "P1W", "PT0.5S", "PT0,001S", "30s", "5m", "250ms", "P1DT2H",
                 "PT0.000000001S", "1h30m", "P106751DT23H47M16.854775807S"]
    lists = ["example", "example, temperature", " a ,, b ,", "time,sine_wave,noise", "", ",",
             "example,temperature,alltypes,rich", "sine_wave"]
    for k, t in enumerate(times):
        put("pivot", f"time-{k:02d}.txt", t)
    for k, d in enumerate(durations):
        put("pivot", f"duration-{k:02d}.txt", d)
    for k, lst in enumerate(lists):
        put("pivot", f"list-{k:02d}.txt", lst)
    # Export requests as GET /api/v1/pivot/export's parameters, one name=value per line.
    requests = [
        {"start": "2025-01-23T13:59:30Z", "duration": "PT30S", "channels": "example"},
        {"start": "2025-01-23T13:55:00Z", "end": "2025-01-23T14:00:00Z", "channels": "example,temperature",
         "signals": "time,sine_wave", "decimate": "10", "algorithm": "minmax"},
        {"start": "now-5m", "channels": "example"},
        {"start": "now-30s", "end": "now", "channels": "example", "decimate": "1", "algorithm": "average"},
        {"start": "2025-01-23", "duration": "1s", "channels": "a,b,c", "signals": "x"},
        {"start": "2025-01-23T14:00:00+01:00", "duration": "PT10M", "channels": "example"},
        {"start": "2025-01-23T14:00:00Z", "end": "2025-01-23T13:00:00Z", "channels": "example"},
        {"start": "2025-01-23T14:00:00Z", "duration": "PT1S", "channels": ",".join(f"c{i}" for i in range(21))},
        {"start": "2025-01-23T14:00:00Z", "duration": "PT1S", "channels": "example", "decimate": "0"},
        {"start": "2025-01-23T14:00:00Z", "duration": "PT1S", "channels": "example", "algorithm": "median"},
    ]
    for k, r in enumerate(requests):
        put("pivot", f"request-{k:02d}.txt", "\n".join(f"{n}={v}" for n, v in r.items()))
    return len(times)


def http_seeds():
    fresh("http")
    targets = [
        "/", "/health", "/metrics", "/api/v1/health", "/api/v1/channels", "/api/v1/channels/example/schema",
        "/api/v1/signals", "/api/v1/status", "/api/v1/tags", "/api/v1/tags/3/download",
        "/api/v1/pivot/export?start=2025-01-23T14:00:00Z&duration=PT30S&channels=example&signals=time,sine_wave"
        "&decimate=10&algorithm=minmax",
        "/api/v1/pivot/export?start=now-30s&channels=example%2Ctemperature",
        "/channels?status=registered", "/channels/example", "/ports/available?start=26000&end=26100",
        "/ports/26000/status", "/stripchart/index.html", "/console/app.js", "/ws?signals=example.sine_wave+example.ramp",
        # Spellings of one path that must all be /api/v1/x, and ones that must be refused.
        "//api/v1/x", "/%2fapi//v1/./x", "/api/v1/x/", "/api/v1/y/../x", "/%2e%2e/etc/passwd", "/../etc/passwd",
        "/a/%2E%2E/%2e%2E/b", "/%00", "/a%5cb", "/a\\b", "/%C3%A9t%C3%A9", "/%ff", "/%E2%82", "/x?q=%zz", "/x?a=1&a=2&b",
        "/x?name=run+1&note=%C3%BC", "/x?%00=1", "/x#frag", "x", "/%", "/%2", "/tags?id=1&&&", "/x?=v",
    ]
    for k, t in enumerate(targets):
        put("http", f"target-{k:02d}.txt", t)
    return len(targets)


def main():
    with tempfile.TemporaryDirectory(prefix="fuzz-seeds-") as tmp:
        work = Path(tmp)
        n = schema_seeds()
        container_and_datum_seeds(work)
        config_seeds(work)
        pivot_seeds()
        http_seeds()
    for d in sorted(CORPUS.iterdir()):
        files = list(d.iterdir())
        print(f"{d.name}: {len(files)} files, {sum(f.stat().st_size for f in files)} bytes")


if __name__ == "__main__":
    main()
