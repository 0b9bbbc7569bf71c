"""A host of a fleet whose NATS is not up when SpeedData starts (docs/fleet.md, "What each
failure does"): every service answers at once and captures locally; when NATS comes up, the
fleet connects by itself; stopping needs no NATS either. One host, one nats-server started
late, on this test's own loopback."""
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import sdtest  # noqa: E402
from fleet import http  # noqa: E402

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


def free_tcp_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(port):
    try:
        return http("GET", f"http://127.0.0.1:{port}/api/v1/health", timeout=2)[0] == 200
    except OSError:
        return False


def test_services_start_without_nats_and_join_when_it_comes(tmp_path):
    stack = sdtest.Stack(tmp_path)
    nats_port = free_tcp_port()
    stack.global_cfg["cluster"] = {"nats": f"nats://127.0.0.1:{nats_port}", "host": "solo"}
    port = stack.add_channel("cap", decimation={"factor": 1})
    orch, strip, pivot = free_tcp_port(), free_tcp_port(), free_tcp_port()
    (stack.config_dir / "stripchart.yaml").write_text(f"http:\n  port: {strip}\n")
    (stack.config_dir / "pivot.yaml").write_text(f"http:\n  port: {pivot}\n")
    up = stack.start("up", "--orchestrator-port", str(orch), name="up")
    nats = None
    try:
        # No NATS: the three services answer within seconds (the pivot used to wait for ever in
        # its first connect, and `up` gave up on it after 60 s).
        sdtest.wait_for(lambda: healthy(orch) and healthy(strip) and healthy(pivot) or not up.alive(), timeout=20,
                        what="the three services answering with NATS down")
        assert up.alive(), up.output()
        status, f = http("GET", f"http://127.0.0.1:{orch}/api/v1/fleet")
        assert status == 200 and f["connected"] is False, f
        status, err = http("GET", f"http://127.0.0.1:{pivot}/api/v1/fleet/tags")
        assert status == 503 and "NATS is not connected" in err["error"], (status, err)
        # Local capture does not wait for NATS.
        sdtest.wait_for(lambda: http("GET", f"http://127.0.0.1:{orch}/api/v1/channels/cap")[1].get("status") == "active",
                        timeout=20, what="cap's relay running")
        r = stack.run("send", "--source", "example", "--port", str(port), "--count", "300", "--rate", "2000")
        assert r.returncode == 0, r.stderr
        sdtest.wait_for(lambda: len(stack.cached_records("cap")) == 300, timeout=20, what="300 records cached")
        # NATS comes up: the orchestrator and the pivot join without a restart.
        nats = subprocess.Popen([NATS_SERVER, "-a", "127.0.0.1", "-p", str(nats_port), "-js",
                                 "-sd", str(tmp_path / "js")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sdtest.wait_for(lambda: http("GET", f"http://127.0.0.1:{orch}/api/v1/fleet")[1]["connected"], timeout=30,
                        what="the orchestrator connected once NATS is up")
        sdtest.wait_for(lambda: http("GET", f"http://127.0.0.1:{pivot}/api/v1/fleet/tags")[0] == 200, timeout=30,
                        what="the pivot's fleet calls answering once NATS is up")
        status, ch = http("GET", f"http://127.0.0.1:{orch}/api/v1/channels/cap")
        assert ch["host"] == "solo", ch
    finally:
        if nats:
            nats.terminate()
            nats.wait(timeout=10)
        # Stopping needs no NATS: `up` ends cleanly and promptly with NATS gone again.
        t1 = time.monotonic()
        up.stop(timeout=20)
        stopped_in = time.monotonic() - t1
        stack.close()
    assert stopped_in < 15, f"up took {stopped_in:.1f} s to stop"
    assert "did not stop within" not in up.output(), up.output()[-2000:]
