#!/bin/sh
test_description='leash ctl: finds the session, switches modes, applies policies, prints errors with positions and fails when leash refuses'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/control/lib.sh"

ALL='permit (principal, action in [Action::"FileOpen", Action::"ProcessExec", Action::"NetworkConnect"], resource);'
echo "$ALL" >ok.cedar
printf '%s\nforbid (principal, action == Action::"FileOpen", resource in Dir::"/tmp/" ;\n' "$ALL" >bad.cedar

test_expect_success CONTROL 'with no session, leash ctl says so and exits 3' '
	mkdir elsewhere && cd elsewhere &&
	test_expect_code 3 "$LEASH" ctl --session 00000000nope status 2>err &&
	grep "leash ctl:" err
'

test_expect_success CONTROL 'status shows the session and its mode' '
	control_start -- sh -c "sleep 3600" &&
	"$LEASH" ctl status >out &&
	grep "^session   $UUID" out &&
	grep "^mode      record" out &&
	"$LEASH" ctl --session "$(echo $UUID | cut -c1-8)" --json status >json &&
	test_eq record "$(jq_get "$(cat json)" "j[\"mode\"]")"
'

test_expect_success CONTROL 'status says what enforces each module, as the session.enforcement row does' '
	grep "^by        file: \(fanotify\|bpf-lsm\); network: cgroup-bpf" out &&
	file=$(sql "SELECT json_extract(details, '\''$.file'\'') FROM events WHERE kind = '\''session.enforcement'\''") &&
	net=$(sql "SELECT json_extract(details, '\''$.network'\'') FROM events WHERE kind = '\''session.enforcement'\''") &&
	grep "^by        file: $file; network: $net; mcp: proxy, mcp wrap\$" out &&
	test_eq "$file" "$(jq_get "$(cat json)" "[m[\"backend\"] for m in j[\"modules\"] if m[\"name\"] == \"file\"][0]")"
'

test_expect_success CONTROL 'mode switches live, and prints the mode in force' '
	test_eq shadow "$("$LEASH" ctl mode shadow)" &&
	test_eq shadow "$("$LEASH" ctl mode)" &&
	test_eq enforce "$("$LEASH" ctl mode enforce)" &&
	test_eq enforce "$(jq_get "$(api "$BASE/api/mode")" "j[\"mode\"]")" &&
	test_expect_code 1 "$LEASH" ctl mode sideways 2>err &&
	grep "mode is one of record, shadow, enforce" err &&
	test_eq record "$("$LEASH" ctl mode record)"
'

test_expect_success CONTROL 'a rejected policy: errors with file:line:col and a caret, exit 1, nothing changed' '
	gen=$(jq_get "$(api "$BASE/api/policies")" "j[\"generation\"]") &&
	test_expect_code 1 "$LEASH" ctl policy bad.cedar 2>err &&
	grep "^bad.cedar:2:[0-9]*: error\[" err &&
	grep "^ *2 | forbid" err &&
	grep "\^" err &&
	grep "nothing was changed" err &&
	test_eq "$gen" "$(jq_get "$(api "$BASE/api/policies")" "j[\"generation\"]")"
'

test_expect_success CONTROL 'a valid policy is applied (file and stdin), and printed back' '
	"$LEASH" ctl policy ok.cedar >out &&
	grep "^applied: generation" out &&
	"$LEASH" ctl policy - <ok.cedar >out &&
	grep "^applied" out &&
	"$LEASH" ctl policy >printed &&
	test_cmp ok.cedar printed
'

test_expect_success CONTROL 'validate checks without applying' '
	gen=$(jq_get "$(api "$BASE/api/policies")" "j[\"generation\"]") &&
	"$LEASH" ctl validate ok.cedar &&
	test_expect_code 1 "$LEASH" ctl validate bad.cedar 2>err &&
	grep "^bad.cedar:2:" err &&
	test_eq "$gen" "$(jq_get "$(api "$BASE/api/policies")" "j[\"generation\"]")"
'

test_expect_success CONTROL 'url prints the token URL' '
	test_eq "$BASE/?token=$TOKEN" "$("$LEASH" ctl url)"
'

test_expect_success CONTROL 'with two sessions, the one started here is picked; elsewhere --session is needed' '
	first=$UUID && firstpid=$LEASH_PID &&
	(cd elsewhere && {
		"$LEASH" --db "$DB.2" -q -- sh -c "sleep 3600" </dev/null >/dev/null 2>&1 &
		echo $! >../second.pid
	}) &&
	wait_for 100 sh -c "grep -l \"\\\"pid\\\": $(cat second.pid),\" /run/leash/*.json" &&
	"$LEASH" ctl --json status >json &&
	test_eq "$first" "$(jq_get "$(cat json)" "j[\"session\"][\"uuid\"]")" &&
	mkdir third && cd third &&
	test_expect_code 3 "$LEASH" ctl status 2>err &&
	grep "several sessions" err &&
	grep "$first" err
'

test_expect_success CONTROL 'stop the sessions' '
	kill $(cat second.pid) &&
	control_stop &&
	wait_for 50 test ! -e /proc/$(cat second.pid)/cmdline
'

test_done
