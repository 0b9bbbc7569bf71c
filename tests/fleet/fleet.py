"""A fleet of hosts on this machine, for the fleet tests and benchmarks (docs/fleet.md).

Each "host" is a network namespace (`ip netns`) with its own loopback (multicast on, as
tests/netns-run gives) and an eth0 (a veth pair) on a bridge made for the test, addresses
10.77.0.1..N/24; the bridge itself is 10.77.0.254, so the test process (in the namespace
tests/netns-run made) reaches every host's servers. Each host runs a `nats-server` cluster
member (JetStream on, its store in the test's tmp dir, routes to the others) and a SpeedData
stack (`speeddata up`, or the orchestrator alone) with its own config and data directories and
`cluster.nats` pointing at its local member.

Everything runs inside the namespace tests/netns-run made (never the machine's own), so
nothing can leave the machine; every process gets PR_SET_PDEATHSIG, and close() (always run by
the fixture) stops the processes and deletes the namespaces and the bridge.
"""
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import sdtest  # noqa: E402

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"
CLIENT_PORT, ROUTE_PORT, MONITOR_PORT = 4222, 6222, 8222
ORCH_PORT, STRIP_PORT, PIVOT_PORT = 8080, 8081, 8000

_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent():
    _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: a killed test leaves nothing running


def sh(*args, check=True):
    r = subprocess.run(list(args), capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {r.stderr.strip()}")
    return r


class Proc(sdtest.Proc):
    def __init__(self, args, log_path, env=None):
        self.args = args
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.p = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                  preexec_fn=_die_with_parent)


def http(method, url, body=None, timeout=5.0):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw[:1] in (b"{", b"[") else raw)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw


class Host:
    def __init__(self, fleet, index):
        self.fleet = fleet
        self.index = index
        self.name = f"h{index}"
        self.ns = f"sd{fleet.tag}h{index}"
        self.addr = f"10.77.0.{index}"
        self.root = fleet.tmp / self.name
        self.config_dir = self.root / "config"
        self.data_dir = self.root / "data"
        self.nats = None
        self.stack = None
        self.procs = []

    # -- processes inside the namespace
    def popen(self, args, log_name, env=None):
        full_env = dict(os.environ, **(env or {}))
        p = Proc(["ip", "netns", "exec", self.ns, *args], self.root / log_name, env=full_env)
        self.procs.append(p)
        return p

    def run(self, args, timeout=60, **kw):
        return subprocess.run(["ip", "netns", "exec", self.ns, *args], capture_output=True, text=True,
                              timeout=timeout, **kw)

    def url(self, port, path):
        return f"http://{self.addr}:{port}{path}"

    def api(self, method, path, body=None, port=ORCH_PORT):
        return http(method, self.url(port, path), body)

    def api_local(self, method, path, body=None, port=ORCH_PORT):
        """The same request from inside the host, to its loopback (while its link is cut)."""
        code = ("import json,sys; sys.path.insert(0, %r); import fleet; "
                "print(json.dumps(fleet.http(%r, %r, json.loads(%r))))"
                % (str(Path(__file__).parent), method, f"http://127.0.0.1:{port}{path}", json.dumps(body)))
        r = self.run([sys.executable, "-c", code], timeout=30)
        assert r.returncode == 0, r.stderr
        return tuple(json.loads(r.stdout))

    # -- NATS
    def start_nats(self):
        store = self.root / "jetstream"
        store.mkdir(parents=True, exist_ok=True)
        routes = ",".join(f"nats://10.77.0.{i}:{ROUTE_PORT}" for i in range(1, self.fleet.n + 1))
        self.nats = self.popen([NATS_SERVER, "-a", "0.0.0.0", "-p", str(CLIENT_PORT), "-n", self.name,
                                "-js", "-sd", str(store), "--cluster_name", "sdfleet",
                                "--cluster", f"nats://{self.addr}:{ROUTE_PORT}", "--routes", routes,
                                "-m", str(MONITOR_PORT), *self.fleet.nats_args], "nats.log")

    def stop_nats(self):
        if self.nats and self.nats.alive():
            self.nats.stop()

    def set_link(self, up):
        """Cuts (or restores) the host's eth0: with its NATS member stopped too, the host has
        no NATS at all (the client would otherwise fail over to another member)."""
        sh("ip", "-n", self.ns, "link", "set", "eth0", "up" if up else "down")
        if up:
            sh("ip", "-n", self.ns, "addr", "replace", f"{self.addr}/24", "dev", "eth0")

    def jsz(self):
        try:
            return http("GET", self.url(MONITOR_PORT, "/jsz"), timeout=2)[1]
        except OSError:
            return None

    # -- SpeedData
    def write_config(self, channels=None):
        self.config_dir.mkdir(parents=True, exist_ok=True)
        (self.config_dir / "agents").mkdir(exist_ok=True)
        for f in (sdtest.REPO / "config" / "agents").glob("*.avsc"):
            shutil.copy(f, self.config_dir / "agents")
        glob = {
            "multicast": {"interface": "127.0.0.1", "ttl": 0},
            "storage": {"root": str(self.data_dir), "avro_path": str(self.data_dir / "avro"),
                        "state_path": str(self.data_dir / "state"), "tags_path": str(self.data_dir / "tags")},
            # The test network is closed: no token needed on the bridge address.
            "auth": {"mode": "none"},
            "cluster": {"nats": f"nats://127.0.0.1:{CLIENT_PORT}", "host": self.name, **self.fleet.cluster},
        }
        for name, text in self.fleet.config_files.items():  # e.g. a NATS password file, certificates
            (self.config_dir / name).write_text(text)
        (self.config_dir / "global.yaml").write_text(json.dumps(glob))
        (self.config_dir / "relay.yaml").write_text(json.dumps({"channels": channels or {}}))
        (self.config_dir / "orchestrator.yaml").write_text(json.dumps(
            {"http": {"bind": "0.0.0.0", "port": ORCH_PORT},
             "restart": {"initial_delay": "100ms", "max_delay": "1s"}}))
        (self.config_dir / "stripchart.yaml").write_text(json.dumps(
            {"http": {"bind": "0.0.0.0", "port": STRIP_PORT}, "orchestrator": {"poll_interval": "500ms"}}))
        (self.config_dir / "pivot.yaml").write_text(json.dumps({"http": {"bind": "0.0.0.0", "port": PIVOT_PORT}}))

    def start_stack(self, what="up"):
        """what: "up" (orchestrator, stripchart, pivot) or "orchestrator" (alone)."""
        env = {"SPEEDDATA_CONFIG": str(self.config_dir)}
        args = [sdtest.BIN, what, "--config-dir", str(self.config_dir)]
        self.stack = self.popen(args, f"{what}.log", env=env)
        sdtest.wait_for(lambda: self._health(ORCH_PORT), timeout=60, what=f"{self.name} orchestrator")
        if what == "up":
            sdtest.wait_for(lambda: self._health(STRIP_PORT) and self._health(PIVOT_PORT), timeout=60,
                            what=f"{self.name} stripchart and pivot")

    def stop_stack(self):
        if self.stack and self.stack.alive():
            self.stack.stop(timeout=20)

    def _health(self, port):
        try:
            return http("GET", self.url(port, "/api/v1/health"), timeout=2)[0] == 200
        except OSError:
            return False

    def channels(self):
        status, body = self.api("GET", "/api/v1/channels")
        assert status == 200, body
        return {c["name"]: c for c in body["channels"]}

    def log(self, name):
        p = self.root / name
        return p.read_text(errors="replace") if p.exists() else ""


class Fleet:
    def __init__(self, tmp, n=3, nats_args=(), cluster=None, config_files=None):
        """nats_args: more nats-server options (TLS, users); cluster: more cluster.* keys of
        every host's global.yaml; config_files: {name: text} written to every config dir."""
        self.nats_args = list(nats_args)
        self.cluster = dict(cluster or {})
        self.config_files = dict(config_files or {})
        if os.environ.get("SPEEDDATA_IN_NETNS") != "1":
            raise RuntimeError("run through tests/netns-run: the fleet's namespaces live inside its namespace")
        self.tmp = Path(tmp)
        self.n = n
        self.tag = f"{os.getpid() % 100000}"
        self.bridge = f"sdbr{self.tag}"
        self.hosts = [Host(self, i) for i in range(1, n + 1)]
        self._made_ns = []
        self._made_bridge = False
        try:
            self._network()
        except Exception:
            self.close()
            raise

    def _network(self):
        sh("ip", "link", "add", self.bridge, "type", "bridge")
        self._made_bridge = True
        sh("ip", "addr", "add", "10.77.0.254/24", "dev", self.bridge)
        sh("ip", "link", "set", self.bridge, "up")
        for h in self.hosts:
            sh("ip", "netns", "add", h.ns)
            self._made_ns.append(h.ns)
            outer = f"sdv{self.tag}{h.index}"
            sh("ip", "link", "add", outer, "type", "veth", "peer", "name", "eth0", "netns", h.ns)
            sh("ip", "link", "set", outer, "master", self.bridge, "up")
            sh("ip", "-n", h.ns, "addr", "add", f"{h.addr}/24", "dev", "eth0")
            sh("ip", "-n", h.ns, "link", "set", "eth0", "up")
            sh("ip", "-n", h.ns, "link", "set", "lo", "up", "multicast", "on")
            # Multicast stays on each host's loopback (tests/netns-run's rule, per host).
            sh("ip", "-n", h.ns, "route", "add", "239.0.0.0/8", "dev", "lo")

    def start_nats(self, timeout=60):
        for h in self.hosts:
            h.start_nats()
        self.wait_jetstream(timeout)

    def wait_jetstream(self, timeout=60, hosts=None):
        """Until every (given) member sees a JetStream meta leader and the whole cluster."""
        hosts = hosts or self.hosts

        def ready():
            for h in hosts:
                j = h.jsz()
                if not isinstance(j, dict):
                    return False
                meta = j.get("meta_cluster") or {}
                if not meta.get("leader") or meta.get("cluster_size", 0) < self.n:
                    return False
            return True
        sdtest.wait_for(ready, timeout=timeout, interval=0.2, what="the JetStream cluster")

    def start(self, what="up", channels=None):
        """NATS on every host, then the stacks (channels: relay.yaml channels per host index)."""
        self.start_nats()
        for h in self.hosts:
            h.write_config((channels or {}).get(h.index))
        for h in self.hosts:
            h.start_stack(what)

    def close(self):
        for h in self.hosts:
            for p in reversed(h.procs):
                try:
                    if p.alive():
                        p.stop(timeout=20)
                except Exception:
                    pass
        for ns in self._made_ns:
            sh("ip", "netns", "del", ns, check=False)
        if self._made_bridge:
            sh("ip", "link", "del", self.bridge, check=False)
