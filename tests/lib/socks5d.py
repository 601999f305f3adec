#!/usr/bin/env python3
"""socks5d.py: a SOCKS5 server for sluice's tests (RFC 1928, user/pass RFC 1929).

Usage: socks5d.py ADDR PORT LOG [--host NAME=ADDR ...]

Prefers username/password when a client offers it (any credentials are accepted), CONNECTs
to IPv4, IPv6 or a domain name, and appends one JSON line per request to LOG:
{"user": ..., "pass": ..., "atyp": "ipv4|domain|ipv6", "dest": ..., "port": N}.
Names are resolved only from --host entries, never through the system's DNS: an unknown
name gets reply 04 (host unreachable)."""
import json
import socket
import struct
import sys
import threading

ADDR, PORT, LOG = sys.argv[1], int(sys.argv[2]), sys.argv[3]
HOSTS = dict(v.split("=", 1) for k, v in zip(sys.argv[4::2], sys.argv[5::2]) if k == "--host")
lock = threading.Lock()


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError
        b += c
    return b


def pump(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
        b.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def serve(c):
    user = pw = None
    try:
        ver, n = recv_exact(c, 2)
        methods = recv_exact(c, n)
        if ver != 5:
            return
        if 2 in methods:
            c.sendall(b"\x05\x02")
            v, ulen = recv_exact(c, 2)
            user = recv_exact(c, ulen).decode("latin-1")
            (plen,) = recv_exact(c, 1)
            pw = recv_exact(c, plen).decode("latin-1")
            c.sendall(b"\x01\x00")
        elif 0 in methods:
            c.sendall(b"\x05\x00")
        else:
            c.sendall(b"\x05\xff")
            return
        ver, cmd, _, atyp = recv_exact(c, 4)
        if atyp == 1:
            dest, kind = socket.inet_ntop(socket.AF_INET, recv_exact(c, 4)), "ipv4"
        elif atyp == 4:
            dest, kind = socket.inet_ntop(socket.AF_INET6, recv_exact(c, 16)), "ipv6"
        elif atyp == 3:
            (ln,) = recv_exact(c, 1)
            dest, kind = recv_exact(c, ln).decode("latin-1"), "domain"
        else:
            return
        (port,) = struct.unpack("!H", recv_exact(c, 2))
        with lock, open(LOG, "a") as f:
            f.write(json.dumps({"user": user, "pass": pw, "atyp": kind, "dest": dest,
                                "port": port}) + "\n")
        target = HOSTS.get(dest, dest) if kind == "domain" else dest
        if kind == "domain" and dest not in HOSTS:
            c.sendall(b"\x05\x04\x00\x01" + bytes(6))
            return
        try:
            u = socket.create_connection((target, port), timeout=5)
        except OSError:
            c.sendall(b"\x05\x05\x00\x01" + bytes(6))
            return
        u.settimeout(None)
        c.sendall(b"\x05\x00\x00\x01" + bytes(6))
        t = threading.Thread(target=pump, args=(u, c), daemon=True)
        t.start()
        pump(c, u)
        t.join()
        u.close()
    except (EOFError, OSError, ValueError):
        pass
    finally:
        c.close()


def main():
    fam = socket.AF_INET6 if ":" in ADDR else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ADDR, PORT))
    s.listen(128)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


main()
