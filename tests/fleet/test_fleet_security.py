"""A fleet whose NATS wants TLS (server and client certificates) and a user with a password
(docs/fleet.md, "Securing NATS"): two hosts on a test bridge, certificates made by openssl for
the test. The fleet works with the right settings; a wrong password or a missing client
certificate is refused, said in /api/v1/fleet and the log, and never stops local capture."""
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
import fleet as fleetlib  # noqa: E402
import sdtest  # noqa: E402
from test_fleet import console  # noqa: E402  (its console driver helper)

EXAMPLE_SCHEMA = (sdtest.REPO / "config" / "agents" / "example.avsc").read_text()
PASSWORD = "correct horse battery staple"
WRONG = "wr0ng-Passw0rd-for-h2"


def make_certs(d):
    """A CA, a server certificate for the hosts' addresses and a client certificate."""
    def ssl(*args):
        r = subprocess.run(["openssl", *args], cwd=d, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ssl("req", "-x509", *ec, "-days", "2", "-subj", "/CN=speeddata test CA", "-keyout", "ca.key", "-out", "ca.pem")
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1,IP:10.77.0.1,IP:10.77.0.2\nextendedKeyUsage=serverAuth\n"),
                      ("client", "extendedKeyUsage=clientAuth\n")):
        (d / f"{name}.ext").write_text(ext)
        ssl("req", *ec, "-subj", f"/CN={name}", "-keyout", f"{name}.key", "-out", f"{name}.csr")
        ssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem")
    return {n: (d / n).read_text() for n in ("ca.pem", "client.pem", "client.key")}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    certs = tmp_path_factory.mktemp("certs")
    files = make_certs(certs)
    files["nats.password"] = PASSWORD + "\n"
    f = fleetlib.Fleet(tmp_path_factory.mktemp("fleet"), 2,
                       nats_args=["--tlsverify", "--tlscert", str(certs / "server.pem"),
                                  "--tlskey", str(certs / "server.key"), "--tlscacert", str(certs / "ca.pem"),
                                  "--user", "speeddata", "--pass", PASSWORD],
                       cluster={"user": "speeddata", "password_file": "nats.password",
                                "tls": {"ca": "ca.pem", "cert": "client.pem", "key": "client.key"}},
                       config_files=files)
    try:
        f.start("up", channels={2: {"local2": {"port": 26402, "schema": "agents/example.avsc",
                                               "decimation": {"factor": 1}}}})
        yield f
    finally:
        f.close()


def fleet_state(host):
    status, body = host.api("GET", "/api/v1/fleet")
    assert status == 200, body
    return body


def test_fleet_over_tls_with_a_user(fleet):
    h1, h2 = fleet.hosts
    st = fleet_state(h1)
    assert st["connected"] is True and st["tls"] is True and st["auth"] == "user", st
    assert st["nats_error"] == ""
    assert PASSWORD not in json.dumps(st)
    # The registry works across hosts over TLS: registered on h1, run by h2.
    body = {"name": "secure", "port": 26401, "schema": EXAMPLE_SCHEMA, "host": "h2",
            "config": {"decimation": {"factor": 1}}}
    status, out = h1.api("POST", "/api/v1/channels", body)
    assert status == 201, out
    sdtest.wait_for(lambda: h2.channels().get("secure", {}).get("status") == "active", timeout=30,
                    what="h2 running the channel registered on h1 over TLS")
    sdtest.wait_for(lambda: h1.channels().get("local2", {}).get("host") == "h2", timeout=30,
                    what="h2's relay.yaml channel on h1's list")
    # The pivot's and the stripchart's connections use the same settings: h1's stripchart
    # knows h2's channel (from the registry) and h1's pivot lists h2's cached files.
    r = h2.run([sdtest.BIN, "send", "--source", "example", "--port", "26402", "--count", "100",
                "--rate", "1000", "--json"], timeout=60)
    assert r.returncode == 0, r.stderr
    sdtest.wait_for(lambda: h2.channels()["local2"]["figures"]["records_written"] >= 100, timeout=30,
                    what="h2 caching local2")
    t = time.time()
    url = h1.url(fleetlib.PIVOT_PORT, "/api/v1/pivot/export?start=now-60s&duration=PT70S&channels=local2")
    def exported():
        status, data = fleetlib.http("GET", url, timeout=30)
        return data if status == 200 and isinstance(data, bytes) and data[:8] == b"\x89HDF\r\n\x1a\n" else None
    data = sdtest.wait_for(exported, timeout=30, interval=1, what=f"h1 exporting h2's channel over TLS (started {t})")
    out = fleet.tmp / "secure.h5"
    out.write_bytes(data)
    import h5py
    with h5py.File(out, "r") as f:
        counters = list(f["local2/counter"][...])
    assert len(counters) == 100 and counters == list(range(counters[0], counters[0] + 100))


def restart_h2_with(fleet, cluster_overrides):
    h2 = fleet.hosts[1]
    h2.stop_stack()
    glob = json.loads((h2.config_dir / "global.yaml").read_text())
    glob["cluster"].update(cluster_overrides)
    for k in [k for k, v in glob["cluster"].items() if v is None]:
        del glob["cluster"][k]
    (h2.config_dir / "global.yaml").write_text(json.dumps(glob))
    h2.start_stack("up")
    return h2


@pytest.mark.parametrize("case", ["wrong password", "no client certificate"])
def test_refused_credentials_are_said_and_capture_goes_on(fleet, case):
    h1, h2 = fleet.hosts
    if case == "wrong password":
        (h2.config_dir / "wrong.password").write_text(WRONG + "\n")
        restart_h2_with(fleet, {"password_file": "wrong.password"})
    else:
        restart_h2_with(fleet, {"tls": {"ca": "ca.pem"}})
    # nats.c's text: "Authentication Violation" for the password in most runs, but its attempts
    # alternate with "No server available for connection", and in about one run in four (seen
    # here) only that one is ever read; for the certificate an SSL error or the same. So the
    # test asks for a reason, not a wording (docs/fleet.md says so).
    st = sdtest.wait_for(lambda: (lambda s: s if s["nats_error"] else None)(fleet_state(h2)), timeout=20,
                         what=f"h2 saying why NATS refused it ({case})")
    print(f"{case}: nats_error {st['nats_error']!r}")
    assert st["connected"] is False
    assert PASSWORD not in json.dumps(st) and WRONG not in json.dumps(st)
    sdtest.wait_for(lambda: "fleet: NATS: " in h2.log("up.log"), timeout=10, what="the refusal in h2's log")
    if case == "wrong password":
        # h2's console says it too, with the reason (headless Chromium).
        page = console(h2, wait={"local2": {"status": "active"}})["table"]
        assert page["fleet_state"] and page["fleet_state"].startswith("fleet: NATS not connected ("), page["fleet_state"]
        assert WRONG not in json.dumps(page) and PASSWORD not in json.dumps(page), page["fleet_state"]
    assert PASSWORD not in h2.log("up.log") and WRONG not in h2.log("up.log")
    # Local capture does not need NATS: h2's relay.yaml channel records every datagram.
    sdtest.wait_for(lambda: h2.channels().get("local2", {}).get("status") == "active", timeout=30,
                    what="local2 running on h2 without NATS")
    before = h2.channels()["local2"]["figures"]["records_written"]
    r = h2.run([sdtest.BIN, "send", "--source", "example", "--port", "26402", "--count", "500",
                "--rate", "2000", "--json"], timeout=60)
    assert r.returncode == 0, r.stderr
    sdtest.wait_for(lambda: h2.channels()["local2"]["figures"]["records_written"] >= before + 500, timeout=30,
                    what="h2 caching all 500 records with NATS refusing it")
    # Put h2 back as it was, connected: the next case starts from a working fleet.
    restart_h2_with(fleet, {"password_file": "nats.password", "tls": {"ca": "ca.pem", "cert": "client.pem",
                                                                     "key": "client.key"}})
    sdtest.wait_for(lambda: fleet_state(h2)["connected"], timeout=30, what="h2 connected again")


def test_a_bad_secret_file_fails_config_check_by_key(fleet, tmp_path):
    h1 = fleet.hosts[0]
    cfg = tmp_path / "config"
    subprocess.run(["cp", "-r", str(h1.config_dir), str(cfg)], check=True)
    glob = json.loads((cfg / "global.yaml").read_text())
    glob["cluster"]["password_file"] = "missing.password"
    (cfg / "global.yaml").write_text(json.dumps(glob))
    r = subprocess.run([sdtest.BIN, "config", "check", "--config-dir", str(cfg)], capture_output=True, text=True)
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"{cfg}/global.yaml: cluster.password_file: cannot read" in r.stderr, r.stderr
