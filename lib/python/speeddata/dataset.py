"""SpeedData analysis library: load a Set (channels of signals over a time range).

    from lib.python.dataset import read_hdf5, read_avro      # as documented since v0.5
    from dataset import read_hdf5                             # the same module
    from speeddata.dataset import read_hdf5                   # its home: lib/python/speeddata/

    data = read_hdf5('export.h5')         # a file made by `speeddata pivot` or the REST API
    data.channel['example'].sine_wave     # numpy array
    data.example.sine_wave                # the same
    data.sine_wave                        # the same, when only one channel has that signal
    data.example.time                     # float seconds since the Unix epoch
    data.example.time_ns                  # int64 ns since the Unix epoch

    data = read_avro('data/avro/example/example_20250123T140000.000Z.avro')   # a relay cache file
    data = read_avro('data/avro/example')   # the whole channel: every file, every file stream

Layout and type mapping: docs/pivot.md. Nullable signals (Avro ["null", T]) come back as
numpy masked arrays; nested record fields as "outer.inner" (also data.ch.outer.inner).
"""
import io
import json
import os
import re
import struct
import warnings
import zlib

import numpy as np

__all__ = ["Set", "Channel", "read_hdf5", "read_avro", "AvroDamageWarning", "HEADERLESS_SYNC"]

# The cache files' metadata keys (src/core/cache_layout.hpp, namespace cache::meta).
META_CHANNEL = "speeddata.channel"
META_TIME_FIELD = "speeddata.time_field"
META_TIME_UNIT = "speeddata.time_unit"


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


# The sync marker ending every block of the earlier (v0.6) relay's cache files, which have no
# container header: blocks from byte 0, each one datagram (count 1, byte size, the datagram
# as received, this marker), null codec. docs/upgrading.md, "Old cache files".
HEADERLESS_SYNC = bytes([0xa4, 0x8a, 0x1e, 0x90, 0x05, 0x04, 0x24, 0x78,
                         0x0a, 0x68, 0x33, 0x7f, 0xc2, 0x50, 0x95, 0x63])


def _damage(path, message):
    warnings.warn(f"{path}: {message}", AvroDamageWarning, stacklevel=4)


class AvroDamageWarning(UserWarning):
    """A damaged block of an Avro file was skipped (its records are missing from the result)."""


def _read_header(path, raw):
    """(metadata dict, sync marker, offset of the first block) of a container file."""
    pos = 4
    meta = {}
    try:
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
    except IndexError:
        raise ValueError(f"{path}: file ends inside the Avro header") from None
    if pos + 16 > len(raw):
        raise ValueError(f"{path}: file ends inside the Avro header")
    return meta, raw[pos:pos + 16], pos + 16


def _read_container(path, headerless=False):
    """(metadata dict, list of (count, decompressed bytes, file offset)).

    headerless: the file has no header (the earlier relay's layout; HEADERLESS_SYNC).
    A block whose framing is broken is skipped to the next sync marker, one whose data does
    not decompress is skipped whole; both with an AvroDamageWarning. A block cut off at the
    end (a file still being written, or a crash while writing) ends the list quietly."""
    with open(path, "rb") as f:
        raw = f.read()
    if headerless:
        meta, sync, pos = {}, HEADERLESS_SYNC, 0
    else:
        meta, sync, pos = _read_header(path, raw)
    codec = meta.get("avro.codec", b"null").decode() or "null"
    if codec not in ("null", "deflate", "zstandard", "zstd", "snappy"):
        raise ValueError(f"{path}: unsupported codec {codec}")
    blocks = []
    while pos < len(raw):
        start = pos
        try:
            count, p = _read_long(raw, pos)
            size, p = _read_long(raw, p)
            framed = count >= 0 and size >= 0 and raw[p + size:p + size + 16] == sync
        except IndexError:
            framed, p, size = False, len(raw), 0
        if not framed:
            nxt = raw.find(sync, start + 1)
            if nxt < 0:
                if p + size + 16 <= len(raw):  # the whole block is there, its marker is not
                    _damage(path, f"damaged block at offset {start}: no sync marker follows; rest of the file skipped")
                break  # else: cut off at the end
            _damage(path, f"damaged block at offset {start}: skipped {nxt + 16 - start} bytes to the next sync marker")
            pos = nxt + 16
            continue
        data = raw[p:p + size]
        pos = p + size + 16
        try:
            if codec == "deflate":
                data = zlib.decompress(data, -15)
            elif codec in ("zstandard", "zstd"):
                import zstandard
                data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
            elif codec == "snappy":
                import snappy  # python3-snappy
                data = snappy.decompress(data[:-4])
        except ImportError:
            raise
        except Exception as e:  # each codec library has its own error type
            _damage(path, f"damaged block at offset {start}: {codec}: {e}; skipped")
            continue
        blocks.append((count, data, start))
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
    """Vectorised decode of the records of blocks [(count, offset)] in data (bytes, the
    blocks back to back). Returns (columns, indices of blocks whose records do not end
    exactly at the next record or the block's end: damaged data, left out of the columns)."""
    buf = np.frombuffer(data, dtype=np.uint8)
    if len(buf) == 0 or not blocks:
        return {name: np.zeros(0, dtype=object if k in ("string", "bytes") else np.float64) for name, k, _ in plan}, []
    starts = _record_starts(buf, blocks, plan)
    p = starts
    out = {}
    for name, kind, info in plan:
        out[name], p = _field_values(data, buf, p, kind, info)
    counts = np.array([c for c, _ in blocks], dtype=np.int64)
    block_end = np.array([o for _, o in blocks][1:] + [len(data)], dtype=np.int64)
    block_of = np.repeat(np.arange(len(blocks)), counts)
    last = np.append(block_of[1:] != block_of[:-1], True) if len(block_of) else np.zeros(0, dtype=bool)
    expected = np.where(last, block_end[block_of], np.append(starts[1:], 0))
    bad = np.unique(block_of[p != expected]).tolist()
    if bad:
        keep = ~np.isin(block_of, bad)
        out = {k: v[keep] for k, v in out.items()}
    return out, bad


def _time_unit_scale(meta, schema, time_field, values):
    unit = meta.get(META_TIME_UNIT, b"").decode()
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


def _fallback_columns(path, schema_path, schema_json=None, blocks=None):
    """Record-by-record decoding with python3-avro for schemas the numpy decoder does not
    handle (nested records, unions, arrays, maps). blocks (with schema_json, the writer's
    schema): the decompressed blocks of a headerless file, decoded datum by datum; a block
    that does not decode is skipped with an AvroDamageWarning."""
    import avro.datafile
    import avro.io
    import avro.schema
    reader_schema = avro.schema.parse(open(schema_path).read()) if schema_path else None
    if blocks is None:
        with open(path, "rb") as f:
            with avro.datafile.DataFileReader(f, avro.io.DatumReader(readers_schema=reader_schema)) as r:
                records = list(r)
    else:
        reader = avro.io.DatumReader(avro.schema.parse(json.dumps(schema_json)), reader_schema)
        records = []
        for count, data, offset in blocks:
            buf = io.BytesIO(data)
            dec = avro.io.BinaryDecoder(buf)
            try:
                got = [reader.read(dec) for _ in range(count)]
            except Exception as e:  # python3-avro raises several types on bad bytes
                _damage(path, f"damaged block at offset {offset}: {e}; skipped")
                continue
            if buf.tell() != len(data):
                _damage(path, f"damaged block at offset {offset}: {len(data) - buf.tell()} bytes left over; skipped")
                continue
            records.extend(got)
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


def _is_container(path):
    with open(path, "rb") as f:
        return f.read(4) == _MAGIC


_STREAM_SUFFIX = re.compile(r"_(\d{8}T\d{6}\.\d{3}Z)(?:_s([1-9]\d?))?\.avro$")


def _stream_of(path):
    """The file stream of a relay cache file name (_s<K> before .avro; 0 without), or 0."""
    m = _STREAM_SUFFIX.search(os.path.basename(str(path)))
    return int(m.group(2)) if m and m.group(2) else 0


def _merge_by_time(parts):
    """Column dicts of one channel's file streams [(stream, columns)], each in arrival order,
    merged record by record by time_ns (the lower stream first on equal times), as the pivot
    merges them."""
    times = [np.asarray(c["time"], dtype=np.int64) if "time" in c else None for _, c in parts]
    names = list(parts[0][1])
    if any(t is None for t in times):  # no time axis: nothing to merge by
        order = None
    elif all(len(t) < 2 or bool(np.all(t[1:] >= t[:-1])) for t in times):
        # Every stream in time order (the usual case): a stable sort of the streams one after
        # the other is exactly the merge.
        order = np.argsort(np.concatenate(times), kind="stable")
    else:
        import heapq
        offsets = np.cumsum([0] + [len(t) for t in times])
        streams = [((int(v), k, int(offsets[k]) + i) for i, v in enumerate(t)) for k, t in enumerate(times)]
        order = np.fromiter((x[2] for x in heapq.merge(*streams)), dtype=np.int64, count=int(offsets[-1]))
    out = {}
    for name in names:
        cols = [c[name] for _, c in parts]
        joined = np.ma.concatenate(cols) if any(isinstance(c, np.ma.MaskedArray) for c in cols) else np.concatenate(cols)
        out[name] = joined if order is None else joined[order]
    return out


def _avro_paths(path):
    """The files read_avro reads for path: one file, the .avro files of a directory (a channel's
    cache directory) or a list of files."""
    if isinstance(path, (list, tuple)):
        return [str(p) for p in path]
    if os.path.isdir(path):
        files = sorted(os.path.join(path, n) for n in os.listdir(path) if n.endswith(".avro"))
        if not files:
            raise ValueError(f"{path}: no .avro files")
        return files
    return [str(path)]


def read_avro(path, schema_path=None, channel_name=None):
    """Loads Avro files (relay cache files) as a Set with one channel.

    path is one file, a list of files of one channel, or a channel's cache directory
    (data/avro/<channel>: every file in it). A relay with several receive threads writes one
    file stream per thread (names ending _s<K>.avro, docs/wire-format.md); the streams are
    merged record by record by time (the lower stream first on equal times), the files of a
    stream follow each other in name order. One file is read as it is.

    Container files carry their schema. Files without a container header, as the earlier
    (v0.6) relay wrote them (docs/upgrading.md), need schema_path, the channel's .avsc.

    The channel is named channel_name, else the file's speeddata.channel metadata, else the
    schema's name. The time field (speeddata.time_field metadata, default 'time') becomes
    int64 ns (time_ns) and float seconds (time); its unit comes from speeddata.time_unit, the
    field's timestamp logicalType, else the magnitude of the first value. Flat record schemas
    (numbers, booleans, strings, bytes, enums, fixed, ["null", T] of those) are decoded with
    numpy; other schemas fall back to python3-avro (schema_path is then the reader schema).
    Damaged blocks are skipped with an AvroDamageWarning naming the offset."""
    paths = _avro_paths(path)
    if len(paths) == 1:
        return _read_avro_file(paths[0], schema_path, channel_name)
    sets = [_read_avro_file(p, schema_path, channel_name) for p in paths]
    chans = [next(iter(s.channel.values())) for s in sets]
    name = chans[0].name
    for c, p in zip(chans, paths):
        if c.name != name:
            raise ValueError(f"{p}: channel '{c.name}', not '{name}': read one channel's files at a time")
        if set(c._columns) != set(chans[0]._columns):
            raise ValueError(f"{p}: its signals differ from {paths[0]}'s (the schema changed): read them separately")
    streams = {}
    for c, p in zip(chans, paths):
        streams.setdefault(_stream_of(p), []).append(c._columns)
    parts = []
    for k in sorted(streams):
        cols = streams[k]
        joined = {n: (np.ma.concatenate([c[n] for c in cols]) if any(isinstance(c[n], np.ma.MaskedArray) for c in cols)
                      else np.concatenate([c[n] for c in cols])) for n in cols[0]}
        parts.append((k, joined))
    columns = parts[0][1] if len(parts) == 1 else _merge_by_time(parts)
    attrs = dict(chans[0].metadata)
    return Set({name: Channel(name, columns, attrs)}, {"source": [str(p) for p in paths]})


def _read_avro_file(path, schema_path=None, channel_name=None):
    headerless = not _is_container(path)
    if headerless:
        if schema_path is None:
            with open(path, "rb") as f:
                head = f.read(1 << 16)
            hint = ("; it looks like a cache file of the earlier relay (no header, blocks with its fixed sync "
                    "marker): give its schema, read_avro(path, schema_path)") if HEADERLESS_SYNC in head else ""
            raise ValueError(f"{path}: not an Avro container file{hint}")
        with open(schema_path, encoding="utf-8") as f:
            schema = json.load(f)
    meta, blocks = _read_container(path, headerless=headerless)
    if not headerless:
        schema = json.loads(meta["avro.schema"].decode())
    time_field = meta.get(META_TIME_FIELD, b"time").decode() or "time"
    name = channel_name or meta.get(META_CHANNEL, b"").decode() or (
        schema.get("name") if isinstance(schema, dict) else None) or os.path.basename(path).split("_")[0]
    plan = _flat_plan(schema)
    if plan is None:
        cols = _fallback_columns(path, schema_path, schema, blocks) if headerless else \
            _fallback_columns(path, schema_path)
    else:
        data = b"".join(d for _, d, _ in blocks)
        offsets, at = [], 0
        for count, d, _ in blocks:
            offsets.append((count, at))
            at += len(d)
        cols, bad = _decode_flat(data, offsets, plan)
        for i in bad:
            _damage(path, f"damaged block at offset {blocks[i][2]}: its records do not decode with the schema; "
                          "skipped")
    if time_field in cols:
        t = np.asarray(cols.pop(time_field))
        if t.dtype.kind == "f":
            scale = _time_unit_scale(meta, schema, time_field, t)
            tns = np.round(t * scale).astype(np.int64)
        else:
            tns = t.astype(np.int64) * _time_unit_scale(meta, schema, time_field, t)
        cols = {"time": tns, **cols}
    attrs = {k: v.decode("utf-8", "replace") for k, v in meta.items()}
    if headerless:
        attrs = {"avro.schema": json.dumps(schema), "avro.codec": "null", "speeddata.headerless": "true"}
    return Set({name: Channel(name, cols, attrs)}, {"source": str(path)})
