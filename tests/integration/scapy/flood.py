#!/usr/bin/python3
"""flood.py — a bounded SYN or UDP flood from spoofed sources inside the lab, for
flood_test.cc. Run in the client namespace.

Usage: flood.py IFACE SRC_MAC DST_MAC DST_IP syn|udp|scan PORT COUNT SECONDS SKIP_NET [SOURCES [RATE]]

scan: SYNs, each source in turn sending 11 to PORT, PORT+1, ... PORT+10 (a port scan each).

Sources are random addresses in 10.200.0.0/16 outside 10.200.SKIP_NET.0/24 (the lab's own
subnet: the server has no route back to the others, so nothing it answers leaves its
namespace). hping3 --rand-source cannot keep to a subnet, hence this. Frames are built from
bytes (checksums correct, so that the kernel lets them through to the queue) and written to a
packet socket; at most COUNT frames, for at most SECONDS. SOURCES > 0: that many distinct
source addresses, taken in turn; RATE > 0: at most that many frames per second. Prints
{"sent": N, "seconds": S}.
"""
import json
import random
import socket
import struct
import sys
import time

iface, src_mac, dst_mac, dst_ip, kind = sys.argv[1:6]
port, count, seconds, skip = int(sys.argv[6]), int(sys.argv[7]), float(sys.argv[8]), int(sys.argv[9])
sources = int(sys.argv[10]) if len(sys.argv) > 10 else 0
rate = float(sys.argv[11]) if len(sys.argv) > 11 else 0.0


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


eth = bytes.fromhex(dst_mac.replace(":", "")) + bytes.fromhex(src_mac.replace(":", "")) + b"\x08\x00"
dst = socket.inet_aton(dst_ip)
rng = random.Random(6)


def random_source():
    while True:
        b, c = rng.randrange(256), rng.randrange(1, 255)
        if b != skip:
            return bytes([10, 200, b, c])


pool = [random_source() for _ in range(sources)]


def frame(i):
    if kind == "scan":
        src = pool[(i // 11) % sources] if sources else random_source()
        dport = port + i % 11
    else:
        src = pool[i % sources] if sources else random_source()
        dport = port
    sport = rng.randrange(1024, 65535)
    if kind in ("syn", "scan"):
        proto = 6
        l4 = struct.pack("!HHIIBBHHH", sport, dport, rng.getrandbits(32), 0, 5 << 4, 0x02, 64240, 0, 0)
    else:
        proto = 17
        payload = b"flood"
        l4 = struct.pack("!HHHH", sport, port, 8 + len(payload), 0) + payload
    pseudo = src + dst + struct.pack("!BBH", 0, proto, len(l4))
    c4 = csum(pseudo + l4)
    l4 = l4[:16] + struct.pack("!H", c4) + l4[18:] if proto == 6 else l4[:6] + struct.pack("!H", c4) + l4[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), rng.getrandbits(16), 0, 64, proto, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return eth + ip + l4


s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
frames = [frame(i) for i in range(min(count, 50000))]
start = time.monotonic()
sent = 0
while sent < count and time.monotonic() - start < seconds:
    if rate and sent > rate * (time.monotonic() - start):
        time.sleep(0.001)
        continue
    try:
        s.send(frames[sent % len(frames)])
        sent += 1
    except BlockingIOError:
        time.sleep(0.001)
    except OSError:  # ENOBUFS: the veth queue is full; back off a little
        time.sleep(0.001)
print(json.dumps({"sent": sent, "seconds": round(time.monotonic() - start, 2)}))
