"""The orchestrator's web console in headless Chromium: register through the form, see the
channel go active, de-register it; the token field; screenshots kept in tests/artifacts/."""
import json
import re
import subprocess
from pathlib import Path

import sdtest
from orchlib_path import orchlib  # noqa: F401  (puts tests/integration on sys.path)
from orchlib import pid_alive, send_example, start_orchestrator

HERE = Path(__file__).resolve().parent
ARTIFACTS = sdtest.REPO / "tests" / "artifacts"


def test_console_register_active_deregister(stack):
    stack.add_channel("example")
    proc, api = start_orchestrator(stack)
    try:
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "console.png"
        shot.unlink(missing_ok=True)
        r = subprocess.run(["/usr/bin/node", str(HERE / "console_driver.mjs"), api.base, str(ARTIFACTS), "web1",
                            str(sdtest.REPO / "config" / "agents" / "example.avsc")],
                           capture_output=True, text=True, timeout=90)
        assert r.stdout.strip(), r.stderr
        res = json.loads(r.stdout.strip().splitlines()[-1])
        print(json.dumps(res, indent=1))
        assert r.returncode == 0, (res, r.stderr)
        assert res["steps"] == ["table", "registered", "active", "deregistered"]
        assert res["initial_rows"] == ["example"]
        # One host: the rows name it, the fleet's host column, filter and field stay hidden.
        status, h, _ = api.get("/api/v1/health")
        assert status == 200 and h["host"], h
        assert res["single_host"] == {"host": h["host"], "local": "true", "reachable": "true", "host_header": False,
                                      "host_cell": False, "filter": False, "register_host": False}, res["single_host"]
        assert "registered web1 on UDP port" in res["register_message"]
        assert "ok" in res["register_class"].split()
        # After a registration the form is clean (the old schema is not sent again by mistake)...
        assert res["form_after"] == {"name": "", "port": "", "schema": "", "factor": "10", "algorithm": "minmax"}
        # ...and a second click answers visibly, with the API's JSON message.
        assert res["second_click_message"].startswith("400: name"), res["second_click_message"]
        assert "error" in res["second_click_class"].split()
        # Every click answers: the same 409 again is a new (flashing) answer.
        assert res["repeat"]["answers"] == 1 and res["repeat"]["message"].startswith("409")
        assert "flash" in res["repeat"]["class"].split()
        # Long doc lines wrap inside the schema panel, none of the text lost.
        sp = res["schema_panel"]
        assert sp["whole_doc"] and sp["scrollWidth"] <= sp["clientWidth"] + 1, sp
        # A favicon, and no failed request at all (the browser asks for one).
        fav = res["favicon"]
        assert fav["href"] == "favicon.svg" and fav["linked"] == {"status": 200, "type": "image/svg+xml"}, fav
        assert fav["ico"] == {"status": 200, "type": "image/x-icon"}, fav
        # (the refused registrations above are the only answers >= 400)
        unexpected = [r for r in res["failed_requests"] if not re.fullmatch(r"(400|409) POST \S+/api/v1/channels", r)]
        assert unexpected == [], res["failed_requests"]
        assert not any("404" in m for m in res["console_errors"]), res["console_errors"]
        assert res["formats"] == ["0", "0", "6.76116e-14", "0.951057", "12345", "-3", "1.5e-7", "2.34568e+9",
                                  "123.457", "0"]
        assert res["schema_shown"] is True
        assert "stripchart not running" in res["ws_state"] or "live from" in res["ws_state"]
        assert res["duplicate_message"].startswith("409") and "exists" in res["duplicate_message"]
        assert res["kept_after_cancel"] is True
        assert res["page_errors"] == []
        assert res["theme"] in ("dark", "light")
        assert shot.stat().st_size > 10000
        # The API agrees: the channel is gone and its relay stopped.
        assert api.get("/api/v1/channels/web1")[0] == 404
    finally:
        proc.stop()


def _marked(path):
    text = path.read_text()
    m = re.search(r"// <formatValue>.*?// </formatValue>", text, re.S)
    assert m, f"{path}: no <formatValue> block"
    return m.group(0).replace("export function", "function")


def test_console_and_stripchart_share_one_number_format():
    # One formatter: the console's copy is the stripchart's, word for word.
    web = sdtest.REPO / "web"
    assert _marked(web / "console" / "format.js") == _marked(web / "stripchart" / "stripchart.js")


def test_console_token_field(stack):
    # With a token, the console's first calls get 401: it asks for the token, keeps it for the
    # session (sessionStorage, the key the stripchart reads) and sends it as a bearer header.
    stack.add_channel("example")
    proc, api = start_orchestrator(stack, extra=("--token", "s3cret-t0ken"))
    try:
        r = subprocess.run(["/usr/bin/node", str(HERE / "console_token_driver.mjs"), api.base, "s3cret-t0ken"],
                           capture_output=True, text=True, timeout=90)
        assert r.stdout.strip(), r.stderr
        res = json.loads(r.stdout.strip().splitlines()[-1])
        assert r.returncode == 0, (res, r.stderr)
        assert "token" in res["asked"]["text"] and "401" in res["asked"]["text"], res["asked"]
        assert res["asked"]["needed"] and res["asked"]["focused"], res["asked"]
        assert res["rows"] == ["example"]
        assert res["stored"] == {"session": "s3cret-t0ken", "local": None}
        assert res["authorization"] == "Bearer s3cret-t0ken"
        assert res["state_after"]["needed"] is False and "session" in res["state_after"]["text"]
        # A reload keeps it (same session), so the table is there at once.
        assert res["after_reload"] == ["example"]
        # A wrong token is refused and asked for again.
        assert "refused" in res["wrong"]["text"] and res["wrong"]["needed"], res["wrong"]
        assert res["page_errors"] == []
    finally:
        proc.stop()


def test_console_shows_latest_values_from_the_stripchart(stack):
    stack.add_channel("example")
    for f in ("stripchart.yaml",):
        (stack.config_dir / f).write_text((sdtest.REPO / "config" / f).read_text())
    proc, api = start_orchestrator(stack)
    strip = stack.start("stripchart", "--port", "8081", name="stripchart")
    src = stack.start("send", "--channel", "example", "--rate", "200", name="send")
    try:
        ARTIFACTS.mkdir(exist_ok=True)
        r = subprocess.run(["/usr/bin/node", str(HERE / "console_values_driver.mjs"), api.base, str(ARTIFACTS),
                            "example", "counter"], capture_output=True, text=True, timeout=90)
        assert r.stdout.strip(), r.stderr
        res = json.loads(r.stdout.strip().splitlines()[-1])
        assert r.returncode == 0, (res, r.stderr, strip.output()[-2000:])
        assert "ws://" in res["ws_state"] and ":8081/ws" in res["ws_state"]
        # Live: the counter advances between two reads a second apart.
        c1 = float(res["first"]["counter"].replace(",", ""))
        c2 = float(res["second"]["counter"].replace(",", ""))
        assert c2 > c1
        assert {"time", "sine_wave", "ramp"} <= set(res["second"])
        # Readable numbers: integers as integers (no thousands separators), otherwise at most 6
        # significant digits, never "-0".
        for k, v in res["second"].items():
            if k in ("time",) or not re.match(r"^-?[\d.]", v):
                continue
            assert re.fullmatch(r"-?\d+(\.\d+)?(e[+-]\d+)?", v), (k, v)
            assert v != "-0", k
            digits = re.sub(r"e.*$", "", v).replace("-", "").replace(".", "").lstrip("0")
            assert len(digits) <= 6 or "." not in v, (k, v)
    finally:
        src.stop()
        strip.stop()
        proc.stop()
