#!/bin/sh
test_description='MCP over HTTP through the proxy: the official SDK client in the sandbox, SDK servers (SSE and JSON answers); tools/call decided as McpCall, forbidden calls answered by leash and never forwarded, batches, tools/list filtered, shadow, bodies leash cannot inspect'
. "$(dirname "$0")/test-lib.sh"

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

test_have_prereq SESSION && test -d "$TEST_DIRECTORY/mcp/node_modules/@modelcontextprotocol/sdk" &&
	command -v node >/dev/null && test_set_prereq MCP_SDK

"$TEST_DIRECTORY/proxy/mkcerts.sh" certs >/dev/null 2>&1
SSE_PORT=$(free_port)
JSON_PORT=$(free_port)
node "$TEST_DIRECTORY/mcp/server.mjs" $SSE_PORT certs/server.pem certs/server.key "$TRASH/sse.log" >sse.out 2>&1 &
SSE=$!
node "$TEST_DIRECTORY/mcp/server.mjs" $JSON_PORT certs/server.pem certs/server.key "$TRASH/json.log" --json >json.out 2>&1 &
JSON=$!
PLAIN_PORT=$(free_port)
python3 "$TEST_DIRECTORY/proxy/upstream.py" $PLAIN_PORT certs/server.pem certs/server.key >plain.out 2>&1 &
PLAIN=$!
trap 'kill $SSE $JSON $PLAIN 2>/dev/null' EXIT
for i in $(seq 100); do
	grep -q ready sse.out && grep -q ready json.out && grep -q ready plain.out && break
	sleep 0.1
done
printf '127.0.0.1 localhost\n127.0.0.1 mcp.allowed.test other.allowed.test\n' >hosts

cat >enforce.cedar <<'EOF2'
@id("all-files")
permit (principal, action in [Action::"FileOpen", Action::"ProcessExec"], resource);
@id("net")
permit (principal, action == Action::"NetworkConnect", resource);
@id("mcp-server")
permit (principal, action == Action::"McpCall", resource in MCP::Server::"mcp.allowed.test");
@id("no-delete")
forbid (principal, action == Action::"McpCall", resource == MCP::Tool::"delete-everything");
@id("no-etc")
forbid (principal, action == Action::"McpCall", resource == MCP::Tool::"read-file")
when { context.arguments.path like "/etc/*" };
EOF2
# No McpCall rule at all: MCP is recorded, not governed.
head -4 enforce.cedar >ungoverned.cedar

# lrun MODE POLICY PORT STEP...: the SDK client inside leash, toward
# https://mcp.allowed.test:PORT/mcp (transparently through the proxy).
lrun() {
	mode=$1 policy=$2 port=$3
	shift 3
	leash_run --mode $mode --policy $policy --listen '' --upstream-ca certs/ca.pem \
		--proxy-ports 80,443,$SSE_PORT,$JSON_PORT,$PLAIN_PORT --resolve mcp.allowed.test=127.0.0.1 \
		--resolve other.allowed.test=127.0.0.1 -v "$TRASH/hosts:/etc/hosts:ro" \
		-- node "$TEST_DIRECTORY/mcp/client.mjs" https://${HOSTNAME_:-mcp.allowed.test}:$port/mcp "$@" 2>leash.err
}
# ev KIND TOOL-OR-METHOD FIELDS: FIELDS of the last event of KIND about it
ev() {
	sql "SELECT $3 FROM events WHERE kind = '$1' AND (json_extract(details, '\$.tool') = '$2' OR json_extract(details, '\$.method') = '$2') ORDER BY session DESC, seq DESC LIMIT 1"
}
calls() { # the tool calls a server log holds, one name per line
	sed -n 's/^{"tool":"\([^"]*\)".*/\1/p' "$1" | tr '\n' ' '
}

test_expect_success MCP_SDK,SQLITE3 'enforce (SSE answers): a permitted call succeeds and is recorded with its policy id' '
	: >sse.log && reset_db &&
	lrun enforce enforce.cedar $SSE_PORT "call:echo:{\"text\":\"hi there\"}" >out &&
	test_eq "{\"ok\":\"hi there\",\"isError\":false}" "$(cat out)" &&
	test_eq "echo " "$(calls sse.log)" &&
	test_eq "McpCall|MCP::Tool::\"echo\"|allow|[\"mcp-server\"]|mcp.allowed.test|result|{\"text\":\"hi there\"}" \
		"$(ev mcp.call echo "action || \"|\" || resource || \"|\" || decision || \"|\" || policies || \"|\" || json_extract(details, \"\$.server\") || \"|\" || json_extract(details, \"\$.outcome\") || \"|\" || json_extract(details, \"\$.arguments\")")" &&
	test "$(ev mcp.call echo "json_extract(details, \"\$.duration_ms\") > 0")" = 1 &&
	test_eq "leash-test-client|leash-test-server|1.2.3" \
		"$(ev mcp.initialize initialize "json_extract(details, \"\$.client_name\") || \"|\" || json_extract(details, \"\$.server_name\") || \"|\" || json_extract(details, \"\$.server_version\")")" &&
	sid=$(ev mcp.initialize initialize "json_extract(details, \"\$.session\")") && test -n "$sid" &&
	test_eq "$sid" "$(ev mcp.call echo "json_extract(details, \"\$.session\")")" &&
	test_eq end "$(sql "SELECT json_extract(details, \"\$.event\") FROM events WHERE kind = \"mcp.session\" ORDER BY seq DESC LIMIT 1")"
'

test_expect_success MCP_SDK,SQLITE3 'enforce: a forbidden tool gets the JSON-RPC error naming the policy; the server never sees it' '
	: >sse.log && reset_db &&
	lrun enforce enforce.cedar $SSE_PORT call:delete-everything "call:read-file:{\"path\":\"/etc/shadow\"}" \
		"call:read-file:{\"path\":\"/work/notes\"}" call:fail >out &&
	sed -n 1p out | grep -F "\"code\":-32000" &&
	sed -n 1p out | grep -F "delete-everything" | grep -F "[\\\"no-delete\\\"]" &&
	sed -n 2p out | grep -F "\"code\":-32000" && sed -n 2p out | grep -F "no-etc" &&
	test_eq "{\"ok\":\"contents of /work/notes\",\"isError\":false}" "$(sed -n 3p out)" &&
	test_eq "{\"ok\":\"it failed\",\"isError\":true}" "$(sed -n 4p out)" &&
	test_eq "read-file fail " "$(calls sse.log)" &&
	! grep -q -e delete-everything -e /etc/shadow sse.log &&
	test_eq "deny|[\"no-delete\"]|denied" "$(ev mcp.call delete-everything "decision || \"|\" || policies || \"|\" || json_extract(details, \"\$.outcome\")")" &&
	test_eq "deny|[\"no-etc\"]|/etc/shadow" "$(sql "SELECT decision || \"|\" || policies || \"|\" || json_extract(details, \"\$.arguments.path\") FROM events WHERE kind = \"mcp.call\" AND decision = \"deny\" AND json_extract(details, \"\$.tool\") = \"read-file\"")" &&
	test_eq "tool_error|1" "$(ev mcp.call fail "json_extract(details, \"\$.outcome\") || \"|\" || json_extract(details, \"\$.is_error\")")" &&
	test_eq 200 "$(sql "SELECT json_extract(details, \"\$.status\") FROM events WHERE kind = \"http.request\" AND json_extract(details, \"\$.reason\") LIKE \"%delete-everything%\"")"
'

test_expect_success MCP_SDK,SQLITE3 'enforce: tools/list hides the tools the policy forbids whatever their arguments' '
	reset_db &&
	lrun enforce enforce.cedar $SSE_PORT list >out &&
	test_eq "{\"ok\":[\"echo\",\"read-file\",\"fail\",\"chatter\"]}" "$(cat out)" &&
	test_eq "[\"delete-everything\"]|4" "$(ev mcp.tools.list tools/list "json_extract(details, \"\$.hidden\") || \"|\" || json_extract(details, \"\$.tools\")")" &&
	lrun enforce enforce.cedar $JSON_PORT list >out &&
	test_eq "{\"ok\":[\"echo\",\"read-file\",\"fail\",\"chatter\"]}" "$(cat out)"
'

BATCH='[{"jsonrpc":"2.0","id":101,"method":"tools/call","params":{"name":"echo","arguments":{"text":"b1"}}},{"jsonrpc":"2.0","id":"x-102","method":"tools/call","params":{"name":"delete-everything","arguments":{}}},{"jsonrpc":"2.0","id":103,"method":"tools/call","params":{"name":"echo","arguments":{"text":"b3"}}}]'
BATCH_ANSWER='{"status":200,"answers":[{"id":101,"idType":"number","text":"b1"},{"id":103,"idType":"number","text":"b3"},{"id":"x-102","idType":"string","error":-32000}]}'

test_expect_success MCP_SDK,SQLITE3 'a batch (JSON answers): only the forbidden call is answered by leash, with its id and type; the rest reaches the server' '
	: >json.log && reset_db &&
	lrun enforce enforce.cedar $JSON_PORT "batch:$BATCH" >out &&
	test_eq "$BATCH_ANSWER" "$(cat out)" &&
	test_eq "echo echo " "$(calls json.log)" &&
	test_eq 2 "$(sql "SELECT count(*) FROM events WHERE kind = \"mcp.call\" AND decision = \"allow\" AND json_extract(details, \"\$.outcome\") = \"result\"")" &&
	test_eq "x-102|deny" "$(ev mcp.call delete-everything "json_extract(details, \"\$.id\") || \"|\" || decision")"
'

test_expect_success MCP_SDK 'a batch (SSE answers): the same, leash'"'"'s error spliced into the event stream' '
	: >sse.log &&
	lrun enforce enforce.cedar $SSE_PORT "batch:$BATCH" >out &&
	test_eq "$BATCH_ANSWER" "$(cat out)" &&
	test_eq "echo echo " "$(calls sse.log)"
'

test_expect_success MCP_SDK 'a batch of forbidden calls only is answered wholly by leash' '
	: >json.log &&
	lrun enforce enforce.cedar $JSON_PORT "batch:[{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"delete-everything\"}},{\"jsonrpc\":\"2.0\",\"id\":\"8\",\"method\":\"tools/call\",\"params\":{\"name\":\"read-file\",\"arguments\":{\"path\":\"/etc/x\"}}}]" >out &&
	test_eq "{\"status\":200,\"answers\":[{\"id\":7,\"idType\":\"number\",\"error\":-32000},{\"id\":\"8\",\"idType\":\"string\",\"error\":-32000}]}" "$(cat out)" &&
	test_eq "" "$(calls json.log)"
'

test_expect_success MCP_SDK,SQLITE3 'default deny once any McpCall rule exists: a server no rule permits is refused' '
	: >sse.log && reset_db &&
	HOSTNAME_=other.allowed.test lrun enforce enforce.cedar $SSE_PORT "call:echo:{\"text\":\"x\"}" >out &&
	grep -F "\"code\":-32000" out && grep -F "(default deny)" out &&
	test_eq "" "$(calls sse.log)" &&
	test_eq "deny|[]|default deny" "$(ev mcp.call echo "decision || \"|\" || policies || \"|\" || json_extract(details, \"\$.reason\")")"
'

test_expect_success MCP_SDK,SQLITE3 'no McpCall rule: calls are recorded and allowed, not governed' '
	: >sse.log && reset_db &&
	lrun enforce ungoverned.cedar $SSE_PORT call:delete-everything list >out &&
	test_eq "{\"ok\":\"deleted\",\"isError\":false}" "$(sed -n 1p out)" &&
	test_eq "{\"ok\":[\"echo\",\"read-file\",\"delete-everything\",\"fail\",\"chatter\"]}" "$(sed -n 2p out)" &&
	test_eq "allow|[]|no McpCall rules" "$(ev mcp.call delete-everything "decision || \"|\" || policies || \"|\" || json_extract(details, \"\$.reason\")")"
'

test_expect_success MCP_SDK,SQLITE3 'shadow: a forbidden call is forwarded and recorded as would_deny; tools/list is annotated, not filtered' '
	: >sse.log && reset_db &&
	lrun shadow enforce.cedar $SSE_PORT call:delete-everything list >out &&
	test_eq "{\"ok\":\"deleted\",\"isError\":false}" "$(sed -n 1p out)" &&
	test_eq "{\"ok\":[\"echo\",\"read-file\",\"delete-everything\",\"fail\",\"chatter\"]}" "$(sed -n 2p out)" &&
	test_eq "delete-everything " "$(calls sse.log)" &&
	test_eq "would_deny|[\"no-delete\"]|result" "$(ev mcp.call delete-everything "decision || \"|\" || policies || \"|\" || json_extract(details, \"\$.outcome\")")" &&
	test_eq "[\"delete-everything\"]" "$(ev mcp.tools.list tools/list "json_extract(details, \"\$.would_hide\")")"
'

test_expect_success MCP_SDK,SQLITE3 'a body over the bound: refused in enforce (recorded), forwarded with would_deny in shadow' '
	: >json.log && reset_db &&
	lrun enforce enforce.cedar $JSON_PORT big:9000000 >out &&
	grep -F "\"status\":413" out && grep -F "not inspected" out &&
	test_eq "" "$(calls json.log)" &&
	test_eq deny "$(sql "SELECT decision FROM events WHERE kind = \"mcp.uninspected\"")" &&
	reset_db &&
	lrun shadow enforce.cedar $JSON_PORT big:9000000 >out &&
	grep -F "\"status\":200" out &&
	test_eq "echo " "$(calls json.log)" &&
	test_eq would_deny "$(sql "SELECT decision FROM events WHERE kind = \"mcp.uninspected\"")"
'

test_expect_success MCP_SDK,SQLITE3 'JSON-RPC leash cannot parse (an id too large for it) is refused in enforce, never skipped' '
	: >json.log && reset_db &&
	lrun enforce enforce.cedar $JSON_PORT "post:{\"jsonrpc\":\"2.0\",\"id\":123456789012345678901234567890,\"method\":\"tools/call\",\"params\":{\"name\":\"delete-everything\"}}" >out &&
	grep -F "\"status\":413" out && grep -F "does not parse" out &&
	test_eq "" "$(calls json.log)" &&
	test_eq deny "$(sql "SELECT decision FROM events WHERE kind = \"mcp.uninspected\"")"
'

# The server's JSON parser reads what leash must read the same way: a key
# spelled with \u escapes is "jsonrpc" to JSON.parse; a UTF-8 BOM is
# dropped by raw-body and body-parser (the SDK's own body reading); a
# charset other than UTF-8 is decoded by them (UTF-16 hides every byte
# pattern leash looks for).
test_expect_success MCP_SDK,SQLITE3 'enforce: a forbidden call spelled with \u escapes, or after a BOM, is still decided; another charset is refused' '
	: >json.log && reset_db &&
	bom=$(printf "\357\273\277") &&
	lrun enforce enforce.cedar $JSON_PORT \
		"post:{\"\\u006asonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"delete-everything\",\"arguments\":{}}}" \
		"post:$bom{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\",\"params\":{\"name\":\"delete-everything\",\"arguments\":{}}}" >out &&
	cat out &&
	test_eq 2 "$(grep -c "no-delete" out)" &&
	test_eq "" "$(calls json.log)" &&
	test_eq 2 "$(sql "SELECT count(*) FROM events WHERE kind = \"mcp.call\" AND decision = \"deny\"")" &&
	reset_db &&
	leash_run --mode enforce --policy enforce.cedar --listen "" --upstream-ca certs/ca.pem \
		--proxy-ports 80,443,$JSON_PORT --resolve mcp.allowed.test=127.0.0.1 \
		-v "$TRASH/hosts:/etc/hosts:ro" -- sh -c "
		printf \"{\\\"jsonrpc\\\":\\\"2.0\\\",\\\"id\\\":1,\\\"method\\\":\\\"tools/call\\\",\\\"params\\\":{\\\"name\\\":\\\"delete-everything\\\"}}\" |
			iconv -f utf-8 -t utf-16le >u16.json &&
		for ct in \"application/json; charset=utf-16le\" \"application/json; x=\\\"charset=utf-8\\\"; charset=utf-16le\"; do
			curl -sS -o /dev/null -w \"%{http_code}\n\" -H \"Content-Type: \$ct\" \
				-H \"Accept: application/json, text/event-stream\" --data-binary @u16.json https://mcp.allowed.test:$JSON_PORT/mcp
		done" >out 2>leash.err &&
	printf "413\n413\n" >expect &&
	test_cmp expect out &&
	test_eq "" "$(calls json.log)" &&
	test_eq "deny deny" "$(sql "SELECT decision FROM events WHERE kind = \"mcp.uninspected\"" | tr "\n" " " | sed "s/ $//")"
'

test_expect_success MCP_SDK,SQLITE3 'other bodies pass byte for byte: JSON that is not JSON-RPC (2 MB), "jsonrpc" not at the top, chunked, not JSON' '
	python3 -c "import json; print(json.dumps({\"model\": \"m\", \"input\": \"y\" * 2000000}))" >big.json &&
	echo "{\"wrapped\": {\"jsonrpc\": \"2.0\", \"method\": \"tools/call\"}, \"n\": [1, 2.5, null]}" >str.json &&
	grep -F "{\"jsonrpc\": \"2.0\"" str.json &&
	printf "plain text body" >plain.txt &&
	reset_db &&
	leash_run --mode enforce --policy enforce.cedar --listen "" --upstream-ca certs/ca.pem \
		--proxy-ports 80,443,$PLAIN_PORT --resolve mcp.allowed.test=127.0.0.1 \
		-v "$TRASH/hosts:/etc/hosts:ro" -- sh -c "
		for f in big.json str.json plain.txt; do
			curl -sS --data-binary @\$f https://mcp.allowed.test:$PLAIN_PORT/echo; echo
		done
		curl -sS -H \"Transfer-Encoding: chunked\" --data-binary @str.json https://mcp.allowed.test:$PLAIN_PORT/echo; echo" >out 2>leash.err &&
	for f in big.json str.json plain.txt str.json; do sha256sum $f | cut -d" " -f1; done >want &&
	sed -n "s/.*\"body_sha256\": \"\([0-9a-f]*\)\".*/\1/p" out >got &&
	test_cmp want got &&
	test_eq 0 "$(sql "SELECT count(*) FROM events WHERE kind LIKE \"mcp.%\"")"
'

test_done
