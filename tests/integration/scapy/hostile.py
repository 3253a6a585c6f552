#!/usr/bin/python3
"""hostile.py — sends the hostile-packet table of hostile_packet_test.cc from the client
namespace and reports, per kind, what came back and what the daemon's counters did.

Usage: hostile.py SPEC.json  (run inside the client namespace, with Debian's python3-scapy)

SPEC: {"iface": "cli0", "srv_mac": "..", "socket": "/tmp/.../portwall.sock",
       "vars": {"S4": .., "S6": .., ...},
       "kinds": [{"name": .., "expr": "<scapy expression>", "src": "<addr>"}, ...]}
Each expression is evaluated with scapy's names, the spec's vars, A (the kind's own source
address) and M (a payload marker naming the kind); it yields an IP or IPv6 packet, or a list
of them, sent as Ethernet frames (L2, so that the client's kernel fixes nothing: lengths and
checksums go out exactly as built). Prints one JSON object: {"kinds": [{"name", "sent",
"answers": [summaries of packets the server sent to A], "delta": {counter: change}}]}.
"""
import json
import socket
import sys
import time

from scapy.all import *  # noqa: F401,F403  (the expressions use scapy's names)
from scapy.all import AsyncSniffer, Ether, IP, IPv6, conf, get_if_hwaddr, sendp

conf.verb = 0
COUNTERS = ("received", "accepted", "dropped", "rejected", "malformed")


def status(path):
    """The daemon's counters, straight from its control socket (one JSON line each way)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(2)
        s.connect(path)
        s.sendall(b'{"command": "status"}\n')
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    reply = json.loads(data)
    return {k: reply["result"]["counters"][k] for k in COUNTERS}


def summary(p):
    """What the server sent back, in a word a test can match: synack, rst, udp, echo-reply,
    icmp-unreach, icmp-param-problem ...; None for neighbour discovery (not an answer)."""
    if IPv6 in p and p[IPv6].nh == 58:
        t = getattr(p[IPv6].payload, "type", None)
        if t is not None and 133 <= t <= 137:
            return None
        return {129: "echo-reply", 1: "icmp-unreach", 3: "icmp-time-exceeded",
                4: "icmp-param-problem"}.get(t, "icmpv6-%s" % t)
    if ICMP in p:
        return {0: "echo-reply", 3: "icmp-unreach", 11: "icmp-time-exceeded",
                12: "icmp-param-problem"}.get(p[ICMP].type, "icmp-%d" % p[ICMP].type)
    if TCP in p:
        f = p[TCP].flags
        if f.S and f.A:
            return "synack"
        return "rst" if f.R else "tcp-" + str(f)
    if UDP in p:
        return "udp"
    return p.summary()


def main():
    spec = json.load(open(sys.argv[1]))
    iface = spec["iface"]
    ether = Ether(dst=spec["srv_mac"], src=get_if_hwaddr(iface))
    names = dict(globals())
    names.update(spec["vars"])
    s4, s6 = spec["vars"]["S4"], spec["vars"]["S6"]

    def transport(a, dport):  # a whole TCP SYN from `a`, checksummed, as fragment material
        ip = IPv6(src=a, dst=s6) if ":" in a else IP(src=a, dst=s4)
        return bytes(ip / TCP(sport=40000, dport=dport, flags="S", seq=1000))[len(ip):]
    names["T22"] = lambda a: transport(a, 22)
    names["T2323"] = lambda a: transport(a, 2323)
    servers = {spec["vars"]["S4"], spec["vars"]["S6"]}
    answers = {}

    def note(p):
        layer = IP if IP in p else IPv6 if IPv6 in p else None
        if layer is None or p[layer].src not in servers:
            return
        word = summary(p)
        if word:
            answers.setdefault(p[layer].dst, []).append(word)

    sniffer = AsyncSniffer(iface=iface, prn=note, store=False)
    sniffer.start()
    time.sleep(0.3)
    results = []
    for kind in spec["kinds"]:
        names["A"] = kind["src"]
        names["M"] = ("HK:" + kind["name"]).encode()
        try:
            packets = eval(kind["expr"], names)  # noqa: S307 — the table is the test's own
        except Exception as e:  # a broken row is reported, the others still run
            results.append({"name": kind["name"], "sent": 0, "error": repr(e),
                            "delta": {k: 0 for k in COUNTERS}})
            continue
        if not isinstance(packets, list):
            packets = [packets]
        before = status(spec["socket"])
        sendp([ether / p for p in packets], iface=iface)
        time.sleep(spec.get("settle", 0.08))
        # Judged by then on an idle machine; on a loaded one, until two readings agree (2 s).
        after = status(spec["socket"])
        for _ in range(40):
            time.sleep(0.05)
            again = status(spec["socket"])
            if again == after:
                break
            after = again
        results.append({"name": kind["name"], "sent": len(packets),
                        "delta": {k: after[k] - before[k] for k in COUNTERS}})
    time.sleep(0.3)
    sniffer.stop()
    for r, kind in zip(results, spec["kinds"]):
        r["answers"] = sorted(set(answers.get(kind["src"], [])))
    print(json.dumps({"kinds": results}))


if __name__ == "__main__":
    main()
