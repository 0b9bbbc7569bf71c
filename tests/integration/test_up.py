"""`speeddata up --demo`: the stack starts, demo data reaches the cache, Ctrl-C leaves nothing."""
import os
import signal
import time

import sdtest
from sdtest import wait_for
from orchlib import Api, free_tcp_port, pid_alive


def parent_of(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None


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
    # The orchestrator itself (`speeddata orchestrator ...`): up's own child. Not its relays
    # (their arguments name paths under state/orchestrator), nor a relay between the
    # orchestrator's fork and its exec, which still has the orchestrator's command line.
    def orchestrators():
        return [p for p in descendants(up.pid) if parent_of(p) == up.pid
                and open(f"/proc/{p}/cmdline").read().split("\0")[1:2] == ["orchestrator"]]
    orch = orchestrators()
    assert len(orch) == 1, orch
    os.kill(orch[0], signal.SIGKILL)
    wait_for(lambda: not pid_alive(orch[0]), 5, what="orchestrator killed")
    wait_for(health_pid, 10, what="orchestrator restarted by up")
    up.p.send_signal(signal.SIGTERM)
    up.p.wait(20)
    assert up.p.returncode == 0
    assert descendants(up.pid) == set()


def test_a_second_up_on_the_same_data_fails_fast_and_leaves_the_first_alone(stack):
    # A second `make demo` used to print "SpeedData is up" while its servers looped on
    # "Address already in use" and its demo source fed the first stack's relay.
    stack.add_channel("example")
    copy_server_configs(stack)
    port = free_tcp_port()
    first = stack.start("up", "--demo", "--orchestrator-port", str(port), name="up1")
    api = Api(port)
    wait_for(lambda: first.alive() and "SpeedData is up" in first.output(), 60, what="first stack up")
    wait_for(lambda: len(stack.cached_records("example")) >= 20, 20, what="first stack's records")
    t0 = time.monotonic()
    second = stack.run("up", "--demo", "--orchestrator-port", str(free_tcp_port()), timeout=30)
    assert second.returncode == 1, (second.returncode, second.stdout, second.stderr)
    assert time.monotonic() - t0 < 10
    assert f"speeddata up: already running (pid {first.pid}, http://127.0.0.1:{port}/)" in second.stderr, second.stderr
    assert "SpeedData is up" not in second.stdout
    time.sleep(1.5)
    assert first.alive()
    first.p.send_signal(signal.SIGINT)
    first.p.wait(20)
    # One source only: counters rise by one, never interleaved with another stack's.
    counters = [r["counter"] for r in stack.cached_records("example")]
    assert counters == list(range(counters[0], counters[0] + len(counters))), counters[:20]


def test_up_never_says_up_when_a_server_is_not_listening(stack):
    import socket
    stack.add_channel("example")
    copy_server_configs(stack)
    # Something else holds the stripchart's port.
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", 8081))
    blocker.listen()
    try:
        r = stack.run("up", "--orchestrator-port", str(free_tcp_port()), timeout=90)
    finally:
        blocker.close()
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "SpeedData is up" not in r.stdout
    assert "stripchart is not listening" in r.stderr, r.stderr
    assert "Address already in use" in r.stderr
