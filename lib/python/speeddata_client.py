"""Python client for the SpeedData REST APIs (standard library only).

    from speeddata_client import SpeedDataClient, SpeedDataError
    c = SpeedDataClient("http://localhost:8080")          # orchestrator
    c.register_channel("bench1", schema={...})            # port assigned from the range
    c.list_channels(status="active")
    data = c.export(start="2026-11-24T08:00:00Z", duration=30, channels=["bench1"])
    print(data.bench1.voltage)

Every API error raises SpeedDataError with .status (HTTP status, 0 when the server could not
be reached) and .message (the "error" field of the JSON error body).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request

__all__ = ["SpeedDataClient", "SpeedDataError"]


class SpeedDataError(Exception):
    """An API call failed: .status is the HTTP status (0: no answer), .message the reason."""

    def __init__(self, status, message, body=None):
        super().__init__(f"HTTP {status}: {message}" if status else message)
        self.status = status
        self.message = message
        self.body = body  # the decoded JSON error body, when there was one


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


class SpeedDataClient:
    """Talks to the orchestrator (url) and the pivot server (pivot_url)."""

    def __init__(self, url="http://localhost:8080", pivot_url="http://localhost:8000", token=None, timeout=30.0):
        self.url = url.rstrip("/")
        self.pivot_url = pivot_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    # ------------------------------------------------------------------ plumbing
    def _request(self, method, base, path, query=None, body=None, raw=False):
        q = {k: v for k, v in (query or {}).items() if v is not None}
        full = base + path + ("?" + urllib.parse.urlencode(q) if q else "")
        data = None
        headers = {"Accept": "application/json"}
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(full, data=data, method=method, headers=headers)
        try:
            resp = urllib.request.urlopen(req, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            payload = e.read()
            try:
                j = json.loads(payload)
                message = j.get("error") if isinstance(j, dict) else None
            except ValueError:
                j, message = None, None
            raise SpeedDataError(e.code, message or payload.decode(errors="replace") or e.reason, j) from None
        except urllib.error.URLError as e:
            raise SpeedDataError(0, f"cannot reach {full}: {e.reason}") from None
        except OSError as e:
            raise SpeedDataError(0, f"cannot reach {full}: {e}") from None
        if raw:
            return resp
        with resp:
            payload = resp.read()
        if not payload:
            return None
        try:
            return json.loads(payload)
        except ValueError:
            return payload.decode(errors="replace")

    def _api(self, method, path, **kw):
        return self._request(method, self.url, "/api/v1" + path, **kw)

    @staticmethod
    def _name(name):
        return urllib.parse.quote(str(name), safe="")

    # ------------------------------------------------------------------ orchestrator
    def health(self):
        """GET /health: {"status": "ok", ...}."""
        return self._api("GET", "/health")

    def list_channels(self, status=None):
        """Channels (list of dicts); status "registered" or "active" filters."""
        r = self._api("GET", "/channels", query={"status": status})
        return r["channels"] if isinstance(r, dict) and "channels" in r else r

    def get_channel(self, name):
        """One channel with its live figures (rates, counters, restarts, pid)."""
        return self._api("GET", f"/channels/{self._name(name)}")

    def register_channel(self, name, schema=None, schema_path=None, port=None, config=None):
        """Registers a channel and starts its relay; returns the channel (with its port).

        schema: the Avro schema as a dict or a JSON string (stored by the orchestrator);
        schema_path: a schema file relative to the orchestrator's config directory;
        config: channel options, e.g. {"decimation": {"factor": 10, "algorithm": "minmax"}}.
        """
        body = {"name": name}
        if schema is not None:
            body["schema"] = json.loads(schema) if isinstance(schema, str) else schema
        if schema_path is not None:
            body["schema_path"] = str(schema_path)
        if port is not None:
            body["port"] = int(port)
        if config is not None:
            body["config"] = config
        return self._api("POST", "/channels", body=body)

    def deregister_channel(self, name):
        """Stops the channel's relay and removes it from the registry (cache files stay)."""
        return self._api("DELETE", f"/channels/{self._name(name)}")

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
        return r["ports"] if isinstance(r, dict) and "ports" in r else r

    def port_status(self, port):
        """Whether a UDP port is used by a channel or held by another process."""
        return self._api("GET", f"/ports/{int(port)}/status")

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
        resp = self._request("GET", self.pivot_url, "/api/v1/pivot/export", query=query, raw=True)
        with resp, open(path, "wb") as f:
            while True:
                chunk = resp.read(1 << 20)
                if not chunk:
                    break
                f.write(chunk)
        return path

    def export(self, start, duration=None, end=None, channels=("example",), signals=None, decimate=None,
               algorithm=None):
        """Exports a time range through the pivot server and returns it as a Set (dataset.read_hdf5)."""
        try:
            from dataset import read_hdf5  # lib/python on sys.path
        except ImportError:
            from lib.python.dataset import read_hdf5  # repo root on sys.path
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
        return self._request("POST", self.pivot_url, "/api/v1/tags", body=body)
