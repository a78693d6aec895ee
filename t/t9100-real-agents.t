#!/bin/sh
test_description='real AI coding agents (Claude Code, Codex) under leash in enforce mode: their tools run in the sandbox, the policy denies, the API key stays a placeholder'
. "$(dirname "$0")/test-lib.sh"

# The agents are the real CLIs, pinned in t/agents/package-lock.json
# (scripts/install-deps runs npm ci there). The one stand-in is the model:
# t/agents/fake-llm.mjs speaks the providers' APIs over HTTPS with a
# certificate for api.anthropic.test / api.openai.test signed by a test CA
# the agents do not know: they reach it only through leash's proxy, which
# intercepts TLS with leash's CA and verifies the upstream against the test
# CA (--upstream-ca).
AGENTS=$TEST_DIRECTORY/agents
CLAUDE=$AGENTS/node_modules/.bin/claude
CODEX=$AGENTS/node_modules/.bin/codex
GEMINI=$AGENTS/node_modules/.bin/gemini
command -v node >/dev/null && test_set_prereq NODE
command -v openssl >/dev/null && test_set_prereq OPENSSL
"$CLAUDE" --version >/dev/null 2>&1 && test_set_prereq CLAUDE
"$CODEX" --version >/dev/null 2>&1 && test_set_prereq CODEX
"$GEMINI" --version >/dev/null 2>&1 && test_set_prereq GEMINI

# The agent's home sits outside the sandbox's writable directories (/tmp,
# where $TRASH is, is writable by the default policy), as a user's does.
AHOME=$(mktemp -d /var/lib/leash-t9100-home.XXXXXX) || exit 1
chmod 755 "$AHOME"
mkdir -p ws certs
echo "the-forbidden-contents" >ws/secret.txt
REAL_KEY=sk-ant-real-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
REAL_OPENAI_KEY=sk-openai-real-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
REAL_GEMINI_KEY=gemini-real-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
export ANTHROPIC_API_KEY=$REAL_KEY OPENAI_API_KEY=$REAL_OPENAI_KEY CODEX_API_KEY=$REAL_OPENAI_KEY
export GEMINI_API_KEY=$REAL_GEMINI_KEY

SERVER=
cleanup() {
	[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null
	rm -rf "$AHOME"
}
trap cleanup EXIT

# What the fake model has the agent run: a read the policy forbids, a
# write in the workspace, what the agent holds in its API key variables,
# and a try at the real keys in the environment of the sandbox's init (a
# clone of leash, which holds them).
TOOL_CMD='cat secret.txt; echo hi > out.txt; echo "anthropic=$ANTHROPIC_API_KEY openai=$OPENAI_API_KEY codex=$CODEX_API_KEY gemini=$GEMINI_API_KEY"; cat /proc/1/environ'

(cd certs &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
		-subj "/CN=leash t9100 CA" -keyout ca.key -out ca.pem &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=api.anthropic.test" \
		-keyout server.key -out server.csr &&
	printf 'subjectAltName=DNS:api.anthropic.test,DNS:api.openai.test,DNS:api.gemini.test\nextendedKeyUsage=serverAuth\n' >ext.cnf &&
	openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
		-extfile ext.cnf -out server.pem) >certs.out 2>&1
node "$AGENTS/fake-llm.mjs" --log "$TRASH/api.log" --command "$TOOL_CMD" \
	--cert certs/server.pem --key certs/server.key >server.out 2>&1 &
SERVER=$!
for i in $(seq 50); do
	grep -q ready server.out && break
	sleep 0.1
done
PORT=$(sed -n 's/^ready //p' server.out)

test_expect_success NODE,OPENSSL 'the fake model API listens, over HTTPS with a certificate of a test CA' '
	test -n "$PORT" &&
	curl -sS --cacert certs/ca.pem --resolve api.anthropic.test:$PORT:127.0.0.1 \
		-d "{\"messages\": []}" https://api.anthropic.test:$PORT/v1/messages >out &&
	grep "\"text\":\"All done.\"" out && : >api.log
'

# The policy: leash's default for this workspace and home, plus the agent's
# own installation, and one file it must not read.
# The home leash fills in is the invoking user's (identity.c): the test
# moves every rule about it to the agent's home.
REAL_HOME=$(getent passwd "${SUDO_UID:-$(id -u)}" | cut -d: -f6)
# Connections: the model APIs only, instead of the default's anywhere, so
# nothing the agents try on the side (telemetry, update checks) leaves the
# machine: the proxy answers 403 without dialing, the DNS forwarder NXDOMAIN.
(cd ws && "$LEASH" policy default) | sed "s|\"${REAL_HOME:?}/|\"$AHOME/|g" |
	sed '/^@id("connect-anywhere")$/,/^$/d' >policy.cedar
cat >>policy.cedar <<EOF

@id("model-apis")
permit (principal, action == Action::"NetworkConnect", resource)
when { resource in [Host::"api.anthropic.test", Host::"api.openai.test", Host::"api.gemini.test"] };

@id("agents-installed")
permit (principal, action in [Action::"FileOpenReadOnly", Action::"ProcessExec"], resource)
when { resource in Dir::"$AGENTS/" };

@id("no-secret-file")
forbid (principal, action == Action::"FileOpen", resource == File::"$TRASH/ws/secret.txt");
EOF

# lrun ARGS...: leash in enforce mode from the workspace, the agent's API
# hosts pinned to the fake server, its keys given as secrets.
lrun() {
	(cd ws && leash_run --mode enforce --policy ../policy.cedar --listen '' \
		--upstream-ca ../certs/ca.pem --proxy-ports 80,443,$PORT \
		--resolve api.anthropic.test=127.0.0.1 --resolve api.openai.test=127.0.0.1 \
		--resolve api.gemini.test=127.0.0.1 \
		--secret ANTHROPIC_API_KEY=api.anthropic.test --secret OPENAI_API_KEY=api.openai.test \
		--secret CODEX_API_KEY=api.openai.test --secret GEMINI_API_KEY=api.gemini.test \
		-e HOME="$AHOME" -e DISABLE_AUTOUPDATER=1 -e CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 \
		-e ANTHROPIC_BASE_URL="https://api.anthropic.test:$PORT" \
		"$@" 2>../leash.err)
}
# requests PATH: the JSON lines the fake API logged for PATH, in order
requests() {
	grep "\"url\":\"$1" api.log
}
# only_api HOST: every HTTP request the agent made elsewhere was denied
only_api() {
	test_eq 0 "$(sql "SELECT count(*) FROM events WHERE kind = \"http.request\" AND decision <> \"deny\" AND json_extract(details, \"\$.host\") <> \"$1\"")"
}
row() {
	sql "SELECT decision || ' ' || policies FROM events WHERE kind = '$1' AND resource = '$2' ORDER BY session DESC, seq DESC LIMIT 1"
}

test_expect_success SESSION,SQLITE3,NODE,CLAUDE 'claude starts under leash in enforce mode' '
	lrun -- "$CLAUDE" --version >out &&
	grep "(Claude Code)" out &&
	# allowed by agents-installed (and by run-programs too when the checkout
	# lives under /tmp or the home, as a CI clone may)
	row process.exec "File::\"$CLAUDE\"" | grep "^allow \[.*\"agents-installed\".*\]$"
'

test_expect_success SESSION,SQLITE3,NODE,CLAUDE 'claude -p runs its Bash tool in the sandbox: the write lands, the forbidden read is EPERM' '
	reset_db && : >api.log &&
	lrun -- "$CLAUDE" -p "Run the test command." --output-format json --allowedTools Bash </dev/null >claude.json ||
	{ cat claude.json leash.err; false; } &&
	test_eq "All done." "$(node -e "console.log(JSON.parse(require(\"fs\").readFileSync(\"claude.json\")).result)")" &&
	test_eq hi "$(cat ws/out.txt)" &&
	requests /v1/messages >messages.log &&
	test_eq 2 "$(grep -c . messages.log)" &&
	sed -n 2p messages.log | node -e "
		const r = JSON.parse(require(\"fs\").readFileSync(0));
		const res = r.body.messages.flatMap(m => Array.isArray(m.content) ? m.content : [])
			.find(c => c.type === \"tool_result\");
		console.log(typeof res.content === \"string\" ? res.content : res.content.map(c => c.text).join(\"\"));
	" >tool_result &&
	cat tool_result &&
	grep "secret.txt: Operation not permitted" tool_result &&
	! grep the-forbidden-contents tool_result &&
	test_eq "deny [\"no-secret-file\"]" "$(row file.open "File::\"$TRASH/ws/secret.txt\"")"
'

test_expect_success SESSION,SQLITE3,NODE,CLAUDE 'the process tree: claude ran the tool command in a bash of its own, every exec allowed' '
	CLAUDE_PID=$(sql "SELECT pid FROM events WHERE kind = \"process.exec\" AND exe = \"$CLAUDE\" AND decision = \"allow\" AND policies LIKE \"%\"\"agents-installed\"\"%\"") &&
	test -n "$CLAUDE_PID" &&
	TOOL_BASH=$(sql "SELECT pid FROM events WHERE kind = \"process.exec\" AND ppid = $CLAUDE_PID AND exe LIKE \"%/bin/bash\" AND json_extract(details, \"\$.argv[2]\") LIKE \"%cat secret.txt; echo hi > out.txt%\"") &&
	test -n "$TOOL_BASH" &&
	test_eq "allow [\"run-programs\"]" "$(sql "SELECT decision || \" \" || policies FROM events WHERE kind = \"process.exec\" AND ppid = $TOOL_BASH AND json_extract(details, \"\$.argv\") = json_array(\"cat\", \"secret.txt\")")" &&
	test_eq 0 "$(sql "SELECT count(*) FROM events WHERE kind = \"process.exec\" AND decision <> \"allow\"")"
'

test_expect_success SESSION,SQLITE3,NODE,CLAUDE 'the default policy lets claude work: the forbidden read is its only file or exec denial, its settings are saved, no request left but to the API' '
	test_eq "File::\"$TRASH/ws/secret.txt\"" "$(sql "SELECT group_concat(resource) FROM events WHERE decision <> \"allow\" AND kind IN (\"file.open\", \"process.exec\")")" &&
	only_api api.anthropic.test &&
	grep "\"userID\"" "$AHOME/.claude.json"
'

test_expect_success SESSION,SQLITE3,NODE,CLAUDE 'the API key: the agent holds a placeholder, the fake API got the real key, over leash'"'"'s TLS' '
	grep "^anthropic=leash-placeholder-" tool_result &&
	grep "/proc/1/environ: Permission denied" tool_result &&
	! grep "$REAL_KEY" tool_result &&
	requests /v1/messages | node -e "
		for (const l of require(\"fs\").readFileSync(0, \"utf8\").trim().split(\"\\n\"))
			console.log(JSON.parse(l).headers[\"x-api-key\"]);
	" >keys &&
	test_eq "$REAL_KEY $REAL_KEY" "$(echo $(cat keys))" &&
	sql "SELECT decision || \" \" || json_extract(details, \"\$.method\") || \" \" || json_extract(details, \"\$.status\") || \" \" || json_extract(details, \"\$.header_rules\")
		FROM events WHERE kind = \"http.request\" AND json_extract(details, \"\$.host\") = \"api.anthropic.test\" AND json_extract(details, \"\$.path\") LIKE \"/v1/messages%\"" >http &&
	cat http &&
	test_eq 2 "$(grep -c "^allow POST 200 \[\"secret:ANTHROPIC_API_KEY\"\]$" http)" &&
	sqlite3 "$DB" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null &&
	test_eq 0 "$(cat "$DB"* leash.err | grep -a -c "$REAL_KEY")"
'

# Codex: its own provider entry for the fake API (what codex's docs give
# for any Responses endpoint), keyed by OPENAI_API_KEY, which leash turns
# into a placeholder. The model name picks codex's classic tool set
# (exec_command); its own sandbox is off: leash is the sandbox.
codex_run() {
	lrun -- "$CODEX" exec --json --skip-git-repo-check --dangerously-bypass-approvals-and-sandbox \
		-m gpt-4.1 -c model_provider=fake \
		-c "model_providers.fake={name=\"fake\", base_url=\"https://api.openai.test:$PORT/v1\", env_key=\"OPENAI_API_KEY\", wire_api=\"responses\"}" \
		"$@"
}

test_expect_success SESSION,SQLITE3,NODE,CODEX 'codex exec runs its shell tool in the sandbox: the write lands, the forbidden read is EPERM' '
	reset_db && : >api.log && rm -f ws/out.txt &&
	codex_run "Run the test command." </dev/null >codex.jsonl ||
	{ cat codex.jsonl leash.err; false; } &&
	grep "\"type\":\"agent_message\",\"text\":\"All done.\"" codex.jsonl &&
	test_eq hi "$(cat ws/out.txt)" &&
	requests /v1/responses >responses.log &&
	test_eq 2 "$(grep -c . responses.log)" &&
	sed -n 2p responses.log | node -e "
		const r = JSON.parse(require(\"fs\").readFileSync(0));
		console.log(r.body.input.find(i => i.type === \"function_call_output\").output);
	" >codex_result &&
	cat codex_result &&
	grep "secret.txt: Operation not permitted" codex_result &&
	! grep the-forbidden-contents codex_result &&
	test_eq "deny [\"no-secret-file\"]" "$(row file.open "File::\"$TRASH/ws/secret.txt\"")" &&
	test_eq "File::\"$TRASH/ws/secret.txt\"" "$(sql "SELECT group_concat(resource) FROM events WHERE decision <> \"allow\" AND kind IN (\"file.open\", \"process.exec\")")" &&
	only_api api.openai.test
'

test_expect_success SESSION,SQLITE3,NODE,CODEX 'codex: the fake API got the real key, the agent and its tool only a placeholder' '
	grep "openai=leash-placeholder-" codex_result &&
	! grep "$REAL_OPENAI_KEY" codex_result codex.jsonl &&
	requests /v1/responses | node -e "
		for (const l of require(\"fs\").readFileSync(0, \"utf8\").trim().split(\"\\n\"))
			console.log(JSON.parse(l).headers.authorization);
	" >keys &&
	test_eq "Bearer $REAL_OPENAI_KEY Bearer $REAL_OPENAI_KEY" "$(echo $(cat keys))" &&
	test_eq 2 "$(sql "SELECT count(*) FROM events WHERE kind = \"http.request\" AND decision = \"allow\" AND json_extract(details, \"\$.host\") = \"api.openai.test\" AND json_extract(details, \"\$.status\") = 200 AND json_extract(details, \"\$.header_rules\") = json_array(\"secret:OPENAI_API_KEY\")")" &&
	sqlite3 "$DB" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null &&
	test_eq 0 "$(cat "$DB"* leash.err | grep -a -c "$REAL_OPENAI_KEY")"
'

# Codex as it comes: the built-in OpenAI provider (only its address moved,
# openai_base_url), the key in CODEX_API_KEY, and its default transport, a
# WebSocket to /v1/responses, relayed by the proxy after the 101.
test_expect_success SESSION,SQLITE3,NODE,CODEX 'codex over its WebSocket transport: the tool runs, the upgrade carried the real key' '
	reset_db && : >api.log && rm -f ws/out.txt &&
	lrun -- "$CODEX" exec --json --skip-git-repo-check --dangerously-bypass-approvals-and-sandbox \
		-m gpt-4.1 -c "openai_base_url=\"https://api.openai.test:$PORT/v1\"" \
		"Run the test command." </dev/null >codex-ws.jsonl ||
	{ cat codex-ws.jsonl leash.err; false; } &&
	grep "\"type\":\"agent_message\",\"text\":\"All done.\"" codex-ws.jsonl &&
	test_eq hi "$(cat ws/out.txt)" &&
	requests /v1/responses | node -e "
		for (const l of require(\"fs\").readFileSync(0, \"utf8\").trim().split(\"\\n\")) {
			const r = JSON.parse(l);
			const out = (Array.isArray(r.body.input) ? r.body.input : []).find(i => i.type === \"function_call_output\");
			console.log(r.method, r.headers.authorization, out ? JSON.stringify(out.output) : \"-\");
		}
	" >ws-requests &&
	cat ws-requests &&
	test_eq "GET Bearer $REAL_OPENAI_KEY -" "$(sed -n 1p ws-requests)" &&
	grep "^WS Bearer $REAL_OPENAI_KEY .*secret.txt: Operation not permitted.*codex=leash-placeholder-" ws-requests &&
	! grep -e "$REAL_OPENAI_KEY" codex-ws.jsonl &&
	test_eq "allow GET 101 [\"secret:CODEX_API_KEY\"]" "$(sql "SELECT decision || \" \" || json_extract(details, \"\$.method\") || \" \" || json_extract(details, \"\$.status\") || \" \" || json_extract(details, \"\$.header_rules\") FROM events WHERE kind = \"http.request\" AND json_extract(details, \"\$.host\") = \"api.openai.test\"")" &&
	test_eq "File::\"$TRASH/ws/secret.txt\"" "$(sql "SELECT group_concat(resource) FROM events WHERE decision <> \"allow\" AND kind IN (\"file.open\", \"process.exec\")")" &&
	only_api api.openai.test
'

# Gemini CLI: a node program (the exec rows show node running it), which
# takes leash's HTTPS_PROXY. The API key auth is chosen in its settings;
# the workspace is trusted by variable (else it turns --yolo off).
test_expect_success SESSION,SQLITE3,NODE,GEMINI 'gemini -p runs its shell tool in the sandbox: the write lands, the forbidden read is EPERM, the key a placeholder' '
	reset_db && : >api.log && rm -f ws/out.txt &&
	mkdir -p "$AHOME/.gemini" &&
	echo "{\"security\": {\"auth\": {\"selectedType\": \"gemini-api-key\"}}}" >"$AHOME/.gemini/settings.json" &&
	lrun -e GOOGLE_GEMINI_BASE_URL="https://api.gemini.test:$PORT" -e GEMINI_CLI_TRUST_WORKSPACE=true \
		-- "$GEMINI" -p "Run the test command." --yolo --output-format json </dev/null >gemini.json ||
	{ cat gemini.json leash.err; false; } &&
	test_eq "All done." "$(node -e "console.log(JSON.parse(require(\"fs\").readFileSync(\"gemini.json\")).response)")" &&
	test_eq hi "$(cat ws/out.txt)" &&
	requests /v1beta/models/ | node -e "
		for (const l of require(\"fs\").readFileSync(0, \"utf8\").trim().split(\"\\n\")) {
			const r = JSON.parse(l);
			const res = (r.body.contents || []).flatMap(c => c.parts || []).find(p => p.functionResponse);
			console.log(r.headers[\"x-goog-api-key\"], res ? JSON.stringify(res.functionResponse.response) : \"-\");
		}
	" >gemini-requests &&
	cat gemini-requests &&
	test_eq 0 "$(grep -v -c "^$REAL_GEMINI_KEY " gemini-requests)" &&
	grep -v " -$" gemini-requests >gemini_result &&
	grep "secret.txt: Operation not permitted" gemini_result &&
	grep "gemini=leash-placeholder-" gemini_result &&
	grep "/proc/1/environ: Permission denied" gemini_result &&
	! grep -e "$REAL_GEMINI_KEY" gemini.json &&
	test_eq "File::\"$TRASH/ws/secret.txt\"" "$(sql "SELECT group_concat(resource) FROM events WHERE decision <> \"allow\" AND kind IN (\"file.open\", \"process.exec\")")" &&
	only_api api.gemini.test &&
	sql "SELECT DISTINCT decision || \" \" || json_extract(details, \"\$.status\") || \" \" || json_extract(details, \"\$.via\") || \" \" || json_extract(details, \"\$.header_rules\") FROM events WHERE kind = \"http.request\" AND json_extract(details, \"\$.host\") = \"api.gemini.test\"" >http &&
	test_eq "allow 200 explicit [\"secret:GEMINI_API_KEY\"]" "$(cat http)" &&
	test -n "$(sql "SELECT pid FROM events WHERE kind = \"process.exec\" AND exe LIKE \"%/node\" AND json_extract(details, \"\$.argv\") LIKE \"%gemini%\"")"
'

test_done
