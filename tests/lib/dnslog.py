#!/usr/bin/env python3
"""dnslog.py: a DNS server that logs every query it gets (UDP and TCP) and answers NXDOMAIN.

Usage: dnslog.py LOG ADDR... (port 53 on each). One line per query: "udp|tcp CLIENT QNAME".
sluice's tests run it where a cage's resolver might go, to prove none ever does."""
import socket
import sys
import threading

LOG = sys.argv[1]
lock = threading.Lock()


def qname(m):
    i, labels = 12, []
    while i < len(m) and m[i]:
        labels.append(m[i + 1:i + 1 + m[i]].decode("latin-1"))
        i += 1 + m[i]
    return ".".join(labels)


def note(proto, peer, m):
    with lock, open(LOG, "a") as f:
        f.write("%s %s %s\n" % (proto, peer[0], qname(m)))


def nxdomain(m):
    return m[:2] + b"\x81\x83" + m[4:6] + bytes(6) + m[12:]


def udp(addr):
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 53))
    while True:
        m, peer = s.recvfrom(4096)
        note("udp", peer, m)
        if len(m) >= 12:
            s.sendto(nxdomain(m), peer)


def tcp(addr):
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, 53))
    s.listen(16)
    while True:
        c, peer = s.accept()
        try:
            n = int.from_bytes(c.recv(2), "big")
            m = c.recv(n)
            note("tcp", peer, m)
            r = nxdomain(m)
            c.sendall(len(r).to_bytes(2, "big") + r)
        except OSError:
            pass
        c.close()


for a in sys.argv[2:]:
    threading.Thread(target=udp, args=(a,), daemon=True).start()
    threading.Thread(target=tcp, args=(a,), daemon=True).start()
threading.Event().wait()
