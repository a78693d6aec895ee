#!/bin/sh
test_description='what the agent can reach of leash (DNS forwarder, proxy, MCP socket, fds, pid 1) cannot crash, hang or grow it: each probe, then leash still answers and exits with the command'"'"'s status'
. "$(dirname "$0")/test-lib.sh"

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
ATTACK=$TEST_DIRECTORY/attack

# Upstreams: a DNS server that knows git.test, one that never answers, an
# HTTPS server for allowed.test and a plain HTTP one, all on 127.0.0.1.
NS=$(free_port)
MUTE=$(free_port)
HTTPS=$(free_port)
HTTP=$(free_port)
"$TEST_DIRECTORY/proxy/mkcerts.sh" certs >/dev/null 2>&1
python3 "$TEST_DIRECTORY/proxy/dns-server.py" $NS git.test=127.0.0.3 >ns.out 2>&1 &
NSPID=$!
python3 -c "
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', $MUTE))
print('ready', flush=True)
while True: s.recv(4096)
" >mute.out 2>&1 &
MUTEPID=$!
python3 "$TEST_DIRECTORY/proxy/upstream.py" $HTTPS certs/server.pem certs/server.key >https.out 2>&1 &
HTTPSPID=$!
python3 "$TEST_DIRECTORY/proxy/upstream.py" $HTTP >http.out 2>&1 &
HTTPPID=$!
trap 'kill $NSPID $MUTEPID $HTTPSPID $HTTPPID 2>/dev/null' EXIT
for i in $(seq 50); do
	grep -q ready ns.out && grep -q ready mute.out && grep -q ready https.out &&
		grep -q ready http.out && break
	sleep 0.1
done

cat >policy.cedar <<EOF2
@id("all-files")
permit (principal, action in [Action::"FileOpen", Action::"ProcessExec"], resource);
@id("allowed")
permit (principal, action == Action::"NetworkConnect", resource in Host::"allowed.test");
@id("git")
permit (principal, action == Action::"NetworkConnect", resource in Host::"git.test");
@id("flood")
permit (principal, action == Action::"NetworkConnect", resource in Host::"*.flood.test");
@id("flood-apex")
permit (principal, action == Action::"NetworkConnect", resource in Host::"flood.test");
@id("no-x")
forbid (principal, action == Action::"McpCall", resource == MCP::Tool::"x");
@id("mcp")
permit (principal, action == Action::"McpCall", resource);
EOF2

lrun() {
	leash_run --mode enforce --policy policy.cedar --listen '' --dns-upstream 127.0.0.1:$NS \
		--upstream-ca certs/ca.pem --proxy-ports 80,443,$HTTP,$HTTPS \
		--resolve allowed.test=127.0.0.1 "$@" 2>leash.err
}
# The first word after PROBE on its line of out.
res() {
	sed -n "s/^$1 //p" out
}

# ---- DNS ------------------------------------------------------------------

test_expect_success SESSION,PYTHON3,SQLITE3 'DNS over UDP: malformed datagrams are dropped or refused, the next query is answered' '
	lrun -- python3 "$ATTACK/dns-udp.py" git.test >out &&
	for p in qdcount-0 qdcount-65535 pointer-to-itself pointer-loop pointer-past-end \
		label-64 name-320 name-truncated type-truncated a-response; do
		test_eq dropped "$(res $p)" "$p" || return 1
	done &&
	test_eq "rcode 1" "$(res qdcount-2)" &&
	test_eq "rcode 4" "$(res type-any)" &&
	test_eq "rcode 4" "$(res class-any)" &&
	test_eq "rcode 5" "$(res byte-255-in-label)" &&
	test_eq "rcode 5" "$(res root-name)" &&
	test_eq "rcode 0" "$(res 60k-datagram)" &&
	test_eq "rcode 0 answers 1" "$(res final)" &&
	test_eq "one question per query" "$(sql "SELECT json_extract(details, \"\$.reason\") FROM events WHERE kind = \"dns.query\" AND json_extract(details, \"\$.rcode\") = \"FORMERR\" LIMIT 1")"
'

test_expect_success SESSION,PYTHON3 'DNS: 15 s of mutated queries over UDP and TCP; the next real query is answered' '
	lrun -- python3 "$ATTACK/dns-mutate.py" 1 15 >out &&
	grep "^sent [0-9]" out &&
	test_eq "rcode 0 answers 1" "$(res final)"
'

test_expect_success SESSION,PYTHON3 'DNS over TCP: bad frames close the connection, byte-by-byte and pipelined queries are answered' '
	lrun -- python3 "$ATTACK/dns-tcp.py" odd git.test >out &&
	for p in length-0 length-65535 half-a-frame runt qdcount-0; do
		test_eq "answers 0" "$(res $p)" "$p" || return 1
	done &&
	test_eq "answers 1" "$(res byte-by-byte)" &&
	test_eq "answers 50" "$(res 50-pipelined)"
'

test_expect_success SESSION,PYTHON3 'DNS over TCP: a client that pipelines queries and never reads the answers does not stop leash answering the next one' '
	lrun -- sh -c "python3 \"$ATTACK/dns-tcp.py\" unread 3; python3 \"$ATTACK/dns-udp.py\" git.test | tail -1" >out &&
	grep "^sent MB" out &&
	test_eq "rcode 0 answers 1" "$(res final)"
'

test_expect_success SESSION,PYTHON3,SQLITE3 'DNS: at most 1,024 queries wait for an upstream that does not answer, the rest get SERVFAIL at once' '
	reset_db &&
	leash_run --mode enforce --policy policy.cedar --listen "" --dns-upstream 127.0.0.1:$MUTE \
		--resolve flood.test=127.0.0.9 -- python3 "$ATTACK/dns-flood.py" 3000 flood.test >out 2>leash.err &&
	test_eq "final rcode 0 answers 1" "$(cat out)" &&
	test_eq 1024 "$(sql "SELECT count(*) FROM events WHERE kind = \"dns.query\" AND json_extract(details, \"\$.reason\") = \"leash is stopping\"")" &&
	refused=$(sql "SELECT count(*) FROM events WHERE kind = \"dns.query\" AND json_extract(details, \"\$.reason\") = \"too many queries in flight\"") &&
	test "$refused" -gt 0 && test "$refused" -le 1976
'

test_expect_success SESSION,PYTHON3 'DNS over TCP: at most 256 connections at once; UDP queries are answered meanwhile' '
	lrun -- sh -c "python3 \"$ATTACK/hold.py\" 127.3.2.1 53 300 2 & sleep 1.5; python3 \"$ATTACK/dns-udp.py\" git.test | tail -1; wait" >out &&
	test_eq "held 300" "$(sed -n /held/p out)" &&
	test_eq "open 256" "$(sed -n /open/p out)" &&
	test_eq "rcode 0 answers 1" "$(res final)"
'

# ---- the proxy --------------------------------------------------------------

test_expect_success SESSION,PYTHON3,SQLITE3 'proxy: malformed HTTP, smuggling, header floods, odd CONNECTs, bad ClientHellos and MCP bodies are refused; the next request is answered' '
	reset_db &&
	lrun -- python3 "$ATTACK/proxy.py" $HTTP $HTTPS >out &&
	for p in "x garbage" "x badline" "x nohost" "x connect-empty" "x connect-v6" "x connect-nul" \
		"x connect-self" "x connect-longhost" "x cl-te" "x cl-cl" "x cl-huge" "x chunk-huge" \
		"x h2-preface" "x connect-tls-nosni" "t80 nohost" "t80 connect"; do
		test_eq "HTTP/1.1 400 Bad Request" "$(res "$p")" "$p" || return 1
	done &&
	test_eq "HTTP/1.1 431 Request Header Fields Too Large" "$(res "x headers-200")" &&
	test_eq "HTTP/1.1 431 Request Header Fields Too Large" "$(res "t80 headers-200")" &&
	test_eq "HTTP/1.1 413 Error" "$(res "x mcp-deep")" &&
	test_eq "HTTP/1.1 413 Error" "$(res "x mcp-hugeid")" &&
	test_eq "HTTP/1.1 200 OK" "$(res "x mcp-deep-args")" &&
	test_eq "HTTP/1.1 200 OK" "$(res "x pipeline-mixed-host")" &&
	test_eq "HTTP/1.1 200 OK" "$(res normal)" &&
	test_eq "deny|403" "$(sql "SELECT decision || \"|\" || json_extract(details, \"\$.status\") FROM events WHERE kind = \"http.request\" AND json_extract(details, \"\$.host\") = \"evil.test\"")" &&
	sql "SELECT json_extract(details, \"\$.reason\") FROM events WHERE kind = \"mcp.uninspected\"" >uninspected &&
	grep "maximum parsing depth" uninspected &&
	grep "too big integer" uninspected &&
	test_eq 10001 "$(sql "SELECT count(*) FROM events WHERE kind = \"mcp.call\" AND decision = \"deny\" AND policies = \"[\"\"no-x\"\"]\"")"
'

test_expect_success SESSION,PYTHON3 'proxy: 15 s of mutated request heads and ClientHellos, explicit and transparent; then a normal request' '
	lrun -- python3 "$ATTACK/proxy-mutate.py" 1 15 $HTTP $HTTPS >out &&
	grep "^sent [0-9]" out &&
	test_eq "HTTP/1.1 200 OK" "$(res final)"
'

test_expect_success SESSION,PYTHON3 'fds: 1,100 idle proxy connections with leash at a soft limit of 1,024: programs still run, the proxy answers once they close' '
	(ulimit -Sn 1024 && lrun -- sh -c "ulimit -Sn; P=\${HTTP_PROXY#http://}; python3 \"$ATTACK/hold.py\" \${P%:*} \${P#*:} 1100 3 & sleep 2; python3 -c \"print(42)\"; wait; curl -s -o /dev/null -w %{http_code} http://allowed.test:$HTTP/echo") >out &&
	test_eq 1024 "$(sed -n 1p out)" &&
	test_eq "held 1100" "$(sed -n 2p out)" &&
	test_eq 42 "$(sed -n 3p out)" &&
	test_eq "open 1024" "$(sed -n 4p out)" &&
	test_eq 200 "$(sed -n 5p out)"
'

cat >local.cedar <<EOF2
@id("all-files")
permit (principal, action in [Action::"FileOpen", Action::"ProcessExec"], resource);
@id("allowed")
permit (principal, action == Action::"NetworkConnect", resource in Host::"allowed.test");
@id("local")
permit (principal, action == Action::"NetworkConnect", resource in Host::"127.0.0.1");
@id("no-x")
forbid (principal, action == Action::"McpCall", resource == MCP::Tool::"x");
@id("mcp")
permit (principal, action == Action::"McpCall", resource);
EOF2
outcome() {
	sql "SELECT json_extract(details, '\$.outcome') FROM events WHERE kind = 'mcp.tools.list' AND json_extract(details, '\$.path') = '/$1' ORDER BY session DESC, seq DESC LIMIT 1"
}

test_expect_success SESSION,PYTHON3,SQLITE3 'proxy: a hostile upstream the agent runs itself (huge or malformed heads, smuggling, 100-continue flood, 12 MB SSE line, MCP answers too deep or too big): 502 or relayed, recorded, the next request answered' '
	reset_db &&
	leash_run --mode enforce --policy local.cedar --listen "" --upstream-ca certs/ca.pem \
		--resolve allowed.test=127.0.0.1 -- python3 "$ATTACK/upstream-hostile.py" $HTTPS >out 2>leash.err &&
	for p in bighead manyhdr clte garbage; do
		test_eq "502 0" "$(res $p)" "$p" || return 1
	done &&
	test_eq "200 0" "$(res 100-continue-flood)" &&
	test_eq "200 0" "$(res json-tools-odd)" &&
	test_eq "[\"x\"]" "$(sql "SELECT json_extract(details, \"\$.hidden\") FROM events WHERE kind = \"mcp.tools.list\" AND json_extract(details, \"\$.path\") = \"/json-tools-odd\"")" &&
	for p in sse-huge sse-deep json-deep json-big; do
		test_eq "200 0" "$(res $p)" "$p" &&
		test_eq "not inspected" "$(outcome $p)" "$p" || return 1
	done &&
	test_eq 200 "$(res normal)"
'

test_expect_success SESSION,PYTHON3,SQLITE3 'proxy: 15 s of mutated MCP requests and answers (fields dropped or of other types, batches, cut SSE); then a normal request' '
	reset_db &&
	leash_run --mode enforce --policy local.cedar --listen "" --upstream-ca certs/ca.pem \
		--resolve allowed.test=127.0.0.1 -- sh -c "python3 \"$ATTACK/mcp-http-mutate.py\" 1 15 && curl -s -o /dev/null -w %{http_code} https://allowed.test:$HTTPS/echo" >out 2>leash.err &&
	grep "^sent [0-9]" out &&
	grep "200$" out &&
	test "$(sql "SELECT count(*) FROM events WHERE kind = \"mcp.call\"")" -gt 0
'

# ---- the MCP decision socket ------------------------------------------------

test_expect_success SESSION,PYTHON3 'MCP socket: garbage, policy and mode requests, deep JSON are answered with an error; decide still works' '
	lrun -- python3 "$ATTACK/mcp-socket.py" ops >out &&
	for p in garbage not-an-object policy mode deep; do
		test_eq "{\"error\":\"unknown request: this socket only decides and records MCP tool calls\"}" "$(res $p)" "$p" || return 1
	done &&
	grep "^decide {\"decision\":\"allow\",\"policies\":\[\"mcp\"\]" out
'

test_expect_success SESSION,PYTHON3,SQLITE3 'MCP socket: requests with wrong, missing, huge or odd fields are answered or ignored; a tools list with non-strings (which crashed leash) is decided' '
	reset_db &&
	lrun -- python3 "$ATTACK/mcp-socket.py" fuzz >out &&
	test_eq "{\"error\":\"decide needs a string server and tool\"}" "$(res decide-no-server)" &&
	test_eq "{\"error\":\"this socket decides for stdio: servers only\"}" "$(res decide-http-server)" &&
	test_eq "{\"error\":\"decide needs a string server and tool\"}" "$(res decide-tool-number)" &&
	res decide-deep-arguments | grep "^{\"decision\":\"allow\"" &&
	res decide-1mb-tool | grep "^{\"decision\":\"allow\"" &&
	test_eq "{\"hide\":[\"x\"]}" "$(res list-odd)" &&
	test_eq "{\"hide\":[]}" "$(res list-100k)" &&
	test_eq "{\"error\":\"uninspected needs hello and direction\"}" "$(res uninspected-odd)" &&
	res uninspected-100k | grep "^{" &&
	grep "^decide {\"decision\":\"allow\",\"policies\":\[\"mcp\"\]" out &&
	test_eq "[\"x\"]" "$(sql "SELECT json_extract(details, \"\$.hidden\") FROM events WHERE kind = \"mcp.tools.list\" AND json_extract(details, \"\$.tools\") = 4")"
'

test_expect_success SESSION,PYTHON3 'MCP socket: 10 s of mutated requests (fields dropped or of other types) on 10 connections; leash answers the next decide and exits cleanly' '
	lrun -- python3 "$ATTACK/mcp-socket.py" mutate 1 10 >out &&
	grep "^sent [0-9]" out &&
	grep "^decide {\"decision\":\"allow\",\"policies\":\[\"mcp\"\]" out
'

test_expect_success SESSION,PYTHON3 'MCP socket: a client that writes decides and never reads stops being read (1 MiB of answers)' '
	lrun -- python3 "$ATTACK/mcp-socket.py" unread 4 >out &&
	mb=$(sed -n "s/^sent MB //p" out) &&
	test "$mb" -lt 8
'

test_expect_success SESSION,PYTHON3 'MCP socket: at most 64 connections; the rest are told so, and a new one works once they close' '
	lrun -- python3 "$ATTACK/mcp-socket.py" many 100 >out &&
	test_eq "refused 36" "$(sed -n "s/^refused/refused/p" out)" &&
	grep "^decide {\"decision\":\"allow\"" out
'

# ---- pid 1, signals, ptrace ---------------------------------------------------

cat >pid1.sh <<'EOF2'
echo "pid1 $(cat /proc/1/comm)"
for p in /proc/[0-9]*; do cat $p/comm; done | sort -u | tr '\n' ' '; echo
kill -KILL 1; kill -STOP 1; sleep 0.2
echo "state $(sed -n 's/^State:\t\(.\).*/\1/p' /proc/1/status)"
python3 -c '
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
print("ptrace", libc.ptrace(16, 1, 0, 0), os.strerror(ctypes.get_errno()))
'
exit 7
EOF2

test_expect_success SESSION,PYTHON3 'pid namespace: the agent sees leash-init as pid 1 and no leash; SIGKILL and SIGSTOP to it do nothing, ptrace is refused' '
	test_expect_code 7 lrun -- sh pid1.sh >out &&
	test_eq "pid1 leash-init" "$(sed -n 1p out)" &&
	! echo " $(sed -n 2p out) " | grep " leash " &&
	test_eq "state S" "$(sed -n 3p out)" &&
	test_eq "ptrace -1 Operation not permitted" "$(sed -n 4p out)"
'

test_done
