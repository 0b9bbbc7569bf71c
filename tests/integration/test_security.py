"""Security and hardening (docs/security.md), against the real servers over real sockets:
traversal, token bypass, binding rules, floods under a low open-files limit, descriptor leaks
into relays, the watchdog, bad input. Each test reproduces a reported finding."""
import json
import os
import resource
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

import orchlib
import pivot_helpers
import sdtest
from orchlib import Api, free_tcp_port, pid_alive
from sdtest import wait_for

TOKEN = "t0ken-" + "x" * 26


def raw_get(port, target, method="GET", headers=None, body=b"", timeout=5):
    """One request sent as written (no client-side normalisation, like curl --path-as-is)."""
    h = {"Host": f"127.0.0.1:{port}", "Connection": "close", **(headers or {})}
    if body or method in ("POST", "PUT"):
        h["Content-Length"] = str(len(body))
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head.encode("latin-1") + body)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, data


def write_yaml(path, obj):
    Path(path).write_text(yaml.safe_dump(obj, sort_keys=False))


def write_server_configs(stack):
    """pivot.yaml and stripchart.yaml as the servers need them (no registry polling)."""
    pivot_helpers.write_pivot_config(stack)
    write_yaml(stack.config_dir / "stripchart.yaml", {"http": {"bind": "127.0.0.1", "port": 8081},
                                                      "orchestrator": {"poll_interval": 0}})


def start_server(stack, kind, port, *extra, ready_path="/api/v1/health", token=None):
    if not (stack.config_dir / "stripchart.yaml").exists():
        write_server_configs(stack)
    args = {"orchestrator": ["orchestrator", "--port", str(port)],
            "stripchart": ["stripchart", "--port", str(port)],
            "pivot": ["pivot", "serve", "--port", str(port)]}[kind]
    p = stack.start(*args, *extra, name=kind)
    api = Api(port, token)

    def up():
        if not p.alive():
            raise AssertionError(f"{kind} exited:\n" + p.output())
        try:
            return api.get(ready_path)[0] == 200
        except OSError:
            return False
    wait_for(up, 20, what=f"{kind} health")
    return p, api


@pytest.fixture
def web_roots(tmp_path):
    """Copies of the console and stripchart pages, each with a symlink out of the root."""
    import shutil
    roots = {}
    for name in ("console", "stripchart"):
        d = tmp_path / f"web-{name}"
        shutil.copytree(sdtest.REPO / "web" / name, d)
        (d / "passwd-link").symlink_to("/etc/passwd")
        (d / "sub").mkdir(exist_ok=True)
        (d / ".secret").write_text("dotfile secret")
        roots[name] = d
    return roots


TRAVERSALS = [
    "//etc/passwd", "///etc/passwd", "/%2fetc/passwd", "/%2Fetc%2Fpasswd", "/../../../../etc/passwd",
    "/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2f..%2fetc%2fpasswd", "/sub/../../../etc/passwd",
    "/%252e%252e/etc/passwd", "/.%2e/.%2e/etc/passwd", "/passwd-link", "/sub/..//passwd-link",
    "/%5c..%5c..%5cetc%5cpasswd", "/.secret", "/etc/passwd%00.html",
]


def test_no_file_outside_the_web_root_on_any_server(stack, web_roots):
    stack.add_channel("example")
    ports = {k: free_tcp_port() for k in ("orchestrator", "stripchart", "pivot")}
    pivot_helpers.write_pivot_config(stack)
    start_server(stack, "orchestrator", ports["orchestrator"], "--web", str(web_roots["console"]))
    start_server(stack, "stripchart", ports["stripchart"], "--web-root", str(web_roots["stripchart"]))
    start_server(stack, "pivot", ports["pivot"])
    passwd = Path("/etc/passwd").read_bytes()[:20]
    for kind, port in ports.items():
        for target in TRAVERSALS:
            status, data = raw_get(port, target)
            assert status in (400, 403, 404), (kind, target, status)
            assert passwd not in data and b"dotfile secret" not in data, (kind, target)
            assert b"access-control-allow-origin" not in data.lower(), (kind, target)
        # The real pages are still served, with no cross-origin header on them.
    status, data = raw_get(ports["stripchart"], "/stripchart.js")
    assert status == 200 and b"access-control-allow-origin" not in data.lower()
    status, data = raw_get(ports["orchestrator"], "/")
    assert status == 200 and b"<html" in data.lower()


BYPASS = ["//api/v1/channels", "/%2fapi/v1/channels", "/%2Fapi%2Fv1%2Fchannels", "/api//v1/channels",
          "/api/v1/./channels", "/x/../api/v1/channels", "/api/v1/channels/", "///api/v1//channels//"]


def test_token_cannot_be_bypassed_by_path_spelling(stack):
    stack.add_channel("example")
    (stack.config_dir / "token").write_text(TOKEN + "\n")
    stack.global_cfg["auth"] = {"token_file": "token"}
    stack.write_config()
    port = free_tcp_port()
    _, api = start_server(stack, "orchestrator", port, token=TOKEN)
    body = json.dumps({"name": "intruder", "schema": json.loads((stack.config_dir / "agents" / "example.avsc").read_text())}).encode()
    for spelling in BYPASS:
        status, data = raw_get(port, spelling, "POST", {"Content-Type": "application/json"}, body)
        assert status == 401, (spelling, status, data[-300:])
        status, _ = raw_get(port, spelling.replace("channels", "channels/example"), "DELETE")
        assert status == 401, spelling
    st, listing, _ = api.get("/api/v1/channels")
    assert st == 200 and [c["name"] for c in listing["channels"]] == ["example"]
    # Reads are guarded too by default; health is not.
    assert raw_get(port, "/api/v1/channels")[0] == 401
    assert raw_get(port, "//api/v1/health")[0] == 200
    # With the token, the normalised spelling reaches the real route.
    status, _ = raw_get(port, "//api/v1/channels", "POST",
                        {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}, body)
    assert status == 201


def test_pivot_and_stripchart_changes_and_reads_need_the_token(stack):
    port = stack.add_channel("example")
    (stack.config_dir / "token").write_text(TOKEN)
    stack.global_cfg["auth"] = {"token_file": "token"}
    stack.write_config()
    pivot_helpers.write_pivot_config(stack)
    relay = stack.start_relay("example")
    orchlib.send_example(port, 50)
    wait_for(lambda: stack.counters("example").get("records_written", 0) >= 50, 15, what="written")
    pp, sp = free_tcp_port(), free_tcp_port()
    _, papi = start_server(stack, "pivot", pp, token=TOKEN)
    start_server(stack, "stripchart", sp, token=TOKEN)
    start = pivot_helpers.iso(pivot_helpers.T0_NS)
    tag = json.dumps({"name": "t", "start": start, "duration": "PT1S", "channels": "example"}).encode()
    for spelling in ("/api/v1/tags", "//api/v1/tags", "/%2fapi/v1/tags"):
        assert raw_get(pp, spelling, "POST", {"Content-Type": "application/json"}, tag)[0] == 401
    assert raw_get(pp, f"/api/v1/pivot/export?start={start}&duration=PT1S&channels=example")[0] == 401
    assert raw_get(pp, "/api/v1/tags/1", "DELETE")[0] == 401
    st, body, _ = papi.post("/api/v1/tags", {"name": "t", "start": start, "duration": "PT1S", "channels": "example"})
    assert st == 201, body
    assert raw_get(pp, f"/api/v1/tags/{body['id']}", "DELETE")[0] == 401
    assert papi.delete(f"/api/v1/tags/{body['id']}")[0] == 200
    # Stripchart: its API and the WebSocket need it; a browser may pass it as ?access_token=.
    assert raw_get(sp, "/api/v1/signals")[0] == 401
    assert raw_get(sp, f"/api/v1/signals?access_token={TOKEN}")[0] == 200
    ws_head = ("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    with socket.create_connection(("127.0.0.1", sp), timeout=5) as s:
        s.sendall(ws_head.encode())
        assert s.recv(4096).startswith(b"HTTP/1.1 401")
    with socket.create_connection(("127.0.0.1", sp), timeout=5) as s:
        s.sendall(ws_head.replace("GET /ws ", f"GET /ws?access_token={TOKEN} ").encode())
        assert s.recv(4096).startswith(b"HTTP/1.1 101")
    relay.stop()


@pytest.mark.parametrize("kind", ["orchestrator", "stripchart", "pivot"])
def test_network_bind_without_a_token_refuses_to_start(stack, kind):
    stack.add_channel("example")
    write_server_configs(stack)
    port = free_tcp_port()
    file = {"orchestrator": "orchestrator.yaml", "stripchart": "stripchart.yaml", "pivot": "pivot.yaml"}[kind]
    cfg = yaml.safe_load((stack.config_dir / file).read_text()) if (stack.config_dir / file).exists() else {}
    cfg = cfg or {}
    cfg.setdefault("http", {})["bind"] = "0.0.0.0"
    write_yaml(stack.config_dir / file, cfg)
    if not (stack.config_dir / "stripchart.yaml").exists():
        write_server_configs(stack)
    args = {"orchestrator": ["orchestrator", "--port", str(port)], "stripchart": ["stripchart", "--port", str(port)],
            "pivot": ["pivot", "serve", "--port", str(port)]}[kind]
    env = {k: v for k, v in os.environ.items() if k != "SPEEDDATA_TOKEN"}
    r = subprocess.run([sdtest.BIN, *args, "--config-dir", str(stack.config_dir)], capture_output=True,
                       text=True, timeout=20, env=env)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert f"{file}: http.bind is 0.0.0.0" in r.stderr and "token" in r.stderr, r.stderr
    # Saying so explicitly lets it start (inside this test's private network namespace).
    stack.global_cfg["auth"] = {"mode": "none"}
    stack.write_config()
    p, _ = start_server(stack, kind, port)
    p.stop()


def hold_idle_connections(port, n, slowloris=False):
    socks = []
    for i in range(n):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        socks.append(s)
    time.sleep(0.5)
    if slowloris:
        for s in socks:
            try:
                s.send(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            except OSError:
                pass
    return socks


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().split(")")[-1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def health_time(port):
    t0 = time.monotonic()
    status, _ = raw_get(port, "/api/v1/health", timeout=5)
    return status, time.monotonic() - t0


@pytest.mark.parametrize("kind", ["orchestrator", "pivot", "stripchart"])
@pytest.mark.parametrize("slowloris", [False, True])
def test_health_answers_while_1100_idle_sockets_are_held(stack, kind, slowloris):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 4096), max(hard, 4096)))
    stack.add_channel("example")
    write_server_configs(stack)
    port = free_tcp_port()
    base = {"orchestrator": ["orchestrator", "--port", str(port)], "stripchart": ["stripchart", "--port", str(port)],
            "pivot": ["pivot", "serve", "--port", str(port)]}[kind]
    # prlimit wraps the server so that its own limit is 1024 (as on a default system).
    env = {**os.environ, "SPEEDDATA_CONFIG": str(stack.config_dir)}
    proc = sdtest.Proc(["prlimit", "--nofile=1024:1024", sdtest.BIN, *base], stack.root / f"{kind}.log", env=env)
    stack.procs.append(proc)
    api = Api(port)
    wait_for(lambda: proc.alive() and _ok(api), 20, what=f"{kind} up")
    socks = hold_idle_connections(port, 1100, slowloris)
    try:
        cpu0 = cpu_seconds(proc.pid)
        times = []
        for _ in range(5):
            status, took = health_time(port)
            assert status == 200
            times.append(took)
            time.sleep(0.2)
        # The defect was a lockout until the 60 s idle timeout; the median shows the server
        # answers promptly, the maximum only that no request waited for a timeout (a loaded
        # machine can stall one request a few seconds).
        assert sorted(times)[2] < 1.0, times
        assert max(times) < 5.0, times
        # No busy loop while the flood is held.
        time.sleep(2)
        assert cpu_seconds(proc.pid) - cpu0 < 1.0
        if kind == "orchestrator":
            # It can still do its own work: a killed relay is restarted.
            wait_for(lambda: api.get("/api/v1/channels/example")[1]["pid"], 10, what="relay pid")
            old = api.get("/api/v1/channels/example")[1]["pid"]
            os.kill(old, signal.SIGKILL)
            wait_for(lambda: (api.get("/api/v1/channels/example")[1]["pid"] or old) != old, 15, what="relay restarted")
            assert "Too many open files" not in proc.output()
    finally:
        for s in socks:
            s.close()
    assert proc.alive()


def _ok(api):
    try:
        return api.get("/api/v1/health")[0] == 200
    except OSError:
        return False


def socket_inodes(pid):
    out = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            t = os.readlink(fd)
        except OSError:
            continue
        if t.startswith("socket:["):
            out.add(t[8:-1])
    return out


def listening_inode(port):
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        if int(f[1].split(":")[1], 16) == port and f[3] == "0A":
            return f[9]
    return None


def test_relays_inherit_no_descriptor_and_a_replacement_orchestrator_binds(stack):
    stack.add_channel("example")
    port = free_tcp_port()
    proc, api = orchlib.start_orchestrator(stack, port=port)
    relay_pid = orchlib.wait_active(api, "example", 15)["pid"]
    inode = listening_inode(port)
    assert inode and inode in socket_inodes(proc.pid)
    assert inode not in socket_inodes(relay_pid)
    ss = subprocess.run(["ss", "-ltnp"], capture_output=True, text=True).stdout
    holders = [l for l in ss.splitlines() if f":{port} " in l]
    assert holders and all(f"pid={relay_pid}," not in l for l in holders), holders
    # Nothing but stdin/stdout/stderr and what the relay opened itself.
    for fd in Path(f"/proc/{relay_pid}/fd").iterdir():
        flags = int(Path(f"/proc/{relay_pid}/fdinfo/{fd.name}").read_text().split("flags:")[1].split()[0], 8)
        if int(fd.name) > 2:
            assert flags & 0o2000000, f"relay fd {fd.name} -> {os.readlink(fd)} is not close-on-exec"
    # Every descriptor of the orchestrator itself is close-on-exec.
    for fd in Path(f"/proc/{proc.pid}/fd").iterdir():
        if int(fd.name) > 2:
            flags = int(Path(f"/proc/{proc.pid}/fdinfo/{fd.name}").read_text().split("flags:")[1].split()[0], 8)
            assert flags & 0o2000000, f"orchestrator fd {fd.name} -> {os.readlink(fd)} is not close-on-exec"
    # Crash the orchestrator: its replacement binds the same port at once.
    os.kill(proc.pid, signal.SIGKILL)
    proc.p.wait()
    proc2, api2 = orchlib.start_orchestrator(stack, port=port)
    assert api2.get("/api/v1/health")[0] == 200
    proc2.stop()


def test_up_leaves_no_defunct_children(stack):
    stack.add_channel("example")
    write_server_configs(stack)
    oport = free_tcp_port()
    up = stack.start("up", "--orchestrator-port", str(oport), name="up")
    api = Api(oport)
    wait_for(lambda: _ok(api), 30, what="up")
    relay = orchlib.wait_active(api, "example", 20)["pid"]
    orch = int(Path(f"/proc/{relay}/stat").read_text().split(")")[-1].split()[1])
    # Kill the orchestrator: its relay is re-parented to `up` and ends (PDEATHSIG) while the
    # supervisor restarts the orchestrator.
    os.kill(orch, signal.SIGKILL)

    def zombies():
        out = []
        for d in Path("/proc").iterdir():
            if not d.name.isdigit():
                continue
            try:
                rest = (d / "stat").read_text().split(")")[-1].split()
            except OSError:
                continue
            if int(rest[1]) == up.pid and rest[0] == "Z":
                out.append(int(d.name))
        return out
    wait_for(lambda: not pid_alive(relay), 15, what="old relay gone")
    wait_for(lambda: _ok(api), 30, what="orchestrator restarted")
    time.sleep(1.5)
    assert zombies() == []
    assert up.stop() == 0


def test_watchdog_restarts_a_stopped_relay(stack):
    stack.add_channel("example")
    proc, api = orchlib.start_orchestrator(stack, settings={"relays": {"watchdog_timeout": "2s"}})
    pid = orchlib.wait_active(api, "example", 15)["pid"]
    os.kill(pid, signal.SIGSTOP)
    try:
        def restarted():
            st, ch, _ = api.get("/api/v1/channels/example")
            return ch if ch["pid"] and ch["pid"] != pid else None
        ch = wait_for(restarted, 20, what="watchdog restart")
        assert ch["watchdog_restarts"] == 1 and ch["restarts"] >= 1
        wait_for(lambda: not pid_alive(pid), 5, what="hung relay killed")
        orchlib.wait_active(api, "example", 15)
        assert "killed by the watchdog" in proc.output()
    finally:
        if pid_alive(pid):
            os.kill(pid, signal.SIGCONT)


OVERFLOW = [
    ("start=9999-12-31T00:00:00Z&duration=PT1S", "start"),
    ("start=1600-01-01T00:00:00Z&duration=PT1S", "start"),
    ("start=2262-04-11T23:47:16Z&duration=PT5S", "duration"),
    ("start=2025-01-23T14:00:00Z&duration=213503d", "duration"),
    ("start=2025-01-23T14:00:00Z&duration=P213503D", "duration"),
    ("start=2025-01-23T14:00:00Z&duration=P99999999999999999999W", "duration"),
    ("start=1677-09-22T00:00:00Z&end=2262-04-10T00:00:00Z", "end"),
    ("start=now-300000000d&duration=PT1S", "start"),
    ("start=2025-01-23 14:00:00&duration=PT1S", "start"),
]


def test_bad_input_is_400_never_500(stack):
    stack.add_channel("example")
    pivot_helpers.write_pivot_config(stack)
    pp = free_tcp_port()
    _, papi = start_server(stack, "pivot", pp)
    for query, param in OVERFLOW:
        st, body, _ = papi.get("/api/v1/pivot/export?" + query.replace(" ", "%20") + "&channels=example")
        assert st in (400, 413), (query, st, body)
        assert body["error"].startswith(param + ":"), (query, body)
    for target in ("/api/v1/%ff", "/api/v1/channels?x=%c3%28", "/api/v1/pivot/export?start=%ed%a0%80"):
        status, data = raw_get(pp, target)
        assert status == 400, (target, status)
        assert json.loads(data.split(b"\r\n\r\n", 1)[1])["status"] == 400
    oport = free_tcp_port()
    (stack.config_dir / "token.txt").write_text("s3cr3t-value")
    _, oapi = orchlib.start_orchestrator(stack, port=oport)
    st, body, _ = oapi.post("/api/v1/channels", {"name": "leak", "schema_path": "token.txt"})
    assert st == 400 and "s3c" not in body["error"], body
    (stack.config_dir / "agents" / "broken.avsc").write_text("s3cr3t-value")
    st, body, _ = oapi.post("/api/v1/channels", {"name": "leak", "schema_path": "agents/broken.avsc"})
    assert st == 400 and "s3c" not in body["error"] and "invalid JSON" in body["error"], body


def test_websocket_frames_sent_with_the_upgrade_are_read(stack):
    stack.add_channel("example")
    sp = free_tcp_port()
    start_server(stack, "stripchart", sp)
    msg = json.dumps({"type": "ping", "t": 42}).encode()
    mask = b"\x01\x02\x03\x04"
    frame = bytes([0x81, 0x80 | len(msg)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(msg))
    head = ("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", sp), timeout=5) as s:
        s.sendall(head + frame)  # one write: the frame arrives in the same read as the request
        data = b""
        deadline = time.monotonic() + 5
        while b'"pong"' not in data and time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    assert data.startswith(b"HTTP/1.1 101")
    assert b'"pong"' in data and b'"t":42' in data
