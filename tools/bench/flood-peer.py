#!/usr/bin/python3
"""flood-peer.py: the moving parts of tools/bench/flood-guest.sh (run inside the qemu guest of
tools/vm-lab.sh, each in its lab namespace). Every loop is bounded in count and in time.

  flood-peer.py server PORT MAX_SECONDS
      TCP listener on 0.0.0.0:PORT (backlog 4096), echoes what it receives, closes on EOF.
  flood-peer.py legit SERVER PORT RATE EVENTS READY STOP MAX_SECONDS
      The legit client: new connections one after the other, each with a 1 s timeout (line
      "c START OK SECONDS ERROR"), started RATE per second (0: back to back; a late one does
      not make the next come early), and one established connection exchanging a short message
      every 100 ms, an echo awaited 1 s (line "r SENT OK SECONDS"). Touches READY once the
      established connection is up; ends when STOP exists or after MAX_SECONDS.
  flood-peer.py spoof IFACE SRC_MAC DST_MAC DST_IP PORT NET ADDRESSES PER_ADDRESS RATE MAX_SECONDS
      SYNs from ADDRESSES spoofed sources 10.200.NET.1.. (PER_ADDRESS each, distinct source
      ports), prebuilt frames written to a packet socket at RATE frames/s (0: as fast as
      possible). Prints {"sent", "start", "end"}.
  flood-peer.py sample OUT STOP INTERVAL MAX_SECONDS [PORTWALL_COMMAND...]
      Every INTERVAL s, one JSON line: the kernel conntrack count and counters of this
      namespace (/proc/net/stat/nf_conntrack, what `conntrack -S` shows) and, with a
      PORTWALL_COMMAND, the figures of its `--json status`.
  flood-peer.py report RESULTS_DIR ROUNDS VARIANT...
      The per-phase tables of each run (RESULTS_DIR/VARIANT.rN) and the side-by-side summary,
      the rounds of a variant added up.
"""
import json
import os
import random
import select
import selectors
import socket
import struct
import subprocess
import sys
import threading
import time


def server(port, max_seconds):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(4096)
    ls.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ, None)
    end = time.monotonic() + max_seconds
    while time.monotonic() < end:
        for key, _ in sel.select(0.5):
            if key.data is None:
                for _ in range(256):
                    try:
                        c, _ = ls.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        break
                    c.setblocking(False)
                    sel.register(c, selectors.EVENT_READ, "conn")
                continue
            c = key.fileobj
            try:
                data = c.recv(4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if data:
                try:
                    c.send(data)
                except OSError:
                    pass
            else:
                sel.unregister(c)
                c.close()


def legit(server_ip, port, rate, events, ready, stop, max_seconds):
    end = time.monotonic() + max_seconds
    out = open(events, "w", buffering=1)
    lock = threading.Lock()

    def record(line):
        with lock:
            out.write(line + "\n")

    def done():
        return time.monotonic() >= end or os.path.exists(stop)

    def open_conn():
        s = socket.socket()
        s.settimeout(1.0)
        s.connect((server_ip, port))
        return s

    # The established connection first (a few tries: the server may still be starting).
    est = None
    for _ in range(20):
        try:
            est = open_conn()
            break
        except OSError:
            time.sleep(0.25)
    if est is None:
        print("legit: the established connection never connected", file=sys.stderr)
        sys.exit(1)
    open(ready, "w").close()

    def connector():
        interval = 1.0 / rate if rate > 0 else 0.0
        due = time.monotonic()
        for _ in range(200000):
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            if done():
                return
            due = max(due + interval, time.monotonic())
            t0 = time.time()
            m0 = time.monotonic()
            s = socket.socket()
            s.settimeout(1.0)
            err = "-"
            try:
                s.connect((server_ip, port))
                ok = 1
            except socket.timeout:
                ok, err = 0, "timeout"
            except OSError as e:
                ok, err = 0, (e.strerror or "error").replace(" ", "_")
            finally:
                s.close()
            dt = time.monotonic() - m0
            record("c %.6f %d %.6f %s" % (t0, ok, dt, err))
            if not ok and dt < 0.5:
                time.sleep(0.05)  # a refusal comes at once: no hot loop

    def talker():
        nonlocal est
        buf = b""
        for i in range(100000):
            if done():
                return
            t0 = time.time()
            m0 = time.monotonic()
            ok = 0
            if est is None:
                try:
                    est = open_conn()
                    buf = b""
                    record("x %.6f reconnected" % t0)
                except OSError:
                    est = None
            if est is not None:
                msg = b"ping %07d\n" % i
                try:
                    est.sendall(msg)
                    while True:
                        if msg in buf:
                            buf = buf[buf.index(msg) + len(msg):]
                            ok = 1
                            break
                        left = 1.0 - (time.monotonic() - m0)
                        if left <= 0:
                            break
                        r, _, _ = select.select([est], [], [], left)
                        if not r:
                            break
                        chunk = est.recv(4096)
                        if not chunk:
                            raise OSError("closed")
                        buf = (buf + chunk)[-4096:]
                except OSError:
                    record("x %.6f broken" % t0)
                    try:
                        est.close()
                    except OSError:
                        pass
                    est = None
            dt = time.monotonic() - m0
            record("r %.6f %d %.6f" % (t0, ok, dt))
            pause = 0.1 - (time.monotonic() - m0)
            if pause > 0:
                time.sleep(pause)

    threads = [threading.Thread(target=connector), threading.Thread(target=talker)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.close()


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def spoof(iface, src_mac, dst_mac, dst_ip, port, net, addresses, per_address, rate, max_seconds):
    rng = random.Random(16)
    eth = bytes.fromhex(dst_mac.replace(":", "")) + bytes.fromhex(src_mac.replace(":", "")) + b"\x08\x00"
    dst = socket.inet_aton(dst_ip)
    ports = [rng.sample(range(1024, 65535), per_address) for _ in range(addresses)]
    frames = []
    # Round robin over the addresses: every address is in the flood from its first packets.
    for k in range(per_address):
        for a in range(addresses):
            src = bytes([10, 200, net, a + 1])
            tcp = struct.pack("!HHIIBBHHH", ports[a][k], port, rng.getrandbits(32), 0, 5 << 4, 0x02,
                              64240, 0, 0)
            c = csum(src + dst + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)
            tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), rng.getrandbits(16), 0, 64, 6, 0,
                             src, dst)
            ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
            frames.append(eth + ip + tcp)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    start_wall = time.time()
    start = time.monotonic()
    sent = 0
    retries = 0
    while sent < len(frames) and time.monotonic() - start < max_seconds:
        if rate > 0:
            due = min(len(frames), int((time.monotonic() - start) * rate) + 1)
            if sent >= due:
                time.sleep(0.002)
                continue
        else:
            due = len(frames)
        while sent < due:
            try:
                s.send(frames[sent])
                sent += 1
            except OSError:  # ENOBUFS: the veth queue is full; back off a little
                retries += 1
                time.sleep(0.001)
                if time.monotonic() - start >= max_seconds:
                    break
    print(json.dumps({"sent": sent, "frames": len(frames), "start": start_wall, "end": time.time(),
                      "send_retries": retries}))


def read_ct():
    """This namespace's kernel conntrack figures, None when conntrack is not loaded."""
    r = {}
    try:
        with open("/proc/sys/net/netfilter/nf_conntrack_count") as f:
            r["count"] = int(f.read())
    except OSError:
        return None
    try:
        with open("/proc/net/stat/nf_conntrack") as f:
            lines = f.read().split("\n")
        names = lines[0].split()
        sums = dict.fromkeys(names, 0)
        for line in lines[1:]:
            vals = line.split()
            if len(vals) != len(names):
                continue
            for n, v in zip(names, vals):
                if n == "entries":
                    sums[n] = int(v, 16)  # the namespace's count, the same on every CPU row
                else:
                    sums[n] += int(v, 16)
        r["stat"] = sums
    except OSError:
        pass
    return r


def pw_figures(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=5)
        j = json.loads(p.stdout)
    except (subprocess.TimeoutExpired, ValueError, OSError):
        return None
    decisions = {}
    for verdict, reasons in (j.get("decisions") or {}).items():
        for reason, n in reasons.items():
            if n:
                decisions[verdict + "/" + reason] = n
    q = j.get("queue") or {}
    per_queue = {str(x.get("number")): x.get("received") for x in q.get("per_queue") or []}
    return {"conntrack": j.get("conntrack"), "counters": j.get("counters"), "decisions": decisions,
            "queue": {k: q.get(k) for k in ("waiting", "dropped_full", "dropped_socket_full")},
            "per_queue": per_queue}


def sample(out, stop, interval, max_seconds, cmd):
    end = time.monotonic() + max_seconds
    with open(out, "w", buffering=1) as f:
        for _ in range(int(max_seconds / interval) + 2):
            t0 = time.monotonic()
            rec = {"t": time.time(), "ct": read_ct()}
            if cmd:
                rec["pw"] = pw_figures(cmd)
            f.write(json.dumps(rec) + "\n")
            if os.path.exists(stop) or time.monotonic() >= end:
                return
            time.sleep(max(0.0, interval - (time.monotonic() - t0)))


# ------------------------------------------------------------------------------------------
def load_lines(path):
    try:
        with open(path) as f:
            return [line.split() for line in f if line.strip()]
    except OSError:
        return []


def analyse(d):
    meta = json.load(open(os.path.join(d, "meta.json")))
    phases = meta["phases"]
    events = load_lines(os.path.join(d, "events"))
    samples = []
    for line in open(os.path.join(d, "samples")):
        try:
            samples.append(json.loads(line))
        except ValueError:
            pass
    rows = []
    for ph in phases:
        a, b = ph["start"], ph["end"]
        conns = [e for e in events if e[0] == "c" and a <= float(e[1]) < b]
        rts = [e for e in events if e[0] == "r" and a <= float(e[1]) < b]
        brk = [e for e in events if e[0] == "x" and a <= float(e[1]) < b]
        ok = sum(1 for e in conns if e[2] == "1")
        errs = {}
        for e in conns:
            if e[2] != "1":
                errs[e[4]] = errs.get(e[4], 0) + 1
        lat = sorted(float(e[3]) for e in conns if e[2] == "1")
        inside = [s for s in samples if a <= s["t"] <= b]
        before = [s for s in samples if s["t"] <= a]
        upto = [s for s in samples if s["t"] <= b]
        first = before[-1] if before else (inside[0] if inside else None)
        last = upto[-1] if upto else None
        row = {
            "name": ph["name"], "seconds": b - a, "attempted": len(conns), "ok": ok,
            "per_s": ok / (b - a) if b > a else 0.0, "errors": errs,
            "p50": lat[len(lat) // 2] if lat else None, "p99": lat[int(len(lat) * 0.99)] if lat else None,
            "rt_ok": sum(1 for e in rts if e[2] == "1"), "rt_failed": sum(1 for e in rts if e[2] != "1"),
            "rt_ms": sorted(float(e[3]) * 1000 for e in rts if e[2] == "1"),
            "est_events": [e[2] for e in brk], "flood": ph.get("flood"),
        }
        if last and last.get("ct"):
            row["ct_end"] = last["ct"]["count"]
            row["ct_max"] = max([s["ct"]["count"] for s in inside + [last] if s.get("ct")])
            if first and first.get("ct") and "stat" in last["ct"] and "stat" in first["ct"]:
                row["ct_delta"] = {k: last["ct"]["stat"].get(k, 0) - first["ct"]["stat"].get(k, 0)
                                   for k in ("early_drop", "drop", "insert_failed", "invalid")}
        if last and last.get("pw"):
            pw1, pw0 = last["pw"], (first or {}).get("pw") or {}
            row["pw_end"] = pw1["conntrack"]["entries"]
            row["pw_max"] = max(s["pw"]["conntrack"]["entries"] for s in inside + [last] if s.get("pw"))

            def delta(section, key):
                v1 = (pw1.get(section) or {}).get(key)
                v0 = (pw0.get(section) or {}).get(key) or 0
                return None if v1 is None else v1 - v0
            row["pw_delta"] = {
                "evicted": delta("conntrack", "evicted"), "refused": delta("conntrack", "refused"),
                "table_full": delta("counters", "table_full"), "received": delta("counters", "received"),
                "dropped": delta("counters", "dropped"), "accepted": delta("counters", "accepted"),
                "queue_dropped_full": delta("queue", "dropped_full"),
                "uninspected": delta("counters", "uninspected"),
            }
            q0 = pw0.get("per_queue") or {}
            row["pw_per_queue"] = {k: v - (q0.get(k) or 0) for k, v in (pw1.get("per_queue") or {}).items()
                                   if v is not None}
            d0 = pw0.get("decisions") or {}
            row["pw_decisions"] = {k: v - d0.get(k, 0) for k, v in pw1["decisions"].items()
                                   if v - d0.get(k, 0)}
        rows.append(row)
    return meta, rows


def fmt_dict(d):
    return ", ".join("%s %s" % (k, v) for k, v in d.items()) if d else "-"


def print_run(name, meta, rows):
    print("\n== %s: %s" % (name, meta["title"]))
    for k, val in meta.get("notes", {}).items():
        print("   %s: %s" % (k, val))
    print("   %-20s %6s %9s %7s %6s %8s %8s %8s %7s %9s" % (
        "phase", "secs", "attempted", "ok<=1s", "ok %", "conn/s", "p50 ms", "p99 ms", "rt ok",
        "rt failed"))
    for r in rows:
        p50 = "%.1f" % (r["p50"] * 1000) if r["p50"] is not None else "-"
        p99 = "%.1f" % (r["p99"] * 1000) if r["p99"] is not None else "-"
        pct = "%.0f" % (100.0 * r["ok"] / r["attempted"]) if r["attempted"] else "-"
        print("   %-20s %6.1f %9d %7d %6s %8.1f %8s %8s %7d %9d" % (
            r["name"], r["seconds"], r["attempted"], r["ok"], pct, r["per_s"], p50, p99,
            r["rt_ok"], r["rt_failed"]))
    for r in rows:
        print("   -- %s" % r["name"])
        if r["flood"]:
            print("      flood: %s" % fmt_dict(r["flood"]))
        if r["errors"]:
            print("      legit connect failures: %s" % fmt_dict(r["errors"]))
        if r["rt_ms"]:
            ms = r["rt_ms"]
            print("      established round trips (ok): p50 %.1f ms, p99 %.1f ms, max %.1f ms"
                  % (ms[len(ms) // 2], ms[int(len(ms) * 0.99)], ms[-1]))
        if r["est_events"]:
            print("      established connection: %s" % ", ".join(r["est_events"]))
        if "ct_end" in r:
            print("      kernel conntrack entries: %d at the end (max sampled %d)"
                  % (r["ct_end"], r["ct_max"]))
            if "ct_delta" in r:
                print("      kernel counters (delta): %s" % fmt_dict(r["ct_delta"]))
        if "pw_end" in r:
            print("      portwalld conntrack entries: %d at the end (max sampled %d)"
                  % (r["pw_end"], r["pw_max"]))
            print("      portwalld (delta): %s" % fmt_dict(r["pw_delta"]))
            print("      portwalld decisions (delta): %s" % fmt_dict(r["pw_decisions"]))
            print("      portwalld packets received per queue (delta): %s" % fmt_dict(r["pw_per_queue"]))


def report(results, rounds, variants):
    # runs[variant]: [(meta, rows)] over the rounds, in RESULTS_DIR/VARIANT.rN
    runs = {}
    for n in range(1, rounds + 1):
        for v in variants:
            d = os.path.join(results, "%s.r%d" % (v, n))
            if not os.path.exists(os.path.join(d, "meta.json")):
                print("\n== %s round %d: no results (%s)" % (v, n, d))
                continue
            meta, rows = analyse(d)
            print_run("%s, round %d" % (v, n), meta, rows)
            runs.setdefault(v, []).append((meta, rows))
    if not runs:
        return 1
    order = [v for v in variants if v in runs]
    names = [r["name"] for r in runs[order[0]][0][1]]
    w = 15
    head = "   %-28s" % "variant" + "".join("%*s" % (w, n[:w - 1]) for n in names)
    label = {v: runs[v][0][0]["label"][:28] for v in order}

    def total(v, i, key):
        return sum(rows[i][key] for _, rows in runs[v])

    nr = {v: len(runs[v]) for v in order}
    print("\n== summary over %s" % ", ".join("%s: %d round(s)" % (v, nr[v]) for v in order))
    print("\n== legit connects/s (succeeded within 1 s, per second of the phase; the last column:"
          " both flood phases)")
    print(head + "%*s" % (w, "under flood"))
    under, per_round = {}, {}
    for v in order:
        flood_idx = [i for i, r in enumerate(runs[v][0][1]) if r["flood"]]
        secs = sum(total(v, i, "seconds") for i in flood_idx)
        under[v] = sum(total(v, i, "ok") for i in flood_idx) / secs if secs else 0.0
        per_round[v] = []
        for _, rows in runs[v]:
            fs = sum(rows[i]["seconds"] for i in flood_idx)
            per_round[v].append(sum(rows[i]["ok"] for i in flood_idx) / fs if fs else 0.0)
        cells = []
        for i in range(len(names)):
            secs_i = total(v, i, "seconds")
            cells.append("%*.1f" % (w, total(v, i, "ok") / secs_i if secs_i else 0.0))
        print("   %-28s" % label[v] + "".join(cells) + "%*.1f" % (w, under[v]))
    print("\n== legit connects succeeded / attempted")
    print(head)
    for v in order:
        print("   %-28s" % label[v] + "".join(
            "%*s" % (w, "%d/%d" % (total(v, i, "ok"), total(v, i, "attempted"))) for i in range(len(names))))
    print("\n== established connection: round trips ok/failed (1 s each, every 100 ms)")
    print(head)
    for v in order:
        print("   %-28s" % label[v] + "".join(
            "%*s" % (w, "%d/%d" % (total(v, i, "rt_ok"), total(v, i, "rt_failed"))) for i in range(len(names))))
    print("\n== table entries at the end of the phase, round 1 (k: kernel conntrack, pw: portwalld)")
    print(head)
    for v in order:
        cells = []
        for r in runs[v][0][1]:
            parts = (["k %d" % r["ct_end"]] if "ct_end" in r else []) + \
                    (["pw %d" % r["pw_end"]] if "pw_end" in r else [])
            cells.append("/".join(parts) or "-")
        print("   %-28s" % label[v] + "".join("%*s" % (w, c) for c in cells))
    rate = runs[order[0]][0][0].get("legit_rate")
    print("\nlegit connects/s under flood: " + ", ".join("%s %.1f" % (v, under[v]) for v in order)
          + ("   (the legit client tries %s/s)" % rate if rate else "   (back to back)"))
    if max(nr.values()) > 1:
        print("  per round: " + "; ".join(
            "%s %s" % (v, " ".join("%.1f" % x for x in per_round[v])) for v in order))
    return 0


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    a = sys.argv[2:]
    if cmd == "server":
        server(int(a[0]), float(a[1]))
    elif cmd == "legit":
        legit(a[0], int(a[1]), float(a[2]), a[3], a[4], a[5], float(a[6]))
    elif cmd == "spoof":
        spoof(a[0], a[1], a[2], a[3], int(a[4]), int(a[5]), int(a[6]), int(a[7]), float(a[8]), float(a[9]))
    elif cmd == "sample":
        sample(a[0], a[1], float(a[2]), float(a[3]), a[4:])
    elif cmd == "report":
        sys.exit(report(a[0], int(a[1]), a[2:]))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
