"""The earlier (v0.6) registration REST API, written from its document
(/work/shared/reference/v0.6/relay/API.md): one case per documented request, each checking
the documented response fields, against a real orchestrator with real relays. Our own fields
stay beside them (test_orchestrator.py holds those). Plus the import of an earlier
data/registry.db on the first start, and not on the next."""
import hashlib
import json
import re
import sqlite3

import pytest

import sdtest
from sdtest import wait_for
from orchlib import pid_alive, send_example, start_orchestrator, wait_active

# The earlier schema file paths: relative to the earlier working directory (the config
# directory's parent), as the earlier README and API.md write them.
EXAMPLE_PATH = "config/agents/example.avsc"
TEMPERATURE_PATH = "config/agents/temperature.avsc"


@pytest.fixture
def orch(stack):
    assert stack.config_dir.name == "config"
    stack.add_channel("example")
    proc, api = start_orchestrator(stack, settings={"restart": {"initial_delay": "200ms"}})
    yield stack, proc, api
    proc.stop()


def register(api, body):
    return api.post("/api/v1/channels", body)


def channel_file(stack, name):
    return json.loads((stack.data_dir / "state" / "orchestrator" / "channels" / f"{name}.json").read_text())


def test_health_check(orch):
    stack, proc, api = orch
    st, body, _ = api.get("/api/v1/health")
    assert st == 200
    assert body["status"] == "ok"
    assert isinstance(body["service"], str) and body["service"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", body["version"]), body


def test_list_channels_with_status_filter(orch):
    stack, proc, api = orch
    st, ch, _ = register(api, {"name": "sensor1", "port": 26001, "schema": EXAMPLE_PATH, "config": {"decimation": 5}})
    assert st == 201, ch
    wait_active(api, "sensor1")
    wait_active(api, "example")
    for status in (None, "registered", "active"):
        st, body, _ = api.get("/api/v1/channels" + (f"?status={status}" if status else ""))
        assert st == 200
        by = {c["name"]: c for c in body["channels"]}
        assert set(by) == {"example", "sensor1"}, (status, set(by))
        s1 = by["sensor1"]
        assert s1["port"] == 26001
        assert s1["schema_path"] == EXAMPLE_PATH
        assert s1["status"] == "active"
        assert isinstance(s1["pid"], int) and pid_alive(s1["pid"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", s1["created_at"]), s1["created_at"]
        assert s1["config"] == {"decimation": 5}
        # A relay.yaml channel carries the documented fields too.
        ex = by["example"]
        assert ex["created_at"] and isinstance(ex["config"], dict) and ex["config"]["port"] == ex["port"]


def test_get_channel_details_and_404(orch):
    stack, proc, api = orch
    st, _, _ = register(api, {"name": "sensor1", "port": 26001, "schema": EXAMPLE_PATH, "config": {"decimation": 5}})
    assert st == 201
    wait_active(api, "sensor1")
    st, body, _ = api.get("/api/v1/channels/sensor1")
    assert st == 200
    for k in ("name", "port", "schema_path", "status", "pid", "created_at", "config"):
        assert k in body, k
    assert (body["name"], body["port"], body["schema_path"], body["status"]) == ("sensor1", 26001, EXAMPLE_PATH, "active")
    assert body["config"] == {"decimation": 5}
    st, body, _ = api.get("/api/v1/channels/nonexistent")
    assert st == 404 and "not found" in body["error"].lower()


def test_register_channel_documented_body_and_answer(orch):
    stack, proc, api = orch
    # API.md's request body: schema as a path string, port as given, config as scalars.
    st, body, _ = register(api, {"name": "sensor1", "port": 26001, "schema": EXAMPLE_PATH,
                                 "config": {"decimation": 5, "rotation": 3600}})
    assert st == 201, body
    assert body["status"] == "success"
    assert body["name"] == "sensor1" and body["port"] == 26001
    assert isinstance(body["pid"], int) and pid_alive(body["pid"])
    assert body["message"] == "Channel 'sensor1' registered and relay started"
    # The scalars mean what the earlier relay.yaml said: factor, seconds.
    assert body["decimation"]["factor"] == 5
    cf = channel_file(stack, "sensor1")
    assert cf["decimation"] == {"factor": 5} and cf["rotation"] == {"interval": 3600}
    # Data flows through the relay started for it.
    wait_active(api, "sensor1")
    send_example(26001, 50)
    wait_for(lambda: (api.get("/api/v1/channels/sensor1")[1]["figures"] or {}).get("records") == 50, 10,
             what="50 records on sensor1")

    # A port as a numeric string, retention in seconds.
    st, body, _ = register(api, {"name": "sensor2", "port": "26002", "schema": EXAMPLE_PATH,
                                 "config": {"retention": 86400}})
    assert st == 201, body
    assert body["port"] == 26002
    assert channel_file(stack, "sensor2")["retention"] == {"ttl": 86400}
    # Our forms stay: an inline schema object, schema_path relative to the config directory,
    # and a string that is schema JSON (decided by its content).
    example = json.loads((stack.config_dir / "agents" / "example.avsc").read_text())
    for name, extra in (("inline_obj", {"schema": example}), ("inline_text", {"schema": json.dumps(example)}),
                        ("by_path", {"schema_path": "agents/example.avsc"}),
                        ("abs_inside", {"schema": str(stack.config_dir / "agents" / "example.avsc")})):
        st, body, _ = register(api, {"name": name, **extra})
        assert st == 201, (name, body)
        assert body["status"] == "success"


def test_register_errors(orch):
    stack, proc, api = orch
    # 400: missing required fields (the earlier answer and ours in one).
    st, body, _ = register(api, {"name": "sensor1"})
    assert st == 400
    assert "Missing required fields" in body["error"] and body["error"].startswith("schema: required")
    assert body["required"] == ["name", "schema"] and body["missing"] == ["schema"]
    st, body, _ = register(api, {"port": 26001})
    assert st == 400 and body["missing"] == ["name", "schema"] and body["field"] == "name"
    # 400: invalid schema (a path to no file, a file that is not a schema, a path out of the
    # config directory), each naming the field.
    st, body, _ = register(api, {"name": "s1", "port": 26001, "schema": "config/agents/missing.avsc"})
    assert st == 400 and body["field"] == "schema" and "no such file" in body["error"]
    (stack.config_dir / "agents" / "broken.avsc").write_text("{not json")
    st, body, _ = register(api, {"name": "s1", "port": 26001, "schema": "config/agents/broken.avsc"})
    assert st == 400 and body["error"].startswith("schema:")
    outside = stack.root / "outside.avsc"
    outside.write_text((stack.config_dir / "agents" / "example.avsc").read_text())
    st, body, _ = register(api, {"name": "s1", "port": 26001, "schema": str(outside)})
    assert st == 400 and "config directory" in body["error"]
    st, body, _ = register(api, {"name": "s1", "port": "26x01", "schema": EXAMPLE_PATH})
    assert st == 400 and body["field"] == "port"
    # 409: port or name already in use.
    assert register(api, {"name": "sensor1", "port": 26001, "schema": EXAMPLE_PATH})[0] == 201
    st, body, _ = register(api, {"name": "sensor2", "port": 26001, "schema": EXAMPLE_PATH})
    assert st == 409 and body["used_by"] == "sensor1" and body["port"] == 26001 and body["field"] == "port"
    st, body, _ = register(api, {"name": "sensor1", "port": 26009, "schema": EXAMPLE_PATH})
    assert st == 409 and "already exists" in body["error"] and body["field"] == "name"
    # The documented error structure: error (+ field where one is named).
    assert isinstance(body["error"], str)


def test_deregister_channel(orch):
    stack, proc, api = orch
    st, ch, _ = register(api, {"name": "sensor1", "port": 26001, "schema": EXAMPLE_PATH})
    assert st == 201
    pid = wait_active(api, "sensor1")["pid"]
    st, body, _ = api.delete("/api/v1/channels/sensor1")
    assert st == 200
    assert body["status"] == "success" and body["name"] == "sensor1"
    assert body["message"] == "Channel 'sensor1' de-registered and relay stopped"
    assert not pid_alive(pid)
    assert api.get("/api/v1/channels/sensor1")[0] == 404
    st, body, _ = api.delete("/api/v1/channels/sensor1")
    assert st == 404


def test_get_channel_schema(orch):
    stack, proc, api = orch
    assert register(api, {"name": "sensor1", "port": 26001, "schema": EXAMPLE_PATH})[0] == 201
    st, schema, _ = api.get("/api/v1/channels/sensor1/schema")
    assert st == 200
    on_disk = json.loads((stack.config_dir / "agents" / "example.avsc").read_text())
    assert schema == on_disk
    assert schema["type"] == "record" and "fields" in schema and schema["namespace"] == on_disk["namespace"]
    assert api.get("/api/v1/channels/nope/schema")[0] == 404


def test_validate_schema(orch):
    stack, proc, api = orch
    assert register(api, {"name": "sensor1", "port": 26001, "schema": EXAMPLE_PATH})[0] == 201
    mine = json.loads((stack.config_dir / "agents" / "example.avsc").read_text())
    st, body, _ = api.post("/api/v1/channels/sensor1/validate-schema", {"schema": mine})
    assert st == 200
    assert body["valid"] is True and body["message"] == "Schema matches registered schema"
    wrong = {"namespace": "wrong", "type": "record", "name": "data", "fields": [{"name": "foo", "type": "int"}]}
    st, body, _ = api.post("/api/v1/channels/sensor1/validate-schema", {"schema": wrong})
    assert st == 409
    assert body["valid"] is False and body["message"] == "Schema does not match"
    assert body["registered_schema"] == mine and body["provided_schema"] == wrong
    assert api.post("/api/v1/channels/nope/validate-schema", {"schema": mine})[0] == 404
    st, body, _ = api.post("/api/v1/channels/sensor1/validate-schema", {})
    assert st == 400 and "schema" in body["error"]
    # API.md's usage example: the schema file itself as the body (curl -d @my_schema.json).
    st, body, _ = api.post("/api/v1/channels/sensor1/validate-schema", mine)
    assert st == 200 and body["valid"] is True


def test_list_available_ports(orch):
    stack, proc, api = orch
    assert register(api, {"name": "sensor1", "port": 26001, "schema": EXAMPLE_PATH})[0] == 201
    st, body, _ = api.get("/api/v1/ports/available?start=26000&end=27000")
    assert st == 200
    assert body["range"] == {"start": 26000, "end": 27000}
    assert 26001 not in body["available"] and 26000 in body["available"] and 26002 in body["available"]
    assert body["count"] == len(body["available"]) == 1000
    st, body, _ = api.get("/api/v1/ports/available?start=26000&end=26010")
    assert st == 200 and len(body["available"]) == 10  # inclusive range, one port in use
    # Defaults: the configured registration range (ours wins over the earlier 26000-27000).
    st, body, _ = api.get("/api/v1/ports/available")
    assert st == 200 and body["range"] == {"start": 26100, "end": 26999}
    st, body, _ = api.get("/api/v1/ports/available?start=27000&end=26000")
    assert st == 400 and "end" in body["error"]


def test_check_port_status(orch):
    stack, proc, api = orch
    st, body, _ = api.get("/api/v1/ports/26001/status")
    assert st == 200 and body == {**body, "port": 26001, "available": True, "status": "free"}
    assert register(api, {"name": "sensor1", "port": 26001, "schema": EXAMPLE_PATH})[0] == 201
    st, body, _ = api.get("/api/v1/ports/26001/status")
    assert st == 200
    assert body["port"] == 26001 and body["available"] is False and body["status"] == "in_use"
    assert body["channel"] == "sensor1"


def test_usage_examples(orch):
    """API.md's "Usage Examples", in order."""
    stack, proc, api = orch
    st, body, _ = api.get("/api/v1/ports/26050/status")
    assert body["available"] is True
    st, body, _ = register(api, {"name": "remote-sensor-1", "port": 26050, "schema": TEMPERATURE_PATH,
                                 "config": {"decimation": 10}})
    assert st == 201 and body["status"] == "success", body
    assert body["decimation"]["factor"] == 10
    my_schema = json.loads((stack.config_dir / "agents" / "temperature.avsc").read_text())
    st, body, _ = api.post("/api/v1/channels/remote-sensor-1/validate-schema", my_schema)
    assert st == 200 and body["valid"] is True
    wait_active(api, "remote-sensor-1")
    st, body, _ = api.get("/api/v1/channels?status=active")
    assert "remote-sensor-1" in [c["name"] for c in body["channels"]]
    st, body, _ = api.delete("/api/v1/channels/remote-sensor-1")
    assert st == 200 and body["status"] == "success"


# ---- the earlier registry, imported on the first start ------------------------------------

EARLIER_DDL = """
CREATE TABLE IF NOT EXISTS channels (
    name TEXT PRIMARY KEY,
    port INTEGER UNIQUE NOT NULL,
    schema_path TEXT NOT NULL,
    config_json TEXT,
    status TEXT DEFAULT 'registered',
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    pid INTEGER,
    last_heartbeat TIMESTAMP
);
CREATE INDEX IF NOT EXISTS idx_port ON channels(port);
CREATE INDEX IF NOT EXISTS idx_status ON channels(status);
"""


def make_earlier_registry(stack):
    """data/registry.db as the earlier orchestrator left it: its relay.yaml baseline channel,
    two API registrations (one with a schema outside the config directory), one whose schema
    file is gone; pids and 'active' of relays long gone."""
    db = stack.data_dir / "registry.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    elsewhere = stack.root / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "probe.avsc").write_text((stack.config_dir / "agents" / "example.avsc").read_text())
    c = sqlite3.connect(db)
    c.executescript(EARLIER_DDL)
    rows = [
        ("example", stack.relay_cfg["channels"]["example"]["port"], EXAMPLE_PATH,
         json.dumps({"name": "example", "port": stack.relay_cfg["channels"]["example"]["port"], "schema": EXAMPLE_PATH}),
         "active", "2025-12-24 09:00:00", 4242),
        ("sensor1", 26001, EXAMPLE_PATH, json.dumps({"decimation": 5}), "active", "2025-12-24 10:00:00", 4243),
        ("probe", 26002, str(elsewhere / "probe.avsc"), None, "registered", "2025-12-24 11:30:00", None),
        ("gone", 26003, "config/agents/deleted.avsc", json.dumps({"decimation": 2}), "active", "2025-12-24 12:00:00", 4244),
    ]
    c.executemany("INSERT INTO channels (name, port, schema_path, config_json, status, created_at, pid)"
                  " VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    c.commit()
    c.close()
    return db


def test_earlier_registry_imported_on_first_start_and_not_twice(stack):
    stack.add_channel("example")
    db = make_earlier_registry(stack)
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    proc, api = start_orchestrator(stack)
    try:
        s1 = wait_active(api, "sensor1")
        assert s1["port"] == 26001 and s1["schema_path"] == EXAMPLE_PATH
        assert s1["created_at"] == "2025-12-24T10:00:00Z" and s1["created"] == s1["created_at"]
        assert s1["config"] == {"decimation": 5} and s1["decimation"]["factor"] == 5
        probe = wait_active(api, "probe")
        assert probe["port"] == 26002 and probe["schema_inline"] is True  # read and stored
        assert api.get("/api/v1/channels/gone")[0] == 404
        assert api.get("/api/v1/channels/example")[1]["source"] == "config"  # relay.yaml defines it
        send_example(26001, 20)
        wait_for(lambda: (api.get("/api/v1/channels/sensor1")[1]["figures"] or {}).get("records") == 20, 10,
                 what="records on the imported channel")
        log = proc.output()
        assert "imported 2 channel(s) from the earlier registry" in log, log
        assert "channel 'gone' not imported" in log and "deleted.avsc" in log
        ours = stack.data_dir / "state" / "orchestrator.sqlite"
        with sqlite3.connect(ours) as c:
            assert sorted(r[0] for r in c.execute("SELECT name FROM channels")) == ["probe", "sensor1"]
            imports = c.execute("SELECT source, channels, skipped FROM imports").fetchall()
        assert imports == [(str(db), 2, 1)]
        # A channel de-registered after the import stays de-registered.
        assert api.delete("/api/v1/channels/probe")[0] == 200
    finally:
        proc.stop()
    # The earlier file is read, never written.
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest
    assert not db.with_name("registry.db-wal").exists()

    proc, api = start_orchestrator(stack)
    try:
        wait_active(api, "sensor1")
        assert api.get("/api/v1/channels/probe")[0] == 404
        assert "earlier registry" not in proc.output()
        with sqlite3.connect(stack.data_dir / "state" / "orchestrator.sqlite") as c:
            assert c.execute("SELECT count(*) FROM imports").fetchone()[0] == 1
    finally:
        proc.stop()


def test_an_unreadable_earlier_registry_is_logged_and_tried_again(stack):
    stack.add_channel("example")
    db = stack.data_dir / "registry.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    db.write_bytes(b"not a database at all" * 100)
    proc, api = start_orchestrator(stack)
    try:
        wait_active(api, "example")  # the orchestrator runs anyway
        assert "earlier registry" in proc.output() and "the next start tries again" in proc.output()
    finally:
        proc.stop()
    db.unlink()
    make_earlier_registry(stack)
    proc, api = start_orchestrator(stack)
    try:
        wait_active(api, "sensor1")
    finally:
        proc.stop()
