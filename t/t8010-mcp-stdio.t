#!/bin/sh
test_description='leash mcp wrap: a stdio MCP server (the official SDK) behind the wrapper, the SDK client inside the sandbox; tools/call decided by the session over its MCP socket, forbidden calls answered by the wrapper and never seen by the server; initialize, tools/list, resources, prompts and notifications recorded; tools/list filtered; lines leash cannot read; fail closed outside a session and when the session is lost'
. "$(dirname "$0")/test-lib.sh"

test -d "$TEST_DIRECTORY/mcp/node_modules/@modelcontextprotocol/sdk" && command -v node >/dev/null &&
	test_set_prereq MCP_SDK
test_have_prereq SESSION,MCP_SDK && test_set_prereq MCP_SESSION

M=$TEST_DIRECTORY/mcp
cat >enforce.cedar <<'EOF2'
@id("all-files")
permit (principal, action in [Action::"FileOpen", Action::"ProcessExec"], resource);
@id("net")
permit (principal, action == Action::"NetworkConnect", resource);
@id("tools-server")
permit (principal, action == Action::"McpCall", resource in MCP::Server::"stdio:tools");
@id("no-delete")
forbid (principal, action == Action::"McpCall", resource == MCP::Tool::"delete-everything");
@id("no-etc")
forbid (principal, action == Action::"McpCall", resource == MCP::Tool::"read-file")
when { context.arguments.path like "/etc/*" };
EOF2

# wrun MODE POLICY STEP...: the SDK client inside leash, its server
# "stdio:tools" started through leash mcp wrap.
wrun() {
	mode=$1 policy=$2
	shift 2
	leash_run --mode $mode --policy $policy --listen '' -- \
		node "$M/stdio-client.mjs" "$@" -- "$LEASH" mcp wrap --name tools -- \
		node "$M/stdio-server.mjs" "$TRASH/server.log" --api-key sekrit-1 --auth-token=sekrit-2 2>leash.err
}
evk() { # evk KIND METHOD FIELDS: FIELDS of the last event of KIND with METHOD
	sql "SELECT $3 FROM events WHERE kind = '$1' AND json_extract(details, '\$.method') = '$2' ORDER BY seq DESC LIMIT 1"
}
ev() { # ev TOOL FIELDS: FIELDS of the last mcp.call event about TOOL
	sql "SELECT $2 FROM events WHERE kind = 'mcp.call' AND json_extract(details, '\$.tool') = '$1' ORDER BY seq DESC LIMIT 1"
}
calls() { # the tool calls the server received, one name per line
	sed -n 's/^{"tool":"\([^"]*\)".*/\1/p' server.log | tr '\n' ' '
}

test_expect_success MCP_SDK 'outside a session the wrapper refuses to start the server, and says why' '
	: >server.log &&
	! node "$M/stdio-client.mjs" list -- "$LEASH" mcp wrap -- \
		node "$M/stdio-server.mjs" "$TRASH/server.log" 2>err &&
	grep -F "not inside a leash session" err && grep -F -- "--no-session" err
'

test_expect_success MCP_SDK '--no-session relays ungoverned, byte for byte, and says so' '
	: >server.log &&
	node "$M/stdio-client.mjs" list "call:delete-everything" -- "$LEASH" mcp wrap --no-session -- \
		node "$M/stdio-server.mjs" "$TRASH/server.log" >out 2>err &&
	test_eq "{\"ok\":[\"echo\",\"read-file\",\"delete-everything\",\"fail\",\"notify\"]}
{\"ok\":\"deleted\",\"isError\":false}" "$(cat out)" &&
	test_eq "delete-everything " "$(calls)" &&
	grep -F "relayed ungoverned" err
'

test_expect_success 'SIGTERM to the wrapper (how a client stops its server) reaches the server; the wrapper ends with its status' '
	{ "$LEASH" mcp wrap --no-session -- sh -c "trap \"echo got TERM >&2; exit 7\" TERM; echo started >&2; while :; do sleep 0.1; done" \
		</dev/null >/dev/null 2>sig.err & } &&
	pid=$! &&
	for i in $(seq 50); do grep -q started sig.err && break; sleep 0.1; done &&
	kill -TERM $pid &&
	{ wait $pid; status=$?; } &&
	test_eq 7 "$status" &&
	grep -F "got TERM" sig.err
'

test_expect_success MCP_SESSION,SQLITE3 'enforce: a permitted call passes and is recorded with its policy, server stdio:tools and outcome' '
	: >server.log && reset_db &&
	wrun enforce enforce.cedar "call:echo:{\"text\":\"hi there\"}" call:fail >out &&
	test_eq "{\"ok\":\"hi there\",\"isError\":false}
{\"ok\":\"it failed\",\"isError\":true}" "$(cat out)" &&
	test_eq "echo fail " "$(calls)" &&
	test_eq "McpCall|MCP::Tool::\"echo\"|allow|[\"tools-server\"]|stdio:tools|stdio|result|{\"text\":\"hi there\"}|1" \
		"$(ev echo "action || \"|\" || resource || \"|\" || decision || \"|\" || policies || \"|\" || json_extract(details, \"\$.server\") || \"|\" || json_extract(details, \"\$.transport\") || \"|\" || json_extract(details, \"\$.outcome\") || \"|\" || json_extract(details, \"\$.arguments\") || \"|\" || json_extract(details, \"\$.id\")")" &&
	test "$(ev echo "json_extract(details, \"\$.duration_ms\") > 0 AND pid > 0")" = 1 &&
	test_eq "tool_error|1" "$(ev fail "json_extract(details, \"\$.outcome\") || \"|\" || json_extract(details, \"\$.is_error\")")"
'

test_expect_success MCP_SESSION,SQLITE3 'enforce: initialize (names, versions, protocol version), tools/list, resources, prompts and notifications both ways are recorded, one session id, the command redacted' '
	: >server.log && reset_db &&
	wrun enforce enforce.cedar resources prompts call:notify >out &&
	test_eq "{\"ok\":[\"hello\"]}
{\"ok\":[\"greet leash\"]}
{\"ok\":\"notified\",\"isError\":false}
{\"notes\":[\"note from the server\"]}" "$(cat out)" &&
	test_eq "MCP::Server::\"stdio:tools\"|stdio:tools|stdio|agent|leash-stdio-client|0.9.0|leash-stdio-server|2.0.0|result|1" \
		"$(evk mcp.initialize initialize "resource || \"|\" || json_extract(details, \"\$.server\") || \"|\" || json_extract(details, \"\$.transport\") || \"|\" || json_extract(details, \"\$.direction\") || \"|\" || json_extract(details, \"\$.client_name\") || \"|\" || json_extract(details, \"\$.client_version\") || \"|\" || json_extract(details, \"\$.server_name\") || \"|\" || json_extract(details, \"\$.server_version\") || \"|\" || json_extract(details, \"\$.outcome\") || \"|\" || (pid > 0 AND decision IS NULL)")" &&
	pv=$(evk mcp.initialize initialize "json_extract(details, \"\$.protocol_version\")") &&
	case "$pv" in 20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]) ;; *) false ;; esac &&
	test_eq "[\"node\",\"$M/stdio-server.mjs\",\"$TRASH/server.log\",\"--api-key\",\"[redacted]\",\"--auth-token=[redacted]\"]" \
		"$(evk mcp.initialize initialize "json_extract(details, \"\$.command\")")" &&
	test_eq 0 "$(sql "SELECT count(*) FROM events WHERE kind LIKE \"mcp.%\" AND details LIKE \"%sekrit%\"")" &&
	sid=$(evk mcp.initialize initialize "json_extract(details, \"\$.session\")") &&
	case "$sid" in ????????-????-4???-????-????????????) ;; *) false ;; esac &&
	test_eq "1|$sid" "$(sql "SELECT count(DISTINCT json_extract(details, \"\$.session\")) || \"|\" || min(json_extract(details, \"\$.session\")) FROM events WHERE kind LIKE \"mcp.%\"")" &&
	test_eq "agent|" "$(evk mcp.notification notifications/initialized "json_extract(details, \"\$.direction\") || \"|\" || ifnull(json_extract(details, \"\$.outcome\"), \"\")")" &&
	test_eq "server" "$(evk mcp.notification notifications/message "json_extract(details, \"\$.direction\")")" &&
	test_eq "result|test://motd" "$(evk mcp.resources resources/read "json_extract(details, \"\$.outcome\") || \"|\" || json_extract(details, \"\$.uri\")")" &&
	test_eq "result" "$(evk mcp.resources resources/list "json_extract(details, \"\$.outcome\")")" &&
	test_eq "result|greet" "$(evk mcp.prompts prompts/get "json_extract(details, \"\$.outcome\") || \"|\" || json_extract(details, \"\$.name\")")" &&
	test_eq "result" "$(evk mcp.prompts prompts/list "json_extract(details, \"\$.outcome\")")" &&
	test_eq "allow|result|$sid" "$(ev notify "decision || \"|\" || json_extract(details, \"\$.outcome\") || \"|\" || json_extract(details, \"\$.session\")")" &&
	test "$(evk mcp.prompts prompts/get "json_extract(details, \"\$.duration_ms\") > 0")" = 1
'

test_expect_success MCP_SESSION,SQLITE3 'enforce: tools/list does not offer a tool the policy forbids whatever its arguments; one with an argument rule stays; permitted tools still work' '
	: >server.log && reset_db &&
	wrun enforce enforce.cedar list "call:echo:{\"text\":\"after list\"}" >out &&
	test_eq "{\"ok\":[\"echo\",\"read-file\",\"fail\",\"notify\"]}
{\"ok\":\"after list\",\"isError\":false}" "$(cat out)" &&
	test_eq "MCP::Server::\"stdio:tools\"|result|4|[\"delete-everything\"]|" \
		"$(evk mcp.tools.list tools/list "resource || \"|\" || json_extract(details, \"\$.outcome\") || \"|\" || json_extract(details, \"\$.tools\") || \"|\" || json_extract(details, \"\$.hidden\") || \"|\" || ifnull(json_extract(details, \"\$.would_hide\"), \"\")")" &&
	test_eq "echo " "$(calls)"
'

test_expect_success MCP_SESSION,SQLITE3 'shadow: tools/list is annotated (would_hide), not filtered; record: neither' '
	reset_db &&
	wrun shadow enforce.cedar list >out &&
	test_eq "{\"ok\":[\"echo\",\"read-file\",\"delete-everything\",\"fail\",\"notify\"]}" "$(cat out)" &&
	test_eq "5|[\"delete-everything\"]|" "$(evk mcp.tools.list tools/list "json_extract(details, \"\$.tools\") || \"|\" || json_extract(details, \"\$.would_hide\") || \"|\" || ifnull(json_extract(details, \"\$.hidden\"), \"\")")" &&
	reset_db &&
	wrun record enforce.cedar list >out &&
	test_eq "{\"ok\":[\"echo\",\"read-file\",\"delete-everything\",\"fail\",\"notify\"]}" "$(cat out)" &&
	test_eq "5||" "$(evk mcp.tools.list tools/list "json_extract(details, \"\$.tools\") || \"|\" || ifnull(json_extract(details, \"\$.would_hide\"), \"\") || \"|\" || ifnull(json_extract(details, \"\$.hidden\"), \"\")")"
'

test_expect_success MCP_SESSION,SQLITE3 'enforce: a forbidden tool gets -32000 naming the policy; the server never sees it' '
	: >server.log && reset_db &&
	wrun enforce enforce.cedar call:delete-everything "call:read-file:{\"path\":\"/etc/shadow\"}" \
		"call:read-file:{\"path\":\"/work/notes\"}" >out &&
	sed -n 1p out | grep -F "\"code\":-32000" &&
	sed -n 1p out | grep -F "MCP tool '"'"'delete-everything'"'"' on stdio:tools denied by policy [\\\"no-delete\\\"]" &&
	sed -n 2p out | grep -F "\"code\":-32000" && sed -n 2p out | grep -F "no-etc" &&
	test_eq "{\"ok\":\"contents of /work/notes\",\"isError\":false}" "$(sed -n 3p out)" &&
	test_eq "read-file " "$(calls)" &&
	! grep -q -e delete-everything -e /etc/shadow server.log &&
	test_eq "deny|[\"no-delete\"]|denied" "$(ev delete-everything "decision || \"|\" || policies || \"|\" || json_extract(details, \"\$.outcome\")")" &&
	test_eq "deny|/etc/shadow" "$(sql "SELECT decision || \"|\" || json_extract(details, \"\$.arguments.path\") FROM events WHERE kind = \"mcp.call\" AND decision = \"deny\" AND json_extract(details, \"\$.tool\") = \"read-file\"")"
'

RAW='{"jsonrpc":"2.0","id":"s-7","method":"tools/call","params":{"name":"delete-everything","arguments":{}}}'
BATCH='[{"jsonrpc":"2.0","id":101,"method":"tools/call","params":{"name":"echo","arguments":{"text":"b1"}}},{"jsonrpc":"2.0","id":"x-102","method":"tools/call","params":{"name":"delete-everything","arguments":{}}}]'

test_expect_success MCP_SESSION,SQLITE3 'enforce: the error keeps a string id (SDK client and server)' '
	: >server.log && reset_db &&
	wrun enforce enforce.cedar "raw:$RAW" >out &&
	test_eq "{\"answers\":[{\"id\":\"s-7\",\"idType\":\"string\",\"error\":-32000,\"message\":\"leash: MCP tool '"'"'delete-everything'"'"' on stdio:tools denied by policy [\\\"no-delete\\\"] (policy)\"}]}" "$(cat out)" &&
	test_eq "" "$(calls)" &&
	test_eq "\"s-7\"" "$(ev delete-everything "json_quote(json_extract(details, \"\$.id\"))")"
'

# The SDK (1.32) no longer speaks JSON-RPC batches over stdio, so batches
# and byte-exactness are shown with raw lines and a server that is tee:
# what it echoes is exactly what reached it.
cat >raw.in <<'EOF2'
{ "jsonrpc" : "2.0",  "method":"notifications/initialized" }
[{"jsonrpc":"2.0","id":101,"method":"tools/call","params":{"name":"echo","arguments":{"text":"b1"}}},{"jsonrpc":"2.0","id":"x-102","method":"tools/call","params":{"name":"delete-everything","arguments":{}}},{"jsonrpc":"2.0","method":"notifications/cancelled","params":{}}]
{"jsonrpc":"2.0",   "id":7, "method":"tools/call","params":{"name":"echo","arguments":{"text":"é \u00e9"}}}
not json at all
{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"echo","name":"delete-everything"}}
[{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"delete-everything"}}]
{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"delete-everything"}}
EOF2

test_expect_success MCP_SESSION,SQLITE3 'raw lines: a batch loses only its forbidden call (answered with its id); other lines reach the server byte for byte; lines that do not parse (or parse two ways) are refused in enforce' '
	reset_db &&
	leash_run --mode enforce --policy enforce.cedar --listen "" -- sh -c \
		"\"$LEASH\" mcp wrap --name tools -- tee raw.seen <raw.in" >raw.out 2>leash.err &&
	cat >raw.want <<-\EOF2 &&
	{ "jsonrpc" : "2.0",  "method":"notifications/initialized" }
	[{"jsonrpc":"2.0","id":101,"method":"tools/call","params":{"name":"echo","arguments":{"text":"b1"}}},{"jsonrpc":"2.0","method":"notifications/cancelled","params":{}}]
	{"jsonrpc":"2.0",   "id":7, "method":"tools/call","params":{"name":"echo","arguments":{"text":"é \u00e9"}}}
	EOF2
	test_cmp raw.want raw.seen &&
	grep -F "[{\"jsonrpc\":\"2.0\",\"id\":\"x-102\",\"error\":{\"code\":-32000," raw.out &&
	grep -F "[{\"jsonrpc\":\"2.0\",\"id\":8,\"error\":{\"code\":-32000," raw.out &&
	grep -F "{\"jsonrpc\":\"2.0\",\"id\":9,\"error\":{\"code\":-32000," raw.out &&
	test_eq 2 "$(grep -c -F "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"leash: request refused: a line that does not parse as JSON" raw.out)" &&
	grep -F "duplicate object key" raw.out &&
	test_eq 3 "$(sql "SELECT count(*) FROM events WHERE kind = \"mcp.call\" AND decision = \"deny\"")" &&
	test_eq "101|7" "$(sql "SELECT group_concat(json_extract(details, \"\$.id\"), \"|\") FROM events WHERE kind = \"mcp.call\" AND decision = \"allow\"")" &&
	test_eq "connection closed" "$(ev echo "json_extract(details, \"\$.outcome\")")" &&
	test_eq "deny|agent|16,deny|agent|100" "$(sql "SELECT group_concat(decision || \"|\" || json_extract(details, \"\$.direction\") || \"|\" || json_extract(details, \"\$.bytes\")) FROM events WHERE kind = \"mcp.uninspected\"")" &&
	test_eq "notifications/initialized,notifications/cancelled" "$(sql "SELECT group_concat(json_extract(details, \"\$.method\")) FROM events WHERE kind = \"mcp.notification\" AND json_extract(details, \"\$.direction\") = \"agent\"")"
'

test_expect_success MCP_SESSION,SQLITE3 'raw lines in shadow: everything reaches the server byte for byte; what enforce would refuse is recorded would_deny' '
	reset_db &&
	leash_run --mode shadow --policy enforce.cedar --listen "" -- sh -c \
		"\"$LEASH\" mcp wrap --name tools -- tee raw.seen <raw.in" >raw.out 2>leash.err &&
	test_cmp raw.in raw.seen &&
	test_eq "would_deny,would_deny" "$(sql "SELECT group_concat(decision) FROM events WHERE kind = \"mcp.uninspected\"")"
'

cat >slow-server.py <<'EOF2'
# slow-server.py [string-id]: a stdio "server" that answers the tools/list
# it is sent in three pieces, 0.2 s apart (with its id as a string if
# asked: the SDK client takes "1" for 1), then writes a log line to stdout
# (not JSON), then one 9 MB line, then exits.
import json, sys, time
req = json.loads(sys.stdin.readline())
tools = [{"name": n, "inputSchema": {"type": "object"}} for n in ["echo", "delete-everything", "read-file"]]
rid = str(req["id"]) if sys.argv[1:] == ["string-id"] else req["id"]
line = json.dumps({"jsonrpc": "2.0", "id": rid, "result": {"tools": tools}}) + "\n"
for part in (line[:10], line[10:40], line[40:]):
    sys.stdout.write(part); sys.stdout.flush(); time.sleep(0.2)
sys.stdout.write("server log line, not JSON\n")
sys.stdout.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/message", "params": {"data": "y" * 9000000}}) + "\n")
sys.stdout.flush()
EOF2

test_expect_success MCP_SESSION,SQLITE3,PYTHON3 'server lines: a tools/list answer written in pieces is filtered whole; a line that is not JSON and a 9 MB line are relayed byte for byte and recorded uninspected' '
	reset_db &&
	echo "{\"jsonrpc\":\"2.0\",\"id\":\"L1\",\"method\":\"tools/list\"}" >list.in &&
	leash_run --mode enforce --policy enforce.cedar --listen "" -- sh -c \
		"\"$LEASH\" mcp wrap --name tools -- python3 slow-server.py <list.in" >slow.out 2>leash.err &&
	test_eq "{\"jsonrpc\":\"2.0\",\"id\":\"L1\",\"result\":{\"tools\":[{\"name\":\"echo\",\"inputSchema\":{\"type\":\"object\"}},{\"name\":\"read-file\",\"inputSchema\":{\"type\":\"object\"}}]}}" "$(sed -n 1p slow.out)" &&
	test_eq "server log line, not JSON" "$(sed -n 2p slow.out)" &&
	python3 -c "import json, sys; print(len(json.loads(sys.stdin.read().split(chr(10))[2])[\"params\"][\"data\"]))" <slow.out >n &&
	test_eq 9000000 "$(cat n)" &&
	test_eq 3 "$(wc -l <slow.out)" &&
	test_eq "[\"delete-everything\"]|2" "$(evk mcp.tools.list tools/list "json_extract(details, \"\$.hidden\") || \"|\" || json_extract(details, \"\$.tools\")")" &&
	test_eq "server|1|,server|1|" "$(sql "SELECT group_concat(json_extract(details, \"\$.direction\") || \"|\" || (json_extract(details, \"\$.bytes\") = 26 OR json_extract(details, \"\$.bytes\") > 8000000) || \"|\" || ifnull(decision, \"\")) FROM events WHERE kind = \"mcp.uninspected\"")"
'

test_expect_success MCP_SESSION,PYTHON3 'a tools/list answer is filtered by its shape too: an id of another JSON type (which the SDK client accepts) does not get it past' '
	echo "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}" >list1.in &&
	leash_run --mode enforce --policy enforce.cedar --listen "" -- sh -c \
		"\"$LEASH\" mcp wrap --name tools -- python3 slow-server.py string-id <list1.in" >slow.out 2>leash.err &&
	test_eq "{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"result\":{\"tools\":[{\"name\":\"echo\",\"inputSchema\":{\"type\":\"object\"}},{\"name\":\"read-file\",\"inputSchema\":{\"type\":\"object\"}}]}}" "$(sed -n 1p slow.out)"
'

cat >strid-server.py <<'EOF2'
# strid-server.py: answers each request it is sent with a tool error, its
# id turned into a string (the SDK client takes "7" for 7)
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    print(json.dumps({"jsonrpc": "2.0", "id": str(m["id"]), "result": {"content": [], "isError": True}}), flush=True)
EOF2

test_expect_success MCP_SESSION,SQLITE3,PYTHON3 'an answer to a permitted call with its id as a string is still the call'"'"'s outcome' '
	reset_db &&
	echo "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\"}}" >call7.in &&
	leash_run --mode enforce --policy enforce.cedar --listen "" -- sh -c \
		"\"$LEASH\" mcp wrap --name tools -- python3 strid-server.py <call7.in" >strid.out 2>leash.err &&
	test_eq "{\"jsonrpc\": \"2.0\", \"id\": \"7\", \"result\": {\"content\": [], \"isError\": true}}" "$(cat strid.out)" &&
	test_eq "allow|tool_error|1" "$(ev echo "decision || \"|\" || json_extract(details, \"\$.outcome\") || \"|\" || json_extract(details, \"\$.is_error\")")"
'

test_expect_success MCP_SESSION,SQLITE3 '--no-session inside a session changes nothing: the server is governed' '
	: >server.log && reset_db &&
	leash_run --mode enforce --policy enforce.cedar --listen "" -- \
		node "$M/stdio-client.mjs" list call:delete-everything -- "$LEASH" mcp wrap --no-session --name tools -- \
		node "$M/stdio-server.mjs" "$TRASH/server.log" >out 2>err &&
	test_eq "{\"ok\":[\"echo\",\"read-file\",\"fail\",\"notify\"]}" "$(sed -n 1p out)" &&
	sed -n 2p out | grep -F "\"code\":-32000" &&
	test_eq "" "$(calls)" && ! grep -F "ungoverned" err &&
	test_eq "deny|denied" "$(ev delete-everything "decision || \"|\" || json_extract(details, \"\$.outcome\")")"
'

test_expect_success MCP_SESSION,SQLITE3,PYTHON3 'a 9 MB line from the agent is refused in enforce (-32600, never reaches the server); the next line goes on' '
	reset_db &&
	python3 -c "import json; print(json.dumps({\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": \"tools/call\", \"params\": {\"name\": \"delete-everything\", \"arguments\": {\"pad\": \"x\" * 9000000}}}))" >big.in &&
	echo "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}" >>big.in &&
	leash_run --mode enforce --policy enforce.cedar --listen "" -- sh -c \
		"\"$LEASH\" mcp wrap --name tools -- tee big.seen <big.in" >big.out 2>leash.err &&
	test_eq "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}" "$(cat big.seen)" &&
	grep -F "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":\"leash: request refused: a line over" big.out &&
	test_eq "deny|agent" "$(sql "SELECT decision || \"|\" || json_extract(details, \"\$.direction\") FROM events WHERE kind = \"mcp.uninspected\"")" &&
	test_eq 0 "$(sql "SELECT count(*) FROM events WHERE kind = \"mcp.call\"")"
'

cat >deep-server.py <<'EOF2'
# deep-server.py: a stdio "server" that first writes answers whose id and
# error code are nested 2046 deep (jansson reads them; wrapped once more
# they would pass its depth limit), then echoes what it is sent
import sys
deep = "[" * 2046 + "]" * 2046
sys.stdout.write('{"jsonrpc":"2.0","id":' + deep + ',"result":{}}\n')
sys.stdout.write('{"jsonrpc":"2.0","id":5,"error":{"code":' + deep + ',"message":"x"}}\n')
sys.stdout.flush()
for line in sys.stdin:
    sys.stdout.write(line); sys.stdout.flush()
EOF2

test_expect_success MCP_SESSION,SQLITE3,PYTHON3 'deeply nested values from the server are not passed to the session: the next decision is still the right one' '
	reset_db &&
	leash_run --mode enforce --policy enforce.cedar --listen "" -- sh -c \
		"{ sleep 0.5; echo \"{\\\"jsonrpc\\\":\\\"2.0\\\",\\\"id\\\":6,\\\"method\\\":\\\"tools/call\\\",\\\"params\\\":{\\\"name\\\":\\\"echo\\\"}}\"; } | \"$LEASH\" mcp wrap --name tools -- python3 deep-server.py" >deep.out 2>leash.err &&
	test_eq 3 "$(wc -l <deep.out)" &&
	test_eq "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\"}}" "$(sed -n 3p deep.out)" &&
	test_eq "allow" "$(ev echo decision)"
'

cat >lost.py <<'EOF2'
# lost.py PATH: a unix socket that accepts one peer and closes it at once,
# as a session that is gone would
import os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1]); s.listen(1)
print("ready", flush=True)
c, _ = s.accept(); c.close()
EOF2

test_expect_success MCP_SDK,PYTHON3 'the session lost: tools/call answered -32000, tools/list withheld (-32000), never offered unfiltered; the server sees no call' '
	: >server.log && rm -f lost.sock &&
	{ python3 lost.py "$TRASH/lost.sock" >lost.out & } &&
	for i in $(seq 50); do grep -q ready lost.out && break; sleep 0.1; done &&
	MCP_PASS_ENV=1 LEASH_MCP_SOCKET=$TRASH/lost.sock node "$M/stdio-client.mjs" list call:echo -- \
		"$LEASH" mcp wrap --name tools -- node "$M/stdio-server.mjs" "$TRASH/server.log" >out 2>err &&
	wait &&
	sed -n 1p out | grep -F "\"code\":-32000" && sed -n 1p out | grep -F "tools/list answer is withheld" &&
	sed -n 2p out | grep -F "\"code\":-32000" && sed -n 2p out | grep -F "the leash session cannot decide" &&
	test_eq "" "$(calls)"
'

test_expect_success MCP_SESSION,SQLITE3 'a server no rule permits is denied by default; the environment need not be passed on' '
	: >server.log && reset_db &&
	leash_run --mode enforce --policy enforce.cedar --listen "" -- \
		node "$M/stdio-client.mjs" call:echo -- "$LEASH" mcp wrap -- \
		node "$M/stdio-server.mjs" "$TRASH/server.log" >out 2>leash.err &&
	grep -F "\"code\":-32000" out && grep -F "on stdio:node denied by policy (default deny)" out &&
	test_eq "" "$(calls)" &&
	test_eq "deny|stdio:node" "$(ev echo "decision || \"|\" || json_extract(details, \"\$.server\")")"
'

test_expect_success MCP_SESSION,SQLITE3 'record mode: every call reaches the server and is recorded, nothing decided' '
	: >server.log && reset_db &&
	wrun record enforce.cedar call:delete-everything >out &&
	test_eq "{\"ok\":\"deleted\",\"isError\":false}" "$(cat out)" &&
	test_eq "delete-everything " "$(calls)" &&
	test_eq "allow|record mode|result" "$(ev delete-everything "decision || \"|\" || json_extract(details, \"\$.reason\") || \"|\" || json_extract(details, \"\$.outcome\")")"
'

test_expect_success MCP_SESSION,SQLITE3 'shadow: a forbidden call goes through, recorded would_deny' '
	: >server.log && reset_db &&
	wrun shadow enforce.cedar call:delete-everything >out &&
	test_eq "{\"ok\":\"deleted\",\"isError\":false}" "$(cat out)" &&
	test_eq "would_deny|[\"no-delete\"]|result" "$(ev delete-everything "decision || \"|\" || policies || \"|\" || json_extract(details, \"\$.outcome\")")"
'

cat >ask.py <<'EOF2'
# ask.py LINE: LINE sent to the session's MCP socket, the answer printed
import os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(os.environ["LEASH_MCP_SOCKET"])
try:
    s.sendall(sys.argv[1].encode() + b"\n")
except BrokenPipeError:
    pass  # a refused peer is answered and closed at once: read the answer
print(s.makefile().readline().strip())
EOF2

test_expect_success MCP_SESSION,PYTHON3 'the MCP socket only decides and records: any other request is refused; it is gone after the session' '
	reset_db &&
	leash_run --mode enforce --policy enforce.cedar --listen "" -- sh -c \
		"python3 ask.py \"{\\\"op\\\":\\\"mode\\\",\\\"mode\\\":\\\"record\\\"}\"; echo \$LEASH_MCP_SOCKET" >out 2>leash.err &&
	sed -n 1p out | grep -F "this socket only decides and records" &&
	sock=$(sed -n 2p out) && case "$sock" in /run/leash-mcp/*.sock) ;; *) false ;; esac &&
	test ! -e "$sock"
'

test_expect_success MCP_SESSION,PYTHON3 'a process outside the session cannot use its MCP socket' '
	reset_db && rm -f sockpath &&
	{ leash_run --mode enforce --policy enforce.cedar --listen "" -- sh -c \
		"echo \$LEASH_MCP_SOCKET >sockpath; sleep 3" 2>leash.err & } &&
	for i in $(seq 50); do test -s sockpath && break; sleep 0.1; done &&
	LEASH_MCP_SOCKET=$(cat sockpath) python3 ask.py "{\"op\":\"decide\",\"server\":\"stdio:tools\",\"tool\":\"echo\"}" >out &&
	grep -F "not a process of this leash session" out &&
	wait
'

test_expect_success MCP_SESSION,SQLITE3 'POST /api/mcp/decide on the control server (token required) decides and records' '
	reset_db && rm -f started &&
	port=$(python3 -c "import socket; s=socket.socket(); s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1])") &&
	tok=0123456789abcdef0123 &&
	{ leash_run --mode enforce --policy enforce.cedar --listen 127.0.0.1:$port --token $tok -- \
		sh -c ": >started; sleep 3" 2>leash.err & } &&
	for i in $(seq 50); do test -e started && break; sleep 0.1; done &&
	curl -s -H "Authorization: Bearer $tok" -H "Content-Type: application/json" \
		-d "{\"server\":\"stdio:tools\",\"tool\":\"delete-everything\",\"arguments\":{}}" \
		http://127.0.0.1:$port/api/mcp/decide >out &&
	grep -F "\"decision\":\"deny\"" out && grep -F "no-delete" out &&
	curl -s -o /dev/null -w "%{http_code}" -H "Content-Type: application/json" -d "{}" \
		http://127.0.0.1:$port/api/mcp/decide >code && test_eq 401 "$(cat code)" &&
	wait &&
	test_eq "deny|denied" "$(ev delete-everything "decision || \"|\" || json_extract(details, \"\$.outcome\")")"
'

test_done
