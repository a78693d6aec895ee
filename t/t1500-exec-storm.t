#!/bin/sh
test_description='an exec storm is recorded without loss, and loss, when forced, is counted and reported'
. "$(dirname "$0")/test-lib.sh"

test_expect_success SESSION '5000 short processes: every exec and exit is recorded' '
	leash_run -- sh -c "for i in \$(seq 5000); do /bin/true; done" &&
	test_eq 5000 "$(sql "SELECT count(*) FROM events WHERE kind = \"process.exec\" AND exe = \"/bin/true\"")" &&
	test_eq 5000 "$(sql "SELECT count(*) FROM events WHERE kind = \"process.exit\" AND comm = \"true\"")" &&
	test_eq 0 "$(sql "SELECT events_lost FROM sessions")" &&
	test_eq 0 "$(sql "SELECT count(*) FROM events WHERE kind = \"stats.loss\"")"
'

test_expect_success SESSION 'sequence numbers have no gaps' '
	test_eq "$(sql "SELECT max(seq) FROM events")" "$(sql "SELECT count(*) FROM events")"
'

test_expect_success SESSION 'a bad LEASH_RINGBUF_KB is refused before anything runs' '
	reset_db &&
	LEASH_RINGBUF_KB=3 "$LEASH" --db "$DB" -q -- true 2>err; test $? -eq 125 &&
	grep "LEASH_RINGBUF_KB: '\''3'\'' is not a power of two" err
'

# Force loss: a 16 KiB ring (about ten exec records) and leash stopped
# while the command execs 300 times. The kernel must count every record it
# could not queue, and leash must report the count: in a stats.loss row, in
# sessions.events_lost, and on stderr.
test_expect_success SESSION 'forced loss is counted in the store and reported on stderr' '
	reset_db &&
	mkfifo go &&
	LEASH_RINGBUF_KB=16 "$LEASH" --db "$DB" -- sh -c ": > started; read x < go; for i in \$(seq 300); do /bin/true; done" 2>err &
	leash=$! &&
	for i in $(seq 200); do test -e started && break; sleep 0.05; done &&
	kill -STOP $leash &&
	echo go >go &&
	cg=$(sql "SELECT cgroup FROM sessions") &&
	for i in $(seq 200); do test "$(grep -c . "$cg/cgroup.procs")" -le 1 && break; sleep 0.05; done &&
	kill -CONT $leash &&
	wait $leash &&
	cat err &&
	lost=$(sql "SELECT events_lost FROM sessions") &&
	recorded=$(sql "SELECT count(*) FROM events WHERE kind IN (\"process.exec\", \"process.exit\") AND comm = \"true\"") &&
	echo "lost=$lost recorded=$recorded" &&
	test "$lost" -gt 0 &&
	test $((lost + recorded)) -ge 600 &&
	test_eq "$lost" "$(sql "SELECT sum(json_extract(details, \"\$.ringbuf_drops\")) FROM events WHERE kind = \"stats.loss\"")" &&
	grep "the kernel dropped [0-9]* events (ring buffer full)" err &&
	grep "events lost" err
'

test_done
