# t/control/lib.sh: helpers for the control server's tests (sourced after
# test-lib.sh).
#
#   control_start [LEASH OPTIONS] -- COMMAND...   leash in the background,
#       recording into $DB, with the token $TOKEN; waits for its run file and
#       sets LEASH_PID, UUID, PORT, BASE (http://127.0.0.1:PORT), RUNFILE.
#       No --listen: the default address, or a free port when another
#       session (a test running in parallel) has it, as users get.
#   control_stop     TERM to leash (forwarded to the command), then wait.
#   api ARGS...      curl with the bearer token, silent, no failure on 4xx.
#   api_status ARGS... prints only the HTTP status code of the request.
#   jq_get JSON EXPR  evaluates a Python expression on the parsed JSON `j`.

TOKEN=leash-test-token-0123456789
BASE= PORT= UUID= LEASH_PID= RUNFILE=
export TOKEN
CONTROL_DIR="$TEST_DIRECTORY/control"
export CONTROL_DIR

command -v curl >/dev/null && test_set_prereq CURL
command -v node >/dev/null && [ -d "$CONTROL_DIR/node_modules/ws" ] && test_set_prereq NODE_WS
[ -x /usr/bin/chromium ] && [ -d "$CONTROL_DIR/node_modules/playwright-core" ] && test_set_prereq CHROMIUM
test_have_prereq SESSION,CURL,PYTHON3 && test_set_prereq CONTROL

# Every leash started here is ended when the script exits, even after a
# failed test skipped its control_stop.
CONTROL_PIDS=
trap 'for p in $CONTROL_PIDS; do kill -TERM $p 2>/dev/null; done' EXIT

control_start() {
	"$LEASH" --db "$DB" -q --token "$TOKEN" "$@" </dev/null >"$TRASH/leash.out" 2>&1 &
	LEASH_PID=$!
	CONTROL_PIDS="$CONTROL_PIDS $LEASH_PID"
	RUNFILE=
	for i in $(seq 400); do
		RUNFILE=$(grep -l "\"pid\": $LEASH_PID," /run/leash/*.json 2>/dev/null | head -n1)
		[ -n "$RUNFILE" ] && break
		is_running $LEASH_PID || break
		sleep 0.05
	done
	if [ -z "$RUNFILE" ]; then
		echo "leash did not start its control server:"
		cat "$TRASH/leash.out"
		return 1
	fi
	PORT=$(sed -n 's/^ *"port": \([0-9]*\).*/\1/p' "$RUNFILE")
	UUID=$(sed -n 's/^ *"uuid": "\([0-9a-f]*\)".*/\1/p' "$RUNFILE")
	BASE=http://127.0.0.1:$PORT
	export LEASH_PID PORT UUID BASE RUNFILE
}

control_stop() {
	kill -TERM "$LEASH_PID" 2>/dev/null
	wait "$LEASH_PID" 2>/dev/null
	return 0
}

api() {
	curl -sS -H "Authorization: Bearer $TOKEN" "$@"
}

api_status() {
	curl -sS -o /dev/null -w '%{http_code}' "$@"
}

jq_get() {
	python3 -c 'import json, sys
j = json.loads(sys.argv[1])
v = eval(sys.argv[2])
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)' "$1" "$2"
}

# wait_for N CMD...: retries CMD every 0.1 s, N times.
wait_for() {
	n=$1
	shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	"$@"
}
