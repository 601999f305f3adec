"""Spawn actor subprocesses into sluice cages, tractor-style.

Standard library only. Three ways in:

* child_cage(): from inside a cage made with --nest, start a subprocess in a child cage
  of its own (sluice run, asked of the cage's supervisor). The child reaches only what
  the parent reaches, and only the part of it that is asked for here; asking for more
  fails with SluiceRefused (sluice's exit status 125 and its message).
* named_cage(): from the host (root), start a subprocess in a standing cage made by
  `sluice up NAME` (sluice exec): its namespaces, cgroup, filter, user, no capabilities.
* open_netns(): for a runtime that setns()es by itself: the cage's netns as an fd,
  checked against the inode sluice recorded, as sluice(1) NAMED CAGES describes.

    with child_cage(["python3", "-m", "worker"], name="sub1",
                    forwards=["1616=10.0.11.1:1616"]) as proc:
        proc.wait()
"""

import contextlib
import ctypes
import json
import os
import signal
import stat
import subprocess

__all__ = ["SluiceRefused", "child_cage", "named_cage", "open_netns", "cages"]

SLUICE = os.environ.get("SLUICE", "sluice")
NEST_SOCKET = "/run/sluice.nest"
EXIT_SLUICE = 125


class SluiceRefused(RuntimeError):
    """sluice did not start the command (status 125): its message says why."""

    def __init__(self, message, argv):
        super().__init__(message)
        self.argv = argv


def _run_args(name=None, proxy=None, forwards=(), dns=None, env=None, nest=False):
    args = []
    if name:
        # a child cage is named PARENT.NAME: this cage's name (SLUICE_CAGE) goes first
        parent = os.environ.get("SLUICE_CAGE")
        if parent and not name.startswith(parent + "."):
            name = f"{parent}.{name}"
        args += ["--name", name]
    if proxy:
        args += ["--proxy", proxy]
    for f in forwards:
        args += ["--forward", f]
    for k, v in (dns or {}).items():
        args += ["--dns", f"{k}={v}"]
    for k, v in (env or {}).items():
        args += ["--env", f"{k}={v}"]
    if nest:
        args.append("--nest")
    return args


@contextlib.contextmanager
def _spawned(argv, stop_timeout, refused_within, popen_kw):
    """Popen argv; on leaving, SIGTERM it if it still runs, then wait (SIGKILL after
    stop_timeout). An exit with 125 within refused_within seconds (sluice refuses before
    anything runs) is raised as SluiceRefused, with sluice's line if stderr is a PIPE."""
    proc = subprocess.Popen(argv, **popen_kw)
    try:
        if refused_within:
            try:
                proc.wait(timeout=refused_within)
            except subprocess.TimeoutExpired:
                pass
        if proc.returncode == EXIT_SLUICE:
            why = "sluice refused (status 125; its reason is on stderr)"
            if proc.stderr is not None:
                why = proc.stderr.read().decode(errors="replace").strip() or why
            raise SluiceRefused(why, argv)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=stop_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def child_cage(cmd, *, name=None, proxy=None, forwards=(), dns=None, env=None, nest=False,
               stop_timeout=10.0, refused_within=0.5, **popen_kw):
    """A context manager: cmd (a list) running in a child cage of this cage.

    name: the child's own part of its name (the child is PARENT.name; default PARENT.PID);
    forwards: "LISTEN=TARGET" strings, each TARGET something this cage reaches (one of its
    forwards, 127.0.0.1:PORT, or an endpoint its link allows); proxy: likewise a URL; dns:
    a {name: address} map of names this cage resolves; env: variables for cmd; nest: the
    child may make children of its own. Other keyword arguments go to subprocess.Popen
    (stdin, stdout, stderr, cwd...). Yields the Popen of `sluice run`, whose status is
    cmd's; on leaving, a cmd still running is sent SIGTERM and waited for. A refusal
    (asking for more than this cage reaches) raises SluiceRefused: up to refused_within
    seconds are spent waiting for one (0: never; check proc.returncode == 125 yourself).
    """
    if not _in_nest_cage():
        raise SluiceRefused(f"not in a cage made with --nest (no {NEST_SOCKET})", cmd)
    argv = [SLUICE, "run"] + _run_args(name, proxy, forwards, dns, env, nest) + ["--"] + list(cmd)
    return _spawned(argv, stop_timeout, refused_within, popen_kw)


def named_cage(name, cmd, *, env=None, stop_timeout=10.0, refused_within=0.5, **popen_kw):
    """A context manager: cmd running in the standing cage NAME (root, on the host)."""
    argv = [SLUICE, "exec", name]
    for k, v in (env or {}).items():
        argv += ["--env", f"{k}={v}"]
    argv += ["--"] + list(cmd)
    return _spawned(argv, stop_timeout, refused_within, popen_kw)


def cages():
    """`sluice ls --json`: a list of dicts (name, parent, depth, netns_inode, counters...)."""
    out = subprocess.run([SLUICE, "ls", "--json"], check=True, capture_output=True).stdout
    return json.loads(out)


CLONE_NEWNET = 0x40000000
NS_GET_NSTYPE = 0xB703  # _IO(0xb7, 0x3)


def open_netns(name):
    """The netns of the standing cage NAME, as an fd (O_CLOEXEC), checked: its inode is the
    one sluice recorded and it is a network namespace. setns(fd) with setns() below."""
    want = {c["name"]: c for c in cages()}.get(name)
    if not want or "netns_inode" not in want:
        raise SluiceRefused(f'no named cage "{name}" is up', [name])
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        libc = ctypes.CDLL(None, use_errno=True)
        if st.st_ino != want["netns_inode"] or libc.ioctl(fd, NS_GET_NSTYPE) != CLONE_NEWNET:
            raise SluiceRefused(f"/run/netns/{name} is not cage {name}'s netns", [name])
        return fd
    except BaseException:
        os.close(fd)
        raise


def setns(fd):
    """Join the netns fd (open_netns()) in this thread (the process, if single-threaded)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def _in_nest_cage():
    try:
        return stat.S_ISSOCK(os.stat(NEST_SOCKET).st_mode)
    except FileNotFoundError:
        return False
