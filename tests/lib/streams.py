#!/usr/bin/env python3
"""streams.py: load and correctness tools for sluice's relay, with every byte checked.

  streams.py serve HOST PORT | serve-unix PATH
      For each connection: read until EOF (the client half-closes), then send back the
      SHA-256 of what came, then DOWN bytes of the pattern seeded by the first 8 bytes
      received, then close. DOWN is given by the client in its first 16 bytes.
  streams.py client HOST PORT --conns N --up B --down B
      N concurrent connections; each sends 16 bytes (seed, DOWN) + B bytes of its pattern,
      half-closes, then checks the hash and the DOWN bytes of pattern it gets back.
      Prints "ok N conns, U MB up, D MB down" or "FAIL ..." (exit 1).
  streams.py refused HOST PORT
      Connects and expects the connection to be refused, or reset or closed with no data,
      within 2 s; prints "refused|reset|eof MS" or "FAIL ..." (exit 1)."""
import hashlib
import os
import selectors
import socket
import struct
import sys
import threading
import time


def pattern(seed, n):
    out, block, i = bytearray(), hashlib.sha256(seed).digest(), 0
    while len(out) < n:
        out += hashlib.sha256(block + struct.pack("!Q", i)).digest() * 64
        i += 1
    return bytes(out[:n])


def handle(c):
    try:
        h, head, total = hashlib.sha256(), b"", 0
        while True:
            d = c.recv(1 << 16)
            if not d:
                break
            if len(head) < 16:
                head += d[:16 - len(head)]
            h.update(d)
            total += len(d)
        seed, down = head[:8], struct.unpack("!Q", head[8:16])[0]
        c.sendall(h.digest())
        c.sendall(pattern(seed, down))
    except OSError:
        pass
    finally:
        c.close()


def serve(fam, addr):
    s = socket.socket(fam, socket.SOCK_STREAM)
    if fam != socket.AF_UNIX:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(addr)
    if fam == socket.AF_UNIX:
        os.chmod(addr, 0o777)
    s.listen(1024)
    while True:
        c, _ = s.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()


def client(host, port, conns, up, down):
    sel = selectors.DefaultSelector()
    state = {}
    for i in range(conns):
        s = socket.create_connection((host, port), timeout=30)
        s.setblocking(False)
        seed = struct.pack("!Q", i * 7919 + 1)
        out = seed + struct.pack("!Q", down) + pattern(seed, up)
        state[s] = {"out": memoryview(out), "sent": 0, "in": bytearray(),
                    "want": hashlib.sha256(out).digest() + pattern(seed, down)}
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    deadline, done = time.time() + 120, 0
    while done < conns:
        if time.time() > deadline:
            print("FAIL timeout: %d of %d connections done" % (done, conns))
            return 1
        for key, ev in sel.select(1):
            s, st = key.fileobj, state[key.fileobj]
            if ev & selectors.EVENT_WRITE:
                n = s.send(st["out"][st["sent"]:st["sent"] + (1 << 16)])
                st["sent"] += n
                if st["sent"] == len(st["out"]):
                    s.shutdown(socket.SHUT_WR)
                    sel.modify(s, selectors.EVENT_READ)
            if ev & selectors.EVENT_READ:
                try:
                    d = s.recv(1 << 16)
                except ConnectionResetError:
                    print("FAIL connection reset")
                    return 1
                if d:
                    st["in"] += d
                    continue
                if st["sent"] != len(st["out"]):
                    print("FAIL EOF before the upload finished")
                    return 1
                if bytes(st["in"]) != st["want"]:
                    print("FAIL bytes differ: got %d, want %d" % (len(st["in"]), len(st["want"])))
                    return 1
                sel.unregister(s)
                s.close()
                done += 1
    print("ok %d conns, %.1f MB up, %.1f MB down" % (conns, conns * up / 1e6, conns * down / 1e6))
    return 0


def refused(host, port):
    t0 = time.time()
    try:
        s = socket.create_connection((host, port), timeout=5)
    except (ConnectionRefusedError, ConnectionResetError) as e:
        kind = "refused" if isinstance(e, ConnectionRefusedError) else "reset"
        print("%s %.0f" % (kind, (time.time() - t0) * 1000))
        return 0
    s.settimeout(2)
    try:
        d = s.recv(1)
        kind = "eof" if not d else None
    except ConnectionResetError:
        kind = "reset"
    except socket.timeout:
        print("FAIL no reset or EOF within 2 s")
        return 1
    if kind is None:
        print("FAIL got data")
        return 1
    print("%s %.0f" % (kind, (time.time() - t0) * 1000))
    return 0


def main(a):
    if a[0] == "serve":
        fam = socket.AF_INET6 if ":" in a[1] else socket.AF_INET
        serve(fam, (a[1], int(a[2])))
    elif a[0] == "serve-unix":
        serve(socket.AF_UNIX, a[1])
    elif a[0] == "client":
        opts = dict(zip(a[3::2], a[4::2]))
        return client(a[1], int(a[2]), int(opts.get("--conns", 1)), int(opts.get("--up", 0)),
                      int(opts.get("--down", 0)))
    elif a[0] == "refused":
        return refused(a[1], int(a[2]))
    return 2


sys.exit(main(sys.argv[1:]) or 0)
