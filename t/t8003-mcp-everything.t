#!/bin/sh
test_description='@modelcontextprotocol/server-everything behind the proxy, over Streamable HTTP and HTTP+SSE: the SDK client in the sandbox gets the same tools, results, progress notifications, resource and prompt as without leash; a forbidden tool is answered by leash and hidden from tools/list'
. "$(dirname "$0")/test-lib.sh"

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

EVERYTHING=$TEST_DIRECTORY/mcp/node_modules/@modelcontextprotocol/server-everything/dist/index.js
test_have_prereq SESSION && test -f "$EVERYTHING" && command -v node >/dev/null &&
	test_set_prereq EVERYTHING

HTTP_PORT=$(free_port)
SSE_PORT=$(free_port)
PORT=$HTTP_PORT node "$EVERYTHING" streamableHttp >http.out 2>&1 &
HTTP=$!
PORT=$SSE_PORT node "$EVERYTHING" sse >sse.out 2>&1 &
SSE=$!
trap 'kill $HTTP $SSE 2>/dev/null' EXIT
for i in $(seq 100); do
	grep -q listening http.out && grep -q running sse.out && break
	sleep 0.1
done
printf '127.0.0.1 localhost\n127.0.0.1 everything.test\n' >hosts

cat >enforce.cedar <<'EOF2'
@id("all-files")
permit (principal, action in [Action::"FileOpen", Action::"ProcessExec"], resource);
@id("net")
permit (principal, action == Action::"NetworkConnect", resource);
@id("everything")
permit (principal, action == Action::"McpCall", resource in MCP::Server::"everything.test");
@id("no-env")
forbid (principal, action == Action::"McpCall", resource == MCP::Tool::"get-env");
EOF2
# Every tool of the server permitted: leash decides each call, changes nothing.
head -6 enforce.cedar >permit.cedar

# lrun POLICY URL-PATH PORT [forbid]: the client inside leash (enforce),
# toward http://everything.test:PORT/URL-PATH through the proxy.
lrun() {
	leash_run --mode enforce --policy $1.cedar --listen '' \
		--proxy-ports 80,443,$HTTP_PORT,$SSE_PORT --resolve everything.test=127.0.0.1 \
		-v "$TRASH/hosts:/etc/hosts:ro" \
		-- node "$TEST_DIRECTORY/mcp/everything-client.mjs" http://everything.test:$3/$2 ${4:-} 2>leash.err
}
ev() { # KIND FIELD VALUE COLUMNS: COLUMNS of the last event of KIND whose FIELD is VALUE
	sql "SELECT $4 FROM events WHERE kind = '$1' AND json_extract(details, '\$.$2') = '$3' ORDER BY seq DESC LIMIT 1"
}

for t in "mcp $HTTP_PORT streamable" "sse $SSE_PORT sse"; do
	set -- $t
	path=$1 port=$2 name=$3

	test_expect_success EVERYTHING,SQLITE3 "$name: tools, results, progress, resource and prompt are the same through leash as direct" '
		node "$TEST_DIRECTORY/mcp/everything-client.mjs" http://127.0.0.1:$port/$path >direct &&
		grep -F "\"step\":\"echo\",\"text\":[\"Echo: through leash?\"]" direct &&
		grep -F "\"progress\":[\"1/4\",\"2/4\",\"3/4\"" direct &&
		test_eq 8 "$(wc -l <direct)" &&
		reset_db &&
		lrun permit $path $port >leashed &&
		test_cmp direct leashed
	'

	test_expect_success EVERYTHING,SQLITE3 "$name: recorded: initialize, tools/list, each call with its outcome, progress notifications, resources, prompts" '
		test_eq "leash-everything-client|1.0.0|mcp-servers/everything|2.0.0" \
			"$(ev mcp.initialize method initialize "json_extract(details, \"\$.client_name\") || \"|\" || json_extract(details, \"\$.client_version\") || \"|\" || json_extract(details, \"\$.server_name\") || \"|\" || json_extract(details, \"\$.server_version\")")" &&
		test -n "$(ev mcp.initialize method initialize "json_extract(details, \"\$.protocol_version\") || json_extract(details, \"\$.session\")")" &&
		test_eq "13|everything.test|$port" "$(ev mcp.tools.list method tools/list "json_extract(details, \"\$.tools\") || \"|\" || json_extract(details, \"\$.server\") || \"|\" || json_extract(details, \"\$.port\")")" &&
		for tool in echo get-sum get-tiny-image trigger-long-running-operation; do
			test_eq "allow|[\"everything\"]|result" "$(ev mcp.call tool $tool "decision || \"|\" || policies || \"|\" || json_extract(details, \"\$.outcome\")")" || return 1
		done &&
		test_eq "{\"a\":2,\"b\":40}" "$(ev mcp.call tool get-sum "json_extract(details, \"\$.arguments\")")" &&
		test "$(ev mcp.call tool trigger-long-running-operation "json_extract(details, \"\$.duration_ms\") >= 900")" = 1 &&
		test "$(sql "SELECT count(*) FROM events WHERE kind = \"mcp.notification\" AND json_extract(details, \"\$.method\") = \"notifications/progress\"")" -ge 3 &&
		test_eq "demo://resource/static/document/architecture.md|result" "$(ev mcp.resources method resources/read "json_extract(details, \"\$.uri\") || \"|\" || json_extract(details, \"\$.outcome\")")" &&
		test_eq "args-prompt|result" "$(ev mcp.prompts method prompts/get "json_extract(details, \"\$.name\") || \"|\" || json_extract(details, \"\$.outcome\")")" &&
		test_eq 0 "$(sql "SELECT count(*) FROM events WHERE kind LIKE \"mcp.%\" AND (json_extract(details, \"\$.session\") IS NULL OR json_extract(details, \"\$.session\") = \"\")  AND kind != \"mcp.session\"")"
	'

	test_expect_success EVERYTHING,SQLITE3 "$name: a forbidden tool (get-env) is answered by leash at once, naming the policy, and hidden from tools/list" '
		reset_db &&
		lrun enforce $path $port forbid >out &&
		sed -n 1p out | grep -F "\"code\":-32000" && sed -n 1p out | grep -F "no-env" &&
		sed -n 1p out | grep -F "\"fast\":true" &&
		! grep -F "\"get-env\"" out | grep -v "\"step\":\"get-env\"" &&
		grep -F "\"echo\"" out &&
		test_eq "deny|[\"no-env\"]|denied" "$(ev mcp.call tool get-env "decision || \"|\" || policies || \"|\" || json_extract(details, \"\$.outcome\")")" &&
		test_eq "[\"get-env\"]" "$(ev mcp.tools.list method tools/list "json_extract(details, \"\$.hidden\")")"
	'
done

test_done
