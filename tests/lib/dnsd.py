#!/usr/bin/env python3
"""dnsd.py: a tiny DNS server (UDP and TCP) that logs every query, and a DNS query tool.
sluice's tests run the server where a cage's queries might go, to prove none ever does.

  dnsd.py serve --log FILE [--port 53] [--answer ADDR] ADDR...
      Listens on ADDR:PORT (UDP and TCP) for each ADDR (IPv4 or IPv6 literal) and prints
      "ready" once all are bound. Appends one line per query to FILE:
      "udp|tcp CLIENT:PORT QNAME QTYPE". Answers NXDOMAIN, or with --answer an A (AAAA for
      an IPv6 ADDR) record of ADDR to queries of that type (NOERROR and no answer to others).
  dnsd.py query SERVER NAME [TYPE] [--tcp] [--port 53] [--timeout SECS]
      Sends one query (TYPE: A, AAAA, ... or a number; default A) and prints one line:
      "NOERROR A 1.2.3.4 ...", "NOERROR -" (no answer), "NXDOMAIN", another rcode's name,
      or "TIMEOUT" / the errno name (EPERM, ENETUNREACH, ...). Exit 0 when a reply came."""
import argparse
import errno
import random
import socket
import struct
import sys
import threading

TYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA",
         33: "SRV", 65: "HTTPS", 255: "ANY"}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
lock = threading.Lock()


def read_name(m, i):
    """The name at offset i (following compression pointers) and the offset after it."""
    labels, end, hops = [], None, 0
    while True:
        if i >= len(m):
            raise ValueError("name runs past the message")
        n = m[i]
        if n & 0xC0 == 0xC0:
            if end is None:
                end = i + 2
            i = ((n & 0x3F) << 8) | m[i + 1]
            hops += 1
            if hops > 32:
                raise ValueError("pointer loop")
            continue
        if n == 0:
            return ".".join(labels), (end if end is not None else i + 1)
        labels.append(m[i + 1:i + 1 + n].decode("latin-1"))
        i += 1 + n


def question(m):
    """(qname, qtype, offset after the question) of a query."""
    name, i = read_name(m, 12)
    qtype, _ = struct.unpack("!HH", m[i:i + 4])
    return name, qtype, i + 4


def answer(m, addr):
    name, qtype, end = question(m)
    flags = 0x8180 | (struct.unpack("!H", m[2:4])[0] & 0x0100)  # QR, RD copied, RA
    rr = b""
    if addr:
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        if qtype == (28 if fam == socket.AF_INET6 else 1):
            data = socket.inet_pton(fam, addr)
            rr = struct.pack("!HHHIH", 0xC00C, qtype, 1, 60, len(data)) + data
    else:
        flags |= 3  # NXDOMAIN
    return (m[:2] + struct.pack("!HHHHH", flags, 1, 1 if rr else 0, 0, 0) + m[12:end] + rr)


def note(path, proto, peer, m):
    try:
        name, qtype, _ = question(m)
        what = "%s %s" % (name or ".", TYPES.get(qtype, str(qtype)))
    except (ValueError, struct.error, IndexError):
        what = "(unparsable %d bytes)" % len(m)
    host = "[%s]" % peer[0] if ":" in peer[0] else peer[0]
    with lock, open(path, "a") as f:
        f.write("%s %s:%d %s\n" % (proto, host, peer[1], what))


def serve_udp(s, opts):
    while True:
        m, peer = s.recvfrom(65535)
        note(opts.log, "udp", peer, m)
        try:
            s.sendto(answer(m, opts.answer), peer)
        except (ValueError, struct.error, IndexError, OSError):
            pass


def serve_tcp_conn(c, peer, opts):
    try:
        while True:
            h = c.recv(2, socket.MSG_WAITALL)
            if len(h) < 2:
                break
            n = struct.unpack("!H", h)[0]
            m = c.recv(n, socket.MSG_WAITALL)
            if len(m) < n:
                break
            note(opts.log, "tcp", peer, m)
            r = answer(m, opts.answer)
            c.sendall(struct.pack("!H", len(r)) + r)
    except (ValueError, struct.error, IndexError, OSError):
        pass
    finally:
        c.close()


def serve_tcp(s, opts):
    while True:
        c, peer = s.accept()
        threading.Thread(target=serve_tcp_conn, args=(c, peer, opts), daemon=True).start()


def bind(addr, port, kind):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, kind)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    if kind == socket.SOCK_STREAM:
        s.listen(64)
    return s


def serve(opts):
    open(opts.log, "a").close()
    threads = []
    for a in opts.addrs:
        threads.append(threading.Thread(target=serve_udp, args=(bind(a, opts.port,
                                        socket.SOCK_DGRAM), opts), daemon=True))
        threads.append(threading.Thread(target=serve_tcp, args=(bind(a, opts.port,
                                        socket.SOCK_STREAM), opts), daemon=True))
    for t in threads:
        t.start()
    print("ready", flush=True)
    threading.Event().wait()


def encode_query(name, qtype):
    qid = random.getrandbits(16)
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split(".") if name.strip(".") else []:
        q += bytes([len(label)]) + label.encode()
    return qid, q + b"\x00" + struct.pack("!HH", qtype, 1)


def describe(r):
    flags, qd, an = struct.unpack("!HHH", r[2:8])
    rcode = RCODES.get(flags & 0xF, "RCODE%d" % (flags & 0xF))
    if rcode != "NOERROR":
        return rcode
    i = 12
    for _ in range(qd):
        _, i = read_name(r, i)
        i += 4
    out = []
    for _ in range(an):
        _, i = read_name(r, i)
        t, _, _, ln = struct.unpack("!HHIH", r[i:i + 10])
        data = r[i + 10:i + 10 + ln]
        i += 10 + ln
        if t == 1 and ln == 4:
            out.append("A " + socket.inet_ntop(socket.AF_INET, data))
        elif t == 28 and ln == 16:
            out.append("AAAA " + socket.inet_ntop(socket.AF_INET6, data))
        else:
            out.append(TYPES.get(t, "TYPE%d" % t))
    return "NOERROR " + (" ".join(out) if out else "-")


def query(opts):
    qt = opts.type.upper()
    rev = {v: k for k, v in TYPES.items()}
    qtype = int(qt) if qt.isdigit() else rev.get(qt)
    if qtype is None:
        print("unknown type %s" % opts.type, file=sys.stderr)
        return 2
    fam = socket.AF_INET6 if ":" in opts.server else socket.AF_INET
    qid, q = encode_query(opts.name, qtype)
    try:
        if opts.tcp:
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.settimeout(opts.timeout)
            s.connect((opts.server, opts.port))
            s.sendall(struct.pack("!H", len(q)) + q)
            n = struct.unpack("!H", s.recv(2, socket.MSG_WAITALL))[0]
            r = s.recv(n, socket.MSG_WAITALL)
        else:
            s = socket.socket(fam, socket.SOCK_DGRAM)
            s.settimeout(opts.timeout)
            s.connect((opts.server, opts.port))
            s.send(q)
            while True:
                r = s.recv(65535)
                if r[:2] == struct.pack("!H", qid):
                    break
    except socket.timeout:
        print("TIMEOUT")
        return 1
    except OSError as e:
        print(errno.errorcode.get(e.errno, str(e)) if e.errno else str(e))
        return 1
    except struct.error:
        print("SHORT")
        return 1
    if r[:2] != struct.pack("!H", qid):
        print("BADID")
        return 1
    print(describe(r))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="verb", required=True)
    p = sub.add_parser("serve")
    p.add_argument("--log", required=True)
    p.add_argument("--port", type=int, default=53)
    p.add_argument("--answer")
    p.add_argument("addrs", nargs="+")
    p = sub.add_parser("query")
    p.add_argument("server")
    p.add_argument("name")
    p.add_argument("type", nargs="?", default="A")
    p.add_argument("--tcp", action="store_true")
    p.add_argument("--port", type=int, default=53)
    p.add_argument("--timeout", type=float, default=2.0)
    opts = ap.parse_args()
    if opts.verb == "serve":
        return serve(opts)
    return query(opts)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
