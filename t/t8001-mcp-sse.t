#!/bin/sh
test_description='MCP over the older HTTP+SSE transport (2024-11-05) through the proxy: the SDK'"'"'s SSEClientTransport in the sandbox, its SSEServerTransport on the host; a forbidden call is answered by leash on the client'"'"'s event stream (POST 202), never forwarded; tools/list filtered on the stream; a POST whose stream is gone is refused visibly'
. "$(dirname "$0")/test-lib.sh"

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

test_have_prereq SESSION && test -d "$TEST_DIRECTORY/mcp/node_modules/@modelcontextprotocol/sdk" &&
	command -v node >/dev/null && test_set_prereq MCP_SDK

"$TEST_DIRECTORY/proxy/mkcerts.sh" certs >/dev/null 2>&1
PORT=$(free_port)
node "$TEST_DIRECTORY/mcp/server.mjs" $PORT certs/server.pem certs/server.key "$TRASH/srv.log" >srv.out 2>&1 &
SRV=$!
# A hand-written HTTP+SSE server, to place events byte by byte.
RAW_PORT=$(free_port)
: >raw.log
python3 "$TEST_DIRECTORY/mcp/raw-sse.py" server $RAW_PORT certs/server.pem certs/server.key "$TRASH/raw.log" >raw.out 2>&1 &
RAW=$!
trap 'kill $SRV $RAW 2>/dev/null' EXIT
for i in $(seq 100); do
	grep -q ready srv.out && grep -q ready raw.out && break
	sleep 0.1
done
printf '127.0.0.1 localhost\n127.0.0.1 mcp.allowed.test\n' >hosts

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

# lrun MODE STEP...: the SDK client inside leash over HTTP+SSE, toward
# https://mcp.allowed.test:PORT/sse (transparently through the proxy);
# each step's milliseconds go to times.
lrun() {
	mode=$1
	shift
	: >times
	leash_run --mode $mode --policy enforce.cedar --listen '' --upstream-ca certs/ca.pem \
		--proxy-ports 80,443,$PORT,$RAW_PORT --resolve mcp.allowed.test=127.0.0.1 \
		-v "$TRASH/hosts:/etc/hosts:ro" \
		-- env MCP_TIMES="$TRASH/times" node "$TEST_DIRECTORY/mcp/client.mjs" \
		https://mcp.allowed.test:$PORT/sse "$@" 2>leash.err
}
ev() { # KIND TOOL-OR-METHOD FIELDS: FIELDS of the last event of KIND about it
	sql "SELECT $3 FROM events WHERE kind = '$1' AND (json_extract(details, '\$.tool') = '$2' OR json_extract(details, '\$.method') = '$2') ORDER BY session DESC, seq DESC LIMIT 1"
}
calls() { # the tool calls the server's log holds, one name per line
	sed -n 's/^{"tool":"\([^"]*\)".*/\1/p' srv.log | tr '\n' ' '
}

test_expect_success MCP_SDK,SQLITE3 'a permitted call works and is recorded with the transport, the endpoint'"'"'s session and its policy' '
	: >srv.log && reset_db &&
	lrun enforce "call:echo:{\"text\":\"over sse\"}" >out &&
	test_eq "{\"ok\":\"over sse\",\"isError\":false}" "$(cat out)" &&
	test_eq "echo " "$(calls)" &&
	sid=$(sql "SELECT json_extract(details, \"\$.session\") FROM events WHERE kind = \"mcp.session\" AND json_extract(details, \"\$.event\") = \"stream\"") &&
	test -n "$sid" &&
	test_eq "/messages?sessionId=$sid" "$(sql "SELECT json_extract(details, \"\$.endpoint\") FROM events WHERE kind = \"mcp.session\"")" &&
	test_eq "allow|[\"mcp-server\"]|result|sse|$sid|/messages|{\"text\":\"over sse\"}" \
		"$(ev mcp.call echo "decision || \"|\" || policies || \"|\" || json_extract(details, \"\$.outcome\") || \"|\" || json_extract(details, \"\$.transport\") || \"|\" || json_extract(details, \"\$.session\") || \"|\" || json_extract(details, \"\$.path\") || \"|\" || json_extract(details, \"\$.arguments\")")" &&
	test "$(ev mcp.call echo "json_extract(details, \"\$.duration_ms\") > 0")" = 1 &&
	test_eq "leash-test-client|0.9.0|leash-test-server|1.2.3|$sid" \
		"$(ev mcp.initialize initialize "json_extract(details, \"\$.client_name\") || \"|\" || json_extract(details, \"\$.client_version\") || \"|\" || json_extract(details, \"\$.server_name\") || \"|\" || json_extract(details, \"\$.server_version\") || \"|\" || json_extract(details, \"\$.session\")")" &&
	test -n "$(ev mcp.initialize initialize "json_extract(details, \"\$.protocol_version\")")" &&
	grep -F "{\"sse\":{\"accept-encoding\":null}}" srv.log
'

test_expect_success MCP_SDK,SQLITE3 'secret-looking argument values are redacted: no MCP or HTTP event holds them' '
	: >srv.log && reset_db &&
	lrun enforce "call:echo:{\"text\":\"hi\",\"api_key\":\"sk-live-4242\",\"nested\":{\"password\":\"hunter2\",\"user\":\"ann\"}}" >out &&
	test_eq "{\"ok\":\"hi\",\"isError\":false}" "$(cat out)" &&
	test_eq "{\"text\":\"hi\",\"api_key\":\"[redacted]\",\"nested\":{\"password\":\"[redacted]\",\"user\":\"ann\"}}" \
		"$(ev mcp.call echo "json_extract(details, \"\$.arguments\")")" &&
	test_eq 0 "$(sql "SELECT count(*) FROM events WHERE (kind LIKE \"mcp.%\" OR kind LIKE \"http.%\") AND (details LIKE \"%sk-live-4242%\" OR details LIKE \"%hunter2%\")")"
'

test_expect_success MCP_SDK,SQLITE3 'a forbidden call gets its JSON-RPC error on the stream at once, naming the policy; the server never sees it' '
	: >srv.log && reset_db &&
	lrun enforce call:delete-everything "call:read-file:{\"path\":\"/etc/shadow\"}" \
		"call:read-file:{\"path\":\"/work/notes\"}" call:fail >out &&
	sed -n 1p out | grep -F "\"code\":-32000" &&
	sed -n 1p out | grep -F "delete-everything" | grep -F "[\\\"no-delete\\\"]" &&
	sed -n 2p out | grep -F "\"code\":-32000" && sed -n 2p out | grep -F "no-etc" &&
	test_eq "{\"ok\":\"contents of /work/notes\",\"isError\":false}" "$(sed -n 3p out)" &&
	test_eq "{\"ok\":\"it failed\",\"isError\":true}" "$(sed -n 4p out)" &&
	awk "NR <= 2 && \$2 >= 5000 { exit 1 }" times &&
	test_eq "read-file fail " "$(calls)" &&
	! grep -q -e delete-everything -e /etc/shadow srv.log &&
	test_eq "deny|[\"no-delete\"]|denied|sse" "$(ev mcp.call delete-everything "decision || \"|\" || policies || \"|\" || json_extract(details, \"\$.outcome\") || \"|\" || json_extract(details, \"\$.transport\")")" &&
	test_eq "deny|[\"no-etc\"]|/etc/shadow" "$(sql "SELECT decision || \"|\" || policies || \"|\" || json_extract(details, \"\$.arguments.path\") FROM events WHERE kind = \"mcp.call\" AND decision = \"deny\" AND json_extract(details, \"\$.tool\") = \"read-file\"")" &&
	test_eq "tool_error|1" "$(ev mcp.call fail "json_extract(details, \"\$.outcome\") || \"|\" || json_extract(details, \"\$.is_error\")")" &&
	test_eq 202 "$(sql "SELECT json_extract(details, \"\$.status\") FROM events WHERE kind = \"http.request\" AND json_extract(details, \"\$.reason\") LIKE \"%delete-everything%\"")"
'

test_expect_success MCP_SDK,SQLITE3 'leash'"'"'s error goes between the server'"'"'s events, never inside one: 300 progress notifications stream while a forbidden call is answered' '
	: >srv.log && reset_db &&
	lrun enforce race:300 >out &&
	test_eq "{\"ok\":\"chattered 300\",\"progress\":300,\"denied\":-32000}" "$(cat out)" &&
	test_eq "chatter " "$(calls)" &&
	test_eq "result" "$(ev mcp.call chatter "json_extract(details, \"\$.outcome\")")" &&
	test_eq 300 "$(sql "SELECT count(*) FROM events WHERE kind = \"mcp.notification\" AND json_extract(details, \"\$.method\") = \"notifications/progress\" AND json_extract(details, \"\$.direction\") = \"server\"")"
'

test_expect_success SESSION,PYTHON3,SQLITE3 'byte by byte: leash'"'"'s error is sent while the server is half-way through an event, and that event arrives whole after it' '
	reset_db &&
	leash_run --mode enforce --policy enforce.cedar --listen "" --upstream-ca certs/ca.pem \
		--proxy-ports 80,443,$RAW_PORT --resolve mcp.allowed.test=127.0.0.1 \
		-v "$TRASH/hosts:/etc/hosts:ro" \
		-- python3 "$TEST_DIRECTORY/mcp/raw-sse.py" client https://mcp.allowed.test:$RAW_PORT/sse >out 2>leash.err &&
	printf "%s\n" "endpoint /messages?sessionId=raw" "message error 5 -32000" "message notification intact" "message done" >want &&
	grep -v "^post" out >got && test_cmp want got &&
	grep -Fx "post 202" out &&
	test_eq "" "$(cat raw.log)" &&
	test_eq "raw|deny" "$(ev mcp.call delete-everything "json_extract(details, \"\$.session\") || \"|\" || decision")"
'

test_expect_success MCP_SDK,SQLITE3 'tools/list is filtered on the stream' '
	reset_db &&
	lrun enforce list >out &&
	test_eq "{\"ok\":[\"echo\",\"read-file\",\"fail\",\"chatter\"]}" "$(cat out)" &&
	test_eq "[\"delete-everything\"]|4|sse" "$(ev mcp.tools.list tools/list "json_extract(details, \"\$.hidden\") || \"|\" || json_extract(details, \"\$.tools\") || \"|\" || json_extract(details, \"\$.transport\")")"
'

test_expect_success MCP_SDK 'a batch of forbidden calls: POST 202, each answered on the stream with its id and type' '
	: >srv.log &&
	lrun enforce "batch:[{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"delete-everything\"}},{\"jsonrpc\":\"2.0\",\"id\":\"8\",\"method\":\"tools/call\",\"params\":{\"name\":\"read-file\",\"arguments\":{\"path\":\"/etc/x\"}}}]" >out &&
	test_eq "{\"status\":202,\"answers\":[{\"id\":7,\"idType\":\"number\",\"error\":-32000},{\"id\":\"8\",\"idType\":\"string\",\"error\":-32000}]}" "$(cat out)" &&
	test_eq "" "$(calls)"
'

BATCH='[{"jsonrpc":"2.0","id":101,"method":"tools/call","params":{"name":"echo","arguments":{"text":"b1"}}},{"jsonrpc":"2.0","id":"x-102","method":"tools/call","params":{"name":"delete-everything","arguments":{}}},{"jsonrpc":"2.0","id":103,"method":"tools/call","params":{"name":"echo","arguments":{"text":"b3"}}}]'

test_expect_success MCP_SDK,SQLITE3 'a batch with one forbidden call: leash answers it on the stream, the rest reaches the server and is answered there' '
	: >srv.log && reset_db &&
	lrun enforce "batch:$BATCH" >out &&
	test_eq "{\"status\":202,\"answers\":[{\"id\":101,\"idType\":\"number\",\"text\":\"b1\"},{\"id\":103,\"idType\":\"number\",\"text\":\"b3\"},{\"id\":\"x-102\",\"idType\":\"string\",\"error\":-32000}]}" "$(cat out)" &&
	test_eq "echo echo " "$(calls)" &&
	test_eq 2 "$(sql "SELECT count(*) FROM events WHERE kind = \"mcp.call\" AND decision = \"allow\" AND json_extract(details, \"\$.outcome\") = \"result\" AND json_extract(details, \"\$.transport\") = \"sse\"")" &&
	test_eq "x-102|deny" "$(ev mcp.call delete-everything "json_extract(details, \"\$.id\") || \"|\" || decision")"
'

test_expect_success MCP_SDK,SQLITE3 'a forbidden call POSTed after its stream closed is refused 403 with the JSON-RPC error, and recorded' '
	: >srv.log && reset_db &&
	lrun enforce "orphan:{\"jsonrpc\":\"2.0\",\"id\":41,\"method\":\"tools/call\",\"params\":{\"name\":\"delete-everything\"}}" >out &&
	grep -F "\"status\":403" out && grep -F "\\\"id\\\":41" out && grep -F "no-delete" out &&
	test_eq "" "$(calls)" &&
	test_eq "deny|denied" "$(ev mcp.call delete-everything "decision || \"|\" || json_extract(details, \"\$.outcome\")")" &&
	test_eq 403 "$(sql "SELECT json_extract(details, \"\$.status\") FROM events WHERE kind = \"http.request\" AND json_extract(details, \"\$.reason\") LIKE \"%event stream is closed%\"")"
'

test_expect_success MCP_SDK,SQLITE3 'shadow: the forbidden call reaches the server, recorded would_deny' '
	: >srv.log && reset_db &&
	lrun shadow call:delete-everything >out &&
	test_eq "{\"ok\":\"deleted\",\"isError\":false}" "$(cat out)" &&
	test_eq "delete-everything " "$(calls)" &&
	test_eq "would_deny|result" "$(ev mcp.call delete-everything "decision || \"|\" || json_extract(details, \"\$.outcome\")")"
'

test_done
