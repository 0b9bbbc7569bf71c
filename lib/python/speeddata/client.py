"""Python client for the SpeedData REST APIs: the orchestrator (channels) and the pivot
server (exports, tags). A drop-in for the v0.6 client (registration/README.md of v0.6), on
`requests` as that one was.

Usage:
    from speeddata_client import SpeedDataClient        # or: from speeddata.client import ...

    client = SpeedDataClient()                           # http://localhost:8080/api/v1
    for ch in client.list_channels():
        print(f"{ch['name']}: port {ch['port']}, status {ch['status']}")
    client.register_channel(name="temperature_sensor", port=26100,
                            schema_path="config/agents/temperature.avsc",
                            config={"decimation": 10})
    client.get_channel("temperature_sensor")             # dict, or None if there is no such channel
    client.deregister_channel("temperature_sensor")      # True, or False if there was none

    # Newer calls, same client:
    client.register_channel("bench1", schema={...}, config={"decimation": {"factor": 10, "algorithm": "minmax"}})
    data = client.export(start="2026-11-24T08:00:00Z", duration=30, channels=["bench1"])   # a Set
    client.tag("run42", start=..., duration=30, channels=["bench1"], note="good run")

Every API error raises SpeedDataError (a requests.HTTPError, so v0.6 code catching that keeps
working) with .status (HTTP status; 0 when the server could not be reached, then it is also a
requests.ConnectionError), .message (the "error" field of the JSON error body), .body (that
body) and .response.

A bearer token (token=, else $SPEEDDATA_TOKEN) is sent with every request as
`Authorization: Bearer ...`; the orchestrator and the pivot server require it on mutating
endpoints when they are configured with one.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import tempfile
import urllib.parse

import requests

__all__ = ["SpeedDataClient", "SpeedDataError", "DEFAULT_BASE_URL", "iso_ns"]

DEFAULT_BASE_URL = "http://localhost:8080/api/v1"
_API = "/api/v1"


class SpeedDataError(requests.HTTPError):
    """An API call failed: .status is the HTTP status (0: no answer), .message the reason,
    .body the decoded JSON error body (when there was one), .response the requests response."""

    def __init__(self, status, message, body=None, response=None):
        super().__init__(f"HTTP {status}: {message}" if status else message, response=response)
        self.status = status
        self.message = message
        self.body = body


class _Unreachable(SpeedDataError, requests.ConnectionError):
    """No answer from the server (status 0)."""


def _iso(t):
    """A time for the pivot API: ISO 8601 string as is, datetime, or float seconds since the epoch."""
    if t is None:
        return None
    if isinstance(t, str):
        return t
    if isinstance(t, _dt.datetime):
        if t.tzinfo is None:
            t = t.replace(tzinfo=_dt.timezone.utc)
        return t.astimezone(_dt.timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(t, (int, float)):
        return _iso(_dt.datetime.fromtimestamp(float(t), tz=_dt.timezone.utc))
    # numpy scalars and the like
    return _iso(float(t))


def iso_ns(ns):
    """ISO 8601 (UTC) with all nine fraction digits of a time in ns since the epoch: exact,
    unlike float seconds (about 0.2 us steps today). For start/end of export() and tag()."""
    seconds, frac = divmod(int(ns), 1_000_000_000)
    return _dt.datetime.fromtimestamp(seconds, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"


def _duration(d):
    """A duration for the pivot API: ISO 8601 "PT30S" as is, timedelta, or seconds."""
    if d is None:
        return None
    if isinstance(d, str):
        return d
    if isinstance(d, _dt.timedelta):
        d = d.total_seconds()
    seconds = float(d)
    text = f"{seconds:.9f}".rstrip("0").rstrip(".")
    return f"PT{text}S"


def _csv(v):
    if v is None:
        return None
    if isinstance(v, str):
        return v
    return ",".join(str(x) for x in v)


def _split_base(url):
    """(server root, API base) of a URL given with or without the /api/v1 suffix."""
    url = url.rstrip("/")
    if url.endswith(_API):
        return url[: -len(_API)], url
    return url, url + _API


def _looks_like_schema(value):
    return isinstance(value, dict) or (isinstance(value, str) and value.lstrip().startswith("{"))


def _port(value):
    """A port as the API wants it (an integer): ints, numeric strings ("26100") and floats
    holding an integer are accepted, as the v0.6 server did (int(port))."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"port: expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("+").isdigit():
        return int(value.strip())
    raise ValueError(f"port: expected an integer, got {value!r}")


def _channel_config(config):
    """Translates the v0.6 config scalars into today's option objects (docs/config.md); the
    newer form passes through unchanged.

      {"decimation": 5}                          -> {"decimation": {"factor": 5}}
      {"decimation": {"enabled": False, ...}}    -> {"decimation": {"factor": 1, ...}}
      {"rotation": 3600}                         -> {"rotation": {"interval": 3600}}   (seconds)
      {"rotation": {"mode": "size", "threshold": N}} -> {"rotation": {"max_size": N}}
      {"retention": 86400}                       -> {"retention": {"ttl": 86400}}      (seconds)
      {"retention": {"mode": "quota", "value": N}}   -> {"retention": {"max_size": N}}
    """
    if config is None:
        return None
    if not isinstance(config, dict):
        raise ValueError(f"config: expected a dict, got {type(config).__name__}")
    out = dict(config)
    dec = out.get("decimation")
    if isinstance(dec, (int, float)) and not isinstance(dec, bool):
        out["decimation"] = {"factor": int(dec)}
    elif isinstance(dec, dict) and "enabled" in dec:
        dec = dict(dec)
        enabled = dec.pop("enabled")
        if not enabled:
            dec["factor"] = 1
        out["decimation"] = dec
    for key, by_mode, scalar_key in (("rotation", {"time": "interval", "size": "max_size"}, "interval"),
                                     ("retention", {"ttl": "ttl", "quota": "max_size"}, "ttl")):
        v = out.get(key)
        if isinstance(v, (int, float, str)) and not isinstance(v, bool):
            out[key] = {scalar_key: v}
        elif isinstance(v, dict) and "mode" in v:
            v = dict(v)
            mode = v.pop("mode")
            amount = v.pop("threshold" if key == "rotation" else "value", None)
            if mode not in by_mode:
                raise ValueError(f"config: {key}.mode: expected one of {', '.join(by_mode)}, got {mode!r}")
            if amount is not None:
                v[by_mode[mode]] = amount
            out[key] = v
    return out


class SpeedDataClient:
    """Talks to the orchestrator (base_url) and the pivot server (pivot_url).

    Usage:
        client = SpeedDataClient()                                    # http://localhost:8080/api/v1
        client = SpeedDataClient("http://rig:8080")                   # /api/v1 is added
        client = SpeedDataClient(base_url="http://rig:8080/api/v1", token="...")
        client.list_channels(status="active")

    base_url: the orchestrator's API, with or without the /api/v1 suffix (url= is the newer
    keyword for the same). pivot_url: the pivot server (default: base_url's host, port 8000).
    token: bearer token (default $SPEEDDATA_TOKEN). timeout: seconds per request.
    .session is the requests.Session every call goes through (headers, proxies, TLS options).
    """

    def __init__(self, base_url=DEFAULT_BASE_URL, pivot_url=None, token=None, timeout=30.0, *, url=None,
                 session=None):
        self.url, self.base_url = _split_base(url if url is not None else base_url)
        if pivot_url is None:
            parts = urllib.parse.urlsplit(self.url)
            host = parts.hostname or "localhost"
            if ":" in host:
                host = f"[{host}]"
            pivot_url = f"{parts.scheme or 'http'}://{host}:8000"
        self.pivot_url = pivot_url.rstrip("/")
        if self.pivot_url.endswith(_API):
            self.pivot_url = self.pivot_url[: -len(_API)]
        self.token = token if token is not None else (os.environ.get("SPEEDDATA_TOKEN") or None)
        self.timeout = timeout
        self.session = session if session is not None else requests.Session()
        self.session.headers.setdefault("Accept", "application/json")
        if self.token:
            self.session.headers["Authorization"] = f"Bearer {self.token}"

    def __repr__(self):
        return f"SpeedDataClient(base_url={self.base_url!r}, pivot_url={self.pivot_url!r})"

    # ------------------------------------------------------------------ plumbing
    def _request(self, method, full, query=None, body=None, stream=False):
        params = {k: v for k, v in (query or {}).items() if v is not None}
        try:
            resp = self.session.request(method, full, params=params or None,
                                        json=body if body is not None else None,
                                        timeout=self.timeout, stream=stream)
        except requests.RequestException as e:
            reason = e.__class__.__name__ if not str(e) else str(e)
            raise _Unreachable(0, f"cannot reach {full}: {reason}") from None
        if resp.status_code >= 400:
            try:
                j = resp.json()
                message = j.get("error") if isinstance(j, dict) else None
            except ValueError:
                j, message = None, None
            text = message or resp.text or resp.reason or ""
            if isinstance(text, dict):  # an error field that is itself an object
                text = json.dumps(text)
            resp.close()
            raise SpeedDataError(resp.status_code, str(text), j, response=resp)
        return resp

    def _decoded(self, resp):
        if not resp.content:
            return None
        try:
            return resp.json()
        except ValueError:
            return resp.text

    def _api(self, method, path, **kw):
        return self._decoded(self._request(method, self.base_url + path, **kw))

    @staticmethod
    def _name(name):
        return urllib.parse.quote(str(name), safe="")

    # ------------------------------------------------------------------ orchestrator
    def health(self):
        """GET /health: {"status": "ok", ...}."""
        return self._api("GET", "/health")

    def list_channels(self, status=None):
        """All registered channels (list of dicts); status "registered" or "active" filters."""
        r = self._api("GET", "/channels", query={"status": status})
        return r["channels"] if isinstance(r, dict) and "channels" in r else r

    def get_channel(self, name):
        """One channel with its live figures (rates, counters, restarts, pid); None if there is
        no such channel."""
        try:
            return self._api("GET", f"/channels/{self._name(name)}")
        except SpeedDataError as e:
            if e.status == 404:
                return None
            raise

    def register_channel(self, name, port=None, schema_path=None, config=None, *newer, schema=None):
        """Registers a channel and starts its relay; returns the server's answer (the channel,
        with its port).

        name: unique channel name. port: UDP port (int or numeric string); omitted, the
        orchestrator picks a free one. schema_path: an Avro schema file: a path in the
        orchestrator's config directory ("agents/x.avsc"), or a file readable here (v0.6 style,
        "config/agents/x.avsc" from the repository root), which is then sent inline.
        schema: the schema itself, as a dict or JSON text. config: channel options, the v0.6
        scalars ({"decimation": 10, "rotation": 3600}) or today's objects
        ({"decimation": {"factor": 10, "algorithm": "minmax"}}).

        Positional calls of both versions work: (name, port, schema_path, config) as in v0.6,
        and (name, schema, schema_path, port, config) of the previous client, told apart by the
        second argument (a dict or JSON text is a schema).
        Raises SpeedDataError (a requests.HTTPError): 400 bad field, 409 name or port taken.
        """
        if _looks_like_schema(port):
            # The previous client's positional order: (name, schema, schema_path, port, config).
            if schema is not None:
                raise TypeError("register_channel: schema given twice")
            schema, port = port, None
            if config is not None and not isinstance(config, dict):
                port, config = config, None
            if newer:
                if len(newer) > 1:
                    raise TypeError("register_channel: too many positional arguments")
                config = newer[0]
        elif newer:
            raise TypeError("register_channel: too many positional arguments")
        if schema is not None and schema_path is not None:
            raise ValueError("register_channel: give schema or schema_path, not both")
        if schema is None and schema_path is None:
            raise ValueError("register_channel: schema_path (or schema) is required")

        body = {"name": name}
        if schema is not None:
            body["schema"] = json.loads(schema) if isinstance(schema, str) else schema
        port = _port(port)
        if port is not None:
            body["port"] = port
        config = _channel_config(config)
        if config is not None:
            body["config"] = config
        if schema_path is None:
            return self._api("POST", "/channels", body=body)

        path = os.fspath(schema_path)
        if not os.path.isabs(path):
            try:
                return self._api("POST", "/channels", body={**body, "schema_path": path})
            except SpeedDataError as e:
                # Not in the server's config directory: a v0.6 path (relative to where the
                # client runs, as it was for the v0.6 server). Read it here and send it inline.
                if e.status != 400 or not e.message.startswith("schema_path:") or not os.path.isfile(path):
                    raise
        return self._api("POST", "/channels", body={**body, "schema": _read_schema(path)})

    def deregister_channel(self, name):
        """Stops the channel's relay and removes it from the registry (its cache files stay).
        True if it was removed, False if there was no such channel."""
        try:
            self._api("DELETE", f"/channels/{self._name(name)}")
        except SpeedDataError as e:
            if e.status == 404:
                return False
            raise
        return True

    def upload_schema(self, name, schema_file):
        """Reads a schema file (.avsc) and checks it against channel `name` on the server.

        Returns the schema's metadata: {"name", "path", "schema" (dict), "fields" (names),
        "registered" (the channel exists), "compatible" (True/False against the registered
        schema by Avro canonical form; None when the channel does not exist), "fingerprint"
        (from the server, when it compared)}. Nothing is changed on the server; register the
        channel with register_channel(name, schema_path=schema_file) to use the schema.
        Raises FileNotFoundError, json.JSONDecodeError (the file), SpeedDataError (the server).
        """
        schema = _read_schema(schema_file)
        meta = {"name": name, "path": os.fspath(schema_file), "schema": schema,
                "fields": [f.get("name") for f in schema.get("fields", [])] if isinstance(schema, dict) else [],
                "registered": False, "compatible": None, "fingerprint": None}
        try:
            answer = self._api("POST", f"/channels/{self._name(name)}/validate-schema", body=schema)
        except SpeedDataError as e:
            if e.status == 404:
                return meta
            if e.status != 409:
                raise
            answer = e.body or {}
        meta["registered"] = True
        meta["compatible"] = bool(answer.get("compatible", answer.get("valid", False)))
        meta["fingerprint"] = answer.get("fingerprint") or answer.get("submitted_fingerprint")
        return meta

    def get_schema(self, name):
        """The channel's Avro schema (dict)."""
        return self._api("GET", f"/channels/{self._name(name)}/schema")

    def validate_schema(self, name, schema):
        """Compares a schema with the channel's (canonical form); SpeedDataError 409 if they differ."""
        body = json.loads(schema) if isinstance(schema, str) else schema
        return self._api("POST", f"/channels/{self._name(name)}/validate-schema", body=body)

    def available_ports(self, start=None, end=None):
        """Free UDP ports in [start, end] (defaults: the configured range)."""
        r = self._api("GET", "/ports/available", query={"start": start, "end": end})
        if isinstance(r, dict):
            for key in ("ports", "available"):
                if key in r:
                    return r[key]
        return r

    def port_status(self, port):
        """Whether a UDP port is used by a channel or held by another process."""
        return self._api("GET", f"/ports/{_port(port)}/status")

    def metrics(self):
        """The Prometheus text of GET /metrics."""
        return self._api("GET", "/metrics")

    # ------------------------------------------------------------------ pivot
    def export_file(self, path, start, duration=None, end=None, channels=("example",), signals=None,
                    decimate=None, algorithm=None):
        """Downloads an HDF5 export of [start, start+duration) (or [start, end)) to path."""
        if duration is None and end is None:
            raise ValueError("export needs duration or end")
        query = {
            "start": _iso(start),
            "duration": _duration(duration) if end is None else None,
            "end": _iso(end),
            "channels": _csv(channels),
            "signals": _csv(signals),
            "decimate": decimate,
            "algorithm": algorithm,
        }
        resp = self._request("GET", self.pivot_url + _API + "/pivot/export", query=query, stream=True)
        with resp, open(path, "wb") as f:
            for chunk in resp.iter_content(1 << 20):
                f.write(chunk)
        return path

    def export(self, start, duration=None, end=None, channels=("example",), signals=None, decimate=None,
               algorithm=None):
        """Exports a time range through the pivot server and returns it as a Set (dataset.read_hdf5)."""
        from .dataset import read_hdf5
        fd, path = tempfile.mkstemp(suffix=".h5", prefix="speeddata_export_")
        os.close(fd)
        try:
            self.export_file(path, start, duration=duration, end=end, channels=channels, signals=signals,
                             decimate=decimate, algorithm=algorithm)
            return read_hdf5(path)
        finally:
            try:
                os.unlink(path)
            except OSError:
                pass

    def pivot_health(self):
        """The pivot server's GET /api/v1/health: {"status": "ok", "avro_path", ...}."""
        return self._decoded(self._request("GET", self.pivot_url + _API + "/health"))

    def cached_channels(self):
        """What the cache holds, per channel (pivot server): [{"name", "files", "bytes",
        "records", "first", "last" (ISO 8601), "first_ns", "last_ns"}, ...]."""
        r = self._decoded(self._request("GET", self.pivot_url + _API + "/channels"))
        return r["channels"] if isinstance(r, dict) and "channels" in r else r

    def tags(self):
        """Every tag on the pivot server (list of dicts)."""
        r = self._decoded(self._request("GET", self.pivot_url + _API + "/tags"))
        return r["tags"] if isinstance(r, dict) and "tags" in r else r

    def download_tag(self, tag_id, path):
        """Saves a tag's HDF5 file to path; returns path (read it with dataset.read_hdf5)."""
        resp = self._request("GET", self.pivot_url + _API + f"/tags/{int(tag_id)}/download", stream=True)
        with resp, open(path, "wb") as f:
            for chunk in resp.iter_content(1 << 20):
                f.write(chunk)
        return path

    def tag(self, name, start, end=None, duration=None, channels=("example",), signals=None, note=None):
        """Keeps a time range as a named tag on the pivot server (survives retention); returns its record."""
        if duration is None and end is None:
            raise ValueError("tag needs end or duration")
        body = {"name": name, "start": _iso(start), "channels": list(channels) if not isinstance(channels, str)
                else channels.split(",")}
        if end is not None:
            body["end"] = _iso(end)
        else:
            body["duration"] = _duration(duration)
        if signals is not None:
            body["signals"] = list(signals) if not isinstance(signals, str) else signals.split(",")
        if note is not None:
            body["note"] = note
        return self._decoded(self._request("POST", self.pivot_url + _API + "/tags", body=body))


def _read_schema(path):
    """The schema file's JSON (FileNotFoundError naming the path; json.JSONDecodeError)."""
    with open(os.fspath(path), encoding="utf-8") as f:
        return json.load(f)
