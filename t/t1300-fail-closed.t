#!/bin/sh
test_description='fail closed: when leash dies, even by SIGKILL, the whole session dies within a second'
. "$(dirname "$0")/test-lib.sh"

# start_session: leash around a command that leaves a setsid, double-forked
# daemon behind, then waits; sets $leash and $cg (the session cgroup).
start_session() {
	"$LEASH" --db "$DB" -q -- sh -c '
		( setsid sh -c "sleep 300.$$ & exit 0" & )
		sleep 300.$$ & wait' >/dev/null 2>&1 &
	leash=$!
	for i in $(seq 200); do
		cg=$(sql "SELECT cgroup FROM sessions WHERE ended_ns IS NULL" 2>/dev/null)
		# four processes, and their execs flushed to the store
		[ -n "$cg" ] && [ "$(grep -c . "$cg/cgroup.procs" 2>/dev/null)" -ge 4 ] &&
			[ "$(sql "SELECT count(*) FROM events WHERE kind = \"process.exec\"")" -ge 3 ] &&
			return 0
		sleep 0.05
	done
	echo "session did not start"
	return 1
}

# gone_within_a_second PID...: every PID is dead within one second.
gone_within_a_second() {
	for i in $(seq 20); do
		alive=
		for p in "$@"; do
			is_running "$p" && alive="$alive $p"
		done
		[ -z "$alive" ] && return 0
		sleep 0.05
	done
	echo "still alive after 1s:$alive"
	ps -o pid,ppid,stat,comm -p "$(echo $alive | tr " " ,)"
	return 1
}

test_expect_success SESSION 'kill -9 of leash kills every session process, the setsid daemon too' '
	start_session &&
	pids=$(cat "$cg/cgroup.procs") &&
	echo "session processes: $pids" &&
	kill -KILL $leash &&
	gone_within_a_second $pids
'

test_expect_success SESSION 'the reaper removes the session cgroup after kill -9' '
	for i in $(seq 40); do test -e "$cg" || break; sleep 0.05; done &&
	test ! -e "$cg"
'

test_expect_success SESSION 'the killed session stays in the store, with what was flushed, without an end' '
	test_eq 1 "$(sql "SELECT count(*) FROM sessions WHERE ended_ns IS NULL")" &&
	test "$(sql "SELECT count(*) FROM events WHERE kind = \"process.exec\"")" -ge 3 &&
	test_eq ok "$(sql "PRAGMA integrity_check")"
'

test_expect_success SESSION 'SIGTERM to leash ends a session whose command ignores nothing' '
	reset_db &&
	start_session &&
	pids=$(cat "$cg/cgroup.procs") &&
	kill -TERM $leash &&
	wait $leash; rc=$? &&
	test_eq 143 "$rc" "exit status" &&
	gone_within_a_second $pids &&
	test ! -e "$cg"
'

test_expect_success SESSION 'when the command exits, what it left behind is killed' '
	reset_db &&
	leash_run -- sh -c "( setsid sleep 300.$$ & ); echo started" >out &&
	grep -x started out &&
	test_eq 0 "$(pgrep -f "^sleep 300.$$\$" | wc -l)"
'

test_done
