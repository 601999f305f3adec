#!/usr/bin/env python3
"""handin.py: an IP socket handed to a cage on its stdin, for sluice's tests.

  handin.py launch LOG -- CMD... : listen on 127.0.0.1 (an ephemeral port, in the netns it is
      run in), connect to it, and run CMD (each "{port}" in it replaced by that port) with the
      connected socket as its stdin; the accepted side sends "hello\\n". After CMD ends, every
      further connection the listener got in the next 0.3 s is counted: LOG gets "extra N".
      Exits with CMD's status.
  handin.py escape PORT : the caged side. Reads a line from stdin ("read hello"), then tries
      what a hostile program would: connect(AF_UNSPEC) to disconnect the socket and connect it
      to 127.0.0.1:PORT, as the netns the socket came from sees that address; then sendto()
      with an address. One line each: "disconnect ok|EPERM...", "connect ok|ERRNO",
      "sendto ok|ERRNO"."""
import ctypes
import errno
import os
import socket
import struct
import subprocess
import sys


def launch(log, cmd):
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(16)
    port = lst.getsockname()[1]
    c = socket.create_connection(("127.0.0.1", port))
    peer, _ = lst.accept()
    peer.sendall(b"hello\n")
    cmd = [a.replace("{port}", str(port)) for a in cmd]
    rc = subprocess.run(cmd, stdin=c).returncode
    c.close()
    lst.settimeout(0.3)
    extra = 0
    try:
        while True:
            lst.accept()
            extra += 1
    except socket.timeout:
        pass
    with open(log, "w") as f:
        f.write("extra %d\n" % extra)
    sys.exit(rc)


def verdict(e):
    return errno.errorcode.get(e, str(e))


def escape(port):
    line = b""
    while not line.endswith(b"\n"):
        b = os.read(0, 1)
        if not b:
            break
        line += b
    print("read", line.decode().strip() or "nothing", flush=True)
    libc = ctypes.CDLL(None, use_errno=True)
    sa = struct.pack("H14s", socket.AF_UNSPEC, b"")
    r = libc.connect(0, sa, len(sa))
    print("disconnect", "ok" if r == 0 else verdict(ctypes.get_errno()), flush=True)
    s = socket.socket(fileno=os.dup(0))
    try:
        s.connect(("127.0.0.1", port))
        print("connect ok", flush=True)
    except OSError as e:
        print("connect", verdict(e.errno), flush=True)
    try:
        s.sendto(b"x", socket.MSG_FASTOPEN, ("127.0.0.1", port))
        print("sendto ok", flush=True)
    except OSError as e:
        print("sendto", verdict(e.errno), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "launch" and sys.argv[3] == "--":
        launch(sys.argv[2], sys.argv[4:])
    elif sys.argv[1] == "escape":
        escape(int(sys.argv[2]))
    else:
        sys.exit(__doc__)
