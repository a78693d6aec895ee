#!/bin/sh
test_description='the command keeps the terminal: size, line input, ^C, ^Z, resizes and raw mode reach it'
. "$(dirname "$0")/test-lib.sh"

test_expect_success SESSION,PYTHON3 'an interactive program on the terminal behaves as outside leash' '
	python3 "$TEST_DIRECTORY/helpers/pty-drive.py" \
		"$LEASH" --db "$DB" -q -- python3 "$TEST_DIRECTORY/helpers/tty-probe.py" >out 2>&1;
	rc=$?; cat out; test $rc -eq 0
'

# The attack: push "echo PWNED" into the terminal, so that the user's
# shell runs it after leash exits. Works on a shared terminal (the control
# run, without leash); must not work through leash's pty.
inject='import fcntl, os, termios
for c in b"echo PWNED\n":
    fcntl.ioctl(0, termios.TIOCSTI, bytes([c]))
print("tty=" + os.ttyname(0))'

test_expect_success PYTHON3 'control: without leash, TIOCSTI reaches the terminal (the probe can see it)' '
	python3 "$TEST_DIRECTORY/helpers/pty-run.py" python3 -c "$inject" >out 2>&1 &&
	cat out &&
	grep -x "leaked=echo PWNED" out
'

test_expect_success SESSION,PYTHON3 'through leash, the command has its own pty and TIOCSTI cannot reach the user'\''s terminal' '
	python3 "$TEST_DIRECTORY/helpers/pty-run.py" "$LEASH" --db "$DB" -q -- python3 -c "$inject" >out 2>&1 &&
	cat out &&
	grep -x "leaked=none" out &&
	grep -x "status=0" out &&
	inner=$(sed -n "s/^tty=//p" out) && outer=$(sed -n "s/^outer=//p" out) &&
	test -n "$inner" && test "$inner" != "$outer"
'

test_done
