"""Several hosts as one SpeedData over NATS (docs/fleet.md): three network namespaces on a
bridge, each with a nats-server cluster member and `speeddata up`. One fleet for the whole
file (starting three stacks is the expensive part); the tests run in order and the last one
kills a host."""
import datetime
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import h5py
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
import fleet as fleetlib  # noqa: E402
import sdtest  # noqa: E402
from stripchart_ws import WsClient, parse_frame  # noqa: E402

EXAMPLE_SCHEMA_FILE = sdtest.REPO / "config" / "agents" / "example.avsc"
EXAMPLE_SCHEMA = EXAMPLE_SCHEMA_FILE.read_text()
CONSOLE_DRIVER = Path(__file__).resolve().parent / "console_fleet_driver.mjs"
ARTIFACTS = sdtest.REPO / "tests" / "artifacts"  # the console's screenshots


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    f = fleetlib.Fleet(tmp_path_factory.mktemp("fleet"), 3)
    try:
        # h3 has a relay.yaml channel of its own; the rest are registered through the API.
        f.start("up", channels={3: {"c3conf": {"port": 26301, "schema": "agents/example.avsc",
                                               "decimation": {"factor": 1}}}})
        yield f
    finally:
        f.close()


def send(host, port, count, rate=2000):
    r = host.run([sdtest.BIN, "send", "--source", "example", "--port", str(port), "--count", str(count),
                  "--rate", str(rate), "--json"], timeout=60)
    assert r.returncode == 0, r.stderr


def register(host, name, port, on=None, factor=1):
    body = {"name": name, "port": port, "schema": EXAMPLE_SCHEMA, "config": {"decimation": {"factor": factor}}}
    if on:
        body["host"] = on
    status, out = host.api("POST", "/api/v1/channels", body)
    assert status == 201, out
    return out


def console(host, **spec):
    """What HOST's web console shows (console_fleet_driver.mjs, headless Chromium), loaded from
    the host's bridge address as a user's browser would; spec as the driver documents."""
    r = subprocess.run(["/usr/bin/node", str(CONSOLE_DRIVER), host.url(fleetlib.ORCH_PORT, ""), json.dumps(spec)],
                       capture_output=True, text=True, timeout=120)
    assert r.stdout.strip(), r.stderr
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert r.returncode == 0, (res, r.stderr)
    assert res["page_errors"] == [], res["page_errors"]
    return res


def rows_of(table):
    return {r["channel"]: r for r in table["rows"]}


def test_one_registry_across_hosts(fleet):
    h1, h2, h3 = fleet.hosts
    out = register(h1, "ontwo", 26201, on="h2")
    assert out["host"] == "h2" and out["local"] is False
    # B runs it: its own API lists it as local, with a running relay reporting figures.
    sdtest.wait_for(lambda: h2.channels().get("ontwo", {}).get("status") == "active", timeout=30,
                    what="h2 running the relay of a channel registered on h1")
    c = h2.channels()["ontwo"]
    assert c["local"] is True and c["host"] == "h2" and c["pid"]
    # C shows it, with its host and live figures from h2.
    sdtest.wait_for(lambda: h3.channels().get("ontwo", {}).get("status") == "active", timeout=30,
                    what="h3's API showing h2's channel as active")
    c = h3.channels()["ontwo"]
    assert c["host"] == "h2" and c["local"] is False and c["reachable"] is True
    assert c["figures"] is not None
    # h1 does not run it; h3's relay.yaml channel is on every host's list too.
    assert "ontwo" not in [p["name"] for p in h1.channels().values() if p.get("local")]
    sdtest.wait_for(lambda: h1.channels().get("c3conf", {}).get("host") == "h3", timeout=30,
                    what="h3's relay.yaml channel on h1's list")
    # The schema of another host's channel is served too (the stripchart asks for it).
    status, schema = h3.api("GET", "/api/v1/channels/ontwo/schema")
    assert status == 200 and schema["namespace"] == "speeddata.example", schema
    # A port taken on the target host is refused there, by name.
    status, err = h3.api("POST", "/api/v1/channels", {"name": "clash", "port": 26201, "schema": EXAMPLE_SCHEMA,
                                                     "host": "h2"})
    assert status == 409 and err["used_by"] == "ontwo", err
    # De-registering on C stops the relay on B.
    register(h3, "gone", 26202, on="h2")
    sdtest.wait_for(lambda: h2.channels().get("gone", {}).get("pid"), timeout=30, what="h2 running 'gone'")
    status, out = h3.api("DELETE", "/api/v1/channels/gone")
    assert status == 200, out
    sdtest.wait_for(lambda: "gone" not in h2.channels() and "gone" not in h1.channels(), timeout=30,
                    what="'gone' removed fleet-wide")
    # The console reads this API: its page is served by every host.
    status, page = h3.api("GET", "/")
    assert status == 200


def test_console_shows_the_fleet(fleet):
    h1, h2, h3 = fleet.hosts
    res = console(h3, wait={"ontwo": {"host": "h2", "reachable": "true", "status": "active"}, "c3conf": {"host": "h3"}},
                  register={"name": "viaconsole", "host": "h2", "schema_file": str(EXAMPLE_SCHEMA_FILE)},
                  filter="h2", screenshot=str(ARTIFACTS / "console-fleet.png"))
    t = res["table"]
    rows = rows_of(t)
    # Every row says where its relay runs; this host's own are marked.
    assert rows["ontwo"]["host_text"] == "h2" and rows["ontwo"]["local"] == "false", rows["ontwo"]
    assert rows["ontwo"]["status_text"].startswith("active") and rows["ontwo"]["stale_cells"] == 0, rows["ontwo"]
    assert rows["c3conf"]["host_text"] == "h3 (this host)" and rows["c3conf"]["local"] == "true", rows["c3conf"]
    assert t["host_header"] and all(r["host_shown"] for r in t["rows"]), t
    # The filter and the register form's host list know every host of the fleet.
    assert [v for v, _ in t["filter_options"]] == ["", "h1", "h2", "h3"], t["filter_options"]
    assert t["filter_options"][0][1] == "all hosts" and t["filter_shown"] and t["register_host_shown"], t
    assert t["known_hosts"] == ["h1", "h2", "h3"], t["known_hosts"]
    assert t["fleet_state"].startswith("fleet: 3 hosts"), t["fleet_state"]
    # Registered for h2 through h3's form (the host sent), then de-registered through the dialog.
    reg = res["register"]
    assert reg["sent_host"] == "h2", reg
    assert "registered viaconsole on UDP port" in reg["message"] and "of host h2" in reg["message"], reg
    assert reg["row"]["host"] == "h2" and reg["row"]["local"] == "false", reg
    assert "of host h2" in reg["confirm_text"], reg
    assert reg["deregister_message"].startswith("de-registered viaconsole"), reg
    # The host filter narrows the table to h2's channels, across refreshes and a reload.
    for key in ("filtered", "filtered_after_refresh", "filtered_after_reload"):
        f = res[key]
        assert f["filter_value"] == "h2" and "host=h2" in f["url"], (key, f)
        assert "ontwo" in rows_of(f) and {r["host"] for r in f["rows"]} == {"h2"}, (key, f["rows"])
        assert f["shown_note"].startswith(f"{len(f['rows'])} of "), (key, f["shown_note"])
    assert {"ontwo", "c3conf"} <= set(rows_of(res["unfiltered"])), res["unfiltered"]["rows"]
    sdtest.wait_for(lambda: "viaconsole" not in h2.channels() and "viaconsole" not in h1.channels(), timeout=30,
                    what="'viaconsole' (de-registered in h3's console) removed fleet-wide")


def test_live_data_over_nats(fleet):
    h1, h2, h3 = fleet.hosts
    sdtest.wait_for(lambda: h2.channels().get("ontwo", {}).get("status") == "active", timeout=30, what="ontwo")
    sig = lambda: {s["name"]: s["id"] for s in  # noqa: E731
                   fleetlib.http("GET", h3.url(fleetlib.STRIP_PORT, "/api/v1/signals"))[1]["signals"]}
    ids = sdtest.wait_for(lambda: sig() if "ontwo.counter" in sig() else None, timeout=30,
                          what="h3's stripchart knowing h2's channel")
    ws = WsClient(h3.addr, fleetlib.STRIP_PORT, timeout=10)
    try:
        ws.send_json({"type": "subscribe", "signals": ["ontwo.counter"]})
        n = 300
        send(h2, 26201, n, rate=1000)  # on B, to B's relay; C has no route to B's multicast
        got, deadline = [], time.time() + 20
        while time.time() < deadline and len(got) < n:
            kind, m = ws.recv()
            if kind == "binary":
                seq, dropped, segs = parse_frame(m)
                assert dropped == 0
                for sid, (t, v) in segs.items():
                    assert sid == ids["ontwo.counter"]
                    got.extend(v)
        assert len(got) == n, f"{len(got)} of {n} values over NATS"
        assert got == [got[0] + i for i in range(n)]
    finally:
        ws.close()
    status, f = h2.api("GET", "/api/v1/fleet")
    assert f["forwarded"] > 0 and f["connected"] is True


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def cached_records(host, channel):
    files = sorted((host.data_dir / "avro" / channel).glob("*.avro"))
    recs = [r for f in files for r in sdtest.read_container(f)[0]]
    return sorted(recs, key=lambda r: r["time"])


def test_one_export_across_hosts(fleet, tmp_path):
    h1, h2, h3 = fleet.hosts
    t0 = time.time()  # after the live test's records
    n = 500
    send(h3, 26301, n)   # h3's relay.yaml channel
    send(h2, 26201, n)   # h2's registered channel (it also holds the live test's records)
    sdtest.wait_for(lambda: h3.channels()["c3conf"]["figures"]["records_written"] >= n, timeout=30, what="c3conf cached")
    sdtest.wait_for(lambda: h2.channels()["ontwo"]["figures"]["records_written"] >= n + 300, timeout=30,
                    what="ontwo cached")
    url = h1.url(fleetlib.PIVOT_PORT, f"/api/v1/pivot/export?channels=ontwo,c3conf&start={iso(t0)}&end={iso(time.time() + 1)}")
    out = tmp_path / "fleet.h5"
    with urllib.request.urlopen(url, timeout=60) as r:
        out.write_bytes(r.read())
    want = {"ontwo": [r for r in cached_records(h2, "ontwo") if r["time"] >= t0 * 1e9],
            "c3conf": [r for r in cached_records(h3, "c3conf") if r["time"] >= t0 * 1e9]}
    assert len(want["c3conf"]) == n and len(want["ontwo"]) == n
    with h5py.File(out, "r") as f:
        for ch, recs in want.items():
            g = f[ch]
            assert list(g["time"][...]) == [r["time"] for r in recs], ch
            assert list(g["counter"][...]) == [r["counter"] for r in recs], ch
            assert list(g["sine_wave"][...]) == [r["sine_wave"] for r in recs], ch
            counters = list(g["counter"][...])
            assert counters == list(range(counters[0], counters[0] + n)), ch
    # A channel no host caches: the local export's error.
    status, err = fleetlib.http("GET", h1.url(fleetlib.PIVOT_PORT,
                                f"/api/v1/pivot/export?channels=nosuch&start={iso(t0)}&end={iso(time.time())}"))
    assert status == 404 and "nosuch" in err["error"], err


def test_nats_outage_keeps_capture_and_fleet_resumes(fleet):
    h1, h2, h3 = fleet.hosts
    register(h1, "onone", 26101)
    sdtest.wait_for(lambda: h2.channels().get("onone", {}).get("status") == "active", timeout=30,
                    what="onone active, as h2 sees it")
    # A whole NATS outage for h1: its member stopped and no way to the others' (its client
    # fails over to another member otherwise; docs/fleet.md). The test talks to h1's API
    # from inside h1 meanwhile.
    h1.stop_nats()
    h1.set_link(False)
    sdtest.wait_for(lambda: h1.api_local("GET", "/api/v1/fleet")[1]["connected"] is False, timeout=20,
                    what="h1 noticing NATS is gone")
    n = 2000
    send(h1, 26101, n)

    def cached():
        return {c["name"]: c for c in h1.api_local("GET", "/api/v1/channels")[1]["channels"]}["onone"]["figures"][
            "records_written"]
    sdtest.wait_for(lambda: cached() == n, timeout=20, what=f"all {n} records in h1's cache")
    files = sorted((h1.data_dir / "avro" / "onone").glob("*.avro"))
    records = sum(len(sdtest.read_container(f)[0]) for f in files)
    assert records == n
    # Registering on h1 during the outage works locally; the fleet learns it later.
    status, out = h1.api_local("POST", "/api/v1/channels", {"name": "during", "port": 26102, "schema": EXAMPLE_SCHEMA})
    assert status == 201, out
    # ...but not for another host (that needs the fleet).
    status, out = h1.api_local("POST", "/api/v1/channels", {"name": "x", "schema": EXAMPLE_SCHEMA, "host": "h2"})
    assert status == 503, out
    # Others show h1's channels as unreachable meanwhile.
    try:
        sdtest.wait_for(lambda: h2.channels().get("onone", {}).get("status") == "unreachable", timeout=40,
                        what="h2 showing h1's channel unreachable")
    except TimeoutError:
        print("h2 onone:", h2.channels().get("onone"), "fleet:", h2.api("GET", "/api/v1/fleet")[1])
        print("h1 fleet:", h1.api_local("GET", "/api/v1/fleet"))
        raise
    h1.set_link(True)
    h1.start_nats()
    fleet.wait_jetstream(60)
    sdtest.wait_for(lambda: h2.channels().get("during", {}).get("status") == "active", timeout=60,
                    what="the channel registered during the outage reaching the fleet")
    assert h2.channels()["onone"]["status"] == "active"


def test_host_loss_leaves_the_others_working(fleet):
    h1, h2, h3 = fleet.hosts
    sdtest.wait_for(lambda: h1.channels().get("ontwo", {}).get("status") == "active", timeout=30, what="ontwo")
    h2.stack.kill9()
    h2.stop_nats()
    sdtest.wait_for(lambda: h1.channels()["ontwo"]["status"] == "unreachable", timeout=30,
                    what="h2's channel shown unreachable on h1")
    sdtest.wait_for(lambda: h3.channels()["ontwo"]["status"] == "unreachable", timeout=30,
                    what="h2's channel shown unreachable on h3")
    c = h3.channels()
    assert c["ontwo"]["reachable"] is False
    assert c["c3conf"]["status"] == "active"
    # h1's console: h2's channel unreachable with its last figures greyed, h3's still active.
    # (While JetStream elects new leaders h1 may briefly see h3 as unreachable too: waited out.)
    res = console(h1, wait={"ontwo": {"reachable": "false"}, "c3conf": {"status": "active", "reachable": "true"}},
                  timeout_ms=45000, screenshot=str(ARTIFACTS / "console-fleet-host-lost.png"))
    t = res["table"]
    rows = rows_of(t)
    gone, alive = rows["ontwo"], rows["c3conf"]
    assert gone["host"] == "h2" and gone["host_text"] == "h2" and gone["status"] == "unreachable", gone
    assert gone["status_text"].startswith("unreachable") and "status-unreachable" in gone["status_class"], gone
    assert gone["stale_cells"] == 8 and gone["stale_title"] == "last figures from h2, not current", gone
    assert alive["host"] == "h3" and alive["host_text"] == "h3" and alive["status_text"].startswith("active"), alive
    assert alive["stale_cells"] == 0, alive
    assert ["h2", "h2 — unreachable"] in t["filter_options"], t["filter_options"]
    # h1 and h3 keep working: a new registration on h1 for h3 still runs there (JetStream
    # keeps its quorum with two of three members).
    register(h1, "afterloss", 26303, on="h3")
    sdtest.wait_for(lambda: h3.channels().get("afterloss", {}).get("status") == "active", timeout=60,
                    what="h3 starting a channel registered on h1 after h2 died")
    # The host comes back: it rejoins, reruns its relays, and is shown reachable again.
    h2.start_nats()
    fleet.wait_jetstream(60)
    h2.start_stack("up")
    sdtest.wait_for(lambda: h1.channels()["ontwo"]["status"] == "active", timeout=60,
                    what="h2's channel active again on h1's list after h2 came back")


def test_tag_outlives_its_host(fleet, tmp_path):
    h1, h2, h3 = fleet.hosts
    t0 = time.time()
    send(h3, 26301, 200)
    sdtest.wait_for(lambda: h3.channels()["c3conf"]["figures"]["records_written"] >= 700, timeout=30, what="cached")
    body = {"name": "keep me", "channels": ["c3conf"], "start": iso(t0), "end": iso(time.time() + 1)}
    status, tag = fleetlib.http("POST", h1.url(fleetlib.PIVOT_PORT, "/api/v1/tags"), body, timeout=60)
    assert status == 201, tag
    assert tag["fleet"]["stored"] is True, tag
    key = tag["fleet"]["key"]
    original = (h1.data_dir / "tags" / tag["file"]).read_bytes()
    # h1 goes away entirely: its stack and its NATS member.
    h1.stack.kill9()
    h1.stop_nats()
    # While JetStream elects new leaders for what h1 led, the fleet answers 503 (retry).
    tags_url = h2.url(fleetlib.PIVOT_PORT, "/api/v1/fleet/tags")
    status, listed = sdtest.wait_for(lambda: (lambda r: r if r[0] == 200 else None)(fleetlib.http("GET", tags_url, timeout=30)),
                                     timeout=60, interval=0.5, what="the fleet's tags listed from h2")
    assert key in [t["key"] for t in listed["tags"]]
    url = h2.url(fleetlib.PIVOT_PORT, f"/api/v1/fleet/tags/{key}/download")
    with urllib.request.urlopen(url, timeout=60) as r:
        got = r.read()
    assert got == original
    out = tmp_path / "tag.h5"
    out.write_bytes(got)
    with h5py.File(out, "r") as f:
        counters = list(f["c3conf/counter"][...])
    assert len(counters) == 200 and counters == list(range(counters[0], counters[0] + 200))
