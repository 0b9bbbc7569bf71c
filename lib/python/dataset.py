"""SpeedData analysis library: load a Set (channels of signals over a time range).

    from lib.python.dataset import read_hdf5, read_avro      # from the repo root
    from dataset import read_hdf5                             # with lib/python on sys.path

    data = read_hdf5('export.h5')         # a file made by `speeddata pivot` or the REST API
    data.channel['example'].sine_wave     # numpy array
    data.example.sine_wave                # the same
    data.sine_wave                        # the same, when only one channel has that signal
    data.example.time                     # float seconds since the Unix epoch
    data.example.time_ns                  # int64 ns since the Unix epoch

    data = read_avro('data/avro/example/example_20250123T140000.000Z.avro')   # a relay cache file

Layout and type mapping: docs/pivot.md. Nullable signals (Avro ["null", T]) come back as
numpy masked arrays; nested record fields as "outer.inner" (also data.ch.outer.inner).
"""
import io
import json
import os
import struct
import zlib

import numpy as np

__all__ = ["Set", "Channel", "read_hdf5", "read_avro"]


class _Prefix:
    """Attribute access to nested record fields: ch.pos.x -> ch['pos.x']."""

    def __init__(self, channel, prefix):
        self._channel = channel
        self._prefix = prefix

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._channel[self._prefix + "." + name]

    def __getitem__(self, name):
        return self._channel[self._prefix + "." + name]

    def __repr__(self):
        subs = [s[len(self._prefix) + 1:] for s in self._channel.signals if s.startswith(self._prefix + ".")]
        return f"<{self._channel.name}.{self._prefix}: {', '.join(subs)}>"


class Channel:
    """One channel: signals sharing one time axis. Signals are attributes and items."""

    def __init__(self, name, columns, attrs=None):
        self.name = name
        self._columns = dict(columns)
        self._meta = dict(attrs or {})

    @property
    def metadata(self):
        """The channel's HDF5 group attributes (schema, time unit, range...) or Avro file metadata."""
        return self._meta

    @property
    def signals(self):
        """Signal names (the time axis excluded)."""
        return [k for k in self._columns if k != "time"]

    @property
    def time_ns(self):
        """Time stamps as int64 ns since the Unix epoch."""
        return self._columns["time"]

    @property
    def time(self):
        """Time stamps as float seconds since the Unix epoch (ns precision is in time_ns)."""
        return self._columns["time"] / 1e9

    def __len__(self):
        return len(self._columns["time"]) if "time" in self._columns else 0

    def __contains__(self, name):
        return name in self._columns

    def __getitem__(self, name):
        if name == "time":
            return self.time
        if name in self._columns:
            return self._columns[name]
        if any(k.startswith(name + ".") for k in self._columns):
            return _Prefix(self, name)
        raise KeyError(f"channel '{self.name}' has no signal '{name}' (signals: {', '.join(self.signals)})")

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError as e:
            raise AttributeError(e.args[0]) from None

    def __dir__(self):
        return sorted(set(super().__dir__()) | {k.split(".")[0] for k in self._columns})

    def __repr__(self):
        return f"<Channel {self.name}: {len(self)} rows; signals: {', '.join(self.signals)}>"

    def to_pandas(self):
        """A pandas DataFrame indexed by time (datetime64[ns], UTC); 2-D signals become
        one column per element ("vec[0]", ...). Needs pandas."""
        import pandas as pd
        cols = {}
        for k, v in self._columns.items():
            if k == "time":
                continue
            if getattr(v, "ndim", 1) == 2:
                for j in range(v.shape[1]):
                    cols[f"{k}[{j}]"] = v[:, j]
            else:
                cols[k] = v
        index = pd.to_datetime(self._columns["time"], unit="ns", utc=True)
        return pd.DataFrame(cols, index=index)


class Set:
    """Channels over a common time range (one HDF5 file)."""

    def __init__(self, channels, attrs=None):
        self.channel = dict(channels)
        self.attrs = dict(attrs or {})

    @classmethod
    def from_hdf5(cls, path):
        return read_hdf5(path)

    @classmethod
    def from_avro(cls, file_path, schema_path=None, channel_name=None):
        return read_avro(file_path, schema_path=schema_path, channel_name=channel_name)

    @property
    def channels(self):
        return list(self.channel)

    def __getattr__(self, name):
        if name.startswith("_") or name == "channel":
            raise AttributeError(name)
        if name in self.channel:
            return self.channel[name]
        owners = [c for c in self.channel.values() if name in c._columns or name == "time"]
        if len(owners) == 1:
            return owners[0][name]
        if len(owners) > 1:
            raise AttributeError(f"signal '{name}' is ambiguous: channels {', '.join(c.name for c in owners)} "
                                 f"have it; use data.channel['{owners[0].name}'].{name}")
        raise AttributeError(f"no channel or signal '{name}' (channels: {', '.join(self.channel)})")

    def __getitem__(self, name):
        return self.channel[name]

    def __dir__(self):
        names = set(super().__dir__()) | set(self.channel)
        for c in self.channel.values():
            names |= {k.split(".")[0] for k in c._columns}
        return sorted(names)

    def __repr__(self):
        lines = [f"<Set: {len(self.channel)} channel(s)"]
        for c in self.channel.values():
            lines.append(f"  {c.name}: {len(c)} rows; signals: {', '.join(c.signals)}")
        return "\n".join(lines) + ">"

    def to_pandas(self):
        """{channel name: DataFrame}; needs pandas."""
        return {n: c.to_pandas() for n, c in self.channel.items()}


# ---- HDF5 -----------------------------------------------------------------------------------

def _attr(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray) and v.dtype.kind in "OS":
        return [_attr(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


def read_hdf5(path):
    """Loads an HDF5 Set written by the pivot (or any file with one group per channel and
    one dataset per signal, including 'time' in ns since the epoch)."""
    import h5py
    channels = {}
    with h5py.File(path, "r") as f:
        set_attrs = {k: _attr(v) for k, v in f.attrs.items()}
        for name, g in f.items():
            if not isinstance(g, h5py.Group):
                continue
            cols = {}
            for dname, d in g.items():
                if dname.endswith("__valid"):
                    continue  # a mask: applied to its values below
                if h5py.check_string_dtype(d.dtype) is not None:
                    v = np.array(d.asstr()[...], dtype=object)
                else:
                    v = d[...]
                mask_name = d.attrs.get("valid_mask")
                if mask_name is not None:
                    mask_name = _attr(mask_name)
                    if mask_name in g:
                        v = np.ma.masked_array(v, mask=~g[mask_name][...].astype(bool))
                cols[dname] = v
            if "time" in cols:
                cols = {"time": cols.pop("time"), **cols}
            channels[name] = Channel(name, cols, {k: _attr(v) for k, v in g.attrs.items()})
    return Set(channels, set_attrs)


# ---- Avro container files -------------------------------------------------------------------

_MAGIC = b"Obj\x01"


def _read_long(buf, pos):
    b = buf[pos]
    n = b & 0x7F
    shift = 7
    pos += 1
    while b & 0x80:
        b = buf[pos]
        n |= (b & 0x7F) << shift
        shift += 7
        pos += 1
    return (n >> 1) ^ -(n & 1), pos


def _read_container(path):
    """(metadata dict, list of (count, decompressed bytes)). A block cut off at the end (a
    file still being written) ends the list."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:4] != _MAGIC:
        raise ValueError(f"{path}: not an Avro container file")
    pos = 4
    meta = {}
    while True:
        n, pos = _read_long(raw, pos)
        if n == 0:
            break
        if n < 0:
            n = -n
            _, pos = _read_long(raw, pos)
        for _ in range(n):
            kl, pos = _read_long(raw, pos)
            k = raw[pos:pos + kl].decode()
            pos += kl
            vl, pos = _read_long(raw, pos)
            meta[k] = raw[pos:pos + vl]
            pos += vl
    sync = raw[pos:pos + 16]
    pos += 16
    codec = meta.get("avro.codec", b"null").decode()
    blocks = []
    while pos < len(raw):
        try:
            count, p = _read_long(raw, pos)
            size, p = _read_long(raw, p)
        except IndexError:
            break
        if p + size + 16 > len(raw) or raw[p + size:p + size + 16] != sync:
            break  # partial (still being written) or damaged: stop here
        data = raw[p:p + size]
        if codec == "deflate":
            data = zlib.decompress(data, -15)
        elif codec in ("zstandard", "zstd"):
            import zstandard
            data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
        elif codec == "snappy":
            import snappy  # python3-snappy
            data = snappy.decompress(data[:-4])
        elif codec != "null":
            raise ValueError(f"{path}: unsupported codec {codec}")
        blocks.append((count, data))
        pos = p + size + 16
    return meta, blocks


_FIXED = {"boolean": 1, "float": 4, "double": 8}
_VARINT = {"int", "long"}


def _prim(t):
    """(kind, info) of a primitive-like Avro type the numpy decoder handles, else None."""
    if isinstance(t, dict) and t.get("type") in _FIXED.keys() | _VARINT | {"string", "bytes"}:
        t = t["type"]  # logical types on primitives
    if isinstance(t, str) and t in _FIXED:
        return "fixed", t
    if isinstance(t, str) and t in _VARINT:
        return "varint", t
    if t in ("string", "bytes"):
        return t, None
    if isinstance(t, dict) and t.get("type") == "enum":
        return "enum", t["symbols"]
    if isinstance(t, dict) and t.get("type") == "fixed":
        return "fixedn", int(t["size"])
    return None


def _flat_plan(schema):
    """[(name, kind, info)] for a record whose fields the numpy decoder handles, else None.
    kinds: fixed (boolean/float/double), varint (int/long), enum, string, bytes, fixedn,
    nullable (info = (null branch index, kind, info) of ["null", T] with T one of those)."""
    if not isinstance(schema, dict) or schema.get("type") != "record":
        return None
    plan = []
    for f in schema["fields"]:
        t = f["type"]
        pk = _prim(t)
        if pk:
            plan.append((f["name"], *pk))
            continue
        if isinstance(t, list) and len(t) == 2 and "null" in t:
            null_at = t.index("null")
            inner = _prim(t[1 - null_at])
            if inner:
                plan.append((f["name"], "nullable", (null_at, *inner)))
                continue
        return None
    return plan


def _varints_at(buf, offs):
    """Decodes the zigzag varints starting at each offset: (values int64, lengths)."""
    n = len(buf)
    val = np.zeros(len(offs), dtype=np.uint64)
    length = np.zeros(len(offs), dtype=np.int64)
    alive = np.ones(len(offs), dtype=bool)
    for k in range(10):
        idx = np.minimum(offs + k, n - 1)
        b = buf[idx].astype(np.uint64)
        val |= np.where(alive, (b & np.uint64(0x7F)) << np.uint64(7 * k), np.uint64(0))
        length += alive
        alive &= (b & np.uint64(0x80)) != 0
        if not alive.any():
            break
    sval = (val >> np.uint64(1)).astype(np.int64) ^ -(val & np.uint64(1)).astype(np.int64)
    return sval, length


def _varint_len_at(buf, p):
    """Byte length of the varint starting at each offset p (a 10-wide gather, no loop)."""
    idx = np.minimum(p[:, None] + np.arange(10), len(buf) - 1)
    cont = buf[idx] >= 0x80
    return np.argmin(cont, axis=1) + 1


def _field_len(buf, p, kind, info):
    """Byte length of one field's value at each offset p."""
    if kind == "fixed":
        return _FIXED[info]
    if kind == "fixedn":
        return info
    if kind in ("varint", "enum"):
        return _varint_len_at(buf, p)
    if kind == "nullable":
        null_at, ik, ii = info
        ln = _varint_len_at(buf, p)
        present = (buf[np.minimum(p, len(buf) - 1)] >> 1) != null_at  # branch 0/1: one byte
        return ln + np.where(present, _field_len(buf, p + ln, ik, ii), 0)
    v, ln = _varints_at(buf, p)
    return ln + np.maximum(v, 0)


def _record_starts(buf, blocks, plan):
    """Start offsets of every record. Records inside a block are found one after the other,
    but all blocks advance in lockstep (one numpy operation per field covers every block),
    so the Python loop runs as many times as the largest block has records."""
    counts = np.array([c for c, _ in blocks], dtype=np.int64)
    p = np.array([o for _, o in blocks], dtype=np.int64)
    starts = np.empty((int(counts.max()) if len(counts) else 0, len(blocks)), dtype=np.int64)
    # Consecutive fixed-size fields collapse into one constant step.
    steps = []
    for _, kind, info in plan:
        if kind in ("fixed", "fixedn"):
            w = _FIXED[info] if kind == "fixed" else info
            if steps and isinstance(steps[-1], int):
                steps[-1] += w
            else:
                steps.append(w)
        else:
            steps.append((kind, info))
    for k in range(starts.shape[0]):
        starts[k] = p
        for st in steps:
            if isinstance(st, int):
                p = p + st
            else:
                p = p + _field_len(buf, p, *st)
    valid = np.arange(starts.shape[0])[:, None] < counts[None, :]
    return starts.T[valid.T]  # block by block, records in order


def _field_values(data, buf, p, kind, info):
    """(values of one field at each record offset p, offsets after it)."""
    if kind == "fixed":
        w = _FIXED[info]
        idx = np.minimum(p[:, None] + np.arange(w), len(buf) - 1)
        raw = buf[idx].reshape(-1).view({"boolean": np.uint8, "float": "<f4", "double": "<f8"}[info])
        return (raw.astype(bool) if info == "boolean" else raw.copy()), p + w
    if kind == "fixedn":
        return buf[np.minimum(p[:, None] + np.arange(info), len(buf) - 1)], p + info
    if kind in ("varint", "enum"):
        v, ln = _varints_at(buf, p)
        return (v.astype(np.int32) if (kind == "enum" or info == "int") else v), p + ln
    if kind == "nullable":
        null_at, ik, ii = info
        ln = _varint_len_at(buf, p)
        present = (buf[np.minimum(p, len(buf) - 1)] >> 1) != null_at
        q = p + ln
        vals, after = _field_values(data, buf, q, ik, ii)
        if vals.dtype == object:
            vals = vals.copy()
            vals[~present] = "" if ik == "string" else b""
        else:
            vals = np.where(present.reshape((-1,) + (1,) * (vals.ndim - 1)), vals, 0).astype(vals.dtype)
        mask = ~present if vals.ndim == 1 else np.repeat(~present[:, None], vals.shape[1], axis=1)
        return np.ma.masked_array(vals, mask=mask), np.where(present, after, q)
    v, ln = _varints_at(buf, p)
    s = p + ln
    e = s + np.maximum(v, 0)
    if kind == "string":
        vals = np.array([data[a:b].decode("utf-8", "replace") for a, b in zip(s.tolist(), e.tolist())], dtype=object)
    else:
        vals = np.array([data[a:b] for a, b in zip(s.tolist(), e.tolist())], dtype=object)
    return vals, e


def _decode_flat(data, blocks, plan):
    """Vectorised decode of the records of blocks [(count, offset)] in data (bytes)."""
    buf = np.frombuffer(data, dtype=np.uint8)
    if len(buf) == 0 or not blocks:
        return {name: np.zeros(0, dtype=object if k in ("string", "bytes") else np.float64) for name, k, _ in plan}
    p = _record_starts(buf, blocks, plan)
    out = {}
    for name, kind, info in plan:
        out[name], p = _field_values(data, buf, p, kind, info)
    return out


def _time_unit_scale(meta, schema, time_field, values):
    unit = meta.get("speeddata.time_unit", b"").decode()
    if not unit and isinstance(schema, dict):
        for f in schema.get("fields", []):
            if f["name"] == time_field and isinstance(f["type"], dict):
                lt = f["type"].get("logicalType", "")
                unit = {"timestamp-nanos": "ns", "timestamp-micros": "us", "timestamp-millis": "ms",
                        "local-timestamp-nanos": "ns", "local-timestamp-micros": "us",
                        "local-timestamp-millis": "ms"}.get(lt, "")
    if not unit and len(values):
        a = abs(float(values[0]))
        unit = "ns" if a > 1e17 else "us" if a > 1e14 else "ms" if a > 1e11 else "s"
    return {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}.get(unit, 1)


def _fallback_columns(path, schema_path):
    """Record-by-record decoding with python3-avro for schemas the numpy decoder does not
    handle (nested records, unions, arrays, maps)."""
    import avro.datafile
    import avro.io
    import avro.schema
    reader_schema = avro.schema.parse(open(schema_path).read()) if schema_path else None
    with open(path, "rb") as f:
        with avro.datafile.DataFileReader(f, avro.io.DatumReader(readers_schema=reader_schema)) as r:
            records = list(r)
    cols = {}
    for rec in records:
        for k, v in _flatten(rec).items():
            cols.setdefault(k, []).append(v)
    out = {}
    for k, vs in cols.items():
        try:
            arr = np.array(vs)
            if arr.dtype.kind in "OUS" or arr.dtype == object:
                arr = np.array(vs, dtype=object)
        except (ValueError, TypeError):
            arr = np.empty(len(vs), dtype=object)
            arr[:] = vs
        out[k] = arr
    return out


def _flatten(rec, prefix=""):
    out = {}
    for k, v in rec.items():
        if isinstance(v, dict):
            sub = _flatten(v, prefix + k + ".")
            if sub:
                out.update(sub)
                continue
        out[prefix + k] = v
    return out


def read_avro(path, schema_path=None, channel_name=None):
    """Loads an Avro container file (e.g. a relay cache file) as a Set with one channel.

    The channel is named channel_name, else the file's speeddata.channel metadata, else the
    schema's name. The time field (speeddata.time_field metadata, default 'time') becomes
    int64 ns (time_ns) and float seconds (time). Flat record schemas (numbers, booleans,
    strings, bytes, enums, fixed, ["null", T] of those) are decoded with numpy; other schemas fall
    back to python3-avro. schema_path is only needed for that fallback's reader schema."""
    meta, blocks = _read_container(path)
    schema = json.loads(meta["avro.schema"].decode())
    time_field = meta.get("speeddata.time_field", b"time").decode() or "time"
    name = channel_name or meta.get("speeddata.channel", b"").decode() or (
        schema.get("name") if isinstance(schema, dict) else None) or os.path.basename(path).split("_")[0]
    plan = _flat_plan(schema)
    if plan is None:
        cols = _fallback_columns(path, schema_path)
    else:
        data = b"".join(d for _, d in blocks)
        offsets, at = [], 0
        for count, d in blocks:
            offsets.append((count, at))
            at += len(d)
        cols = _decode_flat(data, offsets, plan)
    if time_field in cols:
        t = np.asarray(cols.pop(time_field))
        if t.dtype.kind == "f":
            scale = _time_unit_scale(meta, schema, time_field, t)
            tns = np.round(t * scale).astype(np.int64)
        else:
            tns = t.astype(np.int64) * _time_unit_scale(meta, schema, time_field, t)
        cols = {"time": tns, **cols}
    attrs = {k: v.decode("utf-8", "replace") for k, v in meta.items()}
    return Set({name: Channel(name, cols, attrs)}, {"source": str(path)})
