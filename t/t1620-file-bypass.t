#!/bin/sh
test_description='ways around file and exec enforcement, each one tried'
. "$(dirname "$0")/test-lib.sh"

mkdir -p ws/rw ws/secret ws/bin &&
echo key >ws/secret/key &&
cp /bin/true ws/bin/mytrue &&
cat >policy.cedar <<EOF
permit (principal, action == Action::"FileOpenReadOnly", resource)
when { resource in [Dir::"/usr/", Dir::"/etc/", Dir::"/proc/", Dir::"/dev/", Dir::"$TRASH/ws/"] };
permit (principal, action == Action::"FileOpen", resource)
when { resource in [Dir::"$TRASH/ws/rw/", Dir::"/dev/"] };
permit (principal, action == Action::"ProcessExec", resource) when { resource in [Dir::"/usr/", Dir::"$TRASH/tools/"] };
@id("no-secret")
forbid (principal, action == Action::"FileOpen", resource) when { resource in Dir::"$TRASH/ws/secret/" };
EOF

enforce() {
	(cd ws && "$LEASH" --db "$DB" -q --mode enforce --allow-degraded --policy ../policy.cedar -- sh -c "$1")
}

test_expect_success SESSION 'a symlink to a forbidden file is decided on its target' '
	enforce "ln -s ../secret/key rw/sym && cat rw/sym" 2>err; test $? -ne 0 &&
	grep "Operation not permitted" err
'

test_expect_success SESSION 'a path through .. is decided on the resolved path' '
	enforce "cat rw/../secret/../secret/key" 2>err; test $? -ne 0 &&
	grep "Operation not permitted" err
'

test_expect_success SESSION 'a hard link to a forbidden file is decided on its forbidden name' '
	enforce "ln secret/key rw/hard && echo linked; cat rw/hard" >out 2>err; test $? -ne 0 &&
	grep -x linked out &&
	grep "rw/hard: Operation not permitted" err &&
	test_eq "$TRASH/ws/rw/hard" "$(sql "SELECT json_extract(details, '\''$.opened_as'\'') FROM events WHERE decision = '\''deny'\'' AND resource = '\''File::\"$TRASH/ws/secret/key\"'\'' ORDER BY session DESC, seq DESC LIMIT 1")"
'

test_expect_success SESSION 'a forbidden file renamed into a permitted directory is still decided on its forbidden name' '
	echo moved >ws/secret/tomove &&
	enforce "mv secret/tomove rw/moved && echo renamed; cat rw/moved" >out 2>err; test $? -ne 0 &&
	grep -x renamed out &&
	grep "rw/moved: Operation not permitted" err &&
	mv ws/rw/moved ws/secret/tomove
'

test_expect_success SESSION,PYTHON3 'reopening an O_PATH descriptor through /proc/self/fd is decided on the real file' '
	enforce "python3 -c \"
import os
fd = os.open(\\\"secret/key\\\", os.O_PATH)
try:
    open(\\\"/proc/self/fd/%d\\\" % fd, \\\"rb\\\").read()
    print(\\\"read\\\")
except OSError as e:
    print(\\\"refused\\\", e.errno)
\"" >out 2>&1;
	cat out &&
	grep -x "refused 1" out
'

test_expect_success SESSION 'the dynamic loader cannot run a forbidden program (ld.so PROGRAM)' '
	enforce "/lib64/ld-linux-x86-64.so.2 ./bin/mytrue" 2>err; test $? -ne 0 &&
	grep "Operation not permitted" err &&
	test_eq 1 "$(sql "SELECT json_extract(details, '\''$.via_loader'\'') FROM events WHERE decision = '\''deny'\'' AND resource = '\''File::\"$TRASH/ws/bin/mytrue\"'\'' ORDER BY seq DESC LIMIT 1")"
'

test_expect_success SESSION,PYTHON3 'a program run from a memfd is killed before it runs' '
	enforce "python3 -c \"
import os
fd = os.memfd_create(\\\"payload\\\")
os.write(fd, open(\\\"/usr/bin/echo\\\", \\\"rb\\\").read())
os.execv(\\\"/proc/self/fd/%d\\\" % fd, [\\\"payload\\\", \\\"PAYLOAD-RAN\\\"])
\"" >out 2>&1; rc=$? &&
	test_eq 137 "$rc" "exit status" &&
	! grep PAYLOAD-RAN out &&
	test_eq 1 "$(sql "SELECT json_extract(details, '\''$.killed'\'') FROM events WHERE kind = '\''process.exec'\'' AND decision = '\''deny'\'' ORDER BY seq DESC LIMIT 1")"
'

command -v cc >/dev/null && test_set_prereq CC

# io_uring opens run in a kernel worker of the process; fanotify still asks,
# but /proc/TID/syscall of a worker shows no open flags, so such an open is
# decided as a write (the stricter): refused where only reading is allowed.
test_expect_success SESSION,CC 'io_uring opens are decided: forbidden refused, read-only refused (decided as a write), writable opened' '
	mkdir -p tools && cc -O2 -o tools/uring-open "$TEST_DIRECTORY/helpers/uring-open.c" &&
	echo x >ws/rw/f && echo r >ws/readme &&
	enforce "$TRASH/tools/uring-open secret/key; $TRASH/tools/uring-open readme; $TRASH/tools/uring-open rw/f" >out 2>&1;
	cat out &&
	test_eq "refused 1
refused 1
opened" "$(cat out)"
'

test_expect_success SESSION 'a new mount namespace with a bind mount is refused by the floor' '
	enforce "unshare -Urm sh -c \"mount --bind secret rw && cat rw/key\"" >out 2>&1;
	cat out &&
	! grep -x key out
'

# Known limit of this backend: fanotify decides opens, not reads. A file
# opened while the policy allowed it stays readable and writable through
# that descriptor after a switch to enforce. This test documents it.
test_expect_success SESSION 'documented limit: a descriptor opened before a switch to enforce keeps working' '
	reset_db &&
	(cd ws && "$LEASH" --db "$DB" -q --mode record --policy ../policy.cedar -- \
		sh -c "exec 3<secret/key; echo opened; while [ ! -e ../go ]; do sleep 0.05; done; cat <&3; cat secret/key") >out 2>err &
	for i in $(seq 100); do grep -q opened out && break; sleep 0.05; done &&
	"$LEASH" ctl --session "$(sql "SELECT uuid FROM sessions")" mode enforce &&
	touch go &&
	wait &&
	cat out err &&
	test "$(grep -c -x key out)" -eq 1 &&
	grep "secret/key: Operation not permitted" err
'

test_done
