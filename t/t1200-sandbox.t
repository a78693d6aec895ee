#!/bin/sh
test_description='the sandbox: own pid namespace, invoking user, no capabilities, audit log hidden'
. "$(dirname "$0")/test-lib.sh"

test_expect_success SESSION 'the command is pid 2 under its own init, and sees only the session'\''s processes' '
	leash_run -- sh -c "echo \$\$; ls /proc | grep -c \"^[0-9]\"" >out &&
	test_eq 2 "$(sed -n 1p out)" "pid of the command" &&
	test "$(sed -n 2p out)" -le 4
'

test_expect_success SESSION 'the command cannot see or signal host processes' '
	sleep 30 &
	host=$! &&
	leash_run -- sh -c "test ! -e /proc/$host && kill -0 $host 2>&1; echo rc=\$?" >out 2>&1 &&
	grep "rc=1" out &&
	kill -0 $host &&
	kill $host
'

test_expect_success SESSION,NOBODY 'under sudo the command runs as the invoking user, with its groups' '
	uid=$(id -u nobody) && gid=$(id -g nobody) &&
	SUDO_UID=$uid SUDO_GID=$gid leash_run -- sh -c "id -u; id -g; echo \$HOME; echo \$USER" >out &&
	test_eq "$uid" "$(sed -n 1p out)" &&
	test_eq "$gid" "$(sed -n 2p out)" &&
	test_eq "$(getent passwd nobody | cut -d: -f6)" "$(sed -n 3p out)" &&
	test_eq nobody "$(sed -n 4p out)"
'

test_expect_success SESSION 'the command has no capabilities and no_new_privs, even as root' '
	leash_run -- cat /proc/self/status >status &&
	grep "^CapEff:[[:space:]]*0000000000000000$" status &&
	grep "^CapPrm:[[:space:]]*0000000000000000$" status &&
	grep "^CapBnd:[[:space:]]*0000000000000000$" status &&
	grep "^CapAmb:[[:space:]]*0000000000000000$" status &&
	grep "^NoNewPrivs:[[:space:]]*1$" status
'

test_expect_success SESSION 'without capabilities root-owned files stay closed (mount, chown)' '
	leash_run -- sh -c "mount -t tmpfs x /mnt 2>&1; echo mount=\$?; hostname leash-test 2>&1; echo hostname=\$?" >out &&
	grep "mount=[1-9]" out &&
	grep "hostname=[1-9]" out
'

test_expect_success SESSION 'the session cgroup cannot be left: cgroupfs is read-only inside' '
	root=$(awk "\$9 == \"cgroup2\" { print \$5; exit }" /proc/self/mountinfo) &&
	leash_run -- sh -c "echo \$\$ > $root/cgroup.procs" 2>err; test $? -ne 0 &&
	grep -i "read-only" err
'

test_expect_success SESSION 'the default database lives in XDG_DATA_HOME/leash, and that directory is empty inside' '
	XDG_DATA_HOME=$TRASH/xdg "$LEASH" -q -- sh -c "ls -A $TRASH/xdg/leash; echo listed" >out 2>&1 &&
	test_eq listed "$(cat out)" &&
	test -s xdg/leash/leash.db &&
	test_eq 1 "$(sqlite3 xdg/leash/leash.db "SELECT count(*) FROM sessions")"
'

test_expect_success SESSION 'a --db database and its WAL files are masked inside: nothing to read, nothing to spoil' '
	leash_run -- sh -c "wc -c < \"$DB\"; wc -c < \"$DB-wal\"; echo x > \"$DB\"; : > \"$DB-wal\"; rm -f \"$DB\"; true" >out 2>&1 &&
	test_eq 0 "$(sed -n 1p out)" &&
	test_eq 0 "$(sed -n 2p out)" &&
	test_eq ok "$(sql "PRAGMA integrity_check")" &&
	test "$(sql "SELECT count(*) FROM sessions")" -ge 2
'

test_expect_success SESSION '-v binds a directory, :ro makes it read-only' '
	mkdir -p src dst rodst &&
	echo hello >src/f &&
	leash_run -v "$TRASH/src:$TRASH/dst" -v "$TRASH/src:$TRASH/rodst:ro" -- \
		sh -c "cat $TRASH/dst/f; echo new > $TRASH/dst/g; echo x > $TRASH/rodst/h 2>&1; echo ro=\$?" >out 2>&1 &&
	grep -x hello out &&
	grep "ro=[1-9]" out &&
	test_eq new "$(cat src/g)" &&
	test ! -e src/h &&
	test ! -e dst/f
'

test_expect_success SESSION 'mounts made inside do not reach the host' '
	leash_run -- sh -c "cat /proc/self/mountinfo | grep -c \" /proc \"" >out &&
	test "$(grep -c " /proc " /proc/self/mountinfo)" -ge 1 &&
	! grep -q leash-mask /proc/self/mountinfo
'

test_done
