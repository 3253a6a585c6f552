#!/usr/bin/python3
"""window.py — the TCP window anchor of hostile_packet_test.cc, run in the client namespace.

Usage: window.py SERVER PORT IFACE SOCKET

Opens a real TCP connection to SERVER:PORT (the server side echoes what it gets), learns the
live sequence numbers by sniffing IFACE, and injects, with the connection's own 4-tuple,
packets an off-path attacker would: RSTs and data far outside the window, an ACK for data never
sent, an in-window but inexact RST, and at last the exact RST. After each, the connection must
(or, after the exact RST, must no longer) carry an echo both ways; the daemon's entry for the
connection is read from its control socket (SOCKET). Prints one JSON object:
{"client_port": N, "steps": [{"name", "state", "echo_ok", "answers": [...]}, ...],
 "reset_seen": bool}.
"""
import json
import socket
import sys
import time

from scapy.all import IP, TCP, AsyncSniffer, Raw, conf, send

conf.verb = 0
server, port, iface, control = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]


def request(obj):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(3)
        s.connect(control)
        s.sendall((json.dumps(obj) + "\n").encode())
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            data += chunk
    return json.loads(data)


client = socket.create_connection((server, port), timeout=3)
cport = client.getsockname()[1]
seen = []  # (direction, seq, ack, flags, payload length) of every segment of the connection


def note(p):
    if TCP not in p or IP not in p:
        return
    t = p[TCP]
    if p[IP].src == server and t.sport == port and t.dport == cport:
        seen.append(("in", t.seq, t.ack, str(t.flags), len(t.payload)))
    elif p[IP].dst == server and t.dport == port and t.sport == cport:
        seen.append(("out", t.seq, t.ack, str(t.flags), len(t.payload)))


sniffer = AsyncSniffer(iface=iface, prn=note, store=False)
sniffer.start()
time.sleep(0.3)


def echo(text):
    """Sends text and waits for exactly its echo; True if it came back whole."""
    try:
        client.sendall(text.encode())
        got = b""
        while len(got) < len(text):
            chunk = client.recv(4096)
            if not chunk:
                return False
            got += chunk
        return got == text.encode()
    except OSError:
        return False


injected = set()  # (seq, length) of our own forged segments, not the socket's


def numbers():
    """The client's snd_nxt and rcv_nxt, from the last segment the server sent, once the
    sniffer has seen the server acknowledge all the socket sent (3 s at most)."""
    deadline = time.time() + 3
    while True:
        time.sleep(0.05)
        sent = [seq + length for d, seq, _, _, length in seen
                if d == "out" and length > 0 and (seq, length) not in injected]
        acks = [ack for d, _, ack, flags, _ in seen if d == "in" and "A" in flags]
        if acks and (not sent or acks[-1] == sent[-1] % 2**32) or time.time() > deadline:
            break
    for d, seq, ack, flags, length in reversed(seen):
        if d == "in" and "A" in flags:
            return ack, seq + length
    raise RuntimeError("no segment from the server seen")


def flow_state():
    flows = request({"command": "conntrack", "action": "list"})["result"]["flows"]
    for f in flows:
        if f.get("sport") == cport and f.get("dport") == port:
            return f.get("state", "?")
    return "gone"


def inject(flags, seq, ack=0, data=b""):
    pkt = IP(src=client.getsockname()[0], dst=server) / TCP(
        sport=cport, dport=port, flags=flags, seq=seq % 2**32, ack=ack % 2**32, window=502)
    if data:
        pkt = pkt / Raw(data)
    injected.add((seq % 2**32, len(data)))
    mark = len(seen)
    send(pkt)
    time.sleep(0.25)
    return [f for d, _, _, f, _ in seen[mark:] if d == "in"]


steps = []
ok = echo("hello")
snd, rcv = numbers()
steps.append({"name": "established", "state": flow_state(), "echo_ok": ok, "answers": [],
              "snd_nxt": snd, "rcv_nxt": rcv})
far = 1 << 30
for name, flags, seq_off, ack_off, data in [
        ("rst-far-ahead-of-window", "R", far, None, b""),
        ("rst-ack-far-ahead-of-window", "RA", far, 0, b""),
        ("rst-before-acknowledged-data", "R", -far, None, b""),
        ("data-far-ahead-of-window", "PA", far, 0, b"INJECTED-FAR-AHEAD"),
        ("data-far-behind-window", "PA", -far, 0, b"INJECTED-FAR-BEHIND"),
        ("ack-for-data-never-sent", "PA", 0, far, b"INJECTED-BAD-ACK"),
        ("fin-far-ahead-of-window", "FA", far, 0, b""),
        ("syn-on-established-flow", "S", far, None, b""),
        ("rst-in-window-not-exact", "R", 1000, None, b"")]:
    snd, rcv = numbers()
    ack = rcv + ack_off if ack_off is not None else 0
    answers = inject(flags, snd + seq_off, ack, data)
    state = flow_state()
    ok = echo("after-" + name)
    steps.append({"name": name, "state": state, "echo_ok": ok, "answers": answers})

# The exact RST: seq = what the server acknowledged. The kernel closes on it; so must we.
snd, rcv = numbers()
answers = inject("R", snd)
state = flow_state()
ok = echo("after-exact-rst")
steps.append({"name": "rst-exact", "state": state, "echo_ok": ok, "answers": answers})
sniffer.stop()
client.close()
print(json.dumps({"client_port": cport, "steps": steps}))
