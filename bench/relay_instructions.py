#!/usr/bin/env python3
"""User-space instructions per datagram (callgrind) of one or more relay binaries next to the
least-work baseline (bench/min_relay), in one run: the way to compare two builds of the relay
(before and after a change) whatever the machine's load. Uses bench/relay_bench.py's method.

  tests/netns-run .venv/bin/python bench/relay_instructions.py [--sizes 64,1400,8000] BIN [BIN ...]
"""
import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import relay_bench as rb  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binaries", nargs="+", type=Path, help="speeddata executables to compare")
    ap.add_argument("--sizes", default="64,1400,8000")
    args = ap.parse_args()
    for size in (int(x) for x in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as d:
            root = Path(d)
            base = rb.instructions_per_datagram("baseline", size, root)
            row = [f"{size} B: baseline {base:,.0f}"]
            for b in args.binaries:
                rb.BIN = b.resolve()
                v = rb.instructions_per_datagram("relay", size, root)
                row.append(f"{b} {v:,.0f} ({v / base:.2f} x)")
            print("; ".join(row), flush=True)


if __name__ == "__main__":
    main()
