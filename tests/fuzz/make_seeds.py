#!/usr/bin/env python3
"""make_seeds.py — writes the generated seed inputs of tests/fuzz/corpus/: packet conversations
for fuzz_packet_policy (records of [control][length, 2 bytes][packet], see its header) and
control requests for fuzz_control. The config and CLI seeds are plain files, written by hand or
copied from rules/. Run from anywhere; rewrites only the files it names (seed-*.bin/.jsonl).
Addresses: client 203.0.113.9 / 2001:db8::9, server 192.0.2.1 / 2001:db8::1, as the unit tests.
"""
import hashlib
import hmac
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
C4, S4 = bytes([203, 0, 113, 9]), bytes([192, 0, 2, 1])
C6 = bytes.fromhex("20010db8000000000000000000000009")
S6 = bytes.fromhex("20010db8000000000000000000000001")
SYN, ACK, FIN, RST, PSH = 0x02, 0x10, 0x01, 0x04, 0x08
IN, OUT = 0, 1


def step(n):  # control bits 1-3: how far the clock moves (fuzz_packet_policy kSteps)
    return n << 1


def ipv4(src, dst, proto, l4, frag=0, ttl=64, ident=1):
    total = 20 + len(l4)
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, ident, frag, ttl, proto, 0, src, dst) + l4


def ipv6(src, dst, nxt, payload, hop=64):
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload), nxt, hop, src, dst) + payload


def tcp(sport, dport, flags, seq=100, ack=0, data=b"", options=b""):
    doff = (20 + len(options)) // 4
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, doff << 4, flags, 64240, 0, 0) + options + data


def udp(sport, dport, data=b""):
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


def icmp(typ, code, rest=b"\0\0\0\0", data=b""):
    return struct.pack("!BBH", typ, code, 0) + rest + data


SYN_OPTS = bytes([2, 4, 5, 0xB4, 1, 3, 3, 7, 1, 1, 4, 2])


def tcp4(src, sport, dst, dport, flags, **kw):
    return ipv4(src, dst, 6, tcp(sport, dport, flags, **kw))


def tcp6(src, sport, dst, dport, flags, **kw):
    return ipv6(src, dst, 6, tcp(sport, dport, flags, **kw))


def mapped(address):
    return bytes(10) + b"\xff\xff" + address if len(address) == 4 else address


def spa(key, unix_seconds, nonce, src=C4, dst=S4, port=62201):
    signed = (b"PWK2" + struct.pack("!Q", unix_seconds) + nonce + mapped(src) + mapped(dst) +
              struct.pack("!H", port))
    return signed + hmac.new(key, signed, hashlib.sha256).digest()


def records(*items):
    out = b""
    for control, packet in items:
        out += struct.pack("!BH", control, len(packet)) + packet
    return out


def handshake4(dport, sport=40000):
    return [
        (IN, tcp4(C4, sport, S4, dport, SYN, options=SYN_OPTS + b"\0\0\0\0")),
        (OUT, tcp4(S4, dport, C4, sport, SYN | ACK, seq=5000, ack=101)),
        (IN | step(1), tcp4(C4, sport, S4, dport, ACK, seq=101, ack=5001)),
        (IN, tcp4(C4, sport, S4, dport, PSH | ACK, seq=101, ack=5001, data=b"hello")),
        (OUT, tcp4(S4, dport, C4, sport, ACK, seq=5001, ack=106)),
        (IN | step(2), tcp4(C4, sport, S4, dport, FIN | ACK, seq=106, ack=5001)),
        (OUT, tcp4(S4, dport, C4, sport, FIN | ACK, seq=5001, ack=107)),
        (IN, tcp4(C4, sport, S4, dport, ACK, seq=107, ack=5002)),
    ]


def packet_seeds():
    s = {}
    s["tcp4-handshake-ssh"] = records(*handshake4(22))
    s["tcp6-handshake"] = records(
        (IN, tcp6(C6, 40000, S6, 443, SYN, options=SYN_OPTS + b"\0\0\0\0")),
        (OUT, tcp6(S6, 443, C6, 40000, SYN | ACK, seq=9, ack=101)),
        (IN, tcp6(C6, 40000, S6, 443, ACK, seq=101, ack=10)),
        (IN | step(7), tcp6(C6, 40000, S6, 443, ACK, seq=101, ack=10)),  # after the timeout
        (OUT, tcp6(S6, 443, C6, 40000, RST, seq=10)),
    )
    s["tcp4-reset-and-reject"] = records(
        (IN, tcp4(C4, 40001, S4, 113, SYN)),
        (IN, tcp4(C4, 40002, S4, 23, SYN)),
        (OUT, tcp4(S4, 23, C4, 40002, RST | ACK, ack=101)),
        (IN, tcp4(C4, 40003, S4, 22, FIN | PSH | 0x20)),  # XMAS
        (IN, tcp4(C4, 40004, S4, 22, 0)),  # NULL
        (IN, tcp4(C4, 40005, S4, 22, SYN | FIN)),
    )
    s["scan"] = records(*[(IN | step(1), tcp4(C4, 41000 + p, S4, p, SYN)) for p in range(1000, 1008)],
                        (IN, tcp4(C4, 42000, S4, 22, SYN)), (IN | step(6), tcp4(C4, 42001, S4, 22, SYN)))
    s["limit"] = records(*[(IN | step(2), tcp4(C4, 43000 + i, S4, 2222, SYN)) for i in range(9)])
    s["knock-sequence"] = records(
        (IN, tcp4(C4, 40000, S4, 7000, SYN)),
        (IN | step(1), ipv4(C4, S4, 17, udp(40000, 8000))),
        (IN | step(1), tcp4(C4, 40000, S4, 9000, SYN)),
        (IN | step(1), tcp4(C4, 40010, S4, 2200, SYN)),
        (OUT, tcp4(S4, 2200, C4, 40010, SYN | ACK)),
        (IN | step(6), tcp4(C4, 40011, S4, 2200, SYN)),
        (IN, tcp4(C4, 40000, S4, 7101, SYN)),
        (IN, tcp4(C4, 40000, S4, 7102, SYN)),
        (IN, tcp4(C4, 40012, S4, 2300, SYN)),
    )
    key = b"0123456789abcdef0123456789abcdef"
    good = spa(key, 1_790_000_000, bytes(range(16)))
    s["spa"] = records(
        (IN, ipv4(C4, S4, 17, udp(40000, 62201, good))),
        (IN, tcp4(C4, 40020, S4, 2400, SYN)),
        (IN | step(1), ipv4(C4, S4, 17, udp(40000, 62201, good))),  # replayed
        (IN, ipv4(C4, S4, 17, udp(40000, 62201, good[:-1] + b"\0"))),  # bad MAC
        (IN, ipv4(C4, S4, 17, udp(40000, 62201, b"PWK2"))),
        (IN, ipv4(S4, S4, 17, udp(40000, 62201, spa(key, 1_790_000_000, bytes(16))))),  # misbound
    )
    s["udp-and-icmp"] = records(
        (IN, ipv4(C4, S4, 17, udp(5000, 53, b"abcd"))),
        (OUT, ipv4(S4, C4, 17, udp(53, 5000, b"dcba"))),
        (IN, ipv4(C4, S4, 17, udp(5001, 9999, b"x"))),
        (OUT, ipv4(S4, C4, 1, icmp(3, 3, data=ipv4(C4, S4, 17, udp(5001, 9999, b"x"))))),
        (IN, ipv4(C4, S4, 1, icmp(8, 0, struct.pack("!HH", 7, 1), b"ping"))),
        (OUT, ipv4(S4, C4, 1, icmp(0, 0, struct.pack("!HH", 7, 1), b"ping"))),
        (OUT, ipv4(S4, C4, 6, tcp(22, 40000, ACK))),
        (IN, ipv4(C4, S4, 1, icmp(11, 0, data=ipv4(S4, C4, 6, tcp(22, 40000, ACK))[:28]))),
    )
    s["outgoing"] = records(
        (OUT, tcp4(S4, 50000, C4, 443, SYN)),
        (IN, tcp4(C4, 443, S4, 50000, SYN | ACK, ack=101)),
        (OUT, tcp4(S4, 50001, bytes([198, 51, 100, 7]), 25, SYN)),
        (OUT | 0x20, ipv4(S4, C4, 17, udp(5353, 5353, b"q"))),
        (IN | 0x20, ipv4(C4, S4, 1, icmp(8, 0, struct.pack("!HH", 8, 1)))),
    )
    frag1 = ipv4(C4, S4, 6, tcp(40000, 22, SYN), frag=0x2000, ident=77)
    frag2 = ipv4(C4, S4, 6, b"\0" * 16, frag=0x0003, ident=77)
    s["fragments"] = records((IN, frag1), (IN, frag2), (IN | 0x10, ipv4(C4, S4, 17, udp(1, 53, b"z" * 40))[:30]))
    hbh = bytes([60, 0, 1, 4, 0, 0, 0, 0])            # hop-by-hop -> destination options
    dst = bytes([43, 0, 1, 4, 0, 0, 0, 0])            # destination options -> routing
    rt = bytes([44, 0, 0, 0, 0, 0, 0, 0])             # routing -> fragment
    fr = bytes([6, 0, 0, 0, 0, 0, 0, 9])              # fragment (first, last) -> TCP
    ah = bytes([6, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1])  # AH (len 1: 12 bytes) -> TCP
    s["ipv6-extensions"] = records(
        (IN, ipv6(C6, S6, 0, hbh + dst + rt + fr + tcp(40000, 22, SYN))),
        (IN, ipv6(C6, S6, 51, ah + tcp(40001, 22, SYN))),
        (IN, ipv6(C6, S6, 44, bytes([17, 0, 0, 8, 0, 0, 0, 9]) + b"\0" * 8)),
        (IN, ipv6(C6, S6, 0, bytes([0, 0, 1, 4, 0, 0, 0, 0]) * 9)),  # too many
    )
    s["icmpv6"] = records(
        (IN, ipv6(C6, S6, 58, icmp(135, 0, b"\0" * 4, S6), hop=255)),
        (IN, ipv6(C6, S6, 58, icmp(128, 0, struct.pack("!HH", 3, 1)))),
        (OUT, ipv6(S6, C6, 58, icmp(129, 0, struct.pack("!HH", 3, 1)))),
        (OUT, ipv6(S6, C6, 58, icmp(1, 4, data=ipv6(C6, S6, 17, udp(5000, 9999))))),
        (IN, ipv6(C6, S6, 17, udp(5000, 53))),
        (OUT | 0x40, ipv6(S6, C6, 17, udp(1, 2))),  # the answer to the previous one
    )
    s["truncated"] = records(
        (IN, b""), (IN, bytes([0x45])), (IN, tcp4(C4, 1, S4, 2, SYN)[:30]),
        (IN, bytes([0x46]) + tcp4(C4, 1, S4, 2, SYN)[1:]), (IN, bytes([0x70]) + b"\0" * 40),
        (0x80 | step(7), tcp4(C4, 40000, S4, 22, ACK)),
    )
    return s


def control_seeds():
    lines = {
        "status": [{"command": "status"}],
        "change": [{"command": "change", "words": ["allow", "80,443/tcp", "comment", "web"]},
                   {"command": "change", "words": ["insert", "1", "deny", "from", "198.51.100.0/24"]},
                   {"command": "change", "words": ["delete", "2"]},
                   {"command": "change", "words": ["default", "reject", "incoming"]}],
        "explain": [{"command": "explain", "words": ["tcp", "203.0.113.9:40000", "->", "192.0.2.1:22"]},
                    {"command": "explain", "words": ["udp", "[2001:db8::9]:5000", "->", "[2001:db8::1]:53", "in", "on", "eth0"]}],
        "conntrack": [{"command": "conntrack", "action": a} for a in ("list", "count", "flush")],
        "blocked": [{"command": "blocked", "action": "list"},
                    {"command": "blocked", "action": "add", "address": "198.51.100.7", "for": "1h"},
                    {"command": "blocked", "action": "remove", "address": "2001:db8::7"}],
        "ports": [{"command": "ports", "sockets": [
                      {"proto": "tcp", "address": "0.0.0.0", "port": 22, "uid": 0,
                       "owners": [{"pid": 812, "command": "sshd"}]},
                      {"proto": "udp", "address": "::", "port": 5353, "owners": []}]},
                  {"command": "ports", "sockets": [{"proto": "tcp", "address": 5, "port": 70000}]},
                  {"command": "ports", "sockets": {"proto": "tcp"}}],
        "reload-unknown": [{"command": "reload"}, {"command": "frobnicate"}],
    }
    out = {k: "".join(json.dumps(v) + "\n" for v in vs) for k, vs in lines.items()}
    out["bad"] = 'not json\n{"command": 5}\n[]\n{"words": []}\n\n{"command": "status"}'
    # Nesting: at the protocol's bound (8), one beyond, and as deep as max_len allows (the
    # 500,000-deep request that overflowed the daemon's stack is in regressions/).
    out["deep"] = ('{"command": "explain", "words": [[[[[[["x"]]]]]]]}\n'
                   '{"command": "explain", "words": [[[[[[[["x"]]]]]]]]}\n'
                   '{"command": "explain", "words": ' + "[" * 8000 + "]" * 8000 + "}\n")
    return out


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


if __name__ == "__main__":
    for name, data in packet_seeds().items():
        write("fuzz_packet_policy", "seed-" + name + ".bin", data)
    for name, data in control_seeds().items():
        write("fuzz_control", "seed-" + name + ".jsonl", data)
