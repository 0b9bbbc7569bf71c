"""The three servers describe themselves (docs/ARCHITECTURE.md, "API index"): GET /api/v1 is
an index of the server's own routes, /api/v1/openapi.json its OpenAPI 3.0 description, and
the two must agree: every documented route exists on the running server and every route the
server has is documented, with the same access level. The pivot (no page) answers / with the
index; the orchestrator and stripchart keep their pages there. Index and OpenAPI are reads."""
import re
import subprocess

import pytest

import sdtest
from orchlib import Api, free_tcp_port
from test_security import TOKEN, start_server, write_server_configs

SERVICES = ("orchestrator", "stripchart", "pivot")
METHODS = ("get", "post", "put", "delete", "patch")
# A value for each path parameter: real names where the servers have them.
SAMPLE = {"name": "example", "id": "1", "port": "26000", "key": "h1-1"}


def page_args(kind):
    return {"orchestrator": ["--web", str(sdtest.REPO / "web" / "console")],
            "stripchart": ["--web-root", str(sdtest.REPO / "web" / "stripchart")],
            "pivot": []}[kind]


@pytest.fixture
def servers(stack):
    stack.add_channel("example")
    write_server_configs(stack)
    out = {}
    for kind in SERVICES:
        port = free_tcp_port()
        start_server(stack, kind, port, *page_args(kind))
        out[kind] = Api(port)
    return out


def documented(doc):
    """{(METHOD, path): operation} of an OpenAPI document."""
    return {(m.upper(), path): op for path, item in doc["paths"].items() for m, op in item.items() if m in METHODS}


def is_route_miss(status, body):
    """The router's own answers for a path or method it does not have (not a handler's 404
    for an unknown channel or tag, whose message names the parameter)."""
    if status == 405:
        return True
    return status == 404 and isinstance(body, dict) and body.get("error", "").startswith("not found: ")


@pytest.mark.parametrize("kind", SERVICES)
def test_index_and_openapi_agree_with_the_real_routes(servers, kind):
    api = servers[kind]
    st, doc, hdrs = api.get("/api/v1/openapi.json")
    assert st == 200 and hdrs["Content-Type"].startswith("application/json"), (st, doc)
    assert isinstance(doc, dict) and re.fullmatch(r"3\.\d+\.\d+", doc["openapi"]), doc.get("openapi")
    assert doc["info"]["title"] and doc["info"]["version"]
    st, index, _ = api.get("/api/v1")
    assert st == 200, index
    assert index["service"] == kind and index["openapi"] == "/api/v1/openapi.json"
    # The release, as `speeddata --version` says it (written once, in CMakeLists.txt).
    release = subprocess.run([sdtest.BIN, "--version"], capture_output=True, text=True, timeout=10).stdout.split()[-1]
    assert doc["info"]["version"] == index["version"] == release
    routes = {(e["method"], e["path"]): e for e in index["endpoints"]}
    assert len(routes) == len(index["endpoints"]), "a route listed twice"
    docs = documented(doc)
    # Every route the server has is documented, and every documented route is one it has.
    assert sorted(set(routes) - set(docs)) == [], "routes missing from the OpenAPI document"
    assert sorted(set(docs) - set(routes)) == [], "documented routes the server does not have"
    for key, e in routes.items():
        op = docs[key]
        assert e["summary"] and e["summary"] == op["summary"], key
        assert e["access"] == op["x-speeddata-access"], key
        # open routes need no token in the document either; the others name the bearer scheme.
        assert (op.get("security") == []) == (e["access"] == "open"), key
        assert e.get("deprecated", False) == op.get("deprecated", False), key
        for p in op.get("parameters", []):
            if p["in"] == "path":
                assert "{" + p["name"] + "}" in key[1], (key, p["name"])
    # Every documented route answers on the real server (no 404 of the router, no 405).
    for (method, path), op in docs.items():
        target = re.sub(r"\{(\w+)\}", lambda m: SAMPLE[m.group(1)], path)
        body = {} if method in ("POST", "PUT", "PATCH") else None
        st, got, _ = api.call(method, target, body)
        assert not is_route_miss(st, got), (method, target, st, got)
        assert str(st) in op["responses"] or st == 200, (method, target, st, got)
    # The root: the pivot has no page, so it is the index; the others keep their pages.
    st, root, hdrs = api.get("/")
    assert st == 200
    if kind == "pivot":
        assert root == index
    else:
        assert hdrs["Content-Type"].startswith("text/html") and "<html" in root.lower()


def test_the_root_is_the_index_where_no_page_is_served(stack, tmp_path):
    stack.add_channel("example")
    write_server_configs(stack)
    empty = tmp_path / "no-pages"
    empty.mkdir()
    for kind, flag in (("orchestrator", "--web"), ("stripchart", "--web-root")):
        port = free_tcp_port()
        start_server(stack, kind, port, flag, str(empty))
        st, root, _ = Api(port).get("/")
        assert st == 200 and root["service"] == kind, root
        assert {"method": "GET", "path": "/", "access": "read"}.items() <= next(
            e for e in root["endpoints"] if e["path"] == "/").items()


@pytest.mark.parametrize("reads", [True, False])
def test_index_and_openapi_are_reads(stack, reads):
    stack.add_channel("example")
    (stack.config_dir / "token").write_text(TOKEN)
    stack.global_cfg["auth"] = {"token_file": "token", "reads": reads}
    stack.write_config()
    write_server_configs(stack)
    for kind in SERVICES:
        port = free_tcp_port()
        _, api = start_server(stack, kind, port, *page_args(kind), token=TOKEN)
        anon = Api(port)
        want = 401 if reads else 200
        for path in ("/api/v1", "/api/v1/openapi.json") + (("/",) if kind == "pivot" else ()):
            assert anon.get(path)[0] == want, (kind, path)
            assert api.get(path)[0] == 200, (kind, path)
        # Health and the pages stay open.
        assert anon.get("/api/v1/health")[0] == 200, kind
        if kind != "pivot":
            assert anon.get("/")[0] == 200, kind
        st, index, _ = api.get("/api/v1")
        assert index["auth"] == {"token": True, "reads_need_token": reads}
        access = {(e["method"], e["path"]): e["access"] for e in index["endpoints"]}
        assert access[("GET", "/api/v1/health")] == "open"
        assert access[("GET", "/api/v1")] == "read"
