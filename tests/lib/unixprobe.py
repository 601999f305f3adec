#!/usr/bin/env python3
"""unixprobe.py: unix-socket probes for sluice's tests. Each prints one line, "ok" or the
errno name (EPERM, ENOENT, ECONNREFUSED...).

  unixprobe.py connect PATH      a stream connect (PATH "@name": the abstract namespace)
  unixprobe.py dgram PATH        a datagram send
  unixprobe.py serve PATH        a stream server that greets each client with "hi" (and a
                                 datagram socket at PATH.dgram); prints "ready", then "conn"
                                 for every connection and "dgram" for every datagram
  unixprobe.py pair DIR          a server and a client inside the same process tree, over a
                                 stream socket and a datagram socket made in DIR"""
import errno
import os
import socket
import sys
import threading


def addr(p):
    return "\0" + p[1:] if p.startswith("@") else p


def report(fn):
    try:
        fn()
        print("ok")
    except OSError as e:
        print(errno.errorcode.get(e.errno, str(e.errno)))
    sys.stdout.flush()


def connect(p):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(3)
    s.connect(addr(p))
    s.close()


def dgram(p):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.sendto(b"x", addr(p))
    s.close()


def serve(p):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(addr(p))
    if not p.startswith("@"):
        os.chmod(p, 0o777)
    s.listen(16)
    d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    d.bind(addr(p + ".dgram"))
    if not p.startswith("@"):
        os.chmod(p + ".dgram", 0o777)
    lock = threading.Lock()

    def say(what):
        with lock:
            print(what, flush=True)

    def datagrams():
        while True:
            d.recv(64)
            say("dgram")

    threading.Thread(target=datagrams, daemon=True).start()
    say("ready")
    while True:
        c, _ = s.accept()
        say("conn")
        try:
            c.sendall(b"hi")
        except OSError:
            pass
        c.close()


def pair(d):
    path = os.path.join(d, "pair.%d.sock" % os.getpid())
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    threading.Thread(target=lambda: srv.accept()[0].sendall(b"hi"), daemon=True).start()
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.settimeout(3)
    c.connect(path)
    if c.recv(2) != b"hi":
        raise OSError(errno.EPROTO, "no greeting")
    r = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    r.bind(path + ".d")
    socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"x", path + ".d")
    if r.recv(1) != b"x":
        raise OSError(errno.EPROTO, "no datagram")


verb, arg = sys.argv[1], sys.argv[2]
if verb == "serve":
    serve(arg)
else:
    report({"connect": lambda: connect(arg), "dgram": lambda: dgram(arg),
            "pair": lambda: pair(arg)}[verb])
