#!/bin/sh
test_description='a session runs its command, and leash exits with the command'\''s status'
. "$(dirname "$0")/test-lib.sh"

test_expect_success SESSION 'exit statuses 0, 1 and 42 propagate' '
	test_expect_code 0 leash_run -- true &&
	test_expect_code 1 leash_run -- false &&
	test_expect_code 42 leash_run -- sh -c "exit 42"
'

test_expect_success SESSION 'a command killed by a signal gives 128+N' '
	test_expect_code 143 leash_run -- sh -c "kill -TERM \$\$" &&
	test_expect_code 137 leash_run -- sh -c "kill -KILL \$\$" &&
	test_expect_code 130 leash_run -- sh -c "kill -INT \$\$"
'

test_expect_success SESSION 'a missing command gives 127 and says why' '
	test_expect_code 127 leash_run -- /nonexistent/cmd 2>err &&
	grep "cannot run '\''/nonexistent/cmd'\'': No such file or directory" err
'

test_expect_success SESSION 'arguments after the command are the command'\''s, options included' '
	leash_run -- echo --help -q "two words" >out &&
	echo "--help -q two words" >expect &&
	test_cmp expect out
'

test_expect_success SESSION 'stdin, stdout and stderr pass through when they are not terminals' '
	printf "line1\nline2\n" | leash_run -- sh -c "cat; echo to-stderr >&2" >out 2>err &&
	printf "line1\nline2\n" >expect &&
	test_cmp expect out &&
	grep -x to-stderr err
'

test_expect_success SESSION 'SIGTERM to leash reaches the command, and leash exits with its status' '
	"$LEASH" --db "$DB" -q -- sh -c "trap \"echo got-term; exit 7\" TERM; echo ready; while :; do sleep 0.05; done" >out &
	pid=$! &&
	for i in $(seq 100); do grep -q ready out && break; sleep 0.05; done &&
	kill -TERM $pid &&
	wait $pid; rc=$? &&
	test_eq 7 "$rc" "exit status" &&
	grep -x got-term out
'

test_expect_success SESSION '-e sets variables for the command, KEY alone copies leash'\''s' '
	LEASH_T_COPY=copied leash_run -e LEASH_T_SET=set -e LEASH_T_COPY -- \
		sh -c "echo \$LEASH_T_SET \$LEASH_T_COPY" >out &&
	echo "set copied" >expect &&
	test_cmp expect out
'

test_expect_success SESSION 'the session and its end are recorded with the exit status' '
	reset_db &&
	test_expect_code 3 leash_run -- sh -c "exit 3" &&
	test_eq 1 "$(sql "SELECT count(*) FROM sessions WHERE exit_status = 3 AND ended_ns >= started_ns")" &&
	test_eq "[\"sh\",\"-c\",\"exit 3\"]" "$(sql "SELECT command FROM sessions")" &&
	test_eq "session.start" "$(sql "SELECT kind FROM events WHERE seq = 1")" &&
	test_eq 3 "$(sql "SELECT json_extract(details, \"\$.exit_status\") FROM events WHERE kind = \"session.end\"")" &&
	test_eq 0 "$(sql "SELECT events_lost FROM sessions")"
'

test_expect_success SESSION 'the session cgroup is removed when the session ends' '
	leash_run -- sh -c "cat /proc/self/cgroup" >cg &&
	path=$(sed -n "s/^0:://p" cg) &&
	test -n "$path" &&
	root=$(awk "\$9 == \"cgroup2\" { print \$5; exit }" /proc/self/mountinfo) &&
	test ! -e "$root$path"
'

test_done
