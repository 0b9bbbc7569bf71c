"""Test helpers: real processes, real sockets, real files. Multicast tests run inside the
private network namespace that tests/netns-run gives every Python test file."""
import io
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import avro.io
import avro.schema
import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = os.environ.get("SPEEDDATA_BIN", str(REPO / "build" / "speeddata"))
BUILD_DIR = Path(os.environ.get("SPEEDDATA_BUILD_DIR", str(REPO / "build")))
IN_NETNS = os.environ.get("SPEEDDATA_IN_NETNS") == "1"


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=10.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# ---- Avro helpers (python3-avro is the independent oracle) ---------------------------------

def load_schema(path):
    return avro.schema.parse(Path(path).read_text())


def encode(schema, record):
    buf = io.BytesIO()
    avro.io.DatumWriter(schema).write(record, avro.io.BinaryEncoder(buf))
    return buf.getvalue()


def decode_all(schema, payload, count=None):
    buf = io.BytesIO(payload)
    dec = avro.io.BinaryDecoder(buf)
    reader = avro.io.DatumReader(schema)
    out = []
    while buf.tell() < len(payload) and (count is None or len(out) < count):
        out.append(reader.read(dec))
    assert buf.tell() == len(payload), "trailing bytes after the datums"
    return out


def read_container(path):
    """Records of one container file, read by python3-avro."""
    import avro.datafile
    with open(path, "rb") as f:
        with avro.datafile.DataFileReader(f, avro.io.DatumReader()) as r:
            meta = {k: v for k, v in r.meta.items()}
            return list(r), meta


def example_record(i, t0=1_700_000_000_000_000_000):
    import math
    return {
        "time": t0 + i * 1_000_000,
        "message": ["alpha", "bravo", "charlie", "delta"][i % 4] * (1 + i % 3),
        "counter": i,
        "sine_wave": math.sin(2 * math.pi * i / 20),
        "ramp": (i % 40) / 40 * 2 - 1,
        "square_wave": 1.0 if i % 20 < 10 else -1.0,
        "noise": ((i * 7919) % 1000) / 1000 - 0.5,
    }


# ---- multicast ------------------------------------------------------------------------------

MCAST_FIXED = 28


def parse_mcast(data):
    """Parses the SpeedData multicast header (docs/wire-format.md)."""
    assert data[:4] == b"SDM1", data[:4]
    version, flags, hlen, fp, seq, count, nlen = struct.unpack_from("<BBHQQHB", data, 4)
    assert version == 1
    channel = data[MCAST_FIXED:MCAST_FIXED + nlen].decode()
    return {"flags": flags, "header_length": hlen, "fingerprint": fp, "sequence": seq,
            "count": count, "channel": channel, "payload": data[hlen:]}


class DatagramCollector:
    """Collects every datagram of a bound UDP socket in a thread, into .datagrams."""

    def __init__(self, sock):
        self.sock = sock
        self.sock.settimeout(0.1)
        self.datagrams = []
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop:
            try:
                self.datagrams.append(self.sock.recv(70000))
            except socket.timeout:
                pass

    def close(self):
        self._stop = True
        self._thread.join()
        self.sock.close()


class McastListener(DatagramCollector):
    """Joins group:port on loopback and collects datagrams in a thread."""

    def __init__(self, group, port, rcvbuf=8 << 20):
        assert IN_NETNS, "multicast tests must run inside tests/netns-run"
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.bind((group, port))
        mreq = socket.inet_aton(group) + socket.inet_aton("127.0.0.1")
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        super().__init__(sock)

    def parsed(self):
        return [parse_mcast(d) for d in list(self.datagrams)]


# ---- processes and config -------------------------------------------------------------------

class Proc:
    def __init__(self, args, log_path, env=None):
        self.args = args
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.p = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                  start_new_session=True)

    @property
    def pid(self):
        return self.p.pid

    def alive(self):
        return self.p.poll() is None

    def output(self):
        if not self.log.closed:
            self.log.flush()
        return Path(self.log_path).read_text(errors="replace")

    def stop(self, timeout=10):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()
        return self.p.returncode

    def kill9(self):
        self.p.send_signal(signal.SIGKILL)
        self.p.wait()
        self.log.close()


class Stack:
    """A config dir + data dir in tmp_path, and the processes started on them."""

    def __init__(self, tmp_path):
        self.root = Path(tmp_path)
        self.config_dir = self.root / "config"
        self.data_dir = self.root / "data"
        (self.config_dir / "agents").mkdir(parents=True)
        for f in (REPO / "config" / "agents").glob("*.avsc"):
            shutil.copy(f, self.config_dir / "agents")
        for f in (REPO / "tests" / "data").glob("*.avsc"):
            shutil.copy(f, self.config_dir / "agents")
        self.procs = []
        self.global_cfg = {
            "multicast": {"full": {"group": "239.1.1.1", "port": 6000},
                          "decimated": {"group": "239.1.1.2", "port": 6001},
                          "interface": "127.0.0.1", "ttl": 1},
            "storage": {"root": str(self.data_dir), "avro_path": str(self.data_dir / "avro"),
                        "state_path": str(self.data_dir / "state"),
                        "tags_path": str(self.data_dir / "tags")},
        }
        self.relay_cfg = {"defaults": {"stats_interval": "1s", "flush_interval": "100ms"}, "channels": {}}

    def add_channel(self, name, schema="agents/example.avsc", port=None, **settings):
        port = port or free_udp_port()
        self.relay_cfg["channels"][name] = {"port": port, "schema": schema, **settings}
        self.write_config()
        return port

    def write_config(self):
        (self.config_dir / "global.yaml").write_text(yaml.safe_dump(self.global_cfg, sort_keys=False))
        (self.config_dir / "relay.yaml").write_text(yaml.safe_dump(self.relay_cfg, sort_keys=False))

    def run(self, *args, timeout=30):
        return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "SPEEDDATA_CONFIG": str(self.config_dir)})

    def start(self, *args, name="proc"):
        env = {**os.environ, "SPEEDDATA_CONFIG": str(self.config_dir)}
        p = Proc([BIN, *args], self.root / f"{name}-{len(self.procs)}.log", env=env)
        self.procs.append(p)
        return p

    def start_relay(self, channel, wait=True):
        p = self.start("relay", "--channel", channel, name=f"relay-{channel}")
        if wait:
            # A status file left by an earlier (killed) relay does not count: wait for this pid's.
            wait_for(lambda: (self.status(channel) or {}).get("pid") == p.pid or not p.alive(), 10,
                     what="relay status file")
            assert p.alive(), p.output()
        return p

    def status_path(self, channel):
        return self.data_dir / "state" / "relays" / f"{channel}.json"

    def status(self, channel):
        try:
            return json.loads(self.status_path(channel).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def counters(self, channel):
        s = self.status(channel)
        return s["counters"] if s else {}

    def avro_files(self, channel):
        return sorted((self.data_dir / "avro" / channel).glob(f"{channel}_*.avro"))

    def cached_records(self, channel):
        out = []
        for f in self.avro_files(channel):
            recs, _ = read_container(f)
            out.extend(recs)
        return out

    def close(self):
        for p in self.procs:
            if p.alive():
                p.stop()


def send_datagrams(port, datagrams, pace_every=50, pause=0.002):
    """Sends raw datagrams to 127.0.0.1:port, pausing briefly so the test is not about loss."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for i, d in enumerate(datagrams):
            s.sendto(d, ("127.0.0.1", port))
            if pace_every and i % pace_every == pace_every - 1:
                time.sleep(pause)


def schema_fingerprint(stack, schema_rel):
    r = stack.run("schema", "fingerprint", str(stack.config_dir / schema_rel))
    assert r.returncode == 0, r.stderr
    return int(r.stdout.strip().split()[-1], 16)
