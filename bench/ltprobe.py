# A diagnostic, not a bench case: how one rate-capped seeder times the
# blocks it sends (docs/performance.md, "Seeks against libtorrent").
#
#   python3 bench/ltprobe.py --torrent X --peer HOST:PORT [--depth N] [--seeks N]
#
# It speaks plain BitTorrent (with the fast extension, BEP 6) to the seeder,
# keeps --depth requests of 16 KiB in flight in piece order ("bulk"), and
# prints:
#   - how the bulk blocks arrive: blocks per 50 ms slot over a few seconds
#     (a seeder that paces evenly fills every slot; one that hands out a
#     tick's quota at once sends bursts with gaps);
#   - --seeks times: after a random pause, a "seek" as this client makes
#     one: cancel the youngest bulk requests down to --keep, request one
#     far piece (16 blocks), and time its first and last block; count the
#     cancelled blocks that still came and the rejects (BEP 6) received.
# Standard library only.
import argparse
import hashlib
import os
import random
import socket
import struct
import time

ap = argparse.ArgumentParser()
ap.add_argument("--torrent", required=True)
ap.add_argument("--peer", required=True)
ap.add_argument("--depth", type=int, default=122, help="bulk requests in flight (about a second at 2 MB/s)")
ap.add_argument("--keep", type=int, default=15, help="bulk requests left after a seek's cancels")
ap.add_argument("--seeks", type=int, default=10)
ap.add_argument("--bulk-seconds", type=float, default=3.0)
ap.add_argument("--seek-pieces", type=int, default=1, help="pieces a seek asks for")
ap.add_argument("--pace", type=float, default=0,
                help="bulk bytes/s to ask for at most (0: keep --depth in flight)")
a = ap.parse_args()

BLOCK = 16384


def bdecode(b, i=0):
    c = b[i:i + 1]
    if c == b"i":
        j = b.index(b"e", i)
        return int(b[i + 1:j]), j + 1
    if c == b"l":
        i, out = i + 1, []
        while b[i:i + 1] != b"e":
            v, i = bdecode(b, i)
            out.append(v)
        return out, i + 1
    if c == b"d":
        i, out = i + 1, {}
        while b[i:i + 1] != b"e":
            k, i = bdecode(b, i)
            start = i
            v, i = bdecode(b, i)
            out[k] = v
            if k == b"info":
                out[b"_info_raw"] = b[start:i]
        return out, i + 1
    j = b.index(b":", i)
    n = int(b[i:j])
    return b[j + 1:j + 1 + n], j + 1 + n


meta, _ = bdecode(open(a.torrent, "rb").read())
info = meta[b"info"]
ih = hashlib.sha1(meta[b"_info_raw"]).digest()
plen = info[b"piece length"]
total = info[b"length"]
npieces = (total + plen - 1) // plen
bpp = plen // BLOCK

host, port = a.peer.rsplit(":", 1)
sock = socket.create_connection((host, int(port)))
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
reserved = bytearray(8)
reserved[7] |= 0x04  # fast extension
sock.sendall(b"\x13BitTorrent protocol" + bytes(reserved) + ih + b"-PR0001-" + os.urandom(12))

buf = bytearray()


def need(n):
    while len(buf) < n:
        d = sock.recv(1 << 20)
        if not d:
            raise SystemExit("seeder closed the connection")
        buf.extend(d)


need(68)
del buf[:68]


def read_msg(timeout):
    """One message (id, payload) or None after timeout seconds."""
    sock.settimeout(timeout)
    try:
        need(4)
        n = struct.unpack(">I", buf[:4])[0]
        need(4 + n)
    except socket.timeout:
        return None
    finally:
        sock.settimeout(None)
    m = bytes(buf[4:4 + n])
    del buf[:4 + n]
    if n == 0:
        return (-1, b"")
    return (m[0], m[1:])


def send(mid, payload=b""):
    sock.sendall(struct.pack(">IB", 1 + len(payload), mid) + payload)


def req(mid, piece, blk):
    send(mid, struct.pack(">III", piece, blk * BLOCK, BLOCK))


send(2)  # interested
while True:
    m = read_msg(10)
    if m is None:
        raise SystemExit("no unchoke in 10 s")
    if m[0] == 1:
        break

inflight = []  # (piece, block) in the order asked
next_bulk = [0]  # next block index of the file, in order
far = set()


pacing = {"t0": 0.0, "issued": 0}


def ask_bulk():
    """Tops bulk up to --depth in flight; with --pace, no faster than that
    rate since the start."""
    while len(inflight) < a.depth:
        if a.pace and pacing["issued"] >= (time.monotonic() - pacing["t0"]) * a.pace / BLOCK:
            return
        pacing["issued"] += 1
        k = next_bulk[0]
        next_bulk[0] = (k + 1) % (npieces * bpp)
        p, b = divmod(k, bpp)
        if p in far or (p + 1) * plen > total:
            continue
        req(6, p, b)
        inflight.append((p, b))


arrivals = []
cancelled = set()
stats = {"late": 0, "reject": 0}


def pump(until, want=None):
    """Reads messages until the time given (or, with want, until every block
    of want arrived); returns arrival times of want's blocks."""
    got = {}
    while time.monotonic() < until:
        wait = max(0.001, until - time.monotonic())
        m = read_msg(min(wait, 0.005) if a.pace else wait)
        if a.pace:
            ask_bulk()
        if m is None:
            if a.pace:
                continue
            break
        now = time.monotonic()
        mid, pl = m
        if mid == 7:
            p, off = struct.unpack(">II", pl[:8])
            key = (p, off // BLOCK)
            arrivals.append(now)
            if key in cancelled:
                stats["late"] += 1
                cancelled.discard(key)
            if key in inflight:
                inflight.remove(key)
            if want is not None and key in want:
                got[key] = now
                if len(got) == len(want):
                    return got
            ask_bulk()
        elif mid == 16:  # reject
            p, off, _ = struct.unpack(">III", pl)
            key = (p, off // BLOCK)
            if key in cancelled:
                stats["reject"] += 1
                cancelled.discard(key)
            elif key in inflight:
                inflight.remove(key)
        elif mid == 0:
            raise SystemExit("seeder choked us")
    return got


pacing["t0"] = time.monotonic()
ask_bulk()
t0 = time.monotonic()
pump(t0 + a.bulk_seconds)
slots = [0] * int(a.bulk_seconds / 0.05 + 1)
for t in arrivals:
    slots[min(len(slots) - 1, int((t - t0) / 0.05))] += 1
print("bulk: %d blocks in %.1f s (%.2f MB/s); blocks per 50 ms slot:" % (
    len(arrivals), a.bulk_seconds, len(arrivals) * BLOCK / a.bulk_seconds / 1e6))
for i in range(0, len(slots), 10):
    print("  %4.1f s  %s" % (i * 0.05, " ".join("%3d" % n for n in slots[i:i + 10])))

firsts, lasts = [], []
for s in range(a.seeks):
    pump(time.monotonic() + random.uniform(0.2, 1.2))
    # The youngest bulk requests go, as this client's preempt does.
    gone = inflight[a.keep:]
    del inflight[a.keep:]
    for p, b in gone:
        req(8, p, b)
        cancelled.add((p, b))
    p = random.randrange(npieces - a.seek_pieces)
    while any(p + k in far or any(q == p + k for q, _ in inflight) for k in range(a.seek_pieces)):
        p = random.randrange(npieces - a.seek_pieces)
    want = set()
    for k in range(a.seek_pieces):
        far.add(p + k)
        want |= {(p + k, b) for b in range(bpp)}
    ts = time.monotonic()
    for q, b in sorted(want):
        req(6, q, b)
        inflight.insert(0, (q, b))
    got = pump(ts + 10, want)
    if len(got) < len(want):
        print("seek %d: only %d of %d blocks in 10 s" % (s, len(got), len(want)))
        continue
    first, last = min(got.values()) - ts, max(got.values()) - ts
    firsts.append(first)
    lasts.append(last)
    print("seek %d: first block %.3f s, whole piece %.3f s; cancelled %d" % (s, first, last, len(gone)))
    ask_bulk()
pump(time.monotonic() + 1.0)
firsts.sort()
lasts.sort()
if firsts:
    print("seeks: first block median %.3f s, piece median %.3f s max %.3f s" % (
        firsts[len(firsts) // 2], lasts[len(lasts) // 2], lasts[-1]))
print("cancelled blocks that still came: %d; rejects for cancels: %d; still unanswered: %d" % (
    stats["late"], stats["reject"], len(cancelled)))
