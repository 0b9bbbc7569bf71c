"""A small WebSocket client (standard library only) for the stripchart tests and benchmarks,
plus the parser of the stripchart's binary data frames (docs/stripchart.md)."""
import base64
import json
import os
import socket
import struct
import time


class WsClient:
    def __init__(self, host, port, path="/ws", timeout=5.0, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        key = base64.b64encode(os.urandom(16)).decode()
        req = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
               f"Origin: null\r\n\r\n")
        self.sock.sendall(req.encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed during handshake")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise ConnectionError(head.decode(errors="replace"))

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send_json(self, obj):
        self._send(1, json.dumps(obj).encode())

    def _send(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        hdr = bytes([0x80 | opcode])
        if n < 126:
            hdr += bytes([0x80 | n])
        elif n < 65536:
            hdr += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            hdr += bytes([0x80 | 127]) + struct.pack(">Q", n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(hdr + mask + masked)

    def recv(self):
        """Next message: ("text", dict) or ("binary", bytes)."""
        parts, first_op = [], None
        while True:
            b0, b1 = self._read(2)
            op, fin, n = b0 & 0x0F, b0 & 0x80, b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            payload = self._read(n)
            if op == 9:
                self._send(10, payload)
                continue
            if op == 10:
                continue
            if op == 8:
                raise ConnectionError("closed by server")
            if op != 0:
                first_op = op
            parts.append(payload)
            if fin:
                data = b"".join(parts)
                return ("text", json.loads(data)) if first_op == 1 else ("binary", data)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def parse_frame(data):
    """Binary frame -> (sequence, dropped, {signal_id: (times_ms, values)})."""
    magic, seq, nseg, dropped = struct.unpack_from("<4sIII", data, 0)
    assert magic == b"SDF1", magic
    off, segs = 16, {}
    for _ in range(nseg):
        sid, n = struct.unpack_from("<II", data, off)
        off += 8
        times = struct.unpack_from(f"<{n}d", data, off)
        off += 8 * n
        vals = struct.unpack_from(f"<{n}d", data, off)
        off += 8 * n
        segs[sid] = (times, vals)
    assert off == len(data)
    return seq, dropped, segs


def http_json(port, path, host="127.0.0.1"):
    import urllib.request
    with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=5) as r:
        return json.loads(r.read())


def wait_http(port, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            return http_json(port, "/api/v1/health")
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"stripchart not answering on port {port}")
