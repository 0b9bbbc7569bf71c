"""Helpers for tests that run a real `speeddata orchestrator` on the `stack` fixture's config."""
import json
import os
import socket
import urllib.error
import urllib.request

import sdtest
from sdtest import wait_for


def free_tcp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Api:
    """Minimal HTTP client returning (status, decoded body, headers); never raises on 4xx/5xx."""

    def __init__(self, port, token=None):
        self.base = f"http://127.0.0.1:{port}"
        self.token = token

    def call(self, method, path, body=None, raw=None, headers=None, timeout=20):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        h = dict(headers or {})
        if data is not None:
            h.setdefault("Content-Type", "application/json")
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                status, payload, hdrs = r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as e:
            status, payload, hdrs = e.code, e.read(), dict(e.headers)
        ctype = hdrs.get("Content-Type", "")
        if ctype.startswith("application/json") and payload:
            return status, json.loads(payload), hdrs
        return status, payload.decode(errors="replace"), hdrs

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)


def start_orchestrator(stack, port=None, extra=(), settings=None, wait=True):
    """Starts the orchestrator on a free port; settings is written to orchestrator.yaml."""
    import yaml
    port = port or free_tcp_port()
    if settings is not None:
        (stack.config_dir / "orchestrator.yaml").write_text(yaml.safe_dump(settings))
    proc = stack.start("orchestrator", "--port", str(port), *extra, name="orchestrator")
    api = Api(port)
    if wait:
        def up():
            if not proc.alive():
                raise AssertionError("orchestrator exited:\n" + proc.output())
            try:
                return api.get("/api/v1/health")[0] == 200
            except OSError:
                return False
        wait_for(up, 15, what="orchestrator health")
    return proc, api


def wait_active(api, name, timeout=10):
    def active():
        st, body, _ = api.get(f"/api/v1/channels/{name}")
        return body if st == 200 and body["status"] == "active" else None
    return wait_for(active, timeout, what=f"channel {name} active")


def send_example(port, n, start=0):
    schema = sdtest.load_schema(sdtest.REPO / "config" / "agents" / "example.avsc")
    sdtest.send_datagrams(port, [sdtest.encode(schema, sdtest.example_record(i)) for i in range(start, start + n)])


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0): look at its state.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
