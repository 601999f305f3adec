#!/usr/bin/env python3
"""relayload.py: load and correctness tools for sluice's relay; every byte checked end to end.

  relayload.py serve ADDR PORT | serve-unix PATH
      Prints "ready" once listening (ADDR "::" is dual-stack; a unix socket is made 0777).
      Per connection: reads a 24-byte header (magic, mode, seed, DOWN), answers "+" at once
      (the client's barrier), then
        mode client-first: reads until EOF (the client half-closes), sends the SHA-256 of
            everything it got, then DOWN bytes of the connection's pattern, then closes;
        mode server-first: sends DOWN bytes of pattern and half-closes first, then reads
            the upload until EOF and checks it against the hash the header carried; prints
            "up-ok SEED BYTES" or "up-BAD SEED ..." (the client has no way to hear it).
  relayload.py client HOST PORT --conns N --bytes B [--down D] [--server-first]
                      [--no-barrier] [--timeout SECS]
      Opens N connections at once (non-blocking); each sends its header and, once all N have
      their "+" from the server (so N are open end to end at the same time), B bytes of its
      own pattern, half-closes and checks the hash and the D (default B) bytes of pattern it
      gets back; in --server-first mode it first reads the server's pattern to EOF and only
      then uploads (the up direction must survive the down direction's close).
      Prints "ok N conns (N open at once), X MB up, Y MB down in S s" or "FAIL ..." (exit 1).
  relayload.py refused HOST PORT [--within MS]
      Connects and expects a refusal, a reset or an EOF with no data within MS (default
      2000); prints "refused|reset|eof ELAPSED_MS" (exit 0) or "FAIL ..." (exit 1).
HOST is an IP literal: nothing here ever asks a resolver."""
import argparse
import errno
import hashlib
import os
import selectors
import socket
import struct
import sys
import threading
import time

MAGIC = b"RLD1"
HEAD = struct.Struct("!4sB3x8sQ32s")  # magic, mode, seed, down, sha256 of the upload
BLOCK = 1 << 16
CLIENT_FIRST, SERVER_FIRST = 0, 1


class Pattern:
    """A deterministic byte stream per (tag, seed), readable at any offset, in 64 KiB blocks."""

    def __init__(self, tag, seed):
        self.key = tag + seed
        self.idx = -1
        self.blk = b""

    def block(self, i):
        if i != self.idx:
            self.idx = i
            self.blk = hashlib.shake_256(self.key + struct.pack("!Q", i)).digest(BLOCK)
        return self.blk

    def read(self, off, n):
        out = bytearray()
        while n > 0:
            i, o = divmod(off, BLOCK)
            chunk = self.block(i)[o:o + n]
            out += chunk
            off += len(chunk)
            n -= len(chunk)
        return bytes(out)


def up_digest(seed, n):
    p, h, off = Pattern(b"up", seed), hashlib.sha256(), 0
    while off < n:
        k = min(BLOCK, n - off)
        h.update(p.read(off, k))
        off += k
    return h.digest()


def family_of(addr):
    for fam in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(fam, addr)
            return fam
        except OSError:
            pass
    raise SystemExit("not an IP literal: %s" % addr)


# ---- server ----------------------------------------------------------------------------

out_lock = threading.Lock()


def say(*a):
    with out_lock:
        print(*a, flush=True)


def recv_exact(c, n):
    b = b""
    while len(b) < n:
        d = c.recv(n - len(b))
        if not d:
            raise EOFError
        b += d
    return b


def send_pattern(c, seed, n):
    p, off = Pattern(b"down", seed), 0
    while off < n:
        k = min(BLOCK, n - off)
        c.sendall(p.read(off, k))
        off += k


def handle(c):
    seed = b"?"
    try:
        # sluice's start-up check (--check-targets) connects and closes, sending nothing
        first = c.recv(1)
        if not first:
            say("probe")
            return
        head = first + recv_exact(c, HEAD.size - 1)
        magic, mode, seed, down, want_up = HEAD.unpack(head)
        if magic != MAGIC:
            say("bad-magic", head[:8].hex())
            return
        c.sendall(b"+")
        if mode == SERVER_FIRST:
            send_pattern(c, seed, down)
            c.shutdown(socket.SHUT_WR)
        h, total = hashlib.sha256(), 0
        if mode == CLIENT_FIRST:
            h.update(head)
        while True:
            d = c.recv(1 << 18)
            if not d:
                break
            h.update(d)
            total += len(d)
        if mode == SERVER_FIRST:
            if h.digest() == want_up:
                say("up-ok", seed.hex(), total)
            else:
                say("up-BAD", seed.hex(), total, "bytes, hash differs")
            return
        c.sendall(h.digest())
        send_pattern(c, seed, down)
    except (EOFError, OSError) as e:
        say("conn-error", seed.hex(), repr(e))
    finally:
        c.close()


def serve(fam, addr):
    s = socket.socket(fam, socket.SOCK_STREAM)
    if fam == socket.AF_UNIX:
        try:
            os.unlink(addr)
        except FileNotFoundError:
            pass
    else:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6 and addr[0] == "::":
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(addr)
    if fam == socket.AF_UNIX:
        os.chmod(addr, 0o777)
    s.listen(4096)
    say("ready")
    while True:
        c, _ = s.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()


# ---- client ----------------------------------------------------------------------------

RUN = os.urandom(4)  # so that no two runs' connections share a pattern


class Conn:
    def __init__(self, i, up, down, mode):
        self.seed = RUN + struct.pack("!I", i)
        self.up, self.down, self.mode = up, down, mode
        self.head = HEAD.pack(MAGIC, mode, self.seed, down,
                              up_digest(self.seed, up) if mode == SERVER_FIRST else bytes(32))
        self.upat, self.dpat = Pattern(b"up", self.seed), Pattern(b"down", self.seed)
        self.h = hashlib.sha256(self.head)
        self.sent = 0          # body bytes sent
        self.got_plus = False
        self.rx = bytearray()  # the reply's hash, until it is complete
        self.rxpat = 0         # pattern bytes received and checked
        self.phase = "connect"
        self.eof = False       # the server's half-close has been read
        self.sock = None


def client(o):
    fam = family_of(o.host)
    mode = SERVER_FIRST if o.server_first else CLIENT_FIRST
    down = o.bytes if o.down is None else o.down
    sel = selectors.DefaultSelector()
    conns = []
    t0 = time.monotonic()
    for i in range(o.conns):
        c = Conn(i, o.bytes, down, mode)
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setblocking(False)
        r = s.connect_ex((o.host, o.port))
        if r not in (0, errno.EINPROGRESS):
            return fail("connect %d of %d: %s" % (i + 1, o.conns, errno.errorcode.get(r, r)))
        c.sock = s
        conns.append(c)
        sel.register(s, selectors.EVENT_WRITE, c)
    plus = 0
    released = not o.barrier or mode == SERVER_FIRST
    done = 0
    deadline = t0 + o.timeout

    def want(c):
        ev = 0
        if c.phase in ("connect", "head") or (c.phase == "body" and released):
            ev |= selectors.EVENT_WRITE
        if c.phase not in ("connect", "closed") and not c.eof:
            ev |= selectors.EVENT_READ
        return ev

    def rearm(c):
        ev = want(c)
        if ev:
            sel.modify(c.sock, ev, c)
        else:
            sel.unregister(c.sock)

    def check_down(c, d):
        """Check received bytes; return an error string or None."""
        if not c.got_plus:
            if d[:1] != b"+":
                return "no '+' from the server first (got %r)" % bytes(d[:8])
            c.got_plus = True
            d = d[1:]
        if mode == CLIENT_FIRST and len(c.rx) < 32:
            k = 32 - len(c.rx)
            c.rx += d[:k]
            d = d[k:]
            if len(c.rx) == 32 and bytes(c.rx) != c.h.digest():
                return "the upload's hash differs at the server (%d bytes sent)" % c.sent
        if d:
            if c.rxpat + len(d) > c.down:
                return "%d bytes more than the %d expected" % (c.rxpat + len(d) - c.down, c.down)
            if bytes(d) != c.dpat.read(c.rxpat, len(d)):
                return "download differs within bytes %d..%d" % (c.rxpat, c.rxpat + len(d))
            c.rxpat += len(d)
        return None

    while done < o.conns:
        if time.monotonic() > deadline:
            phases = {}
            for c in conns:
                phases[c.phase] = phases.get(c.phase, 0) + 1
            return fail("timeout after %ds: %d of %d done, %d '+' seen; phases %s" % (
                o.timeout, done, o.conns, plus, phases))
        for key, ev in sel.select(0.5):
            c, s = key.data, key.fileobj
            if c.phase == "connect":
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    return fail("connect: %s" % errno.errorcode.get(err, err))
                c.phase = "head"
            if c.phase == "head" and ev & selectors.EVENT_WRITE:
                s.sendall(c.head)  # 56 bytes fit any fresh send buffer
                c.phase = "body" if mode == CLIENT_FIRST else "download"
            elif c.phase == "body" and ev & selectors.EVENT_WRITE and released:
                try:
                    while c.sent < c.up:
                        chunk = c.upat.read(c.sent, min(BLOCK, c.up - c.sent))
                        n = s.send(chunk)
                        c.h.update(chunk[:n])
                        c.sent += n
                        if n < len(chunk):
                            break
                except BlockingIOError:
                    pass
                except OSError as e:
                    return fail("send after %d bytes: %s" % (c.sent, e))
                if c.sent == c.up:
                    s.shutdown(socket.SHUT_WR)
                    c.phase = "download" if mode == CLIENT_FIRST else "wait"
            if ev & selectors.EVENT_READ and c.phase not in ("connect", "head"):
                try:
                    d = s.recv(1 << 18)
                except BlockingIOError:
                    d = None
                except OSError as e:
                    return fail("recv (%s phase, %d pattern bytes in): %s" % (c.phase, c.rxpat, e))
                if d:
                    had_plus = c.got_plus
                    err = check_down(c, d)
                    if err:
                        return fail(err)
                    if c.got_plus and not had_plus:
                        plus += 1
                        if plus == o.conns and not released:
                            released = True
                            for x in conns:
                                if x.phase in ("body", "download"):
                                    rearm(x)
                elif d == b"":
                    c.eof = True
                    if not c.got_plus:
                        return fail("EOF before the server's '+' (%s phase)" % c.phase)
                    if c.rxpat != c.down or (mode == CLIENT_FIRST and len(c.rx) < 32):
                        return fail("EOF after %d of %d pattern bytes (%s phase)" % (
                            c.rxpat, c.down, c.phase))
                    if mode == CLIENT_FIRST:
                        if c.phase != "download":
                            return fail("EOF before the upload was finished")
                        c.phase = "closed"
                        done += 1
                    else:
                        c.phase = "body"  # now, and only now, upload
                        released = True
            if c.phase == "wait":
                c.phase = "closed"
                done += 1
            if c.phase == "closed":
                sel.unregister(s)
                s.close()
            else:
                rearm(c)
    secs = time.monotonic() - t0
    how = "server-first" if mode == SERVER_FIRST else (
        "%d open at once" % plus if o.barrier else "no barrier")
    print("ok %d conns (%s), %.1f MB up, %.1f MB down in %.1f s" % (
        o.conns, how, o.conns * o.bytes / 1e6, o.conns * down / 1e6, secs))
    return 0


def fail(msg):
    print("FAIL " + msg, flush=True)
    return 1


def refused(o):
    fam = family_of(o.host)
    t0 = time.monotonic()
    ms = lambda: (time.monotonic() - t0) * 1000
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(o.within / 1000)
    try:
        s.connect((o.host, o.port))
    except ConnectionRefusedError:
        print("refused %.0f" % ms())
        return 0
    except ConnectionResetError:
        print("reset %.0f" % ms())
        return 0
    except socket.timeout:
        return fail("connect hung for %.0f ms" % ms())
    except OSError as e:
        return fail("connect: %s after %.0f ms" % (errno.errorcode.get(e.errno, e), ms()))
    s.settimeout(max(0.001, (o.within - ms()) / 1000))
    try:
        d = s.recv(1)
    except ConnectionResetError:
        print("reset %.0f" % ms())
        return 0
    except socket.timeout:
        return fail("hung: connected, no reset or EOF within %d ms" % o.within)
    if d:
        return fail("got data %r" % d)
    print("eof %.0f" % ms())
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="verb", required=True)
    p = sub.add_parser("serve")
    p.add_argument("addr")
    p.add_argument("port", type=int)
    p = sub.add_parser("serve-unix")
    p.add_argument("path")
    p = sub.add_parser("client")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--conns", type=int, default=1)
    p.add_argument("--bytes", type=int, default=1 << 20)
    p.add_argument("--down", type=int)
    p.add_argument("--server-first", action="store_true")
    p.add_argument("--no-barrier", dest="barrier", action="store_false")
    p.add_argument("--timeout", type=int, default=120)
    p = sub.add_parser("refused")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--within", type=int, default=2000)
    o = ap.parse_args()
    if o.verb == "serve":
        return serve(family_of(o.addr), (o.addr, o.port))
    if o.verb == "serve-unix":
        return serve(socket.AF_UNIX, o.path)
    if o.verb == "client":
        return client(o)
    return refused(o)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
