"""The Raspberry Pi profile (config/profiles/pi), measured on this machine (docs/raspberry-pi.md).

Run inside a private network namespace (multicast): `make bench-pi`, or
  tests/netns-run .venv/bin/python bench/pi_bench.py [--memory] [--instructions] [--no-write]

memory:       `speeddata up` with the pi profile and 5 channels (example schema), each fed by
              `speeddata send --rate 1000` (1 kHz). After a warm-up, the resident memory of
              the whole stack (up, orchestrator, every relay, stripchart, pivot serve: `up`
              and all its descendants) is sampled: VmRSS summed (/proc/PID/status) and Pss
              summed (/proc/PID/smaps_rollup; shared pages of the one executable counted once).
              The limit of issue 15 is 150 MB. Native (x86-64): memory, not time, is
              what this measures, and the sizes come from the config, not the instruction set.
instructions: user-space instructions per record of one relay (pi profile, example channel),
              natively under `valgrind --tool=callgrind` and for the arm64 build
              (build-arm64/speeddata) under qemu-user-static with `-singlestep -d exec,nochain`
              (one trace line per guest instruction executed; valgrind cannot run arm64 code
              under qemu-user, and Debian's qemu has no plugins). Three runs (0, N1, N2
              records) fit total = start-up + idle-rate x seconds + per-record x records, so
              start-up and the time-driven work (flush, status file) cancel out.
Writes the figures into docs/benchmarks.md (<!-- pi-memory --> and <!-- pi-insn --> blocks) unless --no-write.
"""
import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
BUILD = Path(os.environ.get("SPEEDDATA_BUILD_DIR", REPO / "build"))
BIN = BUILD / "speeddata"
ARM64_BIN = Path(os.environ.get("SPEEDDATA_ARM64_BIN", REPO / "build-arm64" / "speeddata"))
PROFILE = REPO / "config" / "profiles" / "pi"
QEMU = shutil.which("qemu-aarch64-static") or "qemu-aarch64-static"
LIMIT_MB = 150
FIRST_PORT = 26000


def write_profile_config(root, channels):
    """The pi profile's files, with storage in root/data and `channels` example channels."""
    cfg = root / "config"
    (cfg / "agents").mkdir(parents=True, exist_ok=True)
    for f in (REPO / "config" / "agents").glob("*.avsc"):
        shutil.copy(f, cfg / "agents")
    data = root / "data"
    for name in ("global", "relay", "orchestrator", "stripchart", "pivot"):
        doc = yaml.safe_load((PROFILE / f"{name}.yaml").read_text()) or {}
        if name == "global":
            doc["storage"] = {"root": str(data), "avro_path": str(data / "avro"),
                              "state_path": str(data / "state"), "tags_path": str(data / "tags")}
        if name == "relay":
            doc["channels"] = {f"ch{k + 1}": {"port": FIRST_PORT + k, "schema": "agents/example.avsc"}
                               for k in range(channels)}
        (cfg / f"{name}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return cfg, data


def descendants(pid):
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def kib(path, key):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def comm(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
        # The subcommand and its channel, without the temporary config path.
        return " ".join(a.decode() for a in args[1:4] if a and not a.startswith(b"/tmp/"))
    except OSError:
        return "?"


def sample_memory(pid):
    procs = descendants(pid)
    rss = {p: kib(f"/proc/{p}/status", "VmRSS") for p in procs}
    pss = {p: kib(f"/proc/{p}/smaps_rollup", "Pss") for p in procs}
    return procs, rss, pss


def wait_for(pred, timeout, what):
    t0 = time.monotonic()
    while not pred():
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


def read_status(data, channel):
    try:
        return json.loads((data / "state" / "relays" / f"{channel}.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None


def bench_memory(channels, rate, warmup, samples, interval):
    root = Path(tempfile.mkdtemp(prefix="pi-bench-"))
    up = None
    senders = []
    try:
        cfg, data = write_profile_config(root, channels)
        env = {**os.environ, "SPEEDDATA_CONFIG": str(cfg)}
        log = open(root / "up.log", "wb")
        up = subprocess.Popen([str(BIN), "up", "--config-dir", str(cfg)], env=env, stdout=log,
                              stderr=subprocess.STDOUT)
        names = [f"ch{k + 1}" for k in range(channels)]
        wait_for(lambda: all(read_status(data, n) for n in names) or up.poll() is not None, 60,
                 "every relay's status file")
        if up.poll() is not None:
            raise RuntimeError("speeddata up exited: " + (root / "up.log").read_text())
        duration = warmup + samples * interval + 10
        for k in range(channels):
            senders.append(subprocess.Popen(
                [str(BIN), "send", "--port", str(FIRST_PORT + k), "--rate", str(rate),
                 "--duration", str(duration), "--json", "--seed", str(k + 1)],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True))
        time.sleep(warmup)
        before = {n: read_status(data, n)["counters"] for n in names}
        t_before = time.monotonic()
        rss_sums, pss_sums, last = [], [], None
        for _ in range(samples):
            procs, rss, pss = sample_memory(up.pid)
            rss_sums.append(sum(rss.values()))
            pss_sums.append(sum(pss.values()))
            last = (procs, rss, pss)
            time.sleep(interval)
        after = {n: read_status(data, n)["counters"] for n in names}
        seconds = time.monotonic() - t_before
        records_per_s = {n: (after[n]["records"] - before[n]["records"]) / seconds for n in names}
        lost = {n: after[n].get("kernel_drops", 0) + after[n].get("malformed", 0) for n in names}
        for s in senders:
            s.wait(timeout=duration + 60)
        procs, rss, pss = last
        per_process = sorted(((comm(p), rss[p], pss[p]) for p in procs), key=lambda t: -t[1])
        return {
            "channels": channels, "rate": rate, "warmup": warmup, "samples": samples, "interval": interval,
            "rss_median_mib": statistics.median(rss_sums) / 1024, "rss_max_mib": max(rss_sums) / 1024,
            "pss_median_mib": statistics.median(pss_sums) / 1024, "pss_max_mib": max(pss_sums) / 1024,
            "processes": len(procs), "per_process": per_process,
            "records_per_s": records_per_s, "lost": lost,
        }
    finally:
        for s in senders:
            if s.poll() is None:
                s.kill()
                s.wait()
        if up is not None and up.poll() is None:
            up.send_signal(signal.SIGTERM)
            try:
                up.wait(timeout=30)
            except subprocess.TimeoutExpired:
                up.kill()
                up.wait()
        shutil.rmtree(root, ignore_errors=True)


# ---- instructions per record ------------------------------------------------------------------

def callgrind_total(out_file):
    text = Path(out_file).read_text(errors="replace")
    m = re.search(r"^summary:\s+(\d+)", text, re.M) or re.search(r"^totals:\s+(\d+)", text, re.M)
    return int(m.group(1)) if m else 0


class TraceCounter:
    """Counts qemu's `-d exec` trace lines written to a FIFO (one per guest instruction with
    -singlestep and nochain)."""

    def __init__(self, path):
        self.path = path
        os.mkfifo(path)
        self.count = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        with open(self.path, "rb", buffering=0) as f:
            tail = b""
            while True:
                chunk = f.read(1 << 20)
                if not chunk:
                    break
                buf = tail + chunk
                self.count += buf.count(b"Trace ")
                tail = buf[-5:]  # a "Trace " split across reads is counted once, in the next buffer
                self.count -= tail.count(b"Trace ")

    def total(self):
        self.thread.join(timeout=120)
        return self.count


def relay_run(kind, root, records, rate, idle):
    """One relay (pi profile, channel ch1) under a counter: start, wait `idle` s, send
    `records` at `rate`, wait until all are counted, stop. Returns (instructions, seconds, records)."""
    run = root / f"{kind}-{records}"
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    cfg, data = write_profile_config(run, 1)
    # A bigger socket buffer than the profile's, so that the emulated (slow) relay drops nothing;
    # it does not change the work per record.
    relay_yaml = yaml.safe_load((cfg / "relay.yaml").read_text())
    relay_yaml["defaults"]["receive_buffer"] = "16MiB"
    (cfg / "relay.yaml").write_text(yaml.safe_dump(relay_yaml, sort_keys=False))
    env = {**os.environ, "SPEEDDATA_CONFIG": str(cfg)}
    if kind == "x86-64":
        out = run / "cg.out"
        args = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--dump-instr=no", str(BIN)]
        counter = None
    else:
        counter = TraceCounter(run / "trace.fifo")
        args = [QEMU, "-singlestep", "-d", "exec,nochain",
                "-D", str(run / "trace.fifo"), str(ARM64_BIN)]
    t0 = time.monotonic()
    p = subprocess.Popen(args + ["relay", "--channel", "ch1"], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: read_status(data, "ch1") or p.poll() is not None, 900, f"{kind} relay start")
        time.sleep(idle)
        if records:
            subprocess.run([str(BIN), "send", "--port", str(FIRST_PORT), "--rate", str(rate), "--count",
                            str(records), "--json", "--seed", "7"], check=True, capture_output=True,
                           timeout=records / rate + 120)
            # Every record counted (or dropped by the kernel, should the emulated relay fall behind).
            def done():
                c = (read_status(data, "ch1") or {}).get("counters", {})
                return c.get("records", 0) + c.get("kernel_drops", 0) >= records or p.poll() is not None
            wait_for(done, 1800, f"{kind} relay to count {records} records")
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=900)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    seconds = time.monotonic() - t0
    handled = (read_status(data, "ch1") or {}).get("counters", {}).get("records", 0)
    total = callgrind_total(out) if counter is None else counter.total()
    return total, seconds, handled


def solve3(rows):
    """total = a + b*seconds + c*records for three runs: returns (a, b, c)."""
    import numpy as np
    m = np.array([[1.0, s, n] for _, s, n in rows])
    v = np.array([float(t) for t, _, _ in rows])
    return tuple(np.linalg.solve(m, v))


def bench_instructions(runs):
    root = Path(tempfile.mkdtemp(prefix="pi-insn-"))
    out = {}
    try:
        for kind in ("x86-64", "arm64 (qemu)"):
            if kind == "x86-64" and not shutil.which("valgrind"):
                continue
            if kind != "x86-64" and not ARM64_BIN.exists():
                print(f"  no {ARM64_BIN}: make build-arm64 first", flush=True)
                continue
            rows = []
            for records, rate, idle in runs:
                r = relay_run(kind, root, records, rate, idle)
                print(f"  {kind}: {records} records: {r[0]:,} instructions, {r[1]:.1f} s, {r[2]} handled", flush=True)
                rows.append(r)
            a, b, c = solve3(rows)
            out[kind] = {"rows": rows, "startup": a, "per_second": b, "per_record": c}
            print(f"  {kind}: {c:,.0f} instructions per record (start-up {a:,.0f}, idle {b:,.0f}/s)", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return out


# ---- report -------------------------------------------------------------------------------------

def header(command):
    return (f"Command: `{command}`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.machine()}, "
            f"{os.cpu_count()} cores, load average at the end {os.getloadavg()[0]:.1f}, inside a private network "
            "namespace. What the figures mean for a Pi: [raspberry-pi.md](raspberry-pi.md#expected-limits).")


def report_memory(mem, command):
    lines = [f"### Whole-stack memory: `speeddata up`, {mem['channels']} channels at {mem['rate']} records/s each", "",
             header(command), "",
             f"`speeddata up --config-dir` with the pi profile's files (5 channels of the example schema), each channel fed by "
             f"`speeddata send --rate {mem['rate']}`; after {mem['warmup']:g} s, {mem['samples']} samples {mem['interval']:g} s apart "
             f"of `up` and all its descendants ({mem['processes']} processes). Limit (issue 15): {LIMIT_MB} MB "
             f"({LIMIT_MB * 1e6 / 2**20:.0f} MiB).", "",
             "| | median | max |", "|---|---|---|",
             f"| VmRSS summed | **{mem['rss_median_mib']:.1f} MiB** ({mem['rss_median_mib'] * 2**20 / 1e6:.0f} MB) | {mem['rss_max_mib']:.1f} MiB |",
             f"| Pss summed (shared pages counted once) | {mem['pss_median_mib']:.1f} MiB | {mem['pss_max_mib']:.1f} MiB |",
             "",
             "Records received per second per channel during the samples: "
             + ", ".join(f"{n} {v:,.0f}" for n, v in mem["records_per_s"].items())
             + "; kernel drops + malformed: " + ", ".join(f"{n} {v}" for n, v in mem["lost"].items()) + ".", "",
             "| process (last sample) | VmRSS | Pss |", "|---|---|---|"]
    lines += [f"| `{c}` | {r / 1024:.1f} MiB | {p / 1024:.1f} MiB |" for c, r, p in mem["per_process"]]
    return "\n".join(lines)


def report_insn(insn, command):
    lines = ["### Instructions per record: one relay, x86-64 and arm64 (under QEMU)", "", header(command), "",
             "User-space instructions of `speeddata relay --channel ch1` (pi profile, example schema) over three runs "
             "(records sent by `speeddata send --rate R --count N`); a fit of total = start-up + idle × seconds + "
             "per-record × records, so start-up and the timed work (flush, status file) cancel out. x86-64: "
             "`valgrind --tool=callgrind` of build/speeddata. arm64: build-arm64/speeddata under "
             "`qemu-aarch64-static -singlestep -d exec,nochain` (one trace line per guest instruction executed, "
             "counted; valgrind's arm64 build cannot run under qemu-user and Debian's QEMU ships no plugins). Both "
             "count every thread and the dynamic loader; neither counts the kernel. Instruction counts compare the "
             "work, not the speed: an arm64 instruction and an x86-64 one do different amounts.", "",
             "| build | runs: records → instructions (seconds) | start-up | idle per s | **per record** |",
             "|---|---|---|---|---|"]
    for kind, r in insn.items():
        runs = "; ".join(f"{n:,} → {t:,} ({sec:.0f} s)" for t, sec, n in r["rows"])
        lines.append(f"| {kind} | {runs} | {r['startup']:,.0f} | {r['per_second']:,.0f} | **{r['per_record']:,.0f}** |")
    if len(insn) == 2:
        k = list(insn)
        lines += ["", f"arm64 / x86-64 per record: **{insn[k[1]]['per_record'] / insn[k[0]]['per_record']:.2f}**."]
    return "\n".join(lines)


def write_report(marker, text):
    path = REPO / "docs" / "benchmarks.md"
    doc = path.read_text()
    if "<!-- pi-bench:begin -->" not in doc:
        doc = (doc.rstrip("\n") + "\n\n<!-- pi-bench:begin -->\n## Raspberry Pi profile (config/profiles/pi)\n\n"
               "<!-- pi-memory:begin -->\n<!-- pi-memory:end -->\n\n<!-- pi-insn:begin -->\n<!-- pi-insn:end -->\n"
               "<!-- pi-bench:end -->\n")
    begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
    doc = doc[:doc.index(begin) + len(begin)] + "\n" + text.strip("\n") + "\n" + doc[doc.index(end):]
    path.write_text(doc)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--memory", action="store_true", help="only the whole-stack memory")
    ap.add_argument("--instructions", action="store_true", help="only the instructions per record")
    ap.add_argument("--channels", type=int, default=5)
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--warmup", type=float, default=20)
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--interval", type=float, default=2)
    ap.add_argument("--runs", default="0:1:20,400:40:5,1200:120:5",
                    help="instruction runs: records:rate:idle-seconds, three of them")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if os.environ.get("SPEEDDATA_IN_NETNS") != "1":
        sys.exit("pi_bench: run inside tests/netns-run (multicast)")
    both = not args.memory and not args.instructions
    mem = insn = None
    if args.memory or both:
        print(f"memory: speeddata up, {args.channels} channels at {args.rate}/s", flush=True)
        mem = bench_memory(args.channels, args.rate, args.warmup, args.samples, args.interval)
        print(f"  VmRSS summed: median {mem['rss_median_mib']:.1f} MiB, max {mem['rss_max_mib']:.1f} MiB; "
              f"Pss summed: median {mem['pss_median_mib']:.1f} MiB, max {mem['pss_max_mib']:.1f} MiB "
              f"({mem['processes']} processes)", flush=True)
        for c, r, p in mem["per_process"]:
            print(f"    {c}: VmRSS {r / 1024:.1f} MiB, Pss {p / 1024:.1f} MiB", flush=True)
        print("  records/s: " + json.dumps({n: round(v) for n, v in mem["records_per_s"].items()})
              + "; lost: " + json.dumps(mem["lost"]), flush=True)
    if args.instructions or both:
        runs = [tuple(float(x) if i == 2 else int(x) for i, x in enumerate(r.split(":"))) for r in args.runs.split(",")]
        print("instructions per record: " + ", ".join(f"{n} records at {r}/s" for n, r, _ in runs), flush=True)
        insn = bench_instructions(runs)
    if not args.no_write:
        command = "make bench-pi" if both else "tests/netns-run .venv/bin/python bench/pi_bench.py " + " ".join(sys.argv[1:])
        if mem:
            write_report("pi-memory", report_memory(mem, command))
        if insn:
            write_report("pi-insn", report_insn(insn, command))
        print("wrote docs/benchmarks.md", flush=True)


if __name__ == "__main__":
    main()
