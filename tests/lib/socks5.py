#!/usr/bin/env python3
"""socks5.py: a SOCKS5 server (RFC 1928, user/pass RFC 1929) for sluice's tests.

Usage: socks5.py ADDR PORT --log FILE [--host NAME=ADDR]...

Listens on ADDR:PORT (IPv4 or IPv6 literal) and prints "ready ADDR PORT" once it does.
Methods: 02 (username/password, any credentials accepted) is chosen whenever the client
offers it, else 00; a client offering neither gets FF. Only CONNECT is served (others: 07).
Destinations may be IPv4, IPv6 or a domain name; a name is looked up only in the --host
map, never through the system's resolver: an unknown name gets reply 04 (host unreachable).
Every request, served or not, appends one JSON line to FILE:
  {"user": ..., "pass": ..., "atyp": "ipv4|domain|ipv6", "dest": "...", "port": N}
(user and pass are null when the client chose method 00). Then bytes are relayed both ways,
each direction half-closed on its own."""
import argparse
import errno
import json
import socket
import struct
import sys
import threading

lock = threading.Lock()


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError("peer closed mid-request")
        b += c
    return b


def family_of(addr):
    for fam in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(fam, addr)
            return fam
        except OSError:
            pass
    return None


def reply(c, code, bound=None):
    """A reply with BND.ADDR/BND.PORT from bound (a sockname) or zeros."""
    if bound and ":" in bound[0]:
        tail = b"\x04" + socket.inet_pton(socket.AF_INET6, bound[0]) + struct.pack("!H", bound[1])
    elif bound:
        tail = b"\x01" + socket.inet_pton(socket.AF_INET, bound[0]) + struct.pack("!H", bound[1])
    else:
        tail = b"\x01" + bytes(6)
    c.sendall(b"\x05" + bytes([code]) + b"\x00" + tail)


def reply_code(e):
    return {errno.ECONNREFUSED: 5, errno.ENETUNREACH: 3, errno.EHOSTUNREACH: 4,
            errno.ETIMEDOUT: 4}.get(e.errno, 1)


def pump(src, dst):
    try:
        while True:
            d = src.recv(1 << 16)
            if not d:
                break
            dst.sendall(d)
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        # the other side is gone: make sure both ends learn it
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def log(path, rec):
    with lock, open(path, "a") as f:
        f.write(json.dumps(rec) + "\n")


def serve(c, opts):
    user = pw = None
    try:
        ver, n = recv_exact(c, 2)
        methods = recv_exact(c, n)
        if ver != 5:
            return
        if 2 in methods:
            c.sendall(b"\x05\x02")
            ver, ulen = recv_exact(c, 2)
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
            kind, dest = "ipv4", socket.inet_ntop(socket.AF_INET, recv_exact(c, 4))
        elif atyp == 4:
            kind, dest = "ipv6", socket.inet_ntop(socket.AF_INET6, recv_exact(c, 16))
        elif atyp == 3:
            (ln,) = recv_exact(c, 1)
            kind, dest = "domain", recv_exact(c, ln).decode("latin-1")
        else:
            reply(c, 8)
            return
        (port,) = struct.unpack("!H", recv_exact(c, 2))
        log(opts.log, {"user": user, "pass": pw, "atyp": kind, "dest": dest, "port": port})
        if cmd != 1:
            reply(c, 7)
            return
        target = dest
        if kind == "domain":
            target = opts.hosts.get(dest.lower())
            if target is None:
                reply(c, 4)
                return
        fam = family_of(target)
        u = socket.socket(fam, socket.SOCK_STREAM)
        u.settimeout(5)
        try:
            u.connect((target, port))  # a literal: no resolver involved
        except OSError as e:
            u.close()
            reply(c, reply_code(e))
            return
        u.settimeout(None)
        reply(c, 0, u.getsockname()[:2])
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
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("addr")
    ap.add_argument("port", type=int)
    ap.add_argument("--log", required=True)
    ap.add_argument("--host", action="append", default=[], metavar="NAME=ADDR")
    opts = ap.parse_args()
    opts.hosts = {}
    for h in opts.host:
        name, _, addr = h.partition("=")
        if not name or family_of(addr) is None:
            ap.error("--host %s: want NAME=ADDR with an IP literal" % h)
        opts.hosts[name.lower()] = addr
    fam = family_of(opts.addr)
    if fam is None:
        ap.error("ADDR must be an IP literal")
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((opts.addr, opts.port))
    s.listen(512)
    print("ready %s %d" % (opts.addr, opts.port), flush=True)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c, opts), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
