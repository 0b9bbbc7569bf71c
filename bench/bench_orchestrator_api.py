#!/usr/bin/env python3
"""Orchestrator API benchmark: GET /api/v1/channels and GET /metrics with N channels
registered (each with its real relay), from an asyncio keep-alive load client; and the
orchestrator's own CPU at idle with 20 relays.

Run inside a private network namespace (relays may send multicast):
  tests/netns-run /usr/bin/python3 bench/bench_orchestrator_api.py --bin build/speeddata
Prints a JSON summary and a Markdown table (for docs/benchmarks.md).
"""
import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, r.read()


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def worker(port, path, deadline, latencies, errors):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    req = f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    try:
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            writer.write(req)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            status = int(head[9:12])
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            if status != 200:
                errors.append(status)
    finally:
        writer.close()


async def load(port, path, seconds, connections):
    latencies, errors = [], []
    deadline = time.perf_counter() + seconds
    t0 = time.perf_counter()
    await asyncio.gather(*(worker(port, path, deadline, latencies, errors) for _ in range(connections)))
    elapsed = time.perf_counter() - t0
    latencies.sort()
    return {
        "path": path, "requests": len(latencies), "errors": len(errors), "seconds": round(elapsed, 2),
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1e3, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1e3, 2),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(REPO / "build" / "speeddata"))
    ap.add_argument("--channels", type=int, default=100)
    ap.add_argument("--idle-relays", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--idle-seconds", type=float, default=10)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="sd_bench_orch_"))
    cfg = tmp / "config"
    shutil.copytree(REPO / "config", cfg)
    data = tmp / "data"
    g = (cfg / "global.yaml").read_text().replace("./data", str(data))
    (cfg / "global.yaml").write_text(g)
    (cfg / "relay.yaml").write_text("defaults:\n  stats_interval: 0\nchannels: {}\n")
    (cfg / "orchestrator.yaml").write_text("ports:\n  start: 30000\n  end: 30999\n")
    port = free_port()
    base = f"http://127.0.0.1:{port}/api/v1"
    proc = subprocess.Popen([args.bin, "orchestrator", "--config-dir", str(cfg), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    out = {"channels": args.channels, "connections": args.connections, "seconds_per_run": args.seconds}
    try:
        for _ in range(200):
            try:
                http("GET", base + "/health")
                break
            except OSError:
                time.sleep(0.05)
        schema = json.loads((REPO / "config" / "agents" / "example.avsc").read_text())

        # Idle CPU with the first idle_relays relays running.
        for i in range(args.idle_relays):
            http("POST", base + "/channels", {"name": f"ch{i:03d}", "schema": schema})
        time.sleep(3)
        c0, t0 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(args.idle_seconds)
        out["idle_relays"] = args.idle_relays
        out["idle_cpu_percent"] = round(100 * (cpu_seconds(proc.pid) - c0) / (time.monotonic() - t0), 3)

        for i in range(args.idle_relays, args.channels):
            http("POST", base + "/channels", {"name": f"ch{i:03d}", "schema": schema})
        time.sleep(3)
        _, body = http("GET", base + "/channels?status=active")
        out["active"] = json.loads(body)["count"]
        out["channels_body_bytes"] = len(http("GET", base + "/channels")[1])
        out["metrics_body_bytes"] = len(http("GET", f"http://127.0.0.1:{port}/metrics")[1])
        results = {}
        for path in ("/api/v1/channels", "/metrics"):
            runs = [asyncio.run(load(port, path, args.seconds, args.connections)) for _ in range(args.runs)]
            results[path] = {
                "rps_median": statistics.median(r["rps"] for r in runs),
                "p50_ms_median": statistics.median(r["p50_ms"] for r in runs),
                "p99_ms_median": statistics.median(r["p99_ms"] for r in runs),
                "errors": sum(r["errors"] for r in runs),
                "runs": runs,
            }
        out["results"] = results
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(out, indent=1))
    print()
    print(f"| request ({out['channels']} channels, {out['active']} active) | requests/s (median of {args.runs}) | p50 ms | p99 ms | errors |")
    print("|---|---|---|---|---|")
    for path, r in out["results"].items():
        print(f"| GET {path} | {r['rps_median']} | {r['p50_ms_median']} | {r['p99_ms_median']} | {r['errors']} |")
    print(f"\nOrchestrator CPU at idle with {out['idle_relays']} relays: {out['idle_cpu_percent']} % of one core")


if __name__ == "__main__":
    sys.exit(main())
