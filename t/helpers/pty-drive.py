#!/usr/bin/env python3
"""pty-drive: be the user's terminal for `leash -- tty-probe.py`.

Starts ARGV (leash) on a fresh pty as the foreground job of its own
session, like a login shell would, then types at it and checks the
answers: size, line input, ^C, ^Z, resize, raw mode, exit status. Prints
one TAP-ish line per check to stdout; exits 0 if all passed."""
import fcntl
import os
import select
import struct
import sys
import termios
import time

argv = sys.argv[1:]
failed = 0


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


master, slave = os.openpty()
set_size(slave, 24, 80)
pid = os.fork()
if pid == 0:
    os.close(master)
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    os.execvp(argv[0], argv)
os.close(slave)

buf = b""


def expect(what, timeout=30.0):
    """Wait until the line WHAT shows up in the output."""
    global buf, failed
    deadline = time.time() + timeout
    while what.encode() not in buf:
        left = deadline - time.time()
        if left <= 0:
            print("FAIL waiting for %r; got %r" % (what, buf[-400:]))
            failed += 1
            return False
        r, _, _ = select.select([master], [], [], left)
        if r:
            try:
                data = os.read(master, 4096)
            except OSError:
                data = b""
            if not data:
                print("FAIL: terminal closed waiting for %r; got %r" % (what, buf[-400:]))
                failed += 1
                return False
            buf += data
    print("ok", what)
    buf = buf[buf.index(what.encode()) + len(what):]
    return True


def send(data):
    os.write(master, data)


expect("ready 24 80 True True 2")
send(b"hello\r")
expect("got: hello")
send(b"\x03")
expect("SIGINT")
send(b"\x1a")
expect("SIGTSTP")
set_size(master, 40, 100)
expect("WINCH 40 100")
send(b"raw\r")
expect("raw")
send(b"\x03")  # in raw mode ^C is a byte, not a signal
expect("key 03")
send(b"quit\r")

_, status = os.waitpid(pid, 0)
code = os.waitstatus_to_exitcode(status)
if code == 3:
    print("ok exit status 3")
else:
    print("FAIL exit status %d, want 3" % code)
    failed += 1
sys.exit(1 if failed else 0)
