"""The orchestrator as a user meets it: a real process, real relays, a real SQLite registry."""
import json
import os
import signal
import socket
import sqlite3
import time

import pytest

import sdtest
from sdtest import wait_for
from orchlib import Api, free_tcp_port, pid_alive, send_example, start_orchestrator, wait_active

EXAMPLE_AVSC = (sdtest.REPO / "config" / "agents" / "example.avsc").read_text()


@pytest.fixture
def orch(stack):
    stack.add_channel("example")
    proc, api = start_orchestrator(stack, settings={"ports": {"start": 27100, "end": 27199},
                                                    "restart": {"initial_delay": "200ms"}})
    yield stack, proc, api
    proc.stop()


def records(api, name):
    st, body, _ = api.get(f"/api/v1/channels/{name}")
    assert st == 200, body
    return (body.get("figures") or {}).get("records", 0)


def test_register_inline_path_and_auto_port_data_flows_then_deregister(orch):
    stack, proc, api = orch
    # The relay.yaml channel is supervised from the start.
    wait_active(api, "example")

    # Inline schema, no port: a port from the configured range is assigned and returned.
    st, ch, hdrs = api.post("/api/v1/channels", {"name": "bench1", "schema": json.loads(EXAMPLE_AVSC),
                                                 "config": {"decimation": {"factor": 5, "algorithm": "average"}}})
    assert st == 201, ch
    assert 27100 <= ch["port"] <= 27199
    assert ch["source"] == "api" and ch["schema_inline"] is True
    assert ch["decimation"] == {"factor": 5, "algorithm": "average"}
    assert hdrs["Location"] == "/api/v1/channels/bench1"
    # Schema path relative to the config dir, explicit port.
    port2 = sdtest.free_udp_port()
    st, ch2, _ = api.post("/api/v1/channels", {"name": "bench2", "schema_path": "agents/example.avsc", "port": port2})
    assert st == 201, ch2
    assert ch2["port"] == port2 and ch2["schema_path"] == "agents/example.avsc"

    a = wait_active(api, "bench1")
    wait_active(api, "bench2")
    assert a["pid"] and pid_alive(a["pid"])

    # Data sent to the assigned port reaches the relay and the figures rise.
    send_example(ch["port"], 500)
    send_example(port2, 200)
    wait_for(lambda: records(api, "bench1") == 500, 10, what="500 records on bench1")
    wait_for(lambda: records(api, "bench2") == 200, 10, what="200 records on bench2")
    st, full, _ = api.get("/api/v1/channels/bench1")
    figs = full["figures"]
    assert figs["malformed"] == 0 and figs["kernel_drops"] == 0
    assert "records" in figs["rates"] and full["restarts"] == 0
    wait_for(lambda: api.get("/api/v1/channels/bench1")[1]["figures"]["bytes_on_disk"] > 0, 5, what="bytes on disk")
    # 64-bit figures pass through intact (ns time stamps are far beyond 32 bits).
    figs = api.get("/api/v1/channels/bench1")[1]["figures"]
    assert figs["oldest_time_ns"] == stack.status("bench1")["counters"]["oldest_time_ns"] > 10**18

    # Listing and filters.
    st, lst, _ = api.get("/api/v1/channels")
    assert st == 200 and {c["name"] for c in lst["channels"]} == {"example", "bench1", "bench2"}
    st, lst, _ = api.get("/api/v1/channels?status=active")
    assert {c["name"] for c in lst["channels"]} == {"example", "bench1", "bench2"}
    st, lst, _ = api.get("/api/v1/channels?status=registered")
    assert lst["count"] == 3

    # Schema round trip and validation by canonical form.
    st, schema, _ = api.get("/api/v1/channels/bench1/schema")
    assert st == 200 and schema["name"] == "data" and len(schema["fields"]) == 7  # the earlier example.avsc
    reordered_doc = json.loads(EXAMPLE_AVSC)
    reordered_doc["doc"] = "another doc string: not part of the canonical form"
    st, ok, _ = api.post("/api/v1/channels/bench1/validate-schema", reordered_doc)
    assert st == 200 and ok["compatible"] is True

    # The registry is a real SQLite file holding both channels.
    db = stack.data_dir / "state" / "orchestrator.sqlite"
    with sqlite3.connect(db) as c:
        rows = dict(c.execute("SELECT name, port FROM channels").fetchall())
    assert rows == {"bench1": ch["port"], "bench2": port2}

    # Metrics in Prometheus text.
    st, text, hdrs = api.get("/metrics")
    assert st == 200 and hdrs["Content-Type"].startswith("text/plain")
    assert 'speeddata_records_total{channel="bench1"} 500' in text
    assert 'speeddata_channel_up{channel="bench2"} 1' in text
    assert "# TYPE speeddata_relay_restarts_total counter" in text

    # De-register: the relay is gone, the cache stays, the registry forgets it.
    pid = a["pid"]
    st, body, _ = api.delete("/api/v1/channels/bench1")
    assert st == 200 and body["deregistered"] is True
    assert not pid_alive(pid)
    assert api.get("/api/v1/channels/bench1")[0] == 404
    assert stack.avro_files("bench1"), "cache files must stay after de-registration"
    with sqlite3.connect(db) as c:
        assert [r[0] for r in c.execute("SELECT name FROM channels")] == ["bench2"]
    # The name and the port can be used again.
    st, again, _ = api.post("/api/v1/channels", {"name": "bench1", "schema_path": "agents/example.avsc",
                                                 "port": ch["port"]})
    assert st == 201, again


def test_every_error_code_with_its_message(orch):
    stack, proc, api = orch
    post = lambda body: api.post("/api/v1/channels", body)

    def err(resp, status, *words):
        st, body, hdrs = resp
        assert st == status, (st, body)
        assert isinstance(body, dict) and body["status"] == status, body
        for w in words:
            assert w in body["error"], (w, body["error"])
        return body

    err(api.call("POST", "/api/v1/channels", raw=b"{not json"), 400, "malformed JSON")
    err(api.call("POST", "/api/v1/channels", raw=b"[1,2]"), 400, "body")
    err(post({"schema_path": "agents/example.avsc"}), 400, "name: required")
    err(post({"name": 5, "schema_path": "agents/example.avsc"}), 400, "name: expected a string")
    err(post({"name": "../etc", "schema_path": "agents/example.avsc"}), 400, "name:")
    err(post({"name": "a" * 65, "schema_path": "agents/example.avsc"}), 400, "name:")
    err(post({"name": "x1"}), 400, "schema: required")
    err(post({"name": "x1", "schema": {"type": "record"}}), 400, "schema:")
    err(post({"name": "x1", "schema": 42}), 400, "schema:")
    err(post({"name": "x1", "schema": json.loads(EXAMPLE_AVSC), "schema_path": "agents/example.avsc"}), 400,
        "schema, schema_path")
    err(post({"name": "x1", "schema_path": "../../etc/passwd"}), 400, "schema_path", "escapes the config directory")
    err(post({"name": "x1", "schema_path": "agents/../../relay.yaml"}), 400, "schema_path", "escapes")
    err(post({"name": "x1", "schema_path": "/etc/passwd"}), 400, "schema_path", "relative")
    err(post({"name": "x1", "schema_path": "agents/nope.avsc"}), 400, "schema_path", "no such file")
    err(post({"name": "x1", "schema_path": "agents/example.avsc", "port": "abc"}), 400, "port")
    err(post({"name": "x1", "schema_path": "agents/example.avsc", "port": 70000}), 400, "port")
    err(post({"name": "x1", "schema_path": "agents/example.avsc", "config": {"decimation": {"factor": "many"}}}),
        400, "config", "decimation.factor")
    err(post({"name": "x1", "schema_path": "agents/example.avsc", "config": {"decimaton": {}}}), 400,
        "config", "decimaton")
    err(post({"name": "x1", "schema_path": "agents/example.avsc", "config": []}), 400, "config: expected an object")
    err(post({"name": "x1", "schema_path": "agents/example.avsc", "bogus": 1}), 400, "bogus")
    # A schema without the channel's time field.
    notime = {"type": "record", "name": "r", "fields": [{"name": "v", "type": "double"}]}
    err(post({"name": "x1", "schema": notime}), 400, "time")

    # 409: name taken (relay.yaml channel and registered), port of another channel, port held elsewhere.
    err(post({"name": "example", "schema_path": "agents/example.avsc"}), 409, "example", "exists")
    example_port = stack.relay_cfg["channels"]["example"]["port"]
    err(post({"name": "x2", "schema_path": "agents/example.avsc", "port": example_port}), 409, str(example_port),
        "example")
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    holder.bind(("127.0.0.1", 0))
    held = holder.getsockname()[1]
    try:
        err(post({"name": "x3", "schema_path": "agents/example.avsc", "port": held}), 409, "held by another process")
        st, ps, _ = api.get(f"/api/v1/ports/{held}/status")
        assert st == 200 and ps["held_by_other_process"] is True and ps["available"] is False
    finally:
        holder.close()
    st, ps, _ = api.get(f"/api/v1/ports/{example_port}/status")
    assert ps["channel"] == "example" and ps["available"] is False
    err(api.get("/api/v1/ports/0/status"), 400, "port")
    err(api.get("/api/v1/ports/abc/status"), 400, "port")
    st, av, _ = api.get("/api/v1/ports/available?start=27100&end=27109")
    assert st == 200 and av["ports"] == list(range(27100, 27110))
    st, av, _ = api.get("/api/v1/ports/available")
    assert av["start"] == 27100 and av["end"] == 27199
    err(api.get("/api/v1/ports/available?start=27109&end=27100"), 400, "end")
    err(api.get("/api/v1/ports/available?start=x"), 400, "start")
    err(api.get("/api/v1/channels?status=sleeping"), 400, "status")
    # Config channels cannot be removed through the API.
    err(api.delete("/api/v1/channels/example"), 409, "relay.yaml")

    # Schema validation: 409 with both schemas when they differ.
    other = json.loads(EXAMPLE_AVSC)
    other["fields"] = other["fields"][:3]
    body = err(api.post("/api/v1/channels/example/validate-schema", other), 409, "differs")
    assert len(body["registered"]["fields"]) == 7 and len(body["submitted"]["fields"]) == 3
    err(api.post("/api/v1/channels/example/validate-schema", {"type": "nonsense"}), 400, "schema")
    err(api.call("POST", "/api/v1/channels/example/validate-schema", raw=b"{"), 400, "malformed JSON")

    # 404s, 405, 413.
    err(api.get("/api/v1/channels/nope"), 404, "nope")
    err(api.delete("/api/v1/channels/nope"), 404, "nope")
    err(api.get("/api/v1/channels/nope/schema"), 404, "nope")
    err(api.post("/api/v1/channels/nope/validate-schema", json.loads(EXAMPLE_AVSC)), 404, "nope")
    err(api.get("/api/v1/nothing"), 404)
    err(api.call("PUT", "/api/v1/channels", body={}), 405, "PUT")
    err(api.call("POST", "/api/v1/channels", raw=b"x" * (2 << 20)), 413, "limit")
    # Nothing above was registered.
    st, lst, _ = api.get("/api/v1/channels")
    assert [c["name"] for c in lst["channels"]] == ["example"]


def test_bearer_token(stack):
    stack.add_channel("example")
    proc, api = start_orchestrator(stack, extra=("--token", "t0ken"))
    try:
        st, body, hdrs = api.get("/api/v1/channels")
        assert st == 401 and body["status"] == 401 and "token" in body["error"]
        assert api.get("/api/v1/health")[0] == 200  # health stays open for probes
        api.token = "wrong"
        assert api.get("/api/v1/channels")[0] == 401
        api.token = "t0ken"
        st, body, _ = api.get("/api/v1/channels")
        assert st == 200 and body["count"] == 1
    finally:
        proc.stop()


def test_registry_survives_an_orchestrator_restart(stack):
    stack.add_channel("example")
    port = free_tcp_port()
    proc, api = start_orchestrator(stack, port=port)
    st, ch, _ = api.post("/api/v1/channels", {"name": "remote1", "schema": json.loads(EXAMPLE_AVSC)})
    assert st == 201, ch
    first = wait_active(api, "remote1")
    send_example(ch["port"], 100)
    wait_for(lambda: records(api, "remote1") == 100, 10, what="100 records")

    # SIGTERM: every relay stops (and flushes), nothing is left running.
    assert proc.stop() == 0
    assert not pid_alive(first["pid"])
    assert len(stack.cached_records("remote1")) == 100

    proc, api = start_orchestrator(stack, port=port)
    try:
        again = wait_active(api, "remote1")
        assert again["port"] == ch["port"] and again["pid"] != first["pid"]
        assert again["source"] == "api" and again["fingerprint"] == ch["fingerprint"]
        send_example(ch["port"], 50, start=100)
        wait_for(lambda: records(api, "remote1") == 50, 10, what="50 records after the restart")
    finally:
        proc.stop()
    wait_for(lambda: len(stack.cached_records("remote1")) == 150, 5, what="150 cached records")


def test_killed_relay_is_restarted_within_two_seconds(orch):
    stack, proc, api = orch
    st, ch, _ = api.post("/api/v1/channels", {"name": "victim", "schema_path": "agents/example.avsc"})
    assert st == 201
    before = wait_active(api, "victim")
    send_example(ch["port"], 100)
    wait_for(lambda: records(api, "victim") == 100, 10, what="100 records")

    os.kill(before["pid"], signal.SIGKILL)
    t0 = time.monotonic()

    def restarted():
        st, c, _ = api.get("/api/v1/channels/victim")
        return c if c["pid"] and c["pid"] != before["pid"] and pid_alive(c["pid"]) else None
    after = wait_for(restarted, 2.0, interval=0.02, what="relay restarted")
    assert time.monotonic() - t0 < 2.0
    assert after["restarts"] == 1 and after["last_signal"] == signal.SIGKILL
    wait_active(api, "victim")
    send_example(ch["port"], 40, start=100)
    wait_for(lambda: records(api, "victim") == 40, 10, what="data flows again")
    st, text, _ = api.get("/metrics")
    assert 'speeddata_relay_restarts_total{channel="victim"} 1' in text
    # The relay.yaml channel is supervised the same way.
    ex = wait_active(api, "example")
    os.kill(ex["pid"], signal.SIGKILL)
    wait_for(lambda: api.get("/api/v1/channels/example")[1]["restarts"] == 1, 2.0, what="example restarted")


def test_bad_config_file_is_a_one_line_error(stack):
    stack.add_channel("example")
    (stack.config_dir / "orchestrator.yaml").write_text("http:\n  prot: 1\n")
    r = stack.run("orchestrator")
    assert r.returncode == 2
    assert "orchestrator.yaml: http.prot: unknown key" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    (stack.config_dir / "orchestrator.yaml").write_text("ports:\n  start: 27000\n  end: 26000\n")
    r = stack.run("orchestrator")
    assert r.returncode == 2 and "ports.end: expected at least ports.start" in r.stderr
    (stack.config_dir / "orchestrator.yaml").write_text("http:\n  token_file: missing.token\n")
    r = stack.run("orchestrator")
    assert r.returncode == 2 and "http.token_file" in r.stderr and "missing.token" in r.stderr
    # The same option table drives `speeddata config show`-style docs: the key is documented.
    assert "`http.token_file`" in (sdtest.REPO / "docs" / "config.md").read_text()


def test_token_from_token_file(stack):
    stack.add_channel("example")
    (stack.config_dir / "api.token").write_text("from-file-42\n")
    proc, api = start_orchestrator(stack, settings={"http": {"token_file": "api.token"}})
    try:
        assert api.get("/api/v1/channels")[0] == 401
        api.token = "from-file-42"
        assert api.get("/api/v1/channels")[0] == 200
    finally:
        proc.stop()


def test_shipped_orchestrator_yaml_loads_with_its_documented_defaults(stack):
    stack.add_channel("example")
    (stack.config_dir / "orchestrator.yaml").write_text((sdtest.REPO / "config" / "orchestrator.yaml").read_text())
    proc, api = start_orchestrator(stack)
    try:
        st, av, _ = api.get("/api/v1/ports/available")
        assert (av["start"], av["end"]) == (26100, 26999)
        st, h, _ = api.get("/api/v1/health")
        assert h["registry"].endswith("state/orchestrator.sqlite")
    finally:
        proc.stop()


def test_kill9_of_the_orchestrator_leaves_no_relay_and_a_restart_recovers(stack):
    stack.add_channel("example")
    port = free_tcp_port()
    proc, api = start_orchestrator(stack, port=port)
    st, ch, _ = api.post("/api/v1/channels", {"name": "orphan", "schema_path": "agents/example.avsc"})
    assert st == 201
    pids = [wait_active(api, "orphan")["pid"], wait_active(api, "example")["pid"]]
    proc.kill9()
    # PR_SET_PDEATHSIG: the relays get SIGTERM when their supervisor dies, and flush.
    wait_for(lambda: not any(pid_alive(p) for p in pids), 10, what="relays gone after kill -9")
    proc, api = start_orchestrator(stack, port=port)
    try:
        wait_active(api, "orphan")
        send_example(ch["port"], 30)
        wait_for(lambda: records(api, "orphan") == 30, 10, what="records after recovery")
    finally:
        proc.stop()
