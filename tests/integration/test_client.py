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
    assert [f["name"] for f in schema["fields"]][:3] == ["time", "word", "counter"]
    assert c.validate_schema("py1", schema)["compatible"] is True
    with pytest.raises(SpeedDataError) as e:
        c.validate_schema("py1", {"type": "record", "name": "x", "fields": [{"name": "time", "type": "long"}]})
    assert e.value.status == 409 and "differs" in e.value.message
    assert len(e.value.body["registered"]["fields"]) == 7

    ports = c.available_ports(27300, 27305)
    assert ch["port"] not in ports and ch2["port"] not in ports and len(ports) == 6 - 3
    assert c.port_status(ch["port"])["channel"] == "py1"
    assert 'speeddata_records_total{channel="py1"} 120' in c.metrics()

    assert c.deregister_channel("py1")["deregistered"] is True
    with pytest.raises(SpeedDataError) as e:
        c.get_channel("py1")
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
