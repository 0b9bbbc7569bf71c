"""The stripchart server against a real relay's decimated multicast, over a real WebSocket:
values and ordering, a slow client beside a fast one (bounded memory), malformed datagrams,
unknown fingerprints and sequence-gap loss."""
import json
import math
import socket
import struct
import threading
import time

import pytest
import yaml

from sdtest import BIN, IN_NETNS, encode, example_record, load_schema, schema_fingerprint, wait_for
from stripchart_ws import WsClient, http_json, parse_frame, wait_http

pytestmark = pytest.mark.skipif(not IN_NETNS, reason="needs tests/netns-run (multicast)")


def free_tcp_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_stripchart(stack, frame_rate=30, queue_limit=64):
    port = free_tcp_port()
    (stack.config_dir / "stripchart.yaml").write_text(yaml.safe_dump({
        "http": {"bind": "127.0.0.1", "port": port}, "frame_rate": frame_rate,
        "client_queue_limit": queue_limit, "orchestrator": {"poll_interval": 0}}))
    p = stack.start("stripchart", name="stripchart")
    wait_http(port)
    assert p.alive(), p.output()
    return p, port


def subscribe(port, signals, **kw):
    c = WsClient("127.0.0.1", port, **kw)
    c.send_json({"type": "subscribe", "signals": signals})
    return c


def signal_ids(port):
    return {s["name"]: s["id"] for s in http_json(port, "/api/v1/signals")["signals"]}


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def test_values_and_ordering_from_a_real_relay(stack):
    stack.add_channel("example", decimation={"factor": 1, "algorithm": "downsample"})
    stack.start_relay("example")
    sc, port = start_stripchart(stack)
    ids = signal_ids(port)
    assert {"example.counter", "example.sine_wave", "example.ramp", "example.noise"} <= set(ids)
    assert "example.time" not in ids and "example.message" not in ids  # time is the abscissa, message a string
    c = subscribe(port, ["example.counter", "example.sine_wave"])
    got = {"example.counter": ([], []), "example.sine_wave": ([], [])}
    by_id = {v: k for k, v in ids.items()}
    n = 400
    r = stack.run("send", "--channel", "example", "--count", str(n), "--rate", "2000", timeout=30)
    assert r.returncode == 0, r.stderr
    deadline = time.time() + 10
    latest = None
    while time.time() < deadline and len(got["example.counter"][0]) < n:
        kind, m = c.recv()
        if kind == "binary":
            seq, dropped, segs = parse_frame(m)
            assert dropped == 0
            for sid, (t, v) in segs.items():
                assert by_id[sid] in got, "a signal that was not subscribed arrived"
                got[by_id[sid]][0].extend(t)
                got[by_id[sid]][1].extend(v)
        elif m["type"] == "status":
            latest = m
    t, counters = got["example.counter"]
    assert len(counters) == n
    # Ordering: counters consecutive, times strictly increasing
    assert counters == [counters[0] + i for i in range(n)]
    assert all(b > a for a, b in zip(t, t[1:]))
    # Values: the example source's sine is sin(2*pi*counter/20), same time stamps
    ts, sines = got["example.sine_wave"]
    assert ts == t
    for k, s in zip(counters, sines):
        assert s == pytest.approx(math.sin(2 * math.pi * k / 20), abs=1e-12)
    # Times are ms since the epoch, close to now (speeddata send stamps wall-clock time)
    assert abs(t[-1] - time.time() * 1000) < 60_000
    # Latest values: every field, time as ISO 8601
    deadline = time.time() + 3
    while time.time() < deadline:
        kind, m = c.recv()
        if kind == "text" and m["type"] == "status":
            latest = m
            if latest["channels"]["example"].get("values", {}).get("counter") == counters[-1]:
                break
    ch = latest["channels"]["example"]
    assert ch["values"]["counter"] == counters[-1]
    assert isinstance(ch["values"]["message"], str) and ch["values"]["message"]
    assert ch["time"].endswith("Z") and ch["time"][:2] == "20"
    assert ch["lost"] == 0
    c.close()
    assert sc.stop() == 0


def test_slow_client_does_not_delay_a_fast_one_and_memory_stays_bounded(stack):
    stack.add_channel("example", decimation={"factor": 1, "algorithm": "downsample"})
    stack.start_relay("example")
    sc, port = start_stripchart(stack, frame_rate=30, queue_limit=16)
    everything = ["example.*"]
    slow = subscribe(port, everything, rcvbuf=4096)  # never reads while the data flows
    fast = subscribe(port, everything)
    sender = stack.start("send", "--channel", "example", "--rate", "20000", "--per-datagram", "10",
                         "--duration", "6", name="send")
    arrivals, fast_dropped, samples = [], 0, 0
    rss = []
    end = time.time() + 5
    while time.time() < end:
        kind, m = fast.recv()
        if kind == "binary":
            arrivals.append(time.monotonic())
            _, dropped, segs = parse_frame(m)
            fast_dropped += dropped
            samples += sum(len(t) for t, _ in segs.values())
        if len(arrivals) % 15 == 0:
            rss.append(rss_kib(sc.pid))
    sender.stop()
    gaps = sorted(b - a for a, b in zip(arrivals, arrivals[1:]))
    assert len(arrivals) > 100, len(arrivals)
    assert fast_dropped == 0
    assert gaps[len(gaps) // 2] < 0.06 and gaps[-1] < 0.5, (gaps[len(gaps) // 2], gaps[-1])
    assert samples > 5 * 20000 * 2  # 6 numeric signals at ~20 kHz for ~5 s, minus start-up
    stats = http_json(port, "/api/v1/status")["server"]
    assert stats["frames_dropped"] > 0  # the slow client's
    # Memory: after the first second, RSS does not keep growing with the slow client's backlog
    warm = rss[len(rss) // 5]
    assert max(rss) - warm < 40 * 1024, (warm, max(rss))
    # The slow client, once it reads, is told how many frames it missed
    slow.sock.settimeout(5)
    told = 0
    for _ in range(200):
        kind, m = slow.recv()
        if kind == "binary":
            told += parse_frame(m)[1]
            if told:
                break
    assert told > 0
    slow.close()
    fast.close()
    assert sc.stop() == 0


def mcast_header(fingerprint, seq, count, channel=b"example", flags=1):
    hl = 28 + len(channel)
    return (b"SDM1" + bytes([1, flags]) + struct.pack("<HQQH", hl, fingerprint, seq, count)
            + bytes([len(channel), 0]) + channel)


def test_malformed_unknown_fingerprint_and_loss_are_counted_and_ignored(stack):
    stack.add_channel("example")
    sc, port = start_stripchart(stack)
    fp = schema_fingerprint(stack, "agents/example.avsc")
    schema = load_schema(stack.config_dir / "agents" / "example.avsc")
    c = subscribe(port, ["example.counter"])
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    out.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
    out.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
    dest = ("239.1.1.2", 6001)
    t0 = int(time.time() * 1e9)
    good = lambda seq, i: mcast_header(fp, seq, 1) + encode(schema, example_record(i, t0))
    out.sendto(good(0, 0), dest)
    for junk in (b"", b"x", b"SDM1", b"SDM1\x02" + bytes(40), bytes(100)):
        out.sendto(junk, dest)  # 5 not SpeedData datagrams
    for k in range(3):
        out.sendto(mcast_header(fp ^ 0xDEAD, k, 1) + encode(schema, example_record(1, t0)), dest)  # unknown
    out.sendto(mcast_header(fp, 1, 1) + encode(schema, example_record(1, t0))[:5], dest)  # truncated record
    out.sendto(mcast_header(fp, 2, 2) + encode(schema, example_record(2, t0)), dest)  # count says 2, has 1
    out.sendto(good(10, 10), dest)  # sequence 3..9 missing: 7 lost
    out.sendto(good(11, 11), dest)

    def status():
        return http_json(port, "/api/v1/status")
    wait_for(lambda: status()["counters"]["datagrams"] >= 13, 5, what="datagrams counted")
    s = status()
    assert s["counters"]["malformed"] == 7
    assert s["counters"]["unknown_fingerprint"] == 3
    assert list(s["unknown_fingerprints"].values()) == [3]
    assert s["channels"]["example"]["lost"] == 7
    ev = s["channels"]["example"]["loss_events"]
    assert len(ev) == 1 and ev[0]["missing"] == 7
    assert ev[0]["time_ms"] == pytest.approx((t0 + 10 * 1_000_000) / 1e6)
    # The good records got through, in order, the bad ones did not; the truncated datagram
    # and the short one still delivered nothing bad (record 2 arrives: its datum was valid).
    counters = []
    deadline = time.time() + 5
    while time.time() < deadline and (not counters or counters[-1] != 11):
        kind, m = c.recv()
        if kind == "binary":
            for t, v in parse_frame(m)[2].values():
                counters.extend(v)
    assert counters == [0, 2, 10, 11]
    c.close()
    assert sc.stop() == 0


def test_bad_control_messages_get_errors_and_sigint_exits_cleanly(stack):
    stack.add_channel("example")
    sc, port = start_stripchart(stack)
    c = WsClient("127.0.0.1", port)
    c.send_json({"type": "subscribe", "signals": "example.counter"})
    c.send_json({"type": "nonsense"})
    errors = []
    deadline = time.time() + 5
    while len(errors) < 2 and time.time() < deadline:
        kind, m = c.recv()
        if kind == "text" and m["type"] == "error":
            errors.append(m["error"])
    assert "signals" in errors[0] and "nonsense" in errors[1]
    c.close()
    # Unknown API path: JSON 404
    import urllib.error
    import urllib.request
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/nope", timeout=5)
    assert e.value.code == 404
    import signal
    sc.p.send_signal(signal.SIGINT)
    assert sc.p.wait(10) == 0


def test_channel_registered_later_in_the_registry_is_picked_up(stack):
    """A channel that relay.yaml did not have when the stripchart started, announced by the
    orchestrator's registry API (served here by a small HTTP server in the test), shows up
    in the signal list and its data flows."""
    import http.server
    stack.add_channel("example")
    reg_port = free_tcp_port()
    late_schema = (stack.config_dir / "agents" / "temperature.avsc").read_text()
    registry = {"channels": [{"name": "example"}]}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/api/v1/channels":
                body = json.dumps(registry).encode()
            elif self.path == "/api/v1/channels/late/schema":
                body = late_schema.encode()
            elif self.path == "/api/v1/channels/example/schema":
                body = (stack.config_dir / "agents" / "example.avsc").read_bytes()
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", reg_port), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        port = free_tcp_port()
        (stack.config_dir / "stripchart.yaml").write_text(yaml.safe_dump({
            "http": {"port": port}, "orchestrator": {"port": reg_port, "poll_interval": "200ms"}}))
        sc = stack.start("stripchart", name="stripchart")
        wait_http(port)
        c = subscribe(port, ["late.temperature_c"])  # not known yet: kept until it appears
        assert "late.temperature_c" not in signal_ids(port)
        # Register it: relay.yaml for the relay, the registry for the stripchart.
        stack.add_channel("late", schema="agents/temperature.avsc", decimation={"factor": 1})
        registry["channels"].append({"name": "late", "time_field": "time"})
        wait_for(lambda: "late.temperature_c" in signal_ids(port), 5, what="late channel learned")
        stack.start_relay("late")
        r = stack.run("send", "--channel", "late", "--count", "5", "--rate", "50")
        assert r.returncode == 0, r.stderr
        lid = signal_ids(port)["late.temperature_c"]
        vals = []
        deadline = time.time() + 5
        while len(vals) < 5 and time.time() < deadline:
            kind, m = c.recv()
            if kind == "binary":
                vals.extend(parse_frame(m)[2].get(lid, ((), ()))[1])
        assert len(vals) == 5 and all(-50 < v < 60 for v in vals)
        c.close()
        assert sc.stop() == 0
    finally:
        srv.shutdown()
        srv.server_close()


def test_channel_registered_with_the_real_orchestrator_shows_up(stack):
    """`speeddata orchestrator` registers a channel (POST /api/v1/channels) after the
    stripchart started; the stripchart learns its schema from the registry and shows its data."""
    from orchlib import free_tcp_port as free_port
    from orchlib import start_orchestrator, wait_active
    stack.add_channel("example")
    orch_port = free_port()
    orch, api = start_orchestrator(stack, port=orch_port)
    port = free_tcp_port()
    (stack.config_dir / "stripchart.yaml").write_text(yaml.safe_dump({
        "http": {"port": port}, "orchestrator": {"port": orch_port, "poll_interval": "200ms"}}))
    sc = stack.start("stripchart", name="stripchart")
    wait_http(port)
    c = subscribe(port, ["bench1.*"])
    schema = json.loads((stack.config_dir / "agents" / "temperature.avsc").read_text())
    udp = sdtest_free_udp_port()
    st, body, _ = api.post("/api/v1/channels", {"name": "bench1", "port": udp, "schema": schema,
                                                "config": {"decimation": {"factor": 1}}})
    assert st == 201, body
    wait_active(api, "bench1")
    wait_for(lambda: "bench1.humidity_pct" in signal_ids(port), 5, what="registered channel learned")
    r = stack.run("send", "--source", "temperature", "--port", str(udp), "--count", "5", "--rate", "50")
    assert r.returncode == 0, r.stderr
    hid = signal_ids(port)["bench1.humidity_pct"]
    vals = []
    deadline = time.time() + 5
    while len(vals) < 5 and time.time() < deadline:
        kind, m = c.recv()
        if kind == "binary":
            vals.extend(parse_frame(m)[2].get(hid, ((), ()))[1])
    assert len(vals) == 5 and all(0 <= v <= 100 for v in vals)
    c.close()
    assert sc.stop() == 0
    orch.stop()


def sdtest_free_udp_port():
    from sdtest import free_udp_port
    return free_udp_port()


def test_backfill_on_subscribe_then_live_without_gap_or_duplicate(stack):
    # A page opening late gets the last seconds at once (a frame with sequence 0), and the
    # frames after it continue exactly where it ends.
    stack.add_channel("example", decimation={"factor": 1, "algorithm": "downsample"})
    stack.start_relay("example")
    sc, port = start_stripchart(stack)
    ids = signal_ids(port)
    first = stack.start("send", "--channel", "example", "--rate", "200", "--count", "400", name="send-1")
    wait_for(lambda: not first.alive(), 20, what="first sender done")
    time.sleep(0.3)
    c = subscribe(port, ["example.counter"])
    later = stack.start("send", "--channel", "example", "--rate", "200", "--count", "300", name="send-2")
    got, seqs = [], []
    deadline = time.time() + 15
    while time.time() < deadline and len(got) < 700:
        kind, m = c.recv()
        if kind == "binary":
            seq, dropped, segs = parse_frame(m)
            assert dropped == 0
            seqs.append(seq)
            got.extend(segs.get(ids["example.counter"], ((), ()))[1])
    assert seqs[0] == 0 and 0 not in seqs[1:], seqs[:5]  # one backfill, first
    # Both senders count from 0: 0..399 then 0..299, each sample once, in order.
    assert got == [float(i) for i in range(400)] + [float(i) for i in range(300)], (len(got), got[:5], got[395:405])
    c.close()
    # A client subscribing to a signal it had already is not sent it again.
    c2 = subscribe(port, ["example.counter"])
    c2.send_json({"type": "subscribe", "signals": ["example.counter"]})
    backfills = 0
    end = time.time() + 2
    while time.time() < end:
        try:
            kind, m = c2.recv()
        except (TimeoutError, OSError):
            break
        if kind == "binary" and parse_frame(m)[0] == 0:
            backfills += 1
    assert backfills == 1
    c2.close()


def test_dashboards_config_and_tags_routes(stack):
    stack.add_channel("example", decimation={"factor": 1})
    (stack.config_dir / "pivot.yaml").write_text(yaml.safe_dump({"http": {"port": 8123}}))
    d = stack.config_dir / "dashboards"
    d.mkdir()
    (d / "bench.json").write_text(json.dumps({"title": "Bench", "charts": [{"signals": ["example.ramp"]}]}))
    (d / "broken.json").write_text("{not json")
    (d / "list.json").write_text("[1, 2]")
    (stack.root / "outside.json").write_text(json.dumps({"secret": 1}))
    (d / "escape.json").symlink_to(stack.root / "outside.json")
    (d / "notes.txt").write_text("ignored")
    sc, port = start_stripchart(stack)
    cfg = http_json(port, "/api/v1/config")
    assert cfg["pivot"] == {"port": 8123} and cfg["tags"] is True and cfg["dashboards"] is True
    lst = http_json(port, "/api/v1/dashboards")["dashboards"]
    assert [x["name"] for x in lst] == ["bench", "broken", "list"]  # escape.json points outside: not listed
    assert lst[0]["title"] == "Bench" and "error" in lst[1] and "error" in lst[2]
    assert http_json(port, "/api/v1/dashboards/bench") == {"title": "Bench", "charts": [{"signals": ["example.ramp"]}]}
    assert http_json(port, "/api/v1/dashboards/bench.json")["title"] == "Bench"

    def status(path):
        import urllib.error
        import urllib.request
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())
    for path, code, start in [("/api/v1/dashboards/nope", 404, "name: no dashboard 'nope'"),
                              ("/api/v1/dashboards/escape", 404, "name: no dashboard"),
                              ("/api/v1/dashboards/broken", 400, "dashboard 'broken': broken.json is not a JSON object"),
                              ("/api/v1/dashboards/list", 400, "dashboard 'list'"),
                              ("/api/v1/dashboards/a%20b", 400, "name: 'a b' is not a dashboard name"),
                              ("/api/v1/dashboards/..%2Foutside", 404, "")]:
        st, body = status(path)
        assert st == code and body["error"].startswith(start), (path, st, body)


def test_tags_reach_every_client_when_made(stack):
    stack.add_channel("example", decimation={"factor": 1})
    (stack.config_dir / "pivot.yaml").write_text("{}\n")
    stack.start_relay("example")
    sc, port = start_stripchart(stack)
    c = subscribe(port, [])
    r = stack.run("send", "--channel", "example", "--count", "50", "--rate", "500")
    assert r.returncode == 0, r.stderr
    wait_for(lambda: stack.cached_records("example"), 10, what="cached records")
    t0 = stack.cached_records("example")[0]["time"]
    start = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t0 / 1e9)) + "Z"
    made = time.time()
    r = stack.run("tag", "create", "--name", "from-cli", "--start", start, "--duration", "PT2S", "--channels", "example",
                  "--note", "n")
    assert r.returncode == 0, r.stdout + r.stderr
    tags = None
    while time.time() < made + 10 and tags is None:
        kind, m = c.recv()
        if kind == "text" and m["type"] == "tags" and any(t["name"] == "from-cli" for t in m["tags"]):
            tags = m["tags"]
    assert tags, "no tags message"
    assert time.time() - made < 3
    (t,) = tags
    assert t["channels"] == ["example"] and t["note"] == "n" and t["end_ns"] - t["start_ns"] == 2_000_000_000
    c.close()
    # A client connecting later gets the list with its hello.
    c2 = WsClient("127.0.0.1", port)
    first = [c2.recv() for _ in range(3)]
    assert any(k == "text" and m["type"] == "tags" and m["tags"][0]["name"] == "from-cli" for k, m in first)
    c2.close()


def test_registered_channel_on_a_new_group_is_joined_and_deregistered_channel_leaves(stack):
    # No restart of the stripchart: a channel registered with the orchestrator on a decimated
    # group no channel used before is received; de-registered, it leaves the signal list.
    from orchlib import start_orchestrator
    stack.add_channel("example", decimation={"factor": 1})
    proc, api = start_orchestrator(stack)
    port = free_tcp_port()
    (stack.config_dir / "stripchart.yaml").write_text(yaml.safe_dump({
        "http": {"bind": "127.0.0.1", "port": port},
        "orchestrator": {"poll_interval": "200ms", "port": int(api.base.rsplit(":", 1)[1])}}))
    sc = stack.start("stripchart", name="stripchart")
    wait_http(port)
    udp = sdtest_free_udp_port()
    st, ch, _ = api.post("/api/v1/channels", {"name": "newgroup", "schema_path": "agents/example.avsc", "port": udp,
                                              "config": {"decimation": {"factor": 1},
                                                         "multicast": {"decimated": {"group": "239.1.7.7", "port": 6077}}}})
    assert st == 201, ch
    assert ch["multicast"]["decimated"] == "239.1.7.7:6077", ch
    wait_for(lambda: "newgroup.counter" in signal_ids(port), 10, what="newgroup in the signal list")
    c = subscribe(port, ["newgroup.counter"])
    wait_for(lambda: api.get("/api/v1/channels/newgroup")[1]["status"] == "active", 10, what="relay active")
    r = stack.run("send", "--port", str(udp), "--count", "100", "--rate", "500")
    assert r.returncode == 0, r.stderr
    got = []
    deadline = time.time() + 10
    while time.time() < deadline and len(got) < 100:
        kind, m = c.recv()
        if kind == "binary":
            got.extend(parse_frame(m)[2].get(signal_ids(port)["newgroup.counter"], ((), ()))[1])
    assert got == [float(i) for i in range(100)]
    assert "joined 239.1.7.7:6077" in sc.output()
    st, body, _ = api.delete("/api/v1/channels/newgroup")
    assert st == 200, body
    wait_for(lambda: "newgroup.counter" not in signal_ids(port), 10, what="newgroup gone from the signal list")
    assert "newgroup" not in http_json(port, "/api/v1/status")["channels"]
    assert "example.counter" in signal_ids(port)  # relay.yaml's channel stays
    c.close()


def sdtest_free_udp_port():
    from sdtest import free_udp_port
    return free_udp_port()


def test_max_clients_caps_both_websockets_together(stack):
    """http.max_clients is one limit for the page's /ws and the earlier pages' WebSocket on /:
    with 2, one of each fills it, and a third on either path is answered 503 until one leaves."""
    stack.add_channel("example")
    port = free_tcp_port()
    (stack.config_dir / "stripchart.yaml").write_text(yaml.safe_dump({
        "http": {"bind": "127.0.0.1", "port": port, "max_clients": 2}, "orchestrator": {"poll_interval": 0}}))
    p = stack.start("stripchart", name="stripchart")
    wait_http(port)
    assert p.alive(), p.output()
    a = WsClient("127.0.0.1", port, path="/ws")
    b = WsClient("127.0.0.1", port, path="/")
    for path in ("/ws", "/"):
        with pytest.raises(ConnectionError, match=r" 503 "):
            WsClient("127.0.0.1", port, path=path)
    b.close()
    # The slot is released when the server sees the close; then a new client gets in.
    wait_for(lambda: _ws_accepted(port, "/ws"), 10, what="a slot after a client left")
    a.close()


def _ws_accepted(port, path):
    try:
        WsClient("127.0.0.1", port, path=path).close()
        return True
    except ConnectionError:
        return False
