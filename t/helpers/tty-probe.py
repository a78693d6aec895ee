#!/usr/bin/env python3
"""tty-probe: an interactive program for the pty tests, run inside leash.

Reports what a full-screen program relies on: that stdin/stdout are a
terminal of the right size, that ^C and ^Z arrive as SIGINT and SIGTSTP,
that resizes arrive as SIGWINCH with the new size, and that raw mode works
(one key, no Enter). Each report is one line the driver waits for."""
import os
import signal
import sys
import termios
import tty


def say(*words):
    os.write(1, (" ".join(str(w) for w in words) + "\r\n").encode())


def on_signal(signo, frame):
    if signo == signal.SIGWINCH:
        size = os.get_terminal_size(0)
        say("WINCH", size.lines, size.columns)
    else:
        say(signal.Signals(signo).name)


for s in (signal.SIGINT, signal.SIGTSTP, signal.SIGWINCH):
    signal.signal(s, on_signal)

size = os.get_terminal_size(0)
saved = termios.tcgetattr(0)
tty.setcbreak(0)  # ISIG stays on: ^C and ^Z become signals
say("ready", size.lines, size.columns, os.isatty(0), os.isatty(1), os.getpid())
line = b""
while True:
    try:
        c = os.read(0, 1)
    except InterruptedError:
        continue
    if not c:
        break
    if c in (b"\r", b"\n"):
        word = line.decode()
        line = b""
        if word == "quit":
            break
        if word == "raw":
            tty.setraw(0)
            say("raw")
            k = os.read(0, 1)
            termios.tcsetattr(0, termios.TCSADRAIN, saved)
            tty.setcbreak(0)
            say("key", k.hex())
            continue
        say("got:", word)
    else:
        line += c
termios.tcsetattr(0, termios.TCSADRAIN, saved)
sys.exit(3)
