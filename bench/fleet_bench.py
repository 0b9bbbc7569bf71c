#!/usr/bin/env python3
"""Fleet benchmarks (docs/benchmarks.md, "Fleet"), on the three-host fleet of the tests
(tests/fleet/fleet.py: network namespaces on a bridge, a nats-server cluster member and an
orchestrator each):
  convergence  a channel registered on h1 for h3: time until h2's API lists it, and until
               h3's relay is active (reports it)
  latency      record time stamp -> receipt of its decimated datagram, over multicast on the
               relay's host (h2) and over NATS on another host's member (h3), same records, same run
  export       the same export (one channel cached on h2, a fixed range) asked of h2's pivot (local)
               and of h1's pivot (fleet: h2's cache files fetched over NATS request/reply), alternating;
               both files must hold the same rows
Usage: SPEEDDATA_BIN=build/speeddata tests/netns-run .venv/bin/python bench/fleet_bench.py [convergence latency export] [--runs N] [--records N]
"""
import datetime
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "fleet"))
import fleet as fleetlib  # noqa: E402
import h5py  # noqa: E402
import sdtest  # noqa: E402

SCHEMA = (REPO / "config" / "agents" / "example.avsc").read_text()
PROBE = str(REPO / "bench" / "fleet_probe.py")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def convergence(f, runs):
    h1, h2, h3 = f.hosts
    listed, running = [], []
    for i in range(runs):
        name = f"conv{i}"
        t0 = time.monotonic()
        s, out = h1.api("POST", "/api/v1/channels", {"name": name, "port": 26400 + i, "schema": SCHEMA, "host": "h3"})
        assert s == 201, out
        sdtest.wait_for(lambda: name in h2.channels(), timeout=30, interval=0.01)
        listed.append(time.monotonic() - t0)
        sdtest.wait_for(lambda: h3.channels().get(name, {}).get("status") == "active", timeout=30, interval=0.01)
        running.append(time.monotonic() - t0)
        h1.api("DELETE", f"/api/v1/channels/{name}")
    return {"listed_on_h2_s": statistics.median(listed), "running_on_h3_s": statistics.median(running),
            "runs": runs, "listed_all": listed, "running_all": running}


def register_on_h2(f, name, port, factor):
    """Registers a channel through h1's API to run on h2 and waits until h2's relay is active."""
    h1, h2, _ = f.hosts
    s, out = h1.api("POST", "/api/v1/channels", {"name": name, "port": port, "schema": SCHEMA, "host": "h2",
                                                "config": {"decimation": {"factor": factor}}})
    assert s == 201, out
    sdtest.wait_for(lambda: h2.channels().get(name, {}).get("status") == "active", timeout=30)


def latency(f, runs, n=2000, rate=1000):
    h1, h2, h3 = f.hosts
    register_on_h2(f, "lat", 26500, factor=1)
    results = []
    for _ in range(runs):
        py = sys.executable
        mc = subprocess.Popen(["ip", "netns", "exec", h2.ns, py, PROBE, "mcast", "239.1.1.2", "6001", str(n)],
                              stdout=subprocess.PIPE, text=True)
        na = subprocess.Popen([py, PROBE, "nats", h3.addr, str(fleetlib.CLIENT_PORT), "speeddata.lat.decimated", str(n)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for p in (mc, na):
            assert json.loads(p.stdout.readline()).get("ready")
        r = h2.run([sdtest.BIN, "send", "--source", "example", "--port", "26500", "--count", str(n),
                    "--rate", str(rate), "--json"], timeout=60)
        assert r.returncode == 0, r.stderr
        m = json.loads(mc.stdout.readline())["latencies_ns"]
        qline = na.stdout.readline()
        if not qline:
            raise RuntimeError("nats probe: " + na.stderr.read())
        q = json.loads(qline)["latencies_ns"]
        mc.wait()
        na.wait()
        results.append({"mcast_p50_ms": pct(m, 50) / 1e6, "mcast_p99_ms": pct(m, 99) / 1e6, "mcast_n": len(m),
                        "nats_p50_ms": pct(q, 50) / 1e6, "nats_p99_ms": pct(q, 99) / 1e6, "nats_n": len(q)})
    med = {k: statistics.median(r[k] for r in results) for k in results[0]}
    return {"median_of_runs": med, "runs": results, "records_per_run": n, "rate_hz": rate}


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def export(f, runs, n=200000, rate=20000):
    """Local against fleet export of one channel cached on h2: n records at `rate`/s."""
    h1, h2, h3 = f.hosts
    register_on_h2(f, "exp", 26600, factor=10)
    t0 = time.time()
    r = h2.run([sdtest.BIN, "send", "--source", "example", "--port", "26600", "--count", str(n),
                "--rate", str(rate), "--json"], timeout=n / rate + 60)
    assert r.returncode == 0, r.stderr
    sdtest.wait_for(lambda: h2.channels()["exp"]["figures"]["records_written"] >= n, timeout=60, what="exp cached")
    query = f"/api/v1/pivot/export?channels=exp&start={iso(t0 - 1)}&end={iso(time.time() + 1)}"
    times = {"local": [], "fleet": []}
    rows = {}
    with tempfile.TemporaryDirectory() as d:
        for i in range(runs):
            for kind, host in (("local", h2), ("fleet", h1)) if i % 2 == 0 else (("fleet", h1), ("local", h2)):
                path = Path(d) / f"{kind}.h5"
                t = time.monotonic()
                with urllib.request.urlopen(host.url(fleetlib.PIVOT_PORT, query), timeout=300) as resp:
                    path.write_bytes(resp.read())
                times[kind].append(time.monotonic() - t)
                with h5py.File(path, "r") as h:
                    got = (len(h["exp"]["time"]), int(h["exp"]["counter"][-1]), float(h["exp"]["sine_wave"][:].sum()))
                assert rows.setdefault(kind, got) == got, (kind, got, rows[kind])
        size = (Path(d) / "fleet.h5").stat().st_size
    assert rows["local"] == rows["fleet"] and rows["local"][0] == n, rows
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"records": n, "hdf5_bytes": size, "local_s": med["local"], "fleet_s": med["fleet"],
            "fleet_over_local": med["fleet"] / med["local"], "runs": runs, "local_all": times["local"],
            "fleet_all": times["fleet"]}


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    runs = 3
    if "--runs" in sys.argv:
        runs = int(sys.argv[sys.argv.index("--runs") + 1])
        args = [a for a in args if a != str(runs)]
    if "--records" in sys.argv:
        args = [a for a in args if a != sys.argv[sys.argv.index("--records") + 1]]
    which = args or ["convergence", "latency"]
    with tempfile.TemporaryDirectory() as tmp:
        f = fleetlib.Fleet(tmp, 3)
        try:
            f.start("up" if "export" in which else "orchestrator")
            out = {}
            if "convergence" in which:
                out["convergence"] = convergence(f, max(runs, 5))
                print(json.dumps({"convergence": out["convergence"]}), flush=True)
            if "latency" in which:
                out["latency"] = latency(f, runs)
            if "export" in which:
                n = int(sys.argv[sys.argv.index("--records") + 1]) if "--records" in sys.argv else 200000
                out["export"] = export(f, max(runs, 3), n=n)
            print(json.dumps(out, indent=2))
        finally:
            f.close()


if __name__ == "__main__":
    main()
