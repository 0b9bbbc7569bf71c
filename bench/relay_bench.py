"""Relay throughput benchmark (run through bench/run, inside a private network namespace).

For each datagram size, finds the highest offered rate at which loss stays under 0.1 %:
  * bare: bench/udp_sink, recvmmsg and count (the kernel's ceiling on this machine);
  * relay: `speeddata relay`, counted both in its container files (records written) and on
    its full-rate multicast stream by a joined listener (udp_sink --group).
Both use the same socket receive buffer and the same load generator (`speeddata send
--load`), in the same run. Each search is repeated and the median reported.
"""
import argparse
import json
import os
import platform
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
PORT = 26000
BUFFER = 8 << 20
LOSS_LIMIT = 0.001


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def start_sink(args):
    p = subprocess.Popen([str(SINK), *args], stdout=subprocess.PIPE, text=True)
    assert json.loads(p.stdout.readline()).get("ready")
    return p


def stop_sink(p):
    p.send_signal(signal.SIGTERM)
    out, _ = p.communicate(timeout=10)
    return json.loads(out.strip().splitlines()[-1])


def send(size, rate, duration):
    r = subprocess.run([str(BIN), "send", "--load", "--port", str(PORT), "--datagram-size", str(size),
                        "--rate", str(rate), "--duration", str(duration)],
                       capture_output=True, text=True, timeout=duration + 30)
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    return json.loads(r.stdout.strip().splitlines()[-1])


def write_config(root):
    cfg = root / "config"
    (cfg / "agents").mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "config" / "agents" / "example.avsc", cfg / "agents")
    data = root / "data"
    (cfg / "global.yaml").write_text(
        "multicast:\n  full: {group: 239.1.1.1, port: 6000}\n  decimated: {group: 239.1.1.2, port: 6001}\n"
        f"storage:\n  root: {data}\n  avro_path: {data}/avro\n  state_path: {data}/state\n  tags_path: {data}/tags\n")
    (cfg / "relay.yaml").write_text(
        f"defaults:\n  receive_buffer: {BUFFER}\n  stats_interval: 0s\n  retention: {{min_free: 0}}\n"
        f"channels:\n  example:\n    port: {PORT}\n    schema: agents/example.avsc\n"
        f"    decimation: {{factor: 10, algorithm: minmax}}\n")
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


def trial_bare(size, rate, duration):
    sink = start_sink(["--port", str(PORT), "--buffer", str(BUFFER)])
    try:
        sent = send(size, rate, duration)
        time.sleep(0.3)
        got = stop_sink(sink)
    finally:
        end_processes(sink)
    return sent, {"received": got["datagrams"], "kernel_drops": got["kernel_drops"]}


def trial_relay(size, rate, duration, root):
    cfg, data = write_config(root)
    shutil.rmtree(data, ignore_errors=True)
    listener = start_sink(["--port", "6000", "--group", "239.1.1.1", "--buffer", str(BUFFER), "--records"])
    relay = None
    try:
        env = {**os.environ, "SPEEDDATA_CONFIG": str(cfg)}
        relay = subprocess.Popen([str(BIN), "relay", "--channel", "example"], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        status = data / "state" / "relays" / "example.json"
        t0 = time.monotonic()
        while not status.exists():
            if relay.poll() is not None or time.monotonic() - t0 > 10:
                raise RuntimeError("relay did not start: " + relay.stderr.read())
            time.sleep(0.02)
        cpu0, wall0 = proc_cpu_seconds(relay.pid), time.monotonic()
        sent = send(size, rate, duration)
        time.sleep(0.3)
        cpu = (proc_cpu_seconds(relay.pid) - cpu0) / (time.monotonic() - wall0)
        rss = proc_peak_rss_kib(relay.pid)
        relay.send_signal(signal.SIGTERM)
        relay.wait(timeout=30)
        counters = json.loads(status.read_text())["counters"]
        mcast = stop_sink(listener)
    finally:
        end_processes(relay, listener)
    # Loss in records, on disk and on the full-rate stream, expressed in source datagrams.
    records_per_dgram = sent["records"] / max(sent["datagrams"], 1)
    received = min(counters["records_written"], mcast["records"]) / records_per_dgram
    return sent, {"received": received, "written": counters["records_written"],
                  "multicast_records": mcast["records"], "multicast_datagrams": mcast["datagrams"],
                  "kernel_drops": counters["kernel_drops"],
                  "cpu": cpu, "rss_kib": rss}


def search(kind, size, ladder, duration, root):
    """Highest offered rate of the ladder with loss < 0.1 %, then two bisection steps."""
    def run(rate):
        sent, got = trial_bare(size, rate, duration) if kind == "bare" else trial_relay(size, rate, duration, root)
        loss = 1 - got["received"] / max(sent["datagrams"], 1)
        achieved = sent["datagrams"] / sent["seconds"]
        ok = loss < LOSS_LIMIT
        print(f"  {kind:5} {size:5} B offered {rate:>8} dgram/s achieved {achieved:10.0f} loss {loss*100:7.3f}%"
              f" {'ok' if ok else 'LOSS'} {json.dumps(got)}", flush=True)
        return ok, achieved, got

    best = None
    failures = 0
    bad_rate = None
    for rate in ladder:
        ok, achieved, got = run(rate)
        if ok:
            best = (achieved, got)
            failures = 0
        else:
            bad_rate = rate
            failures += 1
            if failures == 2:
                break
    if best and bad_rate:
        lo, hi = best[0], bad_rate
        for _ in range(2):
            mid = int((lo + hi) / 2)
            ok, achieved, got = run(mid)
            if ok:
                lo, best = achieved, (achieved, got)
            else:
                hi = mid
    return best


def ladders(size):
    start = {64: 50_000, 1400: 25_000, 8000: 10_000}[size]
    rates, r = [], start
    while r < 3_000_000:
        rates.append(int(r))
        r *= 1.5
    return rates


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--duration", type=float, default=2.0)
    ap.add_argument("--sizes", default="64,1400,8000")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if os.environ.get("SPEEDDATA_IN_NETNS") != "1":
        sys.exit("run through bench/run (a private network namespace)")
    targets = ["speeddata", "udp_sink"] + (["bench_codec"] if (REPO / "bench" / "bench_codec.cpp").exists() else [])
    subprocess.run(["cmake", "--build", str(BUILD), "--target", *targets], check=True,
                   stdout=subprocess.DEVNULL)
    rows = []
    global BIN, SINK
    with tempfile.TemporaryDirectory(prefix="sd-bench-", dir="/var/tmp") as tmp:
        # Private copies: a rebuild during the run must not swap the binaries under it.
        BIN = Path(shutil.copy2(BIN, Path(tmp) / "speeddata"))
        SINK = Path(shutil.copy2(SINK, Path(tmp) / "udp_sink"))
        disk = disk_write_mb_s(tmp)
        print(f"disk: sequential write {disk:.0f} MB/s", flush=True)
        for size in [int(s) for s in args.sizes.split(",")]:
            res = {"bare": [], "relay": []}
            for rep in range(args.repeats):
                for kind in ("bare", "relay"):
                    print(f"{kind} {size} B, run {rep + 1}/{args.repeats}", flush=True)
                    res[kind].append(search(kind, size, ladders(size), args.duration, Path(tmp)))
            bare = statistics.median(r[0] for r in res["bare"] if r) if any(res["bare"]) else 0
            relay_runs = [r for r in res["relay"] if r]
            relay = statistics.median(r[0] for r in relay_runs) if relay_runs else 0
            cpu = statistics.median(r[1]["cpu"] for r in relay_runs) if relay_runs else 0
            rss = max(r[1]["rss_kib"] for r in relay_runs) if relay_runs else 0
            rows.append((size, bare, relay, cpu, rss, [round(r[0]) for r in res["bare"] if r],
                         [round(r[0]) for r in relay_runs]))
    codec_rows = []
    codec = None
    if (BUILD / "bench_codec").exists():
        codec = subprocess.run([str(BUILD / "bench_codec"), "--benchmark_format=json", "--benchmark_min_time=0.3"],
                               capture_output=True, text=True)
    if codec and codec.returncode == 0:
        for b in json.loads(codec.stdout)["benchmarks"]:
            codec_rows.append((b["name"], b.get("items_per_second", 0)))

    md = ["## Relay throughput (issue 2)", "",
          f"Command: `make bench` (`bench/run --repeats {args.repeats} --duration {args.duration}`), "
          f"{time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores, Linux {platform.release()}, "
          f"inside a private network namespace on loopback. Socket receive buffer {BUFFER >> 20} MiB for both "
          "receivers; the load generator is `speeddata send --load` (sendmmsg, batches of 64) on the same "
          "2-core machine, so sender, receiver and listener share the cores.", "",
          "Highest offered rate with loss under 0.1 %, median of the repeats (each repeat's value in brackets). "
          "The relay's loss counts both the records in its container files and the datagrams a joined listener "
          "received on its full-rate multicast stream; it also sends the minmax-decimated stream.", "",
          f"Baseline for the disk in the same run: sequential writes of 1 MiB then fsync to the cache's file "
          f"system, **{disk:.0f} MB/s**; the relay's container files cannot hold more than that, while the bare "
          "receiver writes nothing.", "",
          "| datagram | bare recvmmsg | relay (disk + both multicast streams) | relay / bare | relay to disk | relay CPU | relay peak RSS |",
          "|---|---|---|---|---|---|---|"]
    for size, bare, relay, cpu, rss, braw, rraw in rows:
        gb = lambda r: r * size * 8 / 1e9
        md.append(f"| {size} B | {bare:,.0f} dgram/s ({gb(bare):.2f} Gbit/s) {braw} | {relay:,.0f} dgram/s "
                  f"({gb(relay):.2f} Gbit/s) {rraw} | {relay / bare if bare else 0:.2f} | "
                  f"{relay * size / 1e6:.0f} MB/s ({relay * size / 1e6 / disk * 100:.0f} % of the disk) | {cpu * 100:.0f} % of a core "
                  f"| {rss / 1024:.1f} MiB |")
    if codec_rows:
        md += ["", "### Avro codec (Google Benchmark, `build/bench_codec`)", "", "| benchmark | records/s |", "|---|---|"]
        md += [f"| {n} | {v:,.0f} |" for n, v in codec_rows]
    text = "\n".join(md) + "\n"
    print(text)
    if not args.no_write:
        path = REPO / "docs" / "benchmarks.md"
        old = path.read_text() if path.exists() else "# Benchmarks\n\nFigures and the commands that produced them.\n\n"
        begin, end = "<!-- relay-bench:begin -->", "<!-- relay-bench:end -->"
        block = f"{begin}\n{text}{end}\n"
        if begin in old:
            old = old[:old.index(begin)] + block + old[old.index(end) + len(end) + 1:]
        else:
            old += "\n" + block
        path.write_text(old)


if __name__ == "__main__":
    main()
