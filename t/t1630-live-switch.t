#!/bin/sh
test_description='modes and policies switched live while the agent keeps working, atomically, each switch an event'
. "$(dirname "$0")/test-lib.sh"

mkdir -p ws && echo a >ws/a && echo b >ws/b &&
# P1 forbids a, P2 forbids b; both allow everything else a shell needs.
for f in a b; do
	cat >forbid-$f.cedar <<EOF
permit (principal, action == Action::"FileOpenReadOnly", resource)
when { resource in [Dir::"/usr/", Dir::"/etc/", Dir::"/proc/", Dir::"/dev/", Dir::"$TRASH/"] };
permit (principal, action == Action::"FileOpen", resource) when { resource in [Dir::"/dev/", Dir::"$TRASH/"] };
permit (principal, action == Action::"ProcessExec", resource) when { resource in Dir::"/usr/" };
@id("no-$f")
forbid (principal, action == Action::"FileOpen", resource) when { resource == File::"$TRASH/ws/$f" };
EOF
done

# start MODE POLICY CMD: a session in the background; sets $leash, $uuid.
start() {
	(cd ws && "$LEASH" --db "$DB" -q --mode "$1" --allow-degraded --policy "../$2" -- sh -c "$3") >out 2>err &
	leash=$!
	for i in $(seq 100); do
		uuid=$(sql "SELECT uuid FROM sessions WHERE ended_ns IS NULL" 2>/dev/null)
		[ -n "$uuid" ] && "$LEASH" ctl --session "$uuid" status >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}

ctl() {
	"$LEASH" ctl --session "$uuid" "$@"
}

# A reader that never stops: one line per attempt, A(llowed) or D(enied).
loop='while [ ! -e ../stop ]; do if cat a >/dev/null 2>&1; then echo A; else echo D; fi; done'

test_expect_success SESSION 'record -> enforce -> shadow while a process keeps running' '
	start record forbid-a.cedar "$loop" &&
	sleep 0.5 && ctl mode enforce && sleep 0.5 && ctl mode shadow && sleep 0.5 &&
	touch stop && wait $leash &&
	test_eq "record enforce shadow" "$(sql "SELECT group_concat(mode, '\'' '\'') FROM (SELECT mode FROM events WHERE resource = '\''File::\"$TRASH/ws/a\"'\'' GROUP BY mode ORDER BY min(seq))")" &&
	grep -q A out && grep -q D out &&
	test_eq "A D A" "$(uniq out | tr "\n" " " | sed "s/ $//")" &&
	test_eq "allow" "$(sql "SELECT group_concat(DISTINCT decision) FROM events WHERE mode = '\''record'\'' AND resource = '\''File::\"$TRASH/ws/a\"'\''")" &&
	test_eq "deny" "$(sql "SELECT group_concat(DISTINCT decision) FROM events WHERE mode = '\''enforce'\'' AND resource = '\''File::\"$TRASH/ws/a\"'\''")" &&
	test_eq "would_deny" "$(sql "SELECT group_concat(DISTINCT decision) FROM events WHERE mode = '\''shadow'\'' AND resource = '\''File::\"$TRASH/ws/a\"'\''")"
'

test_expect_success SESSION 'each switch is an event, and every decision after it carries the new mode' '
	test_eq "record>enforce enforce>shadow" "$(sql "SELECT group_concat(json_extract(details, '\''$.from'\'') || '\''>'\'' || json_extract(details, '\''$.to'\''), '\'' '\'') FROM events WHERE kind = '\''mode.change'\''")" &&
	test_eq 0 "$(sql "SELECT count(*) FROM events e WHERE e.decision IS NOT NULL AND e.mode != coalesce(
		(SELECT json_extract(c.details, '\''$.to'\'') FROM events c WHERE c.kind = '\''mode.change'\'' AND c.seq < e.seq ORDER BY c.seq DESC LIMIT 1), '\''record'\'')")"
'

test_expect_success SESSION 'a policy replaced under load: every decision is wholly the old or the new policy' '
	reset_db && rm -f stop &&
	start enforce forbid-a.cedar "while [ ! -e ../stop ]; do cat a b >/dev/null 2>&1; done; true" &&
	for i in 1 2 3 4 5 6; do
		ctl policy forbid-b.cedar >/dev/null && sleep 0.2 &&
		ctl policy forbid-a.cedar >/dev/null && sleep 0.2 || return 1
	done &&
	touch stop && wait $leash &&
	test_eq 13 "$(sql "SELECT max(json_extract(details, '\''$.policy_generation'\'')) FROM events")" &&
	test_eq 12 "$(sql "SELECT count(*) FROM events WHERE kind = '\''policy.change'\''")" &&
	test "$(sql "SELECT count(*) FROM events WHERE resource LIKE '\''%/ws/_\"'\''")" -ge 24 &&
	test_eq 0 "$(sql "SELECT count(*) FROM events WHERE resource LIKE '\''%/ws/_\"'\'' AND (
		(json_extract(details, '\''$.policy_generation'\'') % 2 = 1) !=
		((resource LIKE '\''%/ws/a\"'\'') = (decision = '\''deny'\'')))")"
'

test_expect_success SESSION 'a policy with errors is refused live with its positions, and the old one stays in force' '
	reset_db && rm -f stop &&
	start enforce forbid-a.cedar "while [ ! -e ../stop ]; do sleep 0.05; done; cat a" &&
	printf "permit (principal, action, resource)\nforbid (principal, action resource);\n" >broken.cedar &&
	test_expect_code 1 ctl policy broken.cedar >ctlout 2>&1 &&
	cat ctlout &&
	grep "1:37" ctlout &&
	grep "2:27" ctlout &&
	touch stop && wait $leash;
	grep "a: Operation not permitted" err &&
	test_eq 0 "$(sql "SELECT count(*) FROM events WHERE kind = '\''policy.change'\''")"
'

test_expect_success SESSION 'enforce needs every action enforced: refused live without --allow-degraded' '
	reset_db && rm -f stop &&
	(cd ws && "$LEASH" --db "$DB" -q --mode record --policy ../forbid-a.cedar -- sh -c "while [ ! -e ../stop ]; do sleep 0.05; done") &
	leash=$! &&
	for i in $(seq 100); do uuid=$(sql "SELECT uuid FROM sessions" 2>/dev/null); [ -n "$uuid" ] && "$LEASH" ctl --session "$uuid" status >/dev/null 2>&1 && break; sleep 0.05; done &&
	if "$LEASH" ctl --session "$uuid" mode enforce >ctlout 2>&1; then
		enforced=yes
	else
		enforced=no
	fi &&
	touch stop && wait $leash &&
	cat ctlout &&
	if test "$(grep -c . ctlout)" -gt 0 && grep -q "nothing in this build enforces" ctlout; then
		test_eq no "$enforced"
	else
		test_eq yes "$enforced" && test_eq 1 "$(sql "SELECT count(*) FROM events WHERE kind = '\''mode.change'\''")"
	fi
'

test_done
