#!/bin/sh
test_description='control server REST API with curl: token, Host and Origin checks, policies (invalid ones change nothing, valid ones are enforced), completion, mode, add-from-event, events pagination'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/control/lib.sh"

# The agent opens ./secret each time ./go appears and writes whether it
# could into ./result, so a test can make a real access on demand.
AGENT='while :; do if [ -e go ]; then rm -f go; if cat secret >/dev/null 2>&1; then r=allowed; else r=denied; fi; if /bin/echo hi >/dev/null 2>&1; then e=ran; else e=refused; fi; echo "$r $e" >result.tmp; mv result.tmp result; fi; sleep 0.05; done'

probe() {
	rm -f result &&
	touch go &&
	wait_for 100 test -e result &&
	cat result
}

ALL='permit (principal, action in [Action::"FileOpen", Action::"ProcessExec", Action::"NetworkConnect"], resource);'
cat >p1.cedar <<EOF
$ALL
forbid (principal, action == Action::"FileOpen", resource == File::"$TRASH/secret");
EOF
cat >bad.cedar <<EOF
$ALL
permit (principal, action == Action::"FileOpen" resource);
forbid (principal, action == Action::"Nope", resource);
EOF
echo "$ALL" >p2.cedar
echo top-secret >secret

test_expect_success CONTROL 'leash starts with a control server and a root-only run file' '
	control_start --mode enforce --policy p1.cedar -- sh -c "$AGENT" &&
	test "$(stat -c %a "$RUNFILE")" = 600 &&
	test "$(stat -c %U "$RUNFILE")" = root &&
	grep "\"token\": \"$TOKEN\"" "$RUNFILE" &&
	test_eq "denied ran" "$(probe)"
'

test_expect_success CONTROL 'no token, a wrong token: 401 with a JSON error' '
	test_eq 401 "$(api_status "$BASE/api/status")" &&
	test_eq 401 "$(api_status -H "Authorization: Bearer wrong-token-0123456789" "$BASE/api/status")" &&
	test_eq 401 "$(api_status -X POST -d enforce "$BASE/api/mode")" &&
	out=$(curl -sS "$BASE/api/policies") &&
	test_eq unauthorized "$(jq_get "$out" "j[\"error\"][\"code\"]")" &&
	test_eq 401 "$(api_status "$BASE/")"
'

test_expect_success CONTROL 'the bearer token works; no Access-Control-Allow-Origin is ever sent' '
	api -D headers "$BASE/api/status" >status.json &&
	test_eq enforce "$(jq_get "$(cat status.json)" "j[\"mode\"]")" &&
	test_eq "$UUID" "$(jq_get "$(cat status.json)" "j[\"session\"][\"uuid\"]")" &&
	! grep -i access-control headers &&
	api -D headers2 -H "Origin: http://evil.example" "$BASE/api/status" >/dev/null &&
	! grep -i access-control headers2
'

test_expect_success CONTROL 'a foreign Host (DNS rebinding) is refused' '
	test_eq 403 "$(api_status -H "Authorization: Bearer $TOKEN" -H "Host: evil.example:$PORT" "$BASE/api/status")"
'

test_expect_success CONTROL 'a wrong Origin is refused for changes and the mode stays' '
	test_eq 403 "$(api_status -X POST -H "Authorization: Bearer $TOKEN" -H "Origin: http://evil.example" -d record "$BASE/api/mode")" &&
	test_eq 403 "$(api_status -X POST -H "Authorization: Bearer $TOKEN" -H "Origin: http://127.0.0.1:1" --data-binary @p2.cedar "$BASE/api/policies")" &&
	test_eq enforce "$(jq_get "$(api "$BASE/api/mode")" "j[\"mode\"]")"
'

test_expect_success CONTROL 'the URL token becomes an HttpOnly SameSite=Strict cookie; cookie changes need our Origin' '
	curl -sS -D h -o /dev/null "$BASE/?token=$TOKEN" &&
	grep "^HTTP/1.1 303" h &&
	grep -i "^Location: /\s*$" h &&
	grep -i "^Set-Cookie: leash_$PORT=$TOKEN; Path=/; HttpOnly; SameSite=Strict" h &&
	c="Cookie: leash_$PORT=$TOKEN" &&
	test_eq 200 "$(api_status -H "$c" "$BASE/api/status")" &&
	test_eq 200 "$(api_status -H "$c" "$BASE/")" &&
	test_eq 403 "$(api_status -H "$c" -X POST -d enforce "$BASE/api/mode")" &&
	test_eq 200 "$(api_status -H "$c" -H "Origin: http://127.0.0.1:$PORT" -X POST -d enforce "$BASE/api/mode")"
'

test_expect_success CONTROL 'an invalid policy: 400 with every error and its position, nothing changed' '
	gen=$(jq_get "$(api "$BASE/api/policies")" "j[\"generation\"]") &&
	out=$(api -w "\n%{http_code}" -X POST -H "Content-Type: text/plain" --data-binary @bad.cedar "$BASE/api/policies") &&
	test_eq 400 "$(echo "$out" | tail -n1)" &&
	body=$(echo "$out" | sed \$d) &&
	test_eq policy.invalid "$(jq_get "$body" "j[\"error\"][\"code\"]")" &&
	test_eq 2 "$(jq_get "$body" "j[\"error\"][\"line\"]")" &&
	test_eq 49 "$(jq_get "$body" "j[\"error\"][\"column\"]")" &&
	test_eq "[2, 49]" "$(jq_get "$body" "[j[\"error\"][\"errors\"][0][k] for k in (\"line\", \"column\")]")" &&
	test_eq "$gen" "$(jq_get "$(api "$BASE/api/policies")" "j[\"generation\"]")" &&
	grep -q "forbid" <<-EOF2
	$(jq_get "$(api "$BASE/api/policies")" "j[\"cedar\"]")
	EOF2
'

test_expect_success CONTROL 'after the invalid policy the old one is still enforced (a real access)' '
	test_eq "denied ran" "$(probe)"
'

test_expect_success CONTROL 'an empty policy (a missing file in a curl command) is refused' '
	out=$(api -X POST --data-binary "" "$BASE/api/policies") &&
	test_eq policy.empty "$(jq_get "$out" "j[\"error\"][\"code\"]")" &&
	test_eq "denied ran" "$(probe)"
'

test_expect_success CONTROL 'the seed'\''s curl example applies a valid policy, and it is enforced' '
	out=$(curl -sS -X POST -H "Authorization: Bearer $TOKEN" -H "Content-Type: text/plain" --data-binary @p2.cedar "$BASE/api/policies") &&
	test_eq true "$(jq_get "$out" "j[\"applied\"]")" &&
	test_eq "allowed ran" "$(probe)"
'

test_expect_success CONTROL 'JSON {"cedar": ...} is accepted too' '
	body=$(python3 -c "import json,sys; print(json.dumps({\"cedar\": open(\"p1.cedar\").read()}))") &&
	test_eq 200 "$(api_status -H "Authorization: Bearer $TOKEN" -X POST -H "Content-Type: application/json" -d "$body" "$BASE/api/policies")" &&
	test_eq "denied ran" "$(probe)"
'

test_expect_success CONTROL 'validate reports errors and warnings with positions and applies nothing' '
	gen=$(jq_get "$(api "$BASE/api/policies")" "j[\"generation\"]") &&
	out=$(api -X POST --data-binary @bad.cedar "$BASE/api/policies/validate") &&
	test_eq false "$(jq_get "$out" "j[\"valid\"]")" &&
	test_eq 2 "$(jq_get "$out" "j[\"errors\"][0][\"line\"]")" &&
	out=$(api -X POST --data-binary @p2.cedar "$BASE/api/policies/validate") &&
	test_eq true "$(jq_get "$out" "j[\"valid\"]")" &&
	test_eq "$gen" "$(jq_get "$(api "$BASE/api/policies")" "j[\"generation\"]")"
'

complete() {
	api -X POST -H "Content-Type: application/json" \
		-d "{\"cedar\": \"$1\", \"cursor\": {\"line\": $2, \"column\": $3}}" \
		"$BASE/api/policies/complete"
}

test_expect_success CONTROL 'completion at several cursor positions' '
	out=$(complete "" 1 1) &&
	test_eq true "$(jq_get "$out" "\"permit\" in [i[\"label\"] for i in j[\"items\"]]")" &&
	out=$(complete "permit (principal, action == Action::\\\"" 1 39) &&
	test_eq true "$(jq_get "$out" "\"Action::\\\"ProcessExec\\\"\" in [i[\"label\"] for i in j[\"items\"]]")" &&
	test_eq true "$(jq_get "$out" "all(i[\"kind\"] == \"action\" for i in j[\"items\"])")" &&
	test_eq 1 "$(jq_get "$out" "j[\"items\"][0][\"range\"][\"start\"][\"line\"]")" &&
	out=$(complete "permit (principal, action, resource in " 1 40) &&
	test_eq true "$(jq_get "$out" "\"Dir::\\\"\" in [i[\"label\"] for i in j[\"items\"]]")" &&
	test_eq true "$(jq_get "$out" "any(i[\"kind\"] == \"resource\" and \"/usr/bin/\" in i[\"label\"] for i in j[\"items\"])")" &&
	out=$(complete "permit (principal, action, resource)\\nwhen { context." 2 16) &&
	test_eq true "$(jq_get "$out" "\"header\" in [i[\"label\"] for i in j[\"items\"]]")"
'

test_expect_success CONTROL 'mode: enforce, record, and the refusal message of an impossible mode' '
	test_eq record "$(jq_get "$(api -X POST -d record "$BASE/api/mode")" "j[\"mode\"]")" &&
	test_eq record "$(jq_get "$(api "$BASE/api/status")" "j[\"mode\"]")" &&
	test_eq "allowed ran" "$(probe)" &&
	test_eq 400 "$(api_status -H "Authorization: Bearer $TOKEN" -X POST -d sideways "$BASE/api/mode")" &&
	test_eq enforce "$(jq_get "$(api -X POST -H "Content-Type: application/json" -d "{\"mode\":\"enforce\"}" "$BASE/api/mode")" "j[\"mode\"]")" &&
	test_eq "denied ran" "$(probe)"
'

test_expect_success CONTROL 'mode changes appear as events in the API' '
	wait_for 30 sh -c "curl -sS -H \"Authorization: Bearer $TOKEN\" \"$BASE/api/events?kind=mode.change\" | grep -q \"\\\"to\\\":\\\"enforce\\\"\""
'

test_expect_success CONTROL 'add-from-event: "deny this" on an exec denies the next one' '
	ev=$(api "$BASE/api/events?kind=process.exec&q=/echo&decision=allow&limit=1") &&
	seq=$(jq_get "$ev" "j[\"events\"][0][\"seq\"]") &&
	res=$(jq_get "$ev" "j[\"events\"][0][\"resource\"]") &&
	case "$res" in File::\"*/bin/echo\") ;; *) false ;; esac &&
	res="File::\"$(readlink -f /bin/echo)\"" &&
	out=$(api -X POST -H "Content-Type: application/json" -d "{\"seq\": $seq, \"effect\": \"forbid\", \"apply\": false}" "$BASE/api/policies/add-from-event") &&
	test_eq false "$(jq_get "$out" "j[\"applied\"]")" &&
	test_eq "forbid (principal, action == Action::\"ProcessExec\", resource == $res);" "$(jq_get "$out" "j[\"statement\"]")" &&
	out=$(api -X POST -H "Content-Type: application/json" -d "{\"seq\": $seq, \"effect\": \"forbid\"}" "$BASE/api/policies/add-from-event") &&
	test_eq true "$(jq_get "$out" "j[\"applied\"]")" &&
	test_eq "denied refused" "$(probe)"
'

test_expect_success CONTROL 'add-from-event with the parent scope proposes the directory' '
	ev=$(api "$BASE/api/events?kind=process.exec&q=/echo&decision=allow&limit=1") &&
	seq=$(jq_get "$ev" "j[\"events\"][0][\"seq\"]") &&
	dir=$(dirname "$(readlink -f /bin/echo)")/ &&
	out=$(api -X POST -H "Content-Type: application/json" -d "{\"seq\": $seq, \"effect\": \"permit\", \"scope\": \"parent\", \"apply\": false}" "$BASE/api/policies/add-from-event") &&
	test_eq "permit (principal, action == Action::\"ProcessExec\", resource in Dir::\"$dir\");" "$(jq_get "$out" "j[\"statement\"]")" &&
	test_eq 404 "$(api_status -H "Authorization: Bearer $TOKEN" -X POST -H "Content-Type: application/json" -d "{\"seq\": 99999999, \"effect\": \"permit\"}" "$BASE/api/policies/add-from-event")"
'

test_expect_success CONTROL 'GET /api/sessions lists this session as current' '
	out=$(api "$BASE/api/sessions") &&
	test_eq true "$(jq_get "$out" "[s[\"current\"] for s in j[\"sessions\"] if s[\"uuid\"] == \"$UUID\"][0]")"
'

test_expect_success CONTROL 'GET /api/policies/synthesized: this session as a policy leash accepts, nothing applied' '
	gen=$(jq_get "$(api "$BASE/api/policies")" "j[\"generation\"]") &&
	out=$(api "$BASE/api/policies/synthesized?collapse=0") &&
	test_eq "$UUID" "$(jq_get "$out" "j[\"session\"]")" &&
	jq_get "$out" "j[\"cedar\"]" >synth.cedar &&
	grep "from session $UUID" synth.cedar &&
	grep "File::\"$(readlink -f /bin/echo)\"" synth.cedar &&
	"$LEASH" policy check synth.cedar &&
	test_eq "$gen" "$(jq_get "$(api "$BASE/api/policies")" "j[\"generation\"]")" &&
	test_eq 400 "$(api_status -H "Authorization: Bearer $TOKEN" "$BASE/api/policies/synthesized?session=0000ffff")" &&
	test_eq 400 "$(api_status -H "Authorization: Bearer $TOKEN" "$BASE/api/policies/synthesized?collapse=x")" &&
	test_eq 401 "$(api_status "$BASE/api/policies/synthesized")"
'

test_expect_success CONTROL 'the run file is removed when leash exits' '
	control_stop &&
	test ! -e "$RUNFILE"
'

test_expect_success CONTROL '--listen "" runs no server and writes no run file' '
	"$LEASH" --db "$DB" -q --listen "" -- sh -c "ls /run/leash/ 2>/dev/null | wc -l > inside; sleep 0.3" &
	pid=$! &&
	sleep 0.15 &&
	! grep -l "\"pid\": $pid," /run/leash/*.json 2>/dev/null &&
	wait $pid
'

test_expect_success CONTROL 'the agent sees no run files (masked) and cannot connect to the server' '
	# The port is chosen here: the command is written before leash starts,
	# and the default port may be another session'"'"'s (tests run in parallel).
	own=$(python3 -c "import socket; s = socket.socket(); s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1])") &&
	control_start --listen 127.0.0.1:$own -- sh -c "ls -A /run/leash | wc -l >inside; curl -s -m 10 --noproxy \"*\" -o /dev/null http://127.0.0.1:$own/ ; echo \$? >curl-rc; curl -s -m 10 -o proxied -w \"%{http_code}\" http://127.0.0.1:$own/api/status >proxied-code; sleep 1" &&
	test_eq "$own" "$PORT" &&
	wait_for 300 test -s proxied-code &&
	test_eq 0 "$(cat inside)" &&
	test_eq 7 "$(cat curl-rc)" &&
	test_eq 403 "$(cat proxied-code)" &&
	grep "leash'\''s own endpoint" proxied &&
	control_stop
'

# 10,000 distinct files opened: one file.open event each.
test_expect_success CONTROL 'pagination walks 10,000+ events newest first, each once' '
	reset_db &&
	mkdir many && (cd many && seq 10000 | xargs touch) &&
	control_start -- sh -c "for f in many/*; do : <\$f; done; touch done; sleep 3600" &&
	wait_for 600 test -e done &&
	wait_for 50 sh -c "test \$(sqlite3 \"$DB\" \"SELECT count(*) FROM events WHERE kind = '\''file.open'\''\") -ge 10000" &&
	python3 "$CONTROL_DIR/paginate.py" "$BASE" "$TOKEN" >pages &&
	total=$(sql "SELECT count(*) FROM events e JOIN sessions s ON s.id = e.session WHERE s.uuid = \"$UUID\" AND e.seq <= $(head -n1 pages)") &&
	test_eq "$total" "$(sed -n 2p pages)" &&
	test "$total" -ge 10000 &&
	test_eq 10000 "$(sed -n 3p pages)" &&
	control_stop
'

test_done
