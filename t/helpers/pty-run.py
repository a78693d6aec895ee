#!/usr/bin/env python3
"""pty-run: run ARGV as the foreground job of a fresh terminal, and report.

Prints the command's output, then `outer=NAME` (the terminal ARGV was
given) and `leaked=...`: whatever input is waiting on that terminal after
ARGV exited, which is what the user's shell would read next. A sandboxed
command that pushes keystrokes with TIOCSTI into the user's terminal shows
up there."""
import fcntl
import os
import select
import sys
import termios

master, slave = os.openpty()
name = os.ttyname(slave)
pid = os.fork()
if pid == 0:
    os.close(master)
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    os.execvp(sys.argv[1], sys.argv[1:])
out = b""
while True:
    r, _, _ = select.select([master], [], [], 0.2)
    if r:
        try:
            d = os.read(master, 4096)
        except OSError:
            d = b""
        out += d
    done, status = os.waitpid(pid, os.WNOHANG)
    if done and not r:
        break
# Input queued on the terminal is read from the slave side.
attrs = termios.tcgetattr(slave)
attrs[3] &= ~termios.ICANON
termios.tcsetattr(slave, termios.TCSANOW, attrs)
os.set_blocking(slave, False)
try:
    leaked = os.read(slave, 4096)
except BlockingIOError:
    leaked = b""
sys.stdout.write(out.decode(errors="replace").replace("\r", ""))
print("outer=" + name)
print("leaked=" + (leaked.decode(errors="replace").strip() or "none"))
print("status=%d" % os.waitstatus_to_exitcode(status))
