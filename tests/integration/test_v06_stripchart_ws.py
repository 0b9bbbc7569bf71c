"""The earlier (v0.6) pages' WebSocket on our stripchart server: the root path pushes one flat
JSON object per record (time as ISO 8601), as the earlier stripchart/server/server.js did;
every record arrives, in order, with its values; a channel filter; the token and the Host
rule apply to it; GET / is still the dashboard page; a client that stops reading loses whole
batches (counted), never delays a reading one, and the server's memory stays bounded."""
import datetime
import json
import socket
import time

import yaml

import sdtest
from sdtest import wait_for
from stripchart_ws import WsClient, http_json, wait_http


def free_tcp_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_stripchart(stack, queue_limit=64, extra=None):
    port = free_tcp_port()
    cfg = {"http": {"bind": "127.0.0.1", "port": port}, "client_queue_limit": queue_limit,
           "orchestrator": {"poll_interval": 0}}
    cfg.update(extra or {})
    (stack.config_dir / "stripchart.yaml").write_text(yaml.safe_dump(cfg))
    p = stack.start("stripchart", name="stripchart")
    wait_http(port)
    assert p.alive(), p.output()
    return p, port


def iso_ms(ns):
    ms = ns // 1_000_000
    d = datetime.datetime.fromtimestamp(ms // 1000, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def legacy_messages(client, n, timeout=15):
    out = []
    client.sock.settimeout(timeout)
    while len(out) < n:
        kind, m = client.recv()
        assert kind == "text", "the earlier pages get text messages only"
        out.append(m)
    return out


def test_one_flat_object_per_record_time_as_iso(stack):
    stack.add_channel("example", decimation={"factor": 1})
    stack.add_channel("temperature", schema="agents/temperature.avsc", decimation={"factor": 1})
    stack.start_relay("example")
    stack.start_relay("temperature")
    sc, port = start_stripchart(stack)
    # The earlier frontend.js connects to ws://localhost:8081 (the root path, Host localhost).
    old = WsClient("localhost", port, path="/")
    only_temp = WsClient("127.0.0.1", port, path="/?channel=temperature")
    ours = WsClient("127.0.0.1", port, path="/ws")
    assert ours.recv()[1]["type"] == "hello"  # /ws is still this version's protocol

    schema = sdtest.load_schema(stack.config_dir / "agents" / "example.avsc")
    t0 = time.time_ns()
    recs = [sdtest.example_record(i, t0=t0) for i in range(300)]
    wait_for(lambda: http_json(port, "/api/v1/status")["server"]["legacy_clients"] == 2, 5, what="two pages")
    sdtest.send_datagrams(stack.relay_cfg["channels"]["example"]["port"], [sdtest.encode(schema, r) for r in recs])
    got = legacy_messages(old, len(recs))
    for rec, msg in zip(recs, got):
        assert list(msg) == list(rec), "flat: the record's fields, in schema order"
        assert msg["time"] == iso_ms(rec["time"])
        for k, v in rec.items():
            if k != "time":
                assert msg[k] == v, (k, msg[k], v)

    # The channel filter: temperature records only (the built-in temperature source's record).
    tschema = sdtest.load_schema(stack.config_dir / "agents" / "temperature.avsc")
    fields = [f.name for f in tschema.fields]
    r = stack.run("send", "--channel", "temperature", "--count", "3", "--rate", "100", timeout=30)
    assert r.returncode == 0, r.stderr
    for m in legacy_messages(only_temp, 3):
        assert list(m) == fields
        assert m["time"].endswith("Z") and m["time"][4] == "-" and m["time"][10] == "T"
        sent = datetime.datetime.fromisoformat(m["time"].replace("Z", "+00:00")).timestamp()
        assert abs(sent - time.time()) < 60  # the channel's time unit applied (not ns read as ms)
    # ...which the unfiltered page gets too, after the example records.
    assert list(legacy_messages(old, 1)[0]) == fields

    status = http_json(port, "/api/v1/status")
    assert status["server"]["legacy_clients"] == 2
    assert status["counters"]["legacy_records"] >= len(recs) + 1
    # GET / without an upgrade is still the dashboard.
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
        assert r.status == 200 and b"<html" in r.read().lower()
    for c in (old, only_temp, ours):
        c.close()
    wait_for(lambda: http_json(port, "/api/v1/status")["server"]["legacy_clients"] == 0, 5, what="clients gone")
    assert sc.stop() == 0


def test_token_and_host_rules_hold_on_the_root_websocket(stack):
    stack.add_channel("example", decimation={"factor": 1})
    (stack.config_dir / "token").write_text("s3cret\n")
    stack.global_cfg["auth"] = {"token_file": "token"}
    stack.write_config()
    sc, port = start_stripchart(stack)
    # The page itself (index.html at /) stays open; the data on / needs the token.
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
        assert r.status == 200
    try:
        WsClient("127.0.0.1", port, path="/")
        raise AssertionError("upgrade on / without the token was accepted")
    except ConnectionError as e:
        assert " 401 " in str(e).split("\r\n")[0], e
    c = WsClient("127.0.0.1", port, path="/?access_token=s3cret")
    c.close()
    # DNS rebinding: a Host that does not name the loopback is refused on a loopback bind.
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /?access_token=s3cret HTTP/1.1\r\nHost: evil.example:8081\r\nUpgrade: websocket\r\n"
              b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    assert b" 403 " in s.recv(4096).split(b"\r\n")[0]
    s.close()
    assert sc.stop() == 0


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class TextReader:
    """Reads a WebSocket's text messages fast enough for 10k/s (no copying per message)."""

    def __init__(self, client):
        self.sock = client.sock
        self.buf = bytearray(client.buf)
        self.off = 0

    def messages(self, timeout):
        self.sock.settimeout(timeout)
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("closed")
        self.buf += chunk
        out = []
        while True:
            b, off = self.buf, self.off
            if len(b) - off < 2:
                break
            n, hdr = b[off + 1] & 0x7F, 2
            if n == 126:
                if len(b) - off < 4:
                    break
                n, hdr = int.from_bytes(b[off + 2:off + 4], "big"), 4
            elif n == 127:
                if len(b) - off < 10:
                    break
                n, hdr = int.from_bytes(b[off + 2:off + 10], "big"), 10
            if len(b) - off < hdr + n:
                break
            assert b[off] & 0x0F == 1, "text frames only"
            out.append(json.loads(bytes(b[off + hdr:off + hdr + n])))
            self.off = off + hdr + n
        if self.off > (1 << 20):
            del self.buf[:self.off]
            self.off = 0
        return out


def test_a_page_that_stops_reading_loses_batches_not_the_others_records(stack):
    stack.add_channel("example", decimation={"factor": 1})
    stack.start_relay("example")
    sc, port = start_stripchart(stack, queue_limit=8)
    stalled = WsClient("127.0.0.1", port, path="/", rcvbuf=4096)  # never reads
    reader = TextReader(WsClient("127.0.0.1", port, path="/"))
    wait_for(lambda: http_json(port, "/api/v1/status")["server"]["legacy_clients"] == 2, 5, what="two pages")
    sender = stack.start("send", "--channel", "example", "--rate", "10000", "--per-datagram", "10",
                         "--count", "30000", name="send")
    got, rss, counters = 0, [], []
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < 3:
        try:
            msgs = reader.messages(timeout=0.5)
        except socket.timeout:
            continue
        if msgs:
            quiet_since = time.monotonic()
        counters.extend(m["counter"] for m in msgs)
        got += len(msgs)
        if len(rss) < got // 3000:
            rss.append(rss_kib(sc.pid))
    sender.stop()
    assert got > 20000, got
    assert all(b > a for a, b in zip(counters, counters[1:])), "in order"
    st = http_json(port, "/api/v1/status")
    # The reading page got every record the server encoded; the stalled page's were dropped.
    assert got == st["counters"]["legacy_records"], (got, st["counters"])
    assert st["server"]["legacy_records_dropped"] > 0, st["server"]
    assert max(rss) - rss[0] < 40 * 1024, rss
    stalled.close()
    reader.sock.close()
    assert sc.stop() == 0
