#!/usr/bin/env python3
"""activated.py: a socket-activated service for sluice's tests. Takes the listeners
LISTEN_FDS says it has (fds 3..), checks LISTEN_PID is its own pid, and prints
"listeners N names NAMES". Then on the first (fd 3) it accepts one connection and answers
"hello from the cage <pid>"; with --escape it first tries what a hostile service would:
shutdown(SHUT_RD) of the listener (which disconnects a TCP listener) and a connect of it to
127.0.0.1:PORT, as the netns outside sees that address ("escape ok" or "escape ERRNO")."""
import errno
import os
import socket
import sys

n = int(os.environ.get("LISTEN_FDS", "0"))
if os.environ.get("LISTEN_PID") != str(os.getpid()):
    print("LISTEN_PID", os.environ.get("LISTEN_PID"), "is not", os.getpid(), flush=True)
    sys.exit(1)
print("listeners", n, "names", os.environ.get("LISTEN_FDNAMES", "-"), flush=True)
if len(sys.argv) > 2 and sys.argv[1] == "--escape":
    s = socket.socket(fileno=os.dup(3))
    try:
        s.shutdown(socket.SHUT_RD)
        s.connect(("127.0.0.1", int(sys.argv[2])))
        print("escape ok", flush=True)
    except OSError as e:
        print("escape", errno.errorcode.get(e.errno, e.errno), flush=True)
    sys.exit(0)
lst = socket.socket(fileno=3)
c, _ = lst.accept()
c.sendall(b"hello from the cage %d\n" % os.getpid())
c.close()
