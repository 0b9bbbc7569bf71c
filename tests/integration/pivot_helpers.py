"""Shared helpers of the pivot tests (test_pivot*.py, test_dataset*.py, test_tags*.py)."""
import math
import shutil
import subprocess
from pathlib import Path

import yaml

import sdtest

REPO = sdtest.REPO
ALL_TYPES = REPO / "tests" / "data" / "pivot_all_types.avsc"
EXAMPLE = REPO / "config" / "agents" / "example.avsc"
T0_US = 1_700_000_000_000_000          # all-types records: time in microseconds
T0_NS = 1_700_000_000_000_000_000      # example records: time in ns (sdtest.example_record)
MODES = ["IDLE", "RUN", "FAULT"]


def write_pivot_config(stack, **overrides):
    cfg = {"http": {"bind": "127.0.0.1", "port": 8000},
           "limits": {"max_channels": 20, "max_duration": "5m"},
           "hdf5": {"compression": "gzip", "compression_level": 1, "shuffle": True, "chunk_rows": 65536}}
    for k, v in overrides.items():
        cfg[k].update(v)
    (stack.config_dir / "pivot.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))


def all_types_record(i):
    return {"time": T0_US + i * 1000, "flag": i % 2 == 0, "i32": -i * 1000 + 7, "i64": i * 10**12 - 5,
            "f32": i * 0.5 - 3.25, "f64": i / 3 - 1e-9, "text": f"wörd-{i}-" + "x" * (i % 7),
            "raw": bytes([i % 256, 0, 255]) * (1 + i % 2), "mode": MODES[i % 3],
            "id": bytes([i % 256, 1, 2, 3]), "opt": None if i % 4 == 0 else i * 1.5,
            "pos": {"x": i * 2.0, "y": float(i) / 4, "label": None if i % 2 else f"L{i}"},
            "vec": [i, i + 1.0, i + 2.0], "samples": list(range(i % 5)), "attrs": {"a": i, "b": -i},
            "either": None if i % 3 == 0 else (i if i % 3 == 1 else f"s{i}")}


def send_records(stack, channel, port, schema_path, records, pace_every=20):
    schema = sdtest.load_schema(schema_path)
    sdtest.send_datagrams(port, [sdtest.encode(schema, r) for r in records], pace_every=pace_every)
    sdtest.wait_for(lambda: stack.counters(channel).get("records_written", 0) >= len(records), 30,
                    what=f"{len(records)} records written")


def iso(ns):
    """ISO 8601 with ns precision and Z."""
    import datetime
    s, frac = divmod(ns, 1_000_000_000)
    return datetime.datetime.fromtimestamp(s, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"


def export_cli(stack, out, start, end=None, duration=None, channels="example", **opts):
    args = ["pivot", "export", "--start", start, "--channels", channels, "-o", str(out)]
    if end:
        args += ["--end", end]
    if duration:
        args += ["--duration", duration]
    for k, v in opts.items():
        args += [f"--{k}", str(v)]
    return stack.run(*args)


def expected_decimation(values, factor, algorithm):
    """Hand-computed decimation of one numeric column (docs: src/core/decimate/decimator.hpp)."""
    out = []
    for w in range(len(values) // factor):
        win = values[w * factor:(w + 1) * factor]
        if algorithm == "downsample":
            out.append(win[0])
        elif algorithm == "average":
            out.append(sum(win) / factor)
        elif algorithm == "rms":
            out.append(math.sqrt(sum(x * x for x in win) / factor))
        elif algorithm == "minmax":
            # the extreme seen first comes first (first occurrences; docs/relay.md)
            i_min, i_max = win.index(min(win)), win.index(max(win))
            out += [win[min(i_min, i_max)], win[max(i_min, i_max)]]
    return out


def h5dump_ok(path):
    if shutil.which("h5dump") is None:
        raise AssertionError("h5dump not installed (hdf5-tools)")
    r = subprocess.run(["h5dump", "-H", str(path)], capture_output=True, text=True, timeout=60)
    return r.returncode == 0, r.stdout + r.stderr
