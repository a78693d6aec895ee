#!/bin/sh
test_description='exec and exit events: argv, parent links, exit codes, only the session'\''s processes'
. "$(dirname "$0")/test-lib.sh"

test_expect_success SESSION 'a pipeline leaves exec rows with the right argv' '
	leash_run -- sh -c "echo alpha beta | tr a-z A-Z | grep -c ALPHA; exit 5"; test $? -eq 5 &&
	test_eq "[\"sh\",\"-c\",\"echo alpha beta | tr a-z A-Z | grep -c ALPHA; exit 5\"]" \
		"$(sql "SELECT json_extract(details, \"\$.argv\") FROM events WHERE kind = \"process.exec\" AND comm = \"sh\"")" &&
	test_eq "[\"tr\",\"a-z\",\"A-Z\"]" \
		"$(sql "SELECT json_extract(details, \"\$.argv\") FROM events WHERE kind = \"process.exec\" AND comm = \"tr\"")" &&
	test_eq "[\"grep\",\"-c\",\"ALPHA\"]" \
		"$(sql "SELECT json_extract(details, \"\$.argv\") FROM events WHERE kind = \"process.exec\" AND comm = \"grep\"")" &&
	test_eq "/usr/bin/tr" "$(sql "SELECT exe FROM events WHERE kind = \"process.exec\" AND comm = \"tr\"")" &&
	test_eq "File::\"/usr/bin/tr\"" "$(sql "SELECT resource FROM events WHERE kind = \"process.exec\" AND comm = \"tr\"")" &&
	test_eq "ProcessExec" "$(sql "SELECT action FROM events WHERE kind = \"process.exec\" AND comm = \"tr\"")"
'

test_expect_success SESSION 'the pipeline'\''s processes are children of the shell' '
	shpid=$(sql "SELECT pid FROM events WHERE kind = \"process.exec\" AND comm = \"sh\"") &&
	test -n "$shpid" &&
	test_eq 2 "$(sql "SELECT count(*) FROM events WHERE kind = \"process.exec\" AND ppid = $shpid AND comm IN (\"tr\", \"grep\")")"
'

test_expect_success SESSION 'each process has one exit row with its exit code' '
	shpid=$(sql "SELECT pid FROM events WHERE kind = \"process.exec\" AND comm = \"sh\"") &&
	test_eq 5 "$(sql "SELECT json_extract(details, \"\$.exit_code\") FROM events WHERE kind = \"process.exit\" AND pid = $shpid")" &&
	test_eq 0 "$(sql "SELECT json_extract(details, \"\$.exit_code\") FROM events WHERE kind = \"process.exit\" AND comm = \"grep\"")" &&
	test_eq 0 "$(sql "SELECT count(*) FROM events e WHERE kind = \"process.exec\"
		AND (SELECT count(*) FROM events x WHERE x.kind = \"process.exit\" AND x.pid = e.pid) != 1")"
'

test_expect_success SESSION 'a process killed by a signal has the signal in its exit row' '
	reset_db &&
	leash_run -- sh -c "sleep 5 & until [ \"\$(cat /proc/\$!/comm)\" = sleep ]; do :; done; kill -USR1 \$!; wait" &&
	test_eq 10 "$(sql "SELECT json_extract(details, \"\$.signal\") FROM events WHERE kind = \"process.exit\" AND comm = \"sleep\"")"
'

test_expect_success SESSION 'exec rows come in order, with kernel times inside the session' '
	test_eq 0 "$(sql "SELECT count(*) FROM events a JOIN events b ON b.seq = a.seq + 1 WHERE b.time_ns < a.time_ns - 1000000000")" &&
	test_eq 0 "$(sql "SELECT count(*) FROM events e, sessions s WHERE e.time_ns < s.started_ns - 1000000000 OR e.time_ns > s.ended_ns + 1000000000")"
'

test_expect_success SESSION 'a long argv is cut and flagged, never dropped' '
	reset_db &&
	leash_run -- /bin/echo $(seq 1 600) >/dev/null &&
	test_eq 1 "$(sql "SELECT json_extract(details, \"\$.argv_truncated\") FROM events WHERE kind = \"process.exec\" AND comm = \"echo\"")" &&
	test_eq 601 "$(sql "SELECT json_extract(details, \"\$.argc\") FROM events WHERE kind = \"process.exec\" AND comm = \"echo\"")" &&
	test_eq /bin/echo "$(sql "SELECT json_extract(details, \"\$.argv[0]\") FROM events WHERE kind = \"process.exec\" AND comm = \"echo\"")"
'

test_expect_success SESSION 'arguments that are not UTF-8 are kept, with U+FFFD for bad bytes' '
	reset_db &&
	leash_run -- /bin/echo "$(printf "a\377b")" >/dev/null &&
	test_eq "a�b" "$(sql "SELECT json_extract(details, \"\$.argv[1]\") FROM events WHERE kind = \"process.exec\" AND comm = \"echo\"")"
'

test_expect_success SESSION 'processes outside the session are not recorded' '
	reset_db &&
	( for i in $(seq 200); do /bin/echo leash-outside-marker >/dev/null; sleep 0.005; done ) &
	outside=$! &&
	# leash'"'"'s stderr kept in the trash: this test failed twice in fresh-clone
	# CI runs (the database never got its tables) and never alone.
	leash_run -- sh -c "for i in 1 2 3 4 5; do /bin/echo inside-marker; sleep 0.1; done" >/dev/null 2>outside.err ||
		{ cat outside.err; false; } &&
	wait $outside &&
	test_eq 5 "$(sql "SELECT count(*) FROM events WHERE kind = \"process.exec\" AND comm = \"echo\" AND details LIKE \"%inside-marker%\"")" &&
	test_eq 0 "$(sql "SELECT count(*) FROM events WHERE details LIKE \"%leash-outside-marker%\"")"
'

test_expect_success SESSION 'every event carries the session'\''s cgroup id' '
	cg=$(sql "SELECT cgroup_id FROM sessions") &&
	test_eq 0 "$(sql "SELECT count(*) FROM events WHERE kind LIKE \"process.%\" AND cgroup != $cg")"
'

test_done
