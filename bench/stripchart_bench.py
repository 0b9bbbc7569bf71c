#!/usr/bin/env python3
"""Stripchart benchmarks (run inside tests/netns-run; results go to docs/benchmarks.md by hand):
  latency  source time stamp -> browser draw (real relay, speeddata send at 1 kHz, headless Chromium)
  fanout   100 WebSocket clients on 10 channels at 1 kHz each: server CPU, RSS, delivery
  render   8 signals x 60 s x 1 kHz on one chart: frames/s in headless Chromium
  history  a chart zoomed all the way out on a 1-hour and a 24-hour 1 kHz cache: request to
           pixels (history tiles), and frames/s while zooming and panning (headless Chromium)
Usage: SPEEDDATA_BIN=build/speeddata tests/netns-run /usr/bin/python3 bench/stripchart_bench.py [latency fanout render] [--runs N]
"""
import json
import os
import selectors
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "integration"))
import sdtest  # noqa: E402
from stripchart_ws import WsClient, http_json, wait_http  # noqa: E402

DRIVER = REPO / "tests" / "e2e" / "stripchart_driver.js"
PORT = 8081


def node(mode, url):
    r = subprocess.run(["/usr/bin/node", str(DRIVER), mode, url, "/tmp"], capture_output=True, text=True, timeout=180)
    lines = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    if r.returncode != 0:
        raise RuntimeError(r.stdout + r.stderr)
    return lines[-1]


def cpu_seconds(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def stack(tmp):
    s = sdtest.Stack(Path(tmp))
    s.relay_cfg["defaults"]["stats_interval"] = "0"
    s.write_config()
    return s


def start_stripchart(s):
    import yaml
    (s.config_dir / "stripchart.yaml").write_text(yaml.safe_dump({"orchestrator": {"poll_interval": 0}}))
    p = s.start("stripchart", name="stripchart")
    wait_http(PORT)
    return p


def bench_latency():
    with tempfile.TemporaryDirectory() as tmp:
        s = stack(tmp)
        try:
            s.add_channel("example", decimation={"factor": 1})
            s.start_relay("example")
            start_stripchart(s)
            s.start("send", "--channel", "example", "--rate", "1000", name="send")
            return node("latency", f"http://127.0.0.1:{PORT}/stripchart.js")
        finally:
            s.close()


def bench_render():
    with tempfile.TemporaryDirectory() as tmp:
        s = stack(tmp)
        try:
            start_stripchart(s)
            return node("render-bench", f"http://127.0.0.1:{PORT}/stripchart.js")
        finally:
            s.close()


HISTORY_DIR = Path(os.environ.get("SD_HISTORY_BENCH_DIR", "/tmp/sd_stripchart_history_bench"))
T0_MS = 1_700_000_000_000  # where build/history_bench's caches start


def bench_history():
    """Caches written once by build/history_bench (1 kHz, example schema): "hour" (3600 s, the
    newest file still being written) and "day" (24 h + 1 min). A fresh stripchart server per run
    with the summaries' sidecars removed, so each run's first view is cold."""
    import shutil
    import yaml
    bench = Path(os.environ.get("SPEEDDATA_BUILD_DIR", REPO / "build")) / "history_bench"
    if not (HISTORY_DIR / "avro" / "day").exists():
        subprocess.run([str(bench), "--dir", str(HISTORY_DIR), "--hours", "24", "--runs", "1"], check=True,
                       stdout=subprocess.DEVNULL, timeout=3600)
    shutil.rmtree(HISTORY_DIR / "state", ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        s = stack(tmp)
        s.global_cfg["storage"].update({"avro_path": str(HISTORY_DIR / "avro"), "state_path": str(HISTORY_DIR / "state")})
        s.write_config()
        try:
            start_stripchart(s)
            out = {}
            for ch, seconds in (("hour", 3600), ("day", 86460)):
                r = subprocess.run(["/usr/bin/node", str(REPO / "tests" / "e2e" / "history_driver.js"), "bench",
                                    f"http://127.0.0.1:{PORT}", "/tmp",
                                    json.dumps({"signals": f"{ch}.sine_wave", "start": T0_MS, "end": T0_MS + seconds * 1000,
                                                "runs": 4})], capture_output=True, text=True, timeout=600)
                lines = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
                if r.returncode != 0:
                    raise RuntimeError(r.stdout + r.stderr)
                b = lines[-1]
                ms = [x["ms"] for x in b["runs"]]
                out[ch] = {"first_ms": round(ms[0], 1), "warm_ms": [round(x, 1) for x in ms[1:]],
                           "warm_median_ms": round(statistics.median(ms[1:]), 1), "requests": b["runs"][-1]["requests"],
                           "points": b["runs"][-1]["points"], "zoom_pan_fps": round(b["fps"], 1),
                           "draw_ms": round(b["drawMs"], 2)}
            return out
        finally:
            s.close()


def ws_reader(clients, seconds):
    """Reads every client's messages for `seconds`; returns per-client (messages, bytes, dropped)."""
    sel = selectors.DefaultSelector()
    state = {}
    for c in clients:
        c.sock.setblocking(False)
        c.buf = getattr(c, "rest", c.buf)
        sel.register(c.sock, selectors.EVENT_READ, c)
        state[c] = [c.buf, 0, 0, 0]
    end = time.time() + seconds
    while time.time() < end:
        for key, _ in sel.select(0.1):
            c = key.data
            st = state[c]
            try:
                chunk = c.sock.recv(1 << 20)
            except BlockingIOError:
                continue
            if not chunk:
                sel.unregister(c.sock)
                continue
            buf = st[0] + chunk
            off = 0
            while len(buf) - off >= 2:
                b0, b1 = buf[off], buf[off + 1]
                n, h = b1 & 0x7F, 2
                if n == 126:
                    if len(buf) - off < 4:
                        break
                    n, h = struct.unpack_from(">H", buf, off + 2)[0], 4
                elif n == 127:
                    if len(buf) - off < 10:
                        break
                    n, h = struct.unpack_from(">Q", buf, off + 2)[0], 10
                if len(buf) - off < h + n:
                    break
                if b0 & 0x0F == 2:
                    st[1] += 1
                    st[2] += n
                    st[3] += struct.unpack_from("<I", buf, off + h + 12)[0]
                off += h + n
            st[0] = buf[off:]
    for c in clients:
        sel.unregister(c.sock) if c.sock in [k.fileobj for k in sel.get_map().values()] else None
        c.rest = state[c][0]
    return [tuple(state[c][1:]) for c in clients]


def bench_fanout(seconds=10, nclients=100, nchan=10, rate=1000):
    with tempfile.TemporaryDirectory() as tmp:
        s = stack(tmp)
        try:
            for i in range(nchan):
                s.add_channel(f"ch{i}")
            sc = start_stripchart(s)
            schema = sdtest.load_schema(s.config_dir / "agents" / "example.avsc")
            fp = sdtest.schema_fingerprint(s, "agents/example.avsc")
            clients = []
            for k in range(nclients):
                c = WsClient("127.0.0.1", PORT)
                c.send_json({"type": "subscribe", "signals": [f"ch{k % nchan}.*"]})
                clients.append(c)
            # Stand-in for 10 relays' decimated output (factor 1): 10 records per datagram,
            # 100 datagrams/s per channel, stamped with the wall clock. One process sends all.
            code = f"""
import socket, struct, sys, time
sys.path.insert(0, {str(REPO / 'tests')!r})
import sdtest
schema = sdtest.load_schema({str(s.config_dir / 'agents' / 'example.avsc')!r})
out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
out.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton('127.0.0.1'))
per = 10
recs = [sdtest.encode(schema, sdtest.example_record(i)) for i in range(per)]
seq = [0] * {nchan}
t_end = time.time() + {seconds + 2}
period = per / {rate}
nxt = time.time()
while time.time() < t_end:
    for c in range({nchan}):
        name = b'ch%d' % c
        hdr = b'SDM1' + bytes([1, 1]) + struct.pack('<HQQH', 28 + len(name), {fp}, seq[c], per) + bytes([len(name), 0]) + name
        out.sendto(hdr + b''.join(recs), ('239.1.1.2', 6001))
        seq[c] += 1
    nxt += period
    d = nxt - time.time()
    if d > 0:
        time.sleep(d)
"""
            sender = subprocess.Popen([sys.executable, "-c", code])
            ws_reader(clients, 1.5)  # warm-up; also drains what queued before the measurement
            cpu0, t0 = cpu_seconds(sc.pid), time.time()
            res = ws_reader(clients, seconds)
            cpu1, t1 = cpu_seconds(sc.pid), time.time()
            rss = rss_mib(sc.pid)
            st = http_json(PORT, "/api/v1/status")
            sender.wait()
            for c in clients:
                c.close()
            msgs = [r[0] for r in res]
            return {"clients": nclients, "channels": nchan, "rate_hz": rate, "seconds": round(t1 - t0, 1),
                    "server_cpu_percent": round(100 * (cpu1 - cpu0) / (t1 - t0), 1), "server_rss_mib": round(rss, 1),
                    "msgs_per_client_per_s_median": round(statistics.median(msgs) / (t1 - t0), 1),
                    "msgs_per_client_per_s_min": round(min(msgs) / (t1 - t0), 1),
                    "bytes_per_s_total_mib": round(sum(r[1] for r in res) / (t1 - t0) / 2**20, 2),
                    "frames_dropped": st["server"]["frames_dropped"],
                    "lost_datagrams": st["counters"]["lost_datagrams"],
                    "samples": st["counters"]["samples"]}
        finally:
            s.close()


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    runs = 3
    if "--runs" in sys.argv:
        runs = int(sys.argv[sys.argv.index("--runs") + 1])
        args = [a for a in args if a != str(runs)]
    which = args or ["latency", "fanout", "render"]
    for w in which:
        fn = {"latency": bench_latency, "fanout": bench_fanout, "render": bench_render, "history": bench_history}[w]
        results = [fn() for _ in range(runs)]
        print(json.dumps({"bench": w, "runs": results}), flush=True)
