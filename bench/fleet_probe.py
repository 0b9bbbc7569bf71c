#!/usr/bin/env python3
"""Latency probe for bench/fleet_bench.py: receives a channel's decimated datagrams, either
from multicast (run inside the relay's host namespace) or from NATS (a minimal client of the
NATS text protocol, standard library only), and prints one JSON line: for each datagram's
first record, receive wall time minus the record's time stamp (ns; the example source stamps
wall time at sending, and every host shares this machine's clock).
Usage: fleet_probe.py mcast GROUP PORT COUNT | nats HOST PORT SUBJECT COUNT   (stops after COUNT or 30 s)"""
import json
import socket
import struct
import sys
import time


def first_time_ns(datagram):
    hlen = struct.unpack_from("<H", datagram, 6)[0]
    # Avro long (zigzag varint): the example schema's first field, time in ns.
    shift = result = 0
    i = hlen
    while True:
        b = datagram[i]
        result |= (b & 0x7F) << shift
        i += 1
        if not b & 0x80:
            break
        shift += 7
    return (result >> 1) ^ -(result & 1)


def mcast(group, port, count):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((group, port))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(group) + socket.inet_aton("127.0.0.1"))
    s.settimeout(1)
    print(json.dumps({"ready": True}), flush=True)
    out, deadline = [], time.time() + 30
    while len(out) < count and time.time() < deadline:
        try:
            d = s.recv(65536)
        except socket.timeout:
            continue
        out.append(time.time_ns() - first_time_ns(d))
    return out


def nats(host, port, subject, count):
    s = socket.create_connection((host, port), timeout=5)
    buf = b""

    def fill():
        nonlocal buf
        chunk = s.recv(1 << 20)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk

    def line():
        nonlocal buf
        while b"\r\n" not in buf:
            fill()
        out, buf = buf.split(b"\r\n", 1)
        return out
    line()  # INFO
    s.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\nSUB ' + subject.encode() + b" 1\r\nPING\r\n")
    while line().strip() != b"PONG":
        pass
    print(json.dumps({"ready": True}), flush=True)
    out, deadline = [], time.time() + 30
    s.settimeout(1)
    while len(out) < count and time.time() < deadline:
        try:
            ln = line()
        except socket.timeout:
            continue
        if ln.startswith(b"PING"):
            s.sendall(b"PONG\r\n")
            continue
        if not ln.startswith(b"MSG"):
            continue
        size = int(ln.split()[-1])
        while len(buf) < size + 2:
            try:
                fill()
            except socket.timeout:
                continue
        payload, buf = buf[:size], buf[size + 2:]
        out.append(time.time_ns() - first_time_ns(payload))
    return out


if __name__ == "__main__":
    if sys.argv[1] == "mcast":
        lat = mcast(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        lat = nats(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]))
    print(json.dumps({"latencies_ns": lat}), flush=True)
