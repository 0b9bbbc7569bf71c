"""Send Avro datums to a SpeedData relay over UDP, with the Python standard library only.

A relay listens on one UDP port per channel and expects every datagram to hold one Avro
binary datum of the channel's schema, or several datums back to back (no header).

    from lib.python.speeddata_sender import Sender     # or speeddata.sender, the same module

    with Sender('config/agents/temperature.avsc', port=26001) as out:
        out.send({'time': time.time_ns(), 'device_id': 'TEMP-SENSOR-001', 'temperature_c': 21.5,
                  'temperature_f': 70.7, 'pressure_pa': 101325.0, 'humidity_pct': 40.0,
                  'status': 'ok'})
        out.send_many(records)          # packs several datums per datagram

Encoding covers the whole Avro type set: null, boolean, int, long, float, double, bytes,
string, record, enum, array, map, union, fixed; logical types are written as their
underlying type (timestamp-nanos as a long of ns, decimal as its bytes/fixed, ...).

Python values:
    null        None
    boolean     bool (only)
    int, long   int (not bool), range-checked
    float/double int or float (not bool)
    string      str (written as UTF-8)
    bytes       bytes, bytearray or memoryview
    fixed       bytes of exactly the fixed size
    enum        a symbol (str), or its index (int)
    array       list or tuple
    map         dict with str keys (written in iteration order)
    record      dict (Mapping); a missing field takes its schema default, else None
    union       the first branch that accepts the value, in schema order (as Avro Java
                does). A value that fits two branches (1 for ["int", "long"]) is written
                with the first.

Errors: a datum that does not fit the schema raises EncodeError (a ValueError) naming the
path to the bad value ("record.readings[3].value: expected double, got str"); a schema that
is not valid raises SchemaError. Network errors do not raise by default: UDP is lossy, a
relay may restart, and on loopback "Connection refused" only means nobody listens yet. They
are counted in Sender.errors (last one in Sender.last_error); pass raise_errors=True to get
the OSError instead.
"""

import json
import math
import socket
import struct

__all__ = [
    'SchemaError', 'EncodeError', 'Schema', 'Sender', 'load_schema', 'encode',
    'MAX_UDP_PAYLOAD', 'ETHERNET_UDP_PAYLOAD',
]

MAX_UDP_PAYLOAD = 65507        # largest UDP payload over IPv4
ETHERNET_UDP_PAYLOAD = 1472    # fits a 1500-byte MTU without IP fragmentation

_INT_MIN, _INT_MAX = -(1 << 31), (1 << 31) - 1
_LONG_MIN, _LONG_MAX = -(1 << 63), (1 << 63) - 1
_PRIMITIVES = ('null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string')
_FLOAT = struct.Struct('<f')
_DOUBLE = struct.Struct('<d')


class SchemaError(ValueError):
    """The schema is not valid Avro (or uses a name that is not defined)."""


class EncodeError(ValueError):
    """A value does not fit the schema; the message names where in the datum."""


def _write_long(out, n):
    """Appends n as a zigzag varint (Avro int and long)."""
    n = (n << 1) ^ (n >> 63)
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _type_name(value):
    return type(value).__name__


# ---- compiled schema nodes ---------------------------------------------------------------
# Each node knows whether it accepts a Python value (for union branch choice) and how to
# write it. Nodes are built once per schema, so encoding does no schema lookups.

class _Node:
    kind = '?'

    def accepts(self, value):
        raise NotImplementedError

    def write(self, value, out, path):
        raise NotImplementedError

    def _mismatch(self, value, path, expected=None):
        return EncodeError(f'{path}: expected {expected or self.kind}, got {_type_name(value)} {value!r:.60}')


class _Null(_Node):
    kind = 'null'

    def accepts(self, value):
        return value is None

    def write(self, value, out, path):
        if value is not None:
            raise self._mismatch(value, path)


class _Boolean(_Node):
    kind = 'boolean'

    def accepts(self, value):
        return isinstance(value, bool)

    def write(self, value, out, path):
        if not isinstance(value, bool):
            raise self._mismatch(value, path)
        out.append(1 if value else 0)


class _Integer(_Node):
    def __init__(self, kind):
        self.kind = kind
        self.low, self.high = (_INT_MIN, _INT_MAX) if kind == 'int' else (_LONG_MIN, _LONG_MAX)

    def accepts(self, value):
        return isinstance(value, int) and not isinstance(value, bool) and self.low <= value <= self.high

    def write(self, value, out, path):
        if not isinstance(value, int) or isinstance(value, bool):
            raise self._mismatch(value, path)
        if not self.low <= value <= self.high:
            raise EncodeError(f'{path}: {value} out of range for Avro {self.kind}')
        _write_long(out, value)


class _Real(_Node):
    def __init__(self, kind):
        self.kind = kind
        self.packer = _FLOAT if kind == 'float' else _DOUBLE

    def accepts(self, value):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return False
        if self.kind == 'float' and isinstance(value, float) and math.isfinite(value):
            return abs(value) <= 3.4028234663852886e38  # float32 max: beyond it struct refuses
        return True

    def write(self, value, out, path):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise self._mismatch(value, path)
        try:
            out += self.packer.pack(value)
        except (OverflowError, struct.error) as e:
            raise EncodeError(f'{path}: {value!r} does not fit an Avro {self.kind}: {e}') from None


class _Bytes(_Node):
    kind = 'bytes'

    def accepts(self, value):
        return isinstance(value, (bytes, bytearray, memoryview))

    def write(self, value, out, path):
        if not self.accepts(value):
            raise self._mismatch(value, path)
        _write_long(out, len(value) if not isinstance(value, memoryview) else value.nbytes)
        out += value


class _String(_Node):
    kind = 'string'

    def accepts(self, value):
        return isinstance(value, str)

    def write(self, value, out, path):
        if not isinstance(value, str):
            raise self._mismatch(value, path)
        data = value.encode('utf-8')
        _write_long(out, len(data))
        out += data


class _Fixed(_Node):
    kind = 'fixed'

    def __init__(self, name, size):
        self.name, self.size = name, size

    def accepts(self, value):
        return isinstance(value, (bytes, bytearray)) and len(value) == self.size

    def write(self, value, out, path):
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise self._mismatch(value, path, f'fixed {self.name} ({self.size} bytes)')
        if len(value) != self.size:
            raise EncodeError(f'{path}: fixed {self.name} needs {self.size} bytes, got {len(value)}')
        out += value


class _Enum(_Node):
    kind = 'enum'

    def __init__(self, name, symbols):
        self.name, self.symbols = name, list(symbols)
        self.index = {s: i for i, s in enumerate(self.symbols)}

    def accepts(self, value):
        return isinstance(value, str) and value in self.index

    def write(self, value, out, path):
        if isinstance(value, str):
            if value not in self.index:
                raise EncodeError(f'{path}: {value!r} is not a symbol of enum {self.name} {self.symbols}')
            _write_long(out, self.index[value])
        elif isinstance(value, int) and not isinstance(value, bool):
            if not 0 <= value < len(self.symbols):
                raise EncodeError(f'{path}: index {value} out of range for enum {self.name}')
            _write_long(out, value)
        else:
            raise self._mismatch(value, path, f'a symbol of enum {self.name}')


class _Array(_Node):
    kind = 'array'

    def __init__(self):
        self.items = None  # set after construction (the item type may refer back to us)

    def accepts(self, value):
        return isinstance(value, (list, tuple)) and all(self.items.accepts(v) for v in value)

    def write(self, value, out, path):
        if not isinstance(value, (list, tuple)):
            raise self._mismatch(value, path)
        # One block with the whole array, then the terminating empty block.
        if value:
            _write_long(out, len(value))
            items = self.items
            for i, item in enumerate(value):
                items.write(item, out, f'{path}[{i}]')
        out.append(0)


class _Map(_Node):
    kind = 'map'

    def __init__(self):
        self.values = None

    def accepts(self, value):
        return isinstance(value, dict) and all(isinstance(k, str) and self.values.accepts(v) for k, v in value.items())

    def write(self, value, out, path):
        if not isinstance(value, dict):
            raise self._mismatch(value, path)
        if value:
            _write_long(out, len(value))
            values = self.values
            for k, v in value.items():
                if not isinstance(k, str):
                    raise EncodeError(f'{path}: map keys must be str, got {_type_name(k)} {k!r:.60}')
                data = k.encode('utf-8')
                _write_long(out, len(data))
                out += data
                values.write(v, out, f'{path}[{k!r}]')
        out.append(0)


class _Union(_Node):
    kind = 'union'

    def __init__(self, branches):
        self.branches = branches

    def accepts(self, value):
        return any(b.accepts(value) for b in self.branches)

    def write(self, value, out, path):
        for i, branch in enumerate(self.branches):
            if branch.accepts(value):
                _write_long(out, i)
                branch.write(value, out, path)
                return
        kinds = ', '.join(getattr(b, 'name', None) or b.kind for b in self.branches)
        raise EncodeError(f'{path}: {_type_name(value)} {value!r:.60} fits no branch of union [{kinds}]')


class _Record(_Node):
    kind = 'record'

    def __init__(self, name):
        self.name = name
        self.fields = []  # (name, node, has_default, default_value), set after construction
        self.field_names = frozenset()

    def accepts(self, value):
        if not isinstance(value, dict) or not self.field_names.issuperset(value.keys()):
            return False
        return all(node.accepts(value[name]) if name in value else (has_default or node.accepts(None))
                   for name, node, has_default, _ in self.fields)

    def write(self, value, out, path):
        if not isinstance(value, dict):
            raise self._mismatch(value, path, f'record {self.name} (a dict)')
        for name, node, has_default, default in self.fields:
            if name in value:
                node.write(value[name], out, f'{path}.{name}')
            elif has_default:
                default.write(out)
            elif node.accepts(None):
                node.write(None, out, f'{path}.{name}')
            else:
                raise EncodeError(f'{path}: missing field {name!r} (no default)')
        extra = value.keys() - self.field_names
        if extra:
            raise EncodeError(f'{path}: unknown field(s) {sorted(extra)} for record {self.name}')


class _Default:
    """A field default, encoded on first use and then reused. JSON defaults follow the
    Avro spec's rules (see _write_default). Lazy, because a default may involve a type that
    is still being parsed when the field is read (a record that refers to itself)."""

    def __init__(self, node, json_value, where):
        self.node, self.json_value, self.where = node, json_value, where
        self.data = None

    def write(self, out):
        if self.data is None:
            data = bytearray()
            try:
                _write_default(self.node, self.json_value, data, self.where)
            except EncodeError as e:
                raise SchemaError(f'{self.where}: default does not fit the field type: {e}') from None
            self.data = bytes(data)
        out += self.data


def _write_default(node, value, out, path):
    # JSON encodes bytes and fixed defaults as strings of code points 0-255, and a union
    # default always belongs to the union's first branch.
    if isinstance(node, _Union):
        _write_long(out, 0)
        _write_default(node.branches[0], value, out, path)
    elif isinstance(node, (_Bytes, _Fixed)) and isinstance(value, str):
        node.write(value.encode('latin-1'), out, path)
    elif isinstance(node, _Real) and isinstance(value, str) and value in ('NaN', 'Infinity', '-Infinity'):
        node.write(float(value.lower().replace('infinity', 'inf')), out, path)
    elif isinstance(node, _Record) and isinstance(value, dict):
        for name, child, has_default, default in node.fields:
            if name in value:
                _write_default(child, value[name], out, f'{path}.{name}')
            elif has_default:
                default.write(out)
            else:
                raise EncodeError(f'{path}: default lacks field {name!r}')
    elif isinstance(node, _Array) and isinstance(value, list):
        if value:
            _write_long(out, len(value))
            for i, item in enumerate(value):
                _write_default(node.items, item, out, f'{path}[{i}]')
        out.append(0)
    elif isinstance(node, _Map) and isinstance(value, dict):
        if value:
            _write_long(out, len(value))
            for k, v in value.items():
                _String().write(k, out, path)
                _write_default(node.values, v, out, f'{path}[{k!r}]')
        out.append(0)
    else:
        node.write(value, out, path)


# ---- schema parsing ----------------------------------------------------------------------

class _Parser:
    def __init__(self):
        self.named = {}  # full name -> node
        self.defaults = []  # every field default, checked once the whole schema is parsed

    def full_name(self, name, namespace):
        if '.' in name or not namespace:
            return name
        return f'{namespace}.{name}'

    def lookup(self, name, namespace, where):
        for candidate in (self.full_name(name, namespace), name):
            if candidate in self.named:
                return self.named[candidate]
        raise SchemaError(f'{where}: unknown type {name!r}')

    def define(self, spec, namespace, node, where):
        name = spec.get('name')
        if not isinstance(name, str) or not name:
            raise SchemaError(f'{where}: a {spec.get("type")} needs a "name"')
        ns = spec.get('namespace', namespace) if '.' not in name else name.rsplit('.', 1)[0]
        full = self.full_name(name, ns)
        if full in self.named:
            raise SchemaError(f'{where}: type {full!r} defined twice')
        self.named[full] = node
        node.name = full
        return ns

    def parse(self, spec, namespace, where):
        if isinstance(spec, str):
            if spec in _PRIMITIVES:
                return self.primitive(spec)
            return self.lookup(spec, namespace, where)
        if isinstance(spec, list):
            if not spec:
                raise SchemaError(f'{where}: a union needs at least one branch')
            branches = [self.parse(b, namespace, f'{where}|{i}') for i, b in enumerate(spec)]
            if any(isinstance(b, _Union) for b in branches):
                raise SchemaError(f'{where}: a union may not contain a union')
            return _Union(branches)
        if not isinstance(spec, dict):
            raise SchemaError(f'{where}: a type must be a name, an object or a union list')
        kind = spec.get('type')
        # Logical types are written as their underlying type, so "logicalType" is ignored.
        if isinstance(kind, (dict, list)):
            return self.parse(kind, namespace, where)
        if kind in _PRIMITIVES:
            return self.primitive(kind)
        if kind == 'record' or kind == 'error':
            node = _Record(None)
            ns = self.define(spec, namespace, node, where)
            fields = spec.get('fields')
            if not isinstance(fields, list):
                raise SchemaError(f'{where}: record {node.name} needs a "fields" list')
            seen = set()
            for f in fields:
                fname = f.get('name') if isinstance(f, dict) else None
                if not isinstance(fname, str) or not fname:
                    raise SchemaError(f'{where}: record {node.name}: every field needs a "name"')
                if fname in seen:
                    raise SchemaError(f'{where}: record {node.name}: duplicate field {fname!r}')
                seen.add(fname)
                if 'type' not in f:
                    raise SchemaError(f'{where}.{fname}: missing "type"')
                child = self.parse(f['type'], ns, f'{where}.{fname}')
                has_default = 'default' in f
                default = _Default(child, f['default'], f'{where}.{fname}') if has_default else None
                node.fields.append((fname, child, has_default, default))
                if has_default:
                    self.defaults.append(default)
            node.field_names = frozenset(seen)
            return node
        if kind == 'enum':
            symbols = spec.get('symbols')
            if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
                raise SchemaError(f'{where}: an enum needs a "symbols" list of strings')
            if len(set(symbols)) != len(symbols):
                raise SchemaError(f'{where}: duplicate enum symbols')
            node = _Enum(None, symbols)
            self.define(spec, namespace, node, where)
            return node
        if kind == 'fixed':
            size = spec.get('size')
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise SchemaError(f'{where}: a fixed needs a non-negative integer "size"')
            node = _Fixed(None, size)
            self.define(spec, namespace, node, where)
            return node
        if kind == 'array':
            if 'items' not in spec:
                raise SchemaError(f'{where}: an array needs "items"')
            node = _Array()
            node.items = self.parse(spec['items'], namespace, f'{where}[]')
            return node
        if kind == 'map':
            if 'values' not in spec:
                raise SchemaError(f'{where}: a map needs "values"')
            node = _Map()
            node.values = self.parse(spec['values'], namespace, f'{where}{{}}')
            return node
        if isinstance(kind, str):
            return self.lookup(kind, namespace, where)
        raise SchemaError(f'{where}: missing or invalid "type"')

    @staticmethod
    def primitive(name):
        return {
            'null': _Null, 'boolean': _Boolean, 'bytes': _Bytes, 'string': _String,
        }.get(name, lambda: _Integer(name) if name in ('int', 'long') else _Real(name))()

    def check_defaults(self):
        """Encodes every default once, so that a bad default fails at load time."""
        for default in self.defaults:
            default.write(bytearray())


class Schema:
    """A compiled Avro schema: encode(datum) -> bytes."""

    def __init__(self, schema):
        """schema: the parsed JSON (dict, list or str) of an Avro schema."""
        parser = _Parser()
        self.json = schema
        self.root = parser.parse(schema, None, _root_label(schema))
        parser.check_defaults()
        self.name = getattr(self.root, 'name', None) or self.root.kind  # full name
        self._label = self.name.rsplit('.', 1)[-1]  # error paths start with the short name

    @classmethod
    def from_json(cls, text):
        try:
            return cls(json.loads(text))
        except json.JSONDecodeError as e:
            raise SchemaError(f'schema is not valid JSON: {e}') from None

    @classmethod
    def from_file(cls, path):
        with open(path, encoding='utf-8') as f:
            text = f.read()
        try:
            return cls.from_json(text)
        except SchemaError as e:
            raise SchemaError(f'{path}: {e}') from None

    def encode(self, datum):
        """The Avro binary encoding of datum, as bytes. Raises EncodeError."""
        out = bytearray()
        self.root.write(datum, out, self._label)
        return bytes(out)

    def encode_into(self, datum, out):
        """Appends the encoding of datum to the bytearray out; returns its length."""
        start = len(out)
        try:
            self.root.write(datum, out, self._label)
        except BaseException:
            del out[start:]  # never leave half a datum behind
            raise
        return len(out) - start


def _root_label(schema):
    if isinstance(schema, dict) and isinstance(schema.get('name'), str):
        return schema['name']
    return 'schema'


def load_schema(path):
    """Reads and compiles an .avsc file."""
    return Schema.from_file(path)


def encode(schema, datum):
    """Encodes datum with schema (a Schema, a parsed JSON schema, or an .avsc path)."""
    if not isinstance(schema, Schema):
        schema = load_schema(schema) if isinstance(schema, str) and schema.endswith('.avsc') else Schema(schema)
    return schema.encode(datum)


# ---- sending -----------------------------------------------------------------------------

class Sender:
    """Sends datums of one schema to one relay over a connected UDP socket.

    schema: a Schema, or the path of an .avsc file.
    host, port: the relay of the channel (default port 26000, the example channel).
    max_datagram_bytes: send_many() packs datums up to this many bytes per datagram; a
        datum larger than it raises EncodeError. Default 1472 (no IP fragmentation on
        Ethernet); at most 65507.
    socket_buffer: SO_SNDBUF request in bytes (0 = the OS default).
    raise_errors: raise the OSError of a failed send instead of counting it.

    Counters: datagrams, records, bytes (sent), errors (failed sends), last_error.
    """

    def __init__(self, schema, host='127.0.0.1', port=26000, max_datagram_bytes=ETHERNET_UDP_PAYLOAD,
                 socket_buffer=0, raise_errors=False):
        self.schema = schema if isinstance(schema, Schema) else load_schema(schema)
        if not 1 <= max_datagram_bytes <= MAX_UDP_PAYLOAD:
            raise ValueError(f'max_datagram_bytes must be 1..{MAX_UDP_PAYLOAD}')
        self.max_datagram_bytes = max_datagram_bytes
        self.raise_errors = raise_errors
        self.peer = f'{host}:{port}'
        self.datagrams = self.records = self.bytes = self.errors = 0
        self.last_error = None
        # IPv4 first: relays bind 127.0.0.1, and "localhost" may resolve to ::1 first.
        infos = sorted(socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM),
                       key=lambda info: info[0] != socket.AF_INET)
        family, _, _, _, address = infos[0]
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            if socket_buffer:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, socket_buffer)
            # Connected: the destination is fixed once, and ICMP errors come back to us.
            self.sock.connect(address)
        except OSError:
            self.sock.close()
            raise

    def send(self, record):
        """Sends record as one datagram of one datum. Returns True when it went out."""
        data = self.schema.encode(record)
        if len(data) > self.max_datagram_bytes:
            raise EncodeError(f'datum of {len(data)} bytes exceeds max_datagram_bytes {self.max_datagram_bytes}')
        return self._transmit(data, 1)

    def send_many(self, records, per_datagram=None):
        """Sends records packed back to back, up to max_datagram_bytes (and at most
        per_datagram datums, if given) per datagram. Returns the number of datagrams
        that went out. Every record is encoded (and checked) before anything is sent."""
        datagrams = []  # (bytes, record count)
        current, count = bytearray(), 0
        for record in records:
            data = self.schema.encode(record)
            if len(data) > self.max_datagram_bytes:
                raise EncodeError(f'datum of {len(data)} bytes exceeds max_datagram_bytes {self.max_datagram_bytes}')
            if count and (len(current) + len(data) > self.max_datagram_bytes or count == per_datagram):
                datagrams.append((bytes(current), count))
                current, count = bytearray(), 0
            current += data
            count += 1
        if count:
            datagrams.append((bytes(current), count))
        return sum(self._transmit(data, n) for data, n in datagrams)

    def _transmit(self, data, records):
        try:
            self.sock.send(data)
        except OSError as e:
            self.errors += 1
            self.last_error = f'send {self.peer}: {e.strerror or e}'
            if self.raise_errors:
                raise
            return False
        self.datagrams += 1
        self.records += records
        self.bytes += len(data)
        return True

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
