"""`speeddata up --demo`: the stack starts, demo data reaches the cache, Ctrl-C leaves nothing."""
import os
import signal
import time

import sdtest
from sdtest import wait_for
from orchlib import Api, free_tcp_port, pid_alive


def descendants(root):
    """Pids of every live process under root (walks /proc parent links)."""
    parent = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if fields[0] != "Z":
            parent[int(d)] = int(fields[1])
    out = set()
    for pid in parent:
        p = pid
        while p in parent and p > 1:
            p = parent[p]
            if p == root:
                out.add(pid)
                break
    return out


def copy_server_configs(stack):
    for f in ("stripchart.yaml", "pivot.yaml"):
        src = sdtest.REPO / "config" / f
        if src.exists():
            (stack.config_dir / f).write_text(src.read_text())


def test_up_demo_caches_data_and_sigint_stops_everything(stack):
    stack.add_channel("example")
    copy_server_configs(stack)
    port = free_tcp_port()
    up = stack.start("up", "--demo", "--orchestrator-port", str(port), name="up")
    api = Api(port)

    def healthy():
        assert up.alive(), up.output()
        try:
            return api.get("/api/v1/health")[0] == 200
        except OSError:
            return False
    wait_for(healthy, 20, what="orchestrator under up")
    # The demo source feeds the example relay; records reach the cache files.
    wait_for(lambda: len(stack.cached_records("example")) >= 50, 20, what="demo records in the cache")
    out = up.output()
    assert f"http://127.0.0.1:{port}/" in out and "stripchart" in out and "pivot API" in out
    wait_for(lambda: (api.get("/api/v1/channels/example")[1].get("figures") or {}).get("records", 0) > 0, 5,
             what="figures of the example channel")
    assert api.get("/api/v1/channels/example")[1]["status"] == "active"

    procs = descendants(up.pid)
    # orchestrator, its relay, the demo source (+ stripchart/pivot when they are built)
    assert len(procs) >= 3, procs
    up.p.send_signal(signal.SIGINT)
    up.p.wait(20)
    assert up.p.returncode == 0, up.output()
    time.sleep(0.2)
    left = [p for p in procs if pid_alive(p)]
    assert left == [], f"still running after Ctrl-C: {left}"
    # The relay flushed on the way out: every cached record is readable.
    recs = stack.cached_records("example")
    assert len(recs) >= 50
    counters = [r["counter"] for r in recs]
    assert counters == sorted(counters)


def test_up_restarts_a_crashed_orchestrator(stack):
    stack.add_channel("example")
    copy_server_configs(stack)
    port = free_tcp_port()
    up = stack.start("up", "--orchestrator-port", str(port), name="up")
    api = Api(port)

    def health_pid():
        try:
            st, _, _ = api.get("/api/v1/health")
        except OSError:
            return None
        return st == 200
    wait_for(health_pid, 20, what="orchestrator")
    orch = [p for p in descendants(up.pid) if "orchestrator" in open(f"/proc/{p}/cmdline").read()]
    assert len(orch) == 1
    os.kill(orch[0], signal.SIGKILL)
    wait_for(lambda: not pid_alive(orch[0]), 5, what="orchestrator killed")
    wait_for(health_pid, 10, what="orchestrator restarted by up")
    up.p.send_signal(signal.SIGTERM)
    up.p.wait(20)
    assert up.p.returncode == 0
    assert descendants(up.pid) == set()
