"""Tags: POST/GET/download/DELETE over REST, `speeddata tag` on the command line, the Python
client's tag()/export(); a tag outlives retention of its source files and a server restart."""
import json

import h5py

import sdtest
from pivot_helpers import EXAMPLE, T0_NS, iso, send_records
from test_pivot_rest import get, start_server


def test_tags_survive_retention_and_restart(stack, tmp_path):
    port = stack.add_channel("example", block_size="2KiB", flush_interval="50ms",
                             rotation={"max_size": "16KiB"}, retention={"max_size": "64KiB", "min_free": 0})
    stack.start_relay("example")
    send_records(stack, "example", port, EXAMPLE, [sdtest.example_record(i) for i in range(1000)], pace_every=20)
    server, base = start_server(stack)
    status, _, body = get(base + "/api/v1/tags", method="POST",
                          body={"name": "first half second", "start": iso(T0_NS), "duration": "PT0.5S",
                                "channels": ["example"], "signals": ["counter", "message"], "note": "keep me"})
    assert status == 201, body
    tag = json.loads(body)
    assert tag["name"] == "first half second" and tag["rows"] == 500 and tag["note"] == "keep me"
    assert tag["channels"] == ["example"] and tag["signals"] == ["counter", "message"]
    tag_file = stack.data_dir / "tags" / tag["file"]
    assert tag_file.exists()

    # Retention removes the source files of the tagged range...
    send_records(stack, "example", port, EXAMPLE, [sdtest.example_record(i) for i in range(1000, 9000)],
                 pace_every=20)
    sdtest.wait_for(lambda: min(r["counter"] for r in stack.cached_records("example")) > 500, 20,
                    what="retention of the tagged range")
    status, _, body = get(base + "/api/v1/pivot/export", {"start": iso(T0_NS), "duration": "PT0.5S",
                                                           "channels": "example"})
    assert status == 404  # the cache no longer has it...
    # ...but the tag does, and it survives a restart of the server.
    server.stop()
    server, base = start_server(stack)
    status, _, body = get(base + "/api/v1/tags")
    assert status == 200
    assert [t["id"] for t in json.loads(body)["tags"]] == [tag["id"]]
    status, _, body = get(base + f"/api/v1/tags/{tag['id']}")
    assert status == 200 and json.loads(body) == tag
    status, headers, body = get(base + f"/api/v1/tags/{tag['id']}/download")
    assert status == 200 and headers["Content-Type"] == "application/x-hdf5"
    assert tag["file"] in headers["Content-Disposition"]
    out = tmp_path / "tag.h5"
    out.write_bytes(body)
    with h5py.File(out, "r") as f:
        assert list(f["example/counter"][...]) == list(range(500))
        assert sorted(f["example"].keys()) == ["counter", "message", "time"]

    # Errors name the field.
    for body_, code, msg in [
        ({"start": iso(T0_NS), "duration": "PT1S", "channels": ["example"]}, 400, "name: required"),
        ({"name": "x", "duration": "PT1S", "channels": ["example"]}, 400, "start: required"),
        ({"name": "x", "start": iso(T0_NS), "channels": ["example"]}, 413, "end: the range is"),
        ({"name": "x", "start": iso(T0_NS), "duration": "PT1S"}, 400, "channels: required"),
        ({"name": "x", "start": iso(T0_NS), "duration": "PT1S", "channels": ["nope"]}, 404, "unknown channel 'nope'"),
        ({"name": "x", "start": iso(T0_NS), "duration": "PT1S", "channels": ["example"]}, 404, "no data in"),
        ({"name": "x", "start": iso(T0_NS), "duration": "PT10M", "channels": ["example"]}, 413, "limits.max_duration"),
    ]:
        status, _, b = get(base + "/api/v1/tags", method="POST", body=body_)
        assert status == code, (body_, b)
        assert msg in json.loads(b)["error"], (body_, b)
    status, _, b = get(base + "/api/v1/tags/abc")
    assert status == 400 and "id:" in json.loads(b)["error"]
    status, _, b = get(base + "/api/v1/tags/999")
    assert status == 404 and json.loads(b)["error"] == "id: no tag 999"

    # DELETE removes the record and the file.
    status, _, b = get(base + f"/api/v1/tags/{tag['id']}", method="DELETE")
    assert status == 200 and json.loads(b) == {"deleted": tag["id"]}
    assert not tag_file.exists()
    assert get(base + f"/api/v1/tags/{tag['id']}")[0] == 404
    assert get(base + f"/api/v1/tags/{tag['id']}", method="DELETE")[0] == 404


def test_tag_cli_and_python_client(stack, tmp_path):
    port = stack.add_channel("example")
    stack.start_relay("example")
    recs = [sdtest.example_record(i) for i in range(1000)]
    send_records(stack, "example", port, EXAMPLE, recs)
    from pivot_helpers import write_pivot_config
    write_pivot_config(stack)
    r = stack.run("tag", "create", "--name", "cli tag", "--start", iso(T0_NS + 10_000_000), "--duration", "PT0.01S",
                  "--channels", "example", "--json")
    assert r.returncode == 0, r.stderr
    t = json.loads(r.stdout)
    assert t["rows"] == 10
    r = stack.run("tag", "list")
    assert r.returncode == 0 and "cli tag" in r.stdout
    r = stack.run("tag", "create", "--name", "x", "--start", "nope", "--duration", "PT1S", "--channels", "example")
    assert r.returncode == 2 and "--start:" in r.stderr
    r = stack.run("tag", "show", "42")
    assert r.returncode == 4 and "id: no tag 42" in r.stderr

    # The server sees the CLI's tag; the Python client tags and exports through it.
    server, base = start_server(stack)
    status, _, body = get(base + "/api/v1/tags")
    assert [x["name"] for x in json.loads(body)["tags"]] == ["cli tag"]
    from speeddata_client import SpeedDataClient, SpeedDataError
    client = SpeedDataClient(pivot_url=base)
    data = client.export(start=(T0_NS + 100_000_000) / 1e9, duration=0.05, channels=["example"])
    assert list(data.example.counter) == list(range(100, 150))
    assert list(data.example.time_ns) == [rec["time"] for rec in recs[100:150]]
    rec = client.tag("client tag", start=iso(T0_NS), duration="PT0.2S", channels=["example"], note="n")
    assert rec["rows"] == 200 and rec["name"] == "client tag"
    try:
        client.export(start=iso(T0_NS), duration="PT1S", channels=["nope"])
        raise AssertionError("expected an error")
    except SpeedDataError as e:
        assert e.status == 404 and "unknown channel 'nope'" in e.message
    r = stack.run("tag", "delete", str(t["id"]))
    assert r.returncode == 0, r.stderr
    status, _, body = get(base + "/api/v1/tags")
    assert [x["name"] for x in json.loads(body)["tags"]] == ["client tag"]
