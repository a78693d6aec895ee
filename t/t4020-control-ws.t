#!/bin/sh
test_description='control server WebSocket stream with a real client (node ws): auth and Origin, backlog then live events in order, heartbeats, a slow client loses its own oldest events and never slows the agent'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/control/lib.sh"

test_have_prereq CONTROL,NODE_WS && test_set_prereq WS

client() {
	node "$CONTROL_DIR/ws-client.js" "$@"
}

# client_bg ARGS... >FILE: the client in the background; its pid in CPID.
client_bg() {
	client "$@" &
	CPID=$!
}

# Waits for ./go, runs true 20 times and echo once (the marker), then
# opens every file under many/ (one event each), then touches ./done.
AGENT='until [ -e go ]; do sleep 0.05; done; for i in $(seq 20); do /usr/bin/true; done; /bin/echo marker; if [ -d many ]; then for f in many/*; do : <$f; done; fi; touch done; sleep 3600'

test_expect_success WS 'the stream refuses a missing token (401) and a foreign Origin (403)' '
	LEASH_CONTROL_HEARTBEAT_MS=200 &&
	export LEASH_CONTROL_HEARTBEAT_MS &&
	control_start -- sh -c "$AGENT" &&
	WS=ws://127.0.0.1:$PORT &&
	test_expect_code 2 client "$WS/api" >out &&
	grep "\"refused\":401" out &&
	test_expect_code 2 client "$WS/api" --token "$TOKEN" --origin http://evil.example >out &&
	grep "\"refused\":403" out &&
	test_eq 426 "$(api_status -H "Authorization: Bearer $TOKEN" "$BASE/api")"
'

test_expect_success WS 'backlog first, then live events, in order' '
	client_bg "$WS/api" --token "$TOKEN" --origin "http://127.0.0.1:$PORT" \
		--ready hello.ready --until-text "\"marker\"" >frames &&
	wait_for 100 test -e hello.ready &&
	touch go &&
	wait $CPID &&
	test_eq 20 "$(python3 "$CONTROL_DIR/check-stream.py" frames order)"
'

test_expect_success WS 'heartbeats carry last_seq, uptime, mode and the drop count' '
	client "$WS/api/events/stream" --token "$TOKEN" --heartbeats 2 --timeout 10000 >beats &&
	test_eq 2 "$(python3 "$CONTROL_DIR/check-stream.py" beats heartbeat)"
'

test_expect_success WS 'a client can skip the backlog and resume after a seq' '
	last=$(jq_get "$(api "$BASE/api/status")" "j[\"last_seq\"]") &&
	client "$WS/api?since=$((last - 3))" --token "$TOKEN" --heartbeats 1 >resume &&
	test_eq 3 "$(python3 -c "import json; print(sum(1 for l in open(\"resume\") if \"seq\" in json.loads(l)))")" &&
	client "$WS/api?backlog=0" --token "$TOKEN" --heartbeats 1 >none &&
	test_eq 0 "$(python3 -c "import json; print(json.loads(open(\"none\").readline())[\"backlog\"])")" &&
	control_stop
'

test_expect_success WS 'a client that does not read loses its oldest events, is told, and the agent never waits' '
	rm -f go done hello.ready reading &&
	mkdir many && (cd many && seq 40000 | xargs touch) &&
	control_start -- sh -c "$AGENT" &&
	WS=ws://127.0.0.1:$PORT &&
	client_bg "$WS/api" --token "$TOKEN" --ready hello.ready --pause-until reading \
		--heartbeats 2 --timeout 60000 >slow &&
	wait_for 100 test -e hello.ready &&
	touch go &&
	wait_for 3000 test -e done &&
	touch reading &&
	wait $CPID &&
	test "$(python3 "$CONTROL_DIR/check-stream.py" slow dropped)" -gt 0 &&
	test "$(jq_get "$(api "$BASE/api/status")" "j[\"stream\"][\"dropped\"]")" -gt 0 &&
	control_stop
'

test_done
