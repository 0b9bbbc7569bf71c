"""lib/python/speeddata_client.py against a live orchestrator with real relays."""
import json

import pytest

import sdtest
from sdtest import wait_for
from orchlib import free_tcp_port, send_example, start_orchestrator
from speeddata_client import SpeedDataClient, SpeedDataError

EXAMPLE_AVSC = sdtest.REPO / "config" / "agents" / "example.avsc"


@pytest.fixture
def client(stack):
    stack.add_channel("example")
    proc, api = start_orchestrator(stack, settings={"ports": {"start": 27300, "end": 27399}})
    yield SpeedDataClient(api.base), stack
    proc.stop()


def test_client_register_list_schema_validate_deregister(client):
    c, stack = client
    assert c.health()["status"] == "ok"
    ch = c.register_channel("py1", schema=json.loads(EXAMPLE_AVSC.read_text()),
                            config={"decimation": {"factor": 2, "algorithm": "rms"}})
    assert 27300 <= ch["port"] <= 27399 and ch["decimation"]["algorithm"] == "rms"
    # schema given as a JSON string and as a path
    ch2 = c.register_channel("py2", schema=EXAMPLE_AVSC.read_text(), port=ch["port"] + 1)
    assert ch2["port"] == ch["port"] + 1
    ch3 = c.register_channel("py3", schema_path="agents/example.avsc")
    assert ch3["schema_path"] == "agents/example.avsc"

    wait_for(lambda: {x["name"] for x in c.list_channels(status="active")} >= {"py1", "py2", "py3", "example"}, 10,
             what="all active")
    assert {x["name"] for x in c.list_channels()} == {"example", "py1", "py2", "py3"}
    send_example(ch["port"], 120)
    wait_for(lambda: (c.get_channel("py1")["figures"] or {}).get("records") == 120, 10, what="120 records")

    schema = c.get_schema("py1")
    assert schema == json.loads(EXAMPLE_AVSC.read_text())
    assert list(schema) == list(json.loads(EXAMPLE_AVSC.read_text())), "key order kept as sent"
    assert [f["name"] for f in schema["fields"]][:3] == ["time", "message", "counter"]
    assert c.validate_schema("py1", schema)["compatible"] is True
    with pytest.raises(SpeedDataError) as e:
        c.validate_schema("py1", {"type": "record", "name": "x", "fields": [{"name": "time", "type": "long"}]})
    assert e.value.status == 409 and "differs" in e.value.message
    assert len(e.value.body["registered"]["fields"]) == 7

    ports = c.available_ports(27300, 27305)
    assert ch["port"] not in ports and ch2["port"] not in ports and len(ports) == 6 - 3
    assert c.port_status(ch["port"])["channel"] == "py1"
    assert 'speeddata_records_total{channel="py1"} 120' in c.metrics()

    assert c.deregister_channel("py1") is True
    assert c.get_channel("py1") is None       # v0.6: None for an unknown channel...
    assert c.deregister_channel("py1") is False  # ...and False when there was nothing to remove
    with pytest.raises(SpeedDataError) as e:  # other calls still raise 404
        c.get_schema("py1")
    assert e.value.status == 404 and "py1" in e.value.message


def test_client_errors_are_clear(client):
    c, stack = client
    with pytest.raises(SpeedDataError) as e:
        c.register_channel("bad name", schema_path="agents/example.avsc")
    assert e.value.status == 400 and e.value.message.startswith("name:")
    with pytest.raises(SpeedDataError) as e:
        c.register_channel("x", schema_path="../secrets.avsc")
    assert e.value.status == 400 and "escapes the config directory" in e.value.message
    with pytest.raises(SpeedDataError) as e:
        c.register_channel("example", schema_path="agents/example.avsc")
    assert e.value.status == 409
    assert str(e.value).startswith("HTTP 409: ")
    # No server: status 0 and a message naming the URL.
    dead = SpeedDataClient("http://127.0.0.1:9", timeout=2)
    with pytest.raises(SpeedDataError) as e:
        dead.list_channels()
    assert e.value.status == 0 and "127.0.0.1:9" in e.value.message
    # A token the server does not know about is ignored; one it requires is sent.
    assert SpeedDataClient(c.url, token="x").health()["status"] == "ok"


def test_client_token(stack):
    stack.add_channel("example")
    proc, api = start_orchestrator(stack, extra=("--token", "abc"))
    try:
        with pytest.raises(SpeedDataError) as e:
            SpeedDataClient(api.base).list_channels()
        assert e.value.status == 401
        assert [x["name"] for x in SpeedDataClient(api.base, token="abc").list_channels()] == ["example"]
    finally:
        proc.stop()


def test_client_export_and_tag_through_the_pivot_server(stack):
    """SpeedDataClient.export() returns a Set read by dataset.read_hdf5; tag() keeps a range."""
    import sys
    sys.path.insert(0, str(sdtest.REPO / "lib" / "python"))
    (stack.config_dir / "pivot.yaml").write_text((sdtest.REPO / "config" / "pivot.yaml").read_text())
    stack.add_channel("example")
    proc, api = start_orchestrator(stack)
    pport = free_tcp_port()
    pivot = stack.start("pivot", "serve", "--port", str(pport), name="pivot")
    try:
        c = SpeedDataClient(api.base, pivot_url=f"http://127.0.0.1:{pport}")
        wait_for(lambda: pivot.alive() and _pivot_up(pport), 10, what="pivot server")
        ch = c.get_channel("example")
        wait_for(lambda: c.get_channel("example")["status"] == "active", 10, what="example active")
        t0 = 1_700_000_000_000_000_000  # sdtest.example_record times: t0 + i ms
        send_example(ch["port"], 300)
        wait_for(lambda: (c.get_channel("example")["figures"] or {}).get("records_written") == 300, 10,
                 what="300 records written")
        data = c.export(start=t0 / 1e9, duration=0.2, channels=["example"], signals=["counter", "sine_wave"])
        counters = list(data.example.counter)
        assert counters == list(range(200))
        assert abs(data.example.time[0] - t0 / 1e9) < 1e-6
        tag = c.tag("first200", start=t0 / 1e9, duration=0.2, channels=["example"], note="from the client")
        assert tag["name"] == "first200" and tag["note"] == "from the client"
        with pytest.raises(SpeedDataError) as e:
            c.export(start=t0 / 1e9, duration=0.2, channels=["nope"])
        assert e.value.status == 404 and "nope" in e.value.message
    finally:
        pivot.stop()
        proc.stop()


def _pivot_up(port):
    import urllib.request
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status == 200
    except OSError:
        return False


# ---- the v0.6 client's interface (registration/README.md of v0.6) -------------------------

V06_AGENTS = sdtest.REPO / "tests" / "data" / "v0.6" / "config" / "agents"  # the v0.6 schemas, verbatim


def v06_checkout(tmp_path):
    """A directory laid out like a v0.6 checkout (config/agents/*.avsc): the client's working
    directory in the v0.6 README's examples."""
    root = tmp_path / "v06"
    (root / "config" / "agents").mkdir(parents=True)
    for name in ("example.avsc", "temperature.avsc"):
        (root / "config" / "agents" / name).write_text((V06_AGENTS / name).read_text())
    return root


def test_v06_constructor_defaults():
    import requests
    client = SpeedDataClient()
    assert client.base_url == "http://localhost:8080/api/v1"
    assert isinstance(client.session, requests.Session)
    assert SpeedDataClient(base_url="http://example.com:9000/api/v1").base_url == "http://example.com:9000/api/v1"
    # The newer form (server root) still works and means the same API.
    assert SpeedDataClient("http://example.com:9000").base_url == "http://example.com:9000/api/v1"
    assert SpeedDataClient(url="http://example.com:9000/").url == "http://example.com:9000"
    assert SpeedDataClient("http://rig:8080").pivot_url == "http://rig:8000"
    assert "Usage:" in SpeedDataClient.__doc__


def test_v06_readme_workflow(client, tmp_path, monkeypatch):
    """The README's example, as written, from a v0.6-style checkout: the schema path is the
    client's (config/agents/...), config holds the v0.6 scalar."""
    c, stack = client
    monkeypatch.chdir(v06_checkout(tmp_path))
    client_ = SpeedDataClient(base_url=c.url + "/api/v1")
    r = client_.register_channel(
        name="temperature_sensor",
        port=27350,
        schema_path="config/agents/temperature.avsc",
        config={"decimation": 10}
    )
    assert r["name"] == "temperature_sensor" and r["port"] == 27350
    info = client_.get_channel("temperature_sensor")
    assert info["port"] == 27350 and info["decimation"]["factor"] == 10
    # As with the v0.6 server, a relative schema_path names the server's file first (its
    # config/agents/temperature.avsc): the same record as the v0.6 file (field names and
    # types; only the docs were corrected).
    got = client_.get_schema("temperature_sensor")
    assert got == json.loads((stack.config_dir / "agents" / "temperature.avsc").read_text())
    v06 = json.loads((tmp_path / "v06" / "config" / "agents" / "temperature.avsc").read_text())
    assert [(f["name"], f["type"]) for f in got["fields"]] == [(f["name"], f["type"]) for f in v06["fields"]]
    wait_for(lambda: "temperature_sensor" in {ch["name"] for ch in client_.list_channels(status="active")}, 10,
             what="temperature_sensor active")
    lines = [f"{ch['name']}: port {ch['port']}, status {ch['status']}" for ch in client_.list_channels()]
    assert "temperature_sensor: port 27350, status active" in lines
    assert client_.deregister_channel("temperature_sensor") is True
    assert client_.get_channel("temperature_sensor") is None
    assert client_.deregister_channel("temperature_sensor") is False


def test_v06_positional_and_config_scalars(client, tmp_path, monkeypatch):
    c, stack = client
    monkeypatch.chdir(v06_checkout(tmp_path))
    # (name, port, schema_path, config), port as a numeric string, the v0.6 scalars.
    r = c.register_channel("experiment_1", "27360", "config/agents/example.avsc", {"decimation": 5, "rotation": 3600,
                                                                                   "retention": 86400})
    assert r["port"] == 27360
    ch = c.get_channel("experiment_1")
    assert ch["decimation"]["factor"] == 5
    assert ch["config"]["rotation"] == {"interval": 3600} and ch["config"]["retention"] == {"ttl": 86400}
    # The relay.yaml v0.6 spellings inside config objects translate too.
    c.register_channel("experiment_2", 27361, "config/agents/example.avsc",
                       {"decimation": {"enabled": True, "factor": 4, "algorithm": "average"},
                        "rotation": {"mode": "size", "threshold": 1048576}, "retention": {"mode": "quota",
                                                                                       "value": 10485760}})
    ch = c.get_channel("experiment_2")
    assert ch["decimation"] == {"factor": 4, "algorithm": "average"}
    assert ch["config"]["rotation"] == {"max_size": 1048576} and ch["config"]["retention"] == {"max_size": 10485760}
    # A path the server knows (relative to its config directory) stays a path reference.
    r = c.register_channel("experiment_3", 27362, "agents/example.avsc")
    assert r["schema_path"] == "agents/example.avsc"
    # The previous client's positional order (name, schema, schema_path, port, config).
    schema = json.loads(EXAMPLE_AVSC.read_text())
    r = c.register_channel("experiment_4", schema, None, 27363, {"decimation": {"factor": 3}})
    assert r["port"] == 27363 and r["decimation"]["factor"] == 3 and r["schema_inline"] is True
    # A file neither the server nor the client has: the server's 400, naming the field.
    with pytest.raises(SpeedDataError) as e:
        c.register_channel("experiment_5", 27364, "config/agents/nope.avsc")
    assert e.value.status == 400 and e.value.message.startswith("schema_path:")


def test_v06_errors_are_requests_http_errors(client, tmp_path, monkeypatch):
    """v0.6 documented requests.HTTPError for a failed registration (port conflict, etc.)."""
    import requests
    c, stack = client
    monkeypatch.chdir(v06_checkout(tmp_path))
    c.register_channel("a1", 27370, "config/agents/example.avsc")
    with pytest.raises(requests.HTTPError) as e:
        c.register_channel("a2", 27370, "config/agents/example.avsc")
    assert e.value.response.status_code == 409 and "a1" in e.value.message
    with pytest.raises(requests.ConnectionError):
        SpeedDataClient("http://127.0.0.1:9/api/v1", timeout=2).list_channels()


def test_v06_upload_schema(client, tmp_path, monkeypatch):
    c, stack = client
    root = v06_checkout(tmp_path)
    monkeypatch.chdir(root)
    c.register_channel("up1", 27380, "config/agents/example.avsc")
    meta = c.upload_schema("up1", "config/agents/example.avsc")
    assert meta["registered"] is True and meta["compatible"] is True
    assert meta["fields"][0] == "time" and meta["schema"]["type"] == "record" and len(meta["fingerprint"]) == 16
    assert c.upload_schema("up1", "config/agents/temperature.avsc")["compatible"] is False
    assert c.upload_schema("nobody", "config/agents/example.avsc")["registered"] is False
    with pytest.raises(FileNotFoundError):
        c.upload_schema("up1", "config/agents/missing.avsc")
    (root / "bad.avsc").write_text("{not json")
    with pytest.raises(json.JSONDecodeError):
        c.upload_schema("up1", "bad.avsc")


def test_token_argument_and_environment(stack, monkeypatch):
    """token= or $SPEEDDATA_TOKEN goes out as `Authorization: Bearer ...` on every call."""
    stack.add_channel("example")
    proc, api = start_orchestrator(stack, extra=("--token", "s3cret"), settings={"ports": {"start": 27400,
                                                                                          "end": 27410}})
    try:
        monkeypatch.delenv("SPEEDDATA_TOKEN", raising=False)
        with pytest.raises(SpeedDataError) as e:
            SpeedDataClient(api.base).register_channel("t1", schema_path="agents/example.avsc")
        assert e.value.status == 401
        with_arg = SpeedDataClient(api.base + "/api/v1", token="s3cret")
        assert with_arg.session.headers["Authorization"] == "Bearer s3cret"
        assert with_arg.register_channel("t1", schema_path="agents/example.avsc")["name"] == "t1"
        monkeypatch.setenv("SPEEDDATA_TOKEN", "s3cret")
        from_env = SpeedDataClient(api.base)
        assert from_env.deregister_channel("t1") is True
        assert [x["name"] for x in from_env.list_channels()] == ["example"]
        monkeypatch.setenv("SPEEDDATA_TOKEN", "wrong")
        with pytest.raises(SpeedDataError) as e:
            SpeedDataClient(api.base).register_channel("t2", schema_path="agents/example.avsc")
        assert e.value.status == 401
        # An explicit argument wins over the environment.
        assert SpeedDataClient(api.base, token="s3cret").get_channel("example")["name"] == "example"
    finally:
        proc.stop()
