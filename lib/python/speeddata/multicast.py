"""Reference decoder of SpeedData multicast datagrams (docs/wire-format.md).

    from speeddata_multicast import Subscriber, parse_datagram
    with Subscriber("239.1.1.2", 6001) as sub:          # the decimated stream
        for msg in sub:
            print(msg.channel, msg.sequence, msg.count, len(msg.payload))

Pure standard library. The payload is `count` Avro binary datums back to back, of the schema
whose CRC-64-AVRO fingerprint is `fingerprint`; decode them with any Avro library (e.g.
`avro.io.DatumReader`) or with `speeddata_sender`'s schema tools.
"""
import socket
import struct
from dataclasses import dataclass

MAGIC = b"SDM1"
VERSION = 1
FIXED_HEADER = 28
FLAG_DECIMATED = 0x01
FLAG_MINMAX = 0x02
_LAYOUT = struct.Struct("<4sBBHQQHBB")  # magic, version, flags, header_length, fp, seq, count, name_len, reserved


@dataclass
class Datagram:
    channel: str
    fingerprint: int
    sequence: int
    count: int
    flags: int
    payload: bytes

    @property
    def decimated(self):
        return bool(self.flags & FLAG_DECIMATED)

    @property
    def minmax(self):
        return bool(self.flags & FLAG_MINMAX)


def parse_datagram(data):
    """Parses one datagram; raises ValueError when it is not a SpeedData multicast datagram."""
    if len(data) < FIXED_HEADER:
        raise ValueError(f"datagram of {len(data)} bytes is shorter than the {FIXED_HEADER}-byte header")
    magic, version, flags, hlen, fp, seq, count, nlen, _ = _LAYOUT.unpack_from(data, 0)
    if magic != MAGIC:
        raise ValueError(f"bad magic {magic!r}")
    if version != VERSION:
        raise ValueError(f"unsupported version {version}")
    if nlen == 0 or hlen < FIXED_HEADER + nlen or hlen > len(data):
        raise ValueError("inconsistent header length")
    channel = bytes(data[FIXED_HEADER:FIXED_HEADER + nlen]).decode("utf-8")
    return Datagram(channel, fp, seq, count, flags, bytes(data[hlen:]))


class Subscriber:
    """Joins a multicast group on an interface (loopback by default) and yields Datagrams.
    Tracks loss per (channel, stream) from the sequence numbers in `lost`."""

    def __init__(self, group, port, interface="127.0.0.1", timeout=None, rcvbuf=4 << 20):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.bind((group, port))
        mreq = socket.inet_aton(group) + socket.inet_aton(interface)
        self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        self.sock.settimeout(timeout)
        self.lost = {}
        self.malformed = 0
        self._next = {}

    def __iter__(self):
        while True:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return
            try:
                msg = parse_datagram(data)
            except ValueError:
                self.malformed += 1
                continue
            key = (msg.channel, msg.flags & FLAG_DECIMATED)
            expected = self._next.get(key)
            if expected is not None and msg.sequence > expected:
                self.lost[key] = self.lost.get(key, 0) + msg.sequence - expected
            self._next[key] = msg.sequence + 1
            yield msg

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
