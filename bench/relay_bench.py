"""Relay throughput benchmark (run through bench/run, inside a private network namespace).

For each datagram size, finds the highest offered rate at which loss stays under 0.1 %, for
three receivers measured in the same run, trials alternating:
  * bare:     bench/udp_sink, recvmmsg and count (the kernel's ceiling on this machine);
  * baseline: bench/min_relay, the least work any relay must do (recvmmsg batches of 64, one
              writev of the batch to a file, sendmmsg of every datagram to the full-rate group,
              packed as the relay packs);
  * relay:    `speeddata relay`, counted both in its container files (records written) and on
              its full-rate multicast stream by a joined listener (udp_sink --group), with the
              minmax-decimated stream on.
Then the cost per byte: CPU-seconds per GB (getrusage / /proc) at one rate all sustain, and
user-space instructions per datagram under callgrind (perf counters are not available on
every machine; callgrind's counts do not depend on the load).
Both relays use the same socket receive buffer and the same load generator (`speeddata send
--load`). Each search is repeated and the median reported.

  bench/run [--repeats 3] [--duration 2] [--sizes 64,1400,8000] [--no-callgrind] [--no-write]
  bench/run --scale [--relays 1,2,4,8,20]   relays at once: aggregate lossless rate, CPU per GB
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
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUILD = Path(os.environ.get("SPEEDDATA_BUILD_DIR", REPO / "build"))
BIN = BUILD / "speeddata"
SINK = BUILD / "udp_sink"
MIN_RELAY = BUILD / "min_relay"
PORT = 26000
BUFFER = 8 << 20
LOSS_LIMIT = 0.001
KINDS = ("bare", "baseline", "relay")


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def start_reporting(args, env=None):
    """Starts a program that prints {"ready": true} and one JSON line at SIGTERM."""
    p = subprocess.Popen([str(a) for a in args], stdout=subprocess.PIPE, text=True, env=env)
    line = p.stdout.readline()
    if not line or not json.loads(line).get("ready"):
        p.kill()
        raise RuntimeError(f"{args[0]} did not start")
    return p


def stop_reporting(p):
    p.send_signal(signal.SIGTERM)
    out, _ = p.communicate(timeout=30)
    return json.loads(out.strip().splitlines()[-1])


def send(size, rate, duration, port=PORT):
    r = subprocess.run([str(BIN), "send", "--load", "--port", str(port), "--datagram-size", str(size),
                        "--rate", str(rate), "--duration", str(duration)],
                       capture_output=True, text=True, timeout=duration + 60)
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    return json.loads(r.stdout.strip().splitlines()[-1])


def write_config(root, channels=1):
    cfg = root / "config"
    (cfg / "agents").mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "config" / "agents" / "example.avsc", cfg / "agents")
    data = root / "data"
    (cfg / "global.yaml").write_text(
        "multicast:\n  full: {group: 239.1.1.1, port: 6000}\n  decimated: {group: 239.1.1.2, port: 6001}\n"
        f"storage:\n  root: {data}\n  avro_path: {data}/avro\n  state_path: {data}/state\n  tags_path: {data}/tags\n")
    lines = [f"defaults:\n  receive_buffer: {BUFFER}\n  stats_interval: 0s\n  retention: {{min_free: 0}}\n"
             "  decimation: {factor: 10, algorithm: minmax}\nchannels:\n"]
    for k in range(channels):
        name = "example" if k == 0 else f"example{k}"
        lines.append(f"  {name}:\n    port: {PORT + k}\n    schema: agents/example.avsc\n")
        if k:
            lines.append(f"    multicast: {{full: {{port: {6000 + 2 * k}}}, decimated: {{port: {6001 + 2 * k}}}}}\n")
    (cfg / "relay.yaml").write_text("".join(lines))
    return cfg, data


def disk_write_mb_s(directory, total=1 << 30, chunk=1 << 20):
    """Sequential write speed of the disk the cache is on (1 MiB writes, then fsync): the
    ceiling for what any relay can keep in its container files."""
    path = Path(directory) / "disk-probe"
    buf = b"\0" * chunk
    t0 = time.monotonic()
    with open(path, "wb") as f:
        for _ in range(total // chunk):
            f.write(buf)
        f.flush()
        os.fsync(f.fileno())
    seconds = time.monotonic() - t0
    path.unlink()
    return total / seconds / 1e6


def end_processes(*procs):
    """Ends what a trial started when it failed part-way, so nothing outlives the benchmark."""
    for p in procs:
        if p is not None and p.poll() is None:
            p.kill()
            p.wait()


def start_relay(cfg, data, channel="example"):
    env = {**os.environ, "SPEEDDATA_CONFIG": str(cfg)}
    relay = subprocess.Popen([str(BIN), "relay", "--channel", channel], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    status = data / "state" / "relays" / f"{channel}.json"
    t0 = time.monotonic()
    while not status.exists():
        if relay.poll() is not None or time.monotonic() - t0 > 20:
            relay.kill()
            raise RuntimeError("relay did not start: " + relay.stderr.read())
        time.sleep(0.02)
    return relay, status


def trial_bare(size, rate, duration, root):
    sink = start_reporting([SINK, "--port", PORT, "--buffer", BUFFER])
    try:
        sent = send(size, rate, duration)
        time.sleep(0.3)
        got = stop_reporting(sink)
    finally:
        end_processes(sink)
    return sent, {"received": got["datagrams"], "kernel_drops": got["kernel_drops"]}


def trial_baseline(size, rate, duration, root):
    out = root / "baseline.bin"
    listener = start_reporting([SINK, "--port", 6000, "--group", "239.1.1.1", "--buffer", BUFFER, "--records"])
    base = None
    try:
        base = start_reporting([MIN_RELAY, "--port", PORT, "--file", out, "--buffer", BUFFER])
        cpu0 = proc_cpu_seconds(base.pid)
        sent = send(size, rate, duration)
        time.sleep(0.3)
        cpu = proc_cpu_seconds(base.pid) - cpu0
        rss = proc_status_kib(base.pid, "VmHWM")
        got = stop_reporting(base)
        mcast = stop_reporting(listener)
    finally:
        end_processes(base, listener)
    on_disk = out.stat().st_size // size
    out.unlink()
    # The baseline's headers count source datagrams.
    return sent, {"received": min(on_disk, mcast["records"]), "written": on_disk,
                  "multicast_datagrams": mcast["records"], "kernel_drops": got["kernel_drops"],
                  "cpu_s": cpu, "bytes": got["bytes"], "rss_kib": rss, "seconds": sent["seconds"]}


def trial_relay(size, rate, duration, root, idle_rss=False):
    cfg, data = write_config(root)
    shutil.rmtree(data, ignore_errors=True)
    listener = start_reporting([SINK, "--port", 6000, "--group", "239.1.1.1", "--buffer", BUFFER, "--records"])
    relay = None
    try:
        relay, status = start_relay(cfg, data)
        cpu0 = proc_cpu_seconds(relay.pid)
        sent = send(size, rate, duration)
        time.sleep(0.3)
        cpu = proc_cpu_seconds(relay.pid) - cpu0
        rss = proc_status_kib(relay.pid, "VmHWM")
        idle = 0
        if idle_rss:  # the burst buffer returns its pages about a second after a backlog drains
            time.sleep(2.5)
            idle = proc_status_kib(relay.pid, "VmRSS")
        relay.send_signal(signal.SIGTERM)
        relay.wait(timeout=60)
        counters = json.loads(status.read_text())["counters"]
        mcast = stop_reporting(listener)
    finally:
        end_processes(relay, listener)
    # Loss in records, on disk and on the full-rate stream, expressed in source datagrams.
    records_per_dgram = sent["records"] / max(sent["datagrams"], 1)
    received = min(counters["records_written"], mcast["records"]) / records_per_dgram
    return sent, {"received": received, "written": counters["records_written"],
                  "not_written": counters["records_not_written"],
                  "multicast_records": mcast["records"], "multicast_datagrams": mcast["datagrams"],
                  "kernel_drops": counters["kernel_drops"], "cpu_s": cpu, "bytes": counters["bytes"],
                  "rss_kib": rss, "idle_rss_kib": idle, "seconds": sent["seconds"]}


TRIALS = {"bare": trial_bare, "baseline": trial_baseline, "relay": trial_relay}


def run_trial(kind, size, rate, duration, root, **kw):
    sent, got = TRIALS[kind](size, rate, duration, root, **kw)
    loss = 1 - got["received"] / max(sent["datagrams"], 1)
    achieved = sent["datagrams"] / sent["seconds"]
    ok = loss < LOSS_LIMIT
    print(f"  {kind:8} {size:5} B offered {rate:>8} dgram/s achieved {achieved:10.0f} loss {loss*100:7.3f}%"
          f" {'ok' if ok else 'LOSS'} {json.dumps(got)}", flush=True)
    return ok, achieved, got, loss


def search(kind, size, ladder, duration, root):
    """Highest offered rate of the ladder with loss < 0.1 %, then two bisection steps.
    Returns (achieved rate, figures of that trial) and every (offered, loss) tried."""
    best = None
    failures = 0
    bad_rate = None
    tried = []
    short = 0
    for rate in ladder:
        ok, achieved, got, loss = run_trial(kind, size, rate, duration, root)
        tried.append((rate, loss))
        if ok:
            if best is None or achieved > best[0]:
                best = (achieved, got)
            failures = 0
            # The load generator no longer reaches the offered rate: this receiver kept up
            # with all it could send; the figure is a lower bound ("sender-bound").
            short = short + 1 if achieved < 0.85 * rate else 0
            if short == 2:
                best[1]["sender_bound"] = True
                return best, tried
        else:
            bad_rate = rate
            failures += 1
            if failures == 2:
                break
    if best and bad_rate:
        lo, hi = best[0], bad_rate
        for _ in range(2):
            mid = int((lo + hi) / 2)
            ok, achieved, got, loss = run_trial(kind, size, mid, duration, root)
            tried.append((mid, loss))
            if ok:
                lo = achieved
                if achieved > best[0]:
                    best = (achieved, got)
            else:
                hi = mid
    return best, tried


def ladders(size):
    start = {64: 50_000, 1400: 25_000, 8000: 10_000}.get(size, 10_000)
    rates, r = [], start
    while r < 3_000_000:
        rates.append(int(r))
        r *= 1.5
    return rates


def cpu_per_gb(got):
    return got["cpu_s"] / max(got["bytes"], 1) * 1e9


# ---- callgrind: instructions per datagram --------------------------------------------------

def callgrind_total(out_file):
    text = Path(out_file).read_text(errors="replace")
    m = re.search(r"^summary:\s+(\d+)", text, re.M) or re.search(r"^totals:\s+(\d+)", text, re.M)
    return int(m.group(1)) if m else 0


def instructions_per_datagram(kind, size, root, counts=(4000, 12000), rate=4000):
    """User-space instructions per datagram under callgrind: the difference of two runs of
    different lengths, divided by the difference in datagrams handled (startup cancels out)."""
    totals = []
    for n in counts:
        out = root / f"cg.{kind}.{size}.{n}.out"
        vg = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--dump-instr=no"]
        if kind == "relay":
            cfg, data = write_config(root)
            shutil.rmtree(data, ignore_errors=True)
            env = {**os.environ, "SPEEDDATA_CONFIG": str(cfg)}
            p = subprocess.Popen(vg + [str(BIN), "relay", "--channel", "example"], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            status = data / "state" / "relays" / "example.json"
            t0 = time.monotonic()
            while not status.exists() and time.monotonic() - t0 < 120:
                time.sleep(0.1)
            time.sleep(1.0)
            send(size, rate, n / rate)
            time.sleep(1.5)
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=120)
            handled = json.loads(status.read_text())["counters"]["datagrams"]
        else:
            p = subprocess.Popen(vg + [str(MIN_RELAY), "--port", str(PORT), "--file", str(root / "cg.bin")],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            p.stdout.readline()
            time.sleep(1.0)
            send(size, rate, n / rate)
            time.sleep(1.5)
            p.send_signal(signal.SIGTERM)
            out_text, _ = p.communicate(timeout=120)
            handled = json.loads(out_text.strip().splitlines()[-1])["datagrams"]
        totals.append((callgrind_total(out), handled))
        out.unlink(missing_ok=True)
    (i1, d1), (i2, d2) = totals
    return (i2 - i1) / max(d2 - d1, 1)


# ---- scale: several relays at once ---------------------------------------------------------

def trial_scale(kind, n, size, total_rate, duration, root):
    cfg, data = write_config(root, channels=n)
    shutil.rmtree(data, ignore_errors=True)
    procs, statuses, outs = [], [], []
    senders = []
    try:
        for k in range(n):
            if kind == "relay":
                p, st = start_relay(cfg, data, "example" if k == 0 else f"example{k}")
                statuses.append(st)
            else:
                out = root / f"scale{k}.bin"
                outs.append(out)
                p = start_reporting([MIN_RELAY, "--port", PORT + k, "--file", out, "--buffer", BUFFER,
                                     "--mcast-port", 6000 + 2 * k])
            procs.append(p)
        cpu0 = [proc_cpu_seconds(p.pid) for p in procs]
        per = max(1, int(total_rate / n))
        for k in range(n):
            senders.append(subprocess.Popen(
                [str(BIN), "send", "--load", "--port", str(PORT + k), "--datagram-size", str(size),
                 "--rate", str(per), "--duration", str(duration)], stdout=subprocess.PIPE, text=True))
        sent = [json.loads(s.communicate(timeout=duration + 120)[0].strip().splitlines()[-1]) for s in senders]
        time.sleep(0.5)
        cpu = sum(proc_cpu_seconds(p.pid) - c for p, c in zip(procs, cpu0))
        received, nbytes = 0, 0
        if kind == "relay":
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                p.wait(timeout=60)
            for st in statuses:
                c = json.loads(st.read_text())["counters"]
                received += min(c["records_written"], c["records"])
                nbytes += c["bytes"]
        else:
            for p, out in zip(procs, outs):
                got = stop_reporting(p)
                received += out.stat().st_size // size
                nbytes += got["bytes"]
                out.unlink()
    finally:
        end_processes(*procs, *senders)
    total_sent = sum(s["datagrams"] for s in sent)
    seconds = max(s["seconds"] for s in sent)
    loss = 1 - received / max(total_sent, 1)
    achieved = total_sent / seconds
    print(f"  scale {kind:8} x{n:<2} {size} B offered {total_rate:>8} achieved {achieved:9.0f} loss {loss*100:7.3f}% "
          f"cpu {cpu:.2f} s", flush=True)
    return loss < LOSS_LIMIT, achieved, cpu / max(nbytes, 1) * 1e9


def scale_search(kind, n, size, duration, root):
    """Like search(): ends after two lossy trials, or when the load generators twice in a
    row cannot send what is offered (the result is then a lower bound, marked "≥")."""
    best = None
    rate, failures, short = 20_000, 0, 0
    while rate < 2_000_000 and failures < 2:
        ok, achieved, cpu_gb = trial_scale(kind, n, size, rate, duration, root)
        if ok:
            if best is None or achieved > best[0]:
                best = (achieved, cpu_gb, False)
            failures = 0
            short = short + 1 if achieved < 0.85 * rate else 0
            if short == 2:
                return (best[0], best[1], True)
        else:
            failures += 1
        rate = int(rate * 1.5)
    return best


def main_scale(args):
    relays = [int(x) for x in args.relays.split(",")]
    size = int(args.sizes.split(",")[0]) if args.sizes != "64,1400,8000" else 1400
    rows = []
    with tempfile.TemporaryDirectory(prefix="sd-bench-", dir="/var/tmp") as tmp:
        copy_binaries(tmp)
        for n in relays:
            res = {"baseline": [], "relay": []}
            for rep in range(args.repeats):
                for kind in ("baseline", "relay"):
                    print(f"scale {kind} x{n}, run {rep + 1}/{args.repeats}", flush=True)
                    res[kind].append(scale_search(kind, n, size, args.duration, Path(tmp)))
            med = {k: (statistics.median(r[0] for r in v if r) if any(v) else 0,
                       statistics.median(r[1] for r in v if r) if any(v) else 0,
                       "≥ " if sum(1 for r in v if r and r[2]) * 2 > len(v) else "") for k, v in res.items()}
            rows.append((n, med, {k: [round(r[0]) for r in v if r] for k, v in res.items()}))
    md = ["### Several relays at once", "",
          f"Command: `bench/run --scale --relays {args.relays} --repeats {args.repeats} --duration {args.duration}`, "
          f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores. N channel relays (each its own port, file and "
          f"multicast groups, each fed by its own `speeddata send --load` at 1/N of the total), {size} B datagrams; "
          "the baseline is N `min_relay`s. Highest total offered rate (ladder ×1.5 from 20k/s) with loss under 0.1 % "
          "over all channels, counted on disk (no multicast listeners here: N of them would take the cores), "
          "median of the repeats; CPU is the relays' own (utime+stime) per GB received.", "",
          "| relays | baseline: aggregate lossless | relay: aggregate lossless | relay / baseline | CPU-s per GB: baseline | relay | ratio |",
          "|---|---|---|---|---|---|---|"]
    for n, med, raw in rows:
        b, r = med["baseline"], med["relay"]
        md.append(f"| {n} | {b[2]}{b[0]:,.0f} dgram/s ({b[0] * size * 8 / 1e9:.2f} Gbit/s) {raw['baseline']} | "
                  f"{r[2]}{r[0]:,.0f} dgram/s ({r[0] * size * 8 / 1e9:.2f} Gbit/s) {raw['relay']} | "
                  f"{r[0] / b[0] if b[0] else 0:.2f} | {b[1]:.2f} | {r[1]:.2f} | {r[1] / b[1] if b[1] else 0:.2f} |")
    write_block("\n".join(md) + "\n", "relay-scale-bench", args.no_write)


def copy_binaries(tmp):
    # Private copies: a rebuild during the run must not swap the binaries under it.
    global BIN, SINK, MIN_RELAY
    BIN = Path(shutil.copy2(BIN, Path(tmp) / "speeddata"))
    SINK = Path(shutil.copy2(SINK, Path(tmp) / "udp_sink"))
    MIN_RELAY = Path(shutil.copy2(MIN_RELAY, Path(tmp) / "min_relay"))


def write_block(text, name, no_write):
    print(text)
    if no_write:
        return
    path = REPO / "docs" / "benchmarks.md"
    old = path.read_text() if path.exists() else "# Benchmarks\n\nFigures and the commands that produced them.\n\n"
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    block = f"{begin}\n{text}{end}\n"
    if begin in old:
        old = old[:old.index(begin)] + block + old[old.index(end) + len(end) + 1:]
    else:
        old += "\n" + block
    path.write_text(old)


def median_of(runs, f):
    vals = [f(r) for r in runs if r]
    return statistics.median(vals) if vals else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--duration", type=float, default=2.0)
    ap.add_argument("--sizes", default="64,1400,8000")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--no-callgrind", action="store_true")
    ap.add_argument("--scale", action="store_true")
    ap.add_argument("--relays", default="1,2,4,8,20")
    args = ap.parse_args()
    if os.environ.get("SPEEDDATA_IN_NETNS") != "1":
        sys.exit("run through bench/run (a private network namespace)")
    targets = ["speeddata", "udp_sink", "min_relay"] + (["bench_codec"] if (REPO / "bench" / "bench_codec.cpp").exists() else [])
    subprocess.run(["cmake", "--build", str(BUILD), "--target", *targets], check=True,
                   stdout=subprocess.DEVNULL)
    if args.scale:
        return main_scale(args)
    rows = []
    callgrind = not args.no_callgrind and shutil.which("valgrind")
    with tempfile.TemporaryDirectory(prefix="sd-bench-", dir="/var/tmp") as tmp:
        copy_binaries(tmp)
        disk = disk_write_mb_s(tmp)
        print(f"disk: sequential write {disk:.0f} MB/s", flush=True)
        for size in [int(s) for s in args.sizes.split(",")]:
            res = {k: [] for k in KINDS}
            tried = {k: [] for k in KINDS}
            for rep in range(args.repeats):
                for kind in KINDS:  # alternating, so load changes hit all three alike
                    print(f"{kind} {size} B, run {rep + 1}/{args.repeats}", flush=True)
                    best, t = search(kind, size, ladders(size), args.duration, Path(tmp))
                    res[kind].append(best)
                    tried[kind] += t
            rate = {k: median_of(res[k], lambda r: r[0]) for k in KINDS}
            # Cost per byte at one rate both relays sustained: 80 % of the lower of the two.
            common = int(0.8 * min(rate["baseline"], rate["relay"])) or ladders(size)[0]
            cost = {"baseline": [], "relay": []}
            for rep in range(args.repeats):
                for kind in ("baseline", "relay"):
                    _, _, got, _ = run_trial(kind, size, common, args.duration, Path(tmp),
                                             **({"idle_rss": True} if kind == "relay" else {}))
                    cost[kind].append(got)
            ipd = {}
            if callgrind:
                for kind in ("baseline", "relay"):
                    ipd[kind] = instructions_per_datagram(kind, size, Path(tmp))
                    print(f"  callgrind {kind} {size} B: {ipd[kind]:,.0f} instructions per datagram", flush=True)
            rows.append({
                "size": size, "rate": rate,
                "raw": {k: [round(r[0]) for r in res[k] if r] for k in KINDS},
                "common": common,
                "cpu_gb": {k: statistics.median(cpu_per_gb(g) for g in cost[k]) for k in cost},
                "cpu_core": {k: statistics.median(g["cpu_s"] / g["seconds"] for g in cost[k]) for k in cost},
                "rss": max((r[1]["rss_kib"] for r in res["relay"] if r), default=0),
                "idle_rss": max(g["idle_rss_kib"] for g in cost["relay"]),
                "bound": {k: sum(1 for r in res[k] if r and r[1].get("sender_bound")) for k in KINDS},
                "not_written_at_lossless": sum(1 for r in res["relay"] if r and r[1].get("not_written")),
                "ipd": ipd,
                "tried": tried["relay"],
            })
    codec_rows = []
    codec = None
    if (BUILD / "bench_codec").exists():
        codec = subprocess.run([str(BUILD / "bench_codec"), "--benchmark_format=json", "--benchmark_min_time=0.3"],
                               capture_output=True, text=True)
    if codec and codec.returncode == 0:
        for b in json.loads(codec.stdout)["benchmarks"]:
            codec_rows.append((b["name"], b.get("items_per_second", 0)))

    md = ["## Relay throughput", "",
          f"Command: `make bench` (`bench/run --repeats {args.repeats} --duration {args.duration}`), "
          f"{time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores, Linux {platform.release()}, "
          f"load average at the end {os.getloadavg()[0]:.1f}, inside a private network namespace on loopback. "
          f"Socket receive buffer {BUFFER >> 20} MiB for every receiver; the load generator is `speeddata send "
          "--load` (sendmmsg, batches of 64) on the same machine, so sender, receiver and listener share the cores. "
          "Trials of the three receivers alternate.", "",
          "Highest offered rate with loss under 0.1 %, median of the repeats (each repeat's value in brackets). "
          "Both relays' loss counts the records (datagrams for the baseline) in their files and on the full-rate "
          "multicast stream a joined listener received; the relay also sends the minmax-decimated stream. "
          "\"≥\" marks a median of searches that ended because the load generator could not send faster (the "
          "receiver lost nothing at the most it got). The "
          "baseline (`bench/min_relay`) is the least work a relay must do: recvmmsg batches of 64, one writev of "
          "the batch, sendmmsg packed as the relay packs; no validation, no decimation, no index.", "",
          f"Disk, same run: sequential writes of 1 MiB then fsync to the cache's file system, **{disk:.0f} MB/s**.", "",
          "| datagram | bare recvmmsg | baseline (least work) | relay | relay / baseline | relay / bare | relay to disk | relay peak RSS |",
          "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        size, rate, raw = r["size"], r["rate"], r["raw"]
        gb = lambda x: x * size * 8 / 1e9
        ge = {k: "≥ " if r["bound"][k] * 2 > len(raw[k]) else "" for k in KINDS}
        md.append(f"| {size} B | {ge['bare']}{rate['bare']:,.0f} ({gb(rate['bare']):.2f} Gbit/s) {raw['bare']} | "
                  f"{ge['baseline']}{rate['baseline']:,.0f} ({gb(rate['baseline']):.2f} Gbit/s) {raw['baseline']} | "
                  f"{ge['relay']}{rate['relay']:,.0f} ({gb(rate['relay']):.2f} Gbit/s) {raw['relay']} | "
                  f"**{rate['relay'] / rate['baseline'] if rate['baseline'] else 0:.2f}** | "
                  f"{rate['relay'] / rate['bare'] if rate['bare'] else 0:.2f} | "
                  f"{rate['relay'] * size / 1e6:.0f} MB/s ({rate['relay'] * size / 1e6 / disk * 100:.0f} % of the disk) | "
                  f"{r['rss'] / 1024:.1f} MiB |")
    md += ["", "Cost per byte, same run: CPU-seconds per GB received (utime+stime of the process over the trial), "
           "median of the repeats at one offered rate both sustained (80 % of the lower lossless rate); "
           "user-space instructions per datagram under `valgrind --tool=callgrind` (the difference of a 4,000- and "
           "a 12,000-datagram run offered at 4,000/s, divided by the difference in datagrams handled, so start-up "
           "cancels out; kernel work is not counted, so this compares what each does in user space; `perf stat` "
           "is not supported on this VM). Idle RSS: the relay's VmRSS 2.5 s after the cost trial.", "",
           "| datagram | rate | CPU-s/GB baseline | CPU-s/GB relay | ratio | % of a core: baseline, relay | instr/dgram baseline | instr/dgram relay | ratio | relay idle RSS |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        c, i = r["cpu_gb"], r["ipd"]
        md.append(f"| {r['size']} B | {r['common']:,} dgram/s | {c['baseline']:.2f} | {c['relay']:.2f} | "
                  f"**{c['relay'] / c['baseline'] if c['baseline'] else 0:.2f}** | "
                  f"{r['cpu_core']['baseline'] * 100:.0f} %, {r['cpu_core']['relay'] * 100:.0f} % | "
                  + (f"{i['baseline']:,.0f} | {i['relay']:,.0f} | **{i['relay'] / i['baseline']:.2f}** |" if i else "– | – | – |")
                  + f" {r['idle_rss'] / 1024:.1f} MiB |")
    if codec_rows:
        md += ["", "### Avro codec (Google Benchmark, `build/bench_codec`)", "", "| benchmark | records/s |", "|---|---|"]
        md += [f"| {n} | {v:,.0f} |" for n, v in codec_rows]
    write_block("\n".join(md) + "\n", "relay-bench", args.no_write)


if __name__ == "__main__":
    main()
