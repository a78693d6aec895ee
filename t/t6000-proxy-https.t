#!/bin/sh
test_description='the proxy: HTTP(S) through leash, explicit and transparent, hostname policy on the verified destination, secrets'
. "$(dirname "$0")/test-lib.sh"

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Upstreams: the real one (test CA) on 127.0.0.1, an attacker (a rogue
# certificate for the same name) on 127.0.0.66, same port.
"$TEST_DIRECTORY/proxy/mkcerts.sh" certs >/dev/null 2>&1
PORT=$(free_port)
mkdir -p repo-src www && (cd repo-src && git init -q && echo hello >README &&
	git add README && git -c user.email=t@t -c user.name=t commit -qm one) &&
	git clone -q --bare repo-src www/repo.git && (cd www/repo.git && git update-server-info)
python3 "$TEST_DIRECTORY/proxy/upstream.py" $PORT certs/server.pem certs/server.key \
	--log real.log --root www >real.out 2>&1 &
REAL=$!
python3 "$TEST_DIRECTORY/proxy/upstream.py" $PORT certs/rogue.pem certs/rogue.key \
	--addr 127.0.0.66 --log attacker.log >attacker.out 2>&1 &
ATTACKER=$!
trap 'kill $REAL $ATTACKER 2>/dev/null' EXIT
for i in $(seq 50); do
	grep -q ready real.out && grep -q ready attacker.out && break
	sleep 0.1
done
OTHER=$(free_port)
# Inside the sandbox the names resolve to the attacker: only the proxy's
# own resolution (--resolve pins) may decide where a request goes.
printf '127.0.0.1 localhost\n127.0.0.66 allowed.test api.allowed.test\n' >hosts

cat >policy.cedar <<EOF2
@id("all-files")
permit (principal, action in [Action::"FileOpen", Action::"ProcessExec"], resource);
@id("allowed")
permit (principal, action == Action::"NetworkConnect", resource in Host::"allowed.test");
@id("allowed-subs")
permit (principal, action == Action::"NetworkConnect", resource in Host::"*.allowed.test");
@id("other")
permit (principal, action == Action::"NetworkConnect", resource in Host::"other.test");
@id("no-secret-host")
forbid (principal, action == Action::"NetworkConnect", resource in Host::"forbidden.allowed.test");
@id("key-header")
permit (principal, action == Action::"HttpRewrite", resource in Host::"allowed.test")
when { context.header == "X-Api-Key" && context.value == "\${TOKEN}" };
EOF2

SECRET=s3cr3t-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
export TOKEN=$SECRET

# lrun ARGS...: leash in enforce mode with the test's pins and CA
lrun() {
	leash_run --mode enforce --policy policy.cedar --listen '' \
		--upstream-ca certs/ca.pem --proxy-ports 80,443,$PORT \
		--resolve allowed.test=127.0.0.1 --resolve api.allowed.test=127.0.0.1 \
		--resolve evilallowed.test=127.0.0.1 --resolve other.test=127.0.0.1 \
		--resolve forbidden.allowed.test=127.0.0.1 \
		--secret TOKEN=allowed.test -v "$TRASH/hosts:/etc/hosts:ro" "$@" 2>leash.err
}
code() {
	curl -s -o /dev/null -w '%{http_code}' "$@"
}
last() {
	sql "SELECT decision || '|' || policies || '|' || json_extract(details, '\$.status') || '|' || json_extract(details, '\$.via')
		FROM events WHERE kind = 'http.request' AND json_extract(details, '\$.host') = '$1' ORDER BY session DESC, seq DESC LIMIT 1"
}

test_expect_success SESSION,SQLITE3 'explicit (HTTPS_PROXY, CONNECT): permitted host passes, the agent trusts the leash CA' '
	lrun -- curl -sS https://allowed.test:$PORT/echo?q=secretquery >out &&
	grep "\"path\": \"/echo?q=secretquery\"" out &&
	test_eq "allow|[\"allowed\"]|200|explicit" "$(last allowed.test)" &&
	test_eq "/echo?..." "$(sql "SELECT json_extract(details, \"\$.path\") FROM events WHERE kind = \"http.request\" LIMIT 1")" &&
	test_eq 0 "$(sql "SELECT count(*) FROM events WHERE kind = \"http.request\" AND details LIKE \"%secretquery%\"")"
'

test_expect_success SESSION,SQLITE3 'forbidden and unlisted hosts get 403 naming the rule; *.domain stops at a dot' '
	lrun -- sh -c "curl -s https://forbidden.allowed.test:$PORT/echo; curl -s -o /dev/null -w %{http_code} https://evilallowed.test:$PORT/echo; echo; curl -s -o /dev/null -w %{http_code} https://api.allowed.test:$PORT/echo" >out &&
	grep "forbidden.allowed.test:$PORT denied by policy \[\"no-secret-host\"\]" out &&
	test_eq 403 "$(sed -n 2p out)" && test_eq 200 "$(sed -n 3p out)" &&
	test_eq "deny|[\"no-secret-host\"]|403|explicit" "$(last forbidden.allowed.test)" &&
	test_eq "deny|[]|403|explicit" "$(last evilallowed.test)" &&
	test_eq "allow|[\"allowed-subs\"]|200|explicit" "$(last api.allowed.test)"
'

test_expect_success SESSION 'a Host header that is not the TLS server name gets 421' '
	lrun -- curl -s -o /dev/null -w "%{http_code}" -H "Host: evilallowed.test" https://allowed.test:$PORT/echo >out &&
	test_eq 421 "$(cat out)" &&
	! grep -q "evilallowed" real.log
'

test_expect_success SESSION,SQLITE3 'transparent: an attacker address with an allowed name reaches the real host, never the attacker' '
	lrun -- curl -sS --noproxy "*" --resolve allowed.test:$PORT:127.0.0.66 https://allowed.test:$PORT/echo?transparent >out &&
	grep "/echo?transparent" out && grep "/echo?transparent" real.log &&
	! test -s attacker.log &&
	test_eq "allow|[\"allowed\"]|200|transparent" "$(last allowed.test)" &&
	test_eq "redirected to the proxy" "$(sql "SELECT json_extract(details, \"\$.reason\") FROM events WHERE kind = \"network.connect\" AND resource = \"Host::\"\"127.0.0.66:$PORT\"\"\" ORDER BY session DESC LIMIT 1")"
'

test_expect_success SESSION,PYTHON3 'enforce: a direct connection to a port the proxy does not take is refused by the kernel' '
	lrun -- python3 -c "
import socket, errno
s = socket.socket()
try:
    s.connect((\"127.0.0.1\", $OTHER)); print(\"connected\")
except OSError as e:
    print(errno.errorcode[e.errno])
" >out &&
	test_eq EPERM "$(cat out)"
'

test_expect_success SESSION,PYTHON3 'python urllib with and without the proxy variables' '
	cat >get.py <<-EOF2 &&
	import sys, urllib.request
	print(urllib.request.urlopen(sys.argv[1]).status)
	EOF2
	lrun -- sh -c "python3 get.py https://allowed.test:$PORT/echo; unset HTTPS_PROXY https_proxy ALL_PROXY all_proxy; python3 get.py https://allowed.test:$PORT/echo?direct" >out &&
	test_eq "200 200" "$(echo $(cat out))" &&
	test_eq "allow|[\"allowed\"]|200|transparent" "$(last allowed.test)" &&
	! test -s attacker.log
'

test_expect_success SESSION 'node fetch through the proxy (transparent: undici ignores HTTPS_PROXY)' '
	command -v node >/dev/null &&
	lrun -- node -e "fetch(\"https://allowed.test:$PORT/echo?node\").then(r => console.log(r.status)).catch(e => { console.log(String(e.cause || e)); process.exit(1); })" >out 2>&1 ||
	{ cat out; false; } &&
	test_eq 200 "$(cat out)"
'

test_expect_success SESSION 'git clone over https through the proxy' '
	lrun -- git clone -q https://allowed.test:$PORT/files/repo.git cloned &&
	test_eq hello "$(cat cloned/README)"
'

test_expect_success SESSION,SQLITE3 'a secret: placeholder in the agent, real value only toward its host, never recorded' '
	lrun -- sh -c "echo \$TOKEN; curl -sS -H \"Authorization: Bearer \$TOKEN\" https://allowed.test:$PORT/echo; echo; curl -s -w \"%{http_code}\" -H \"Authorization: Bearer \$TOKEN\" https://api.allowed.test:$PORT/echo" >out &&
	grep -q "^leash-placeholder-" out &&
	grep -q "\"Authorization\": \"Bearer $SECRET\"" out &&
	grep -q "\"X-Api-Key\": \"$SECRET\"" out &&
	grep -q "may not go to api.allowed.test" out &&
	test_eq "high|TOKEN|403" "$(sql "SELECT json_extract(details, \"\$.severity\") || \"|\" || json_extract(details, \"\$.blocked_secret\") || \"|\" || json_extract(details, \"\$.status\") FROM events WHERE kind = \"http.request\" AND json_extract(details, \"\$.host\") = \"api.allowed.test\" ORDER BY session DESC, seq DESC LIMIT 1")" &&
	test_eq "[\"secret:TOKEN\",\"key-header\"]" "$(sql "SELECT json_extract(details, \"\$.header_rules\") FROM events WHERE kind = \"http.request\" AND json_extract(details, \"\$.host\") = \"allowed.test\" ORDER BY session DESC, seq DESC LIMIT 1")" &&
	sqlite3 "$DB" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null &&
	test_eq 0 "$(cat "$DB"* leash.err | grep -a -c "$SECRET")"
'

test_expect_success SESSION,PYTHON3 'server-sent events arrive one by one, as the server sends them' '
	cat >sse.py <<-EOF2 &&
	import sys, time, urllib.request
	t = []
	for line in urllib.request.urlopen(sys.argv[1]):
	    if line.startswith(b"data:"):
	        t.append(time.time())
	print("gaps", " ".join("%d" % ((b - a) >= 0.5) for a, b in zip(t, t[1:])), len(t))
	EOF2
	lrun -- python3 sse.py https://allowed.test:$PORT/sse >out &&
	test_eq "gaps 1 1 3" "$(cat out)"
'

test_expect_success SESSION,PYTHON3 'a WebSocket upgrade is relayed both ways (echo)' '
	cat >ws.py <<-EOF2 &&
	import socket, ssl, sys
	ctx = ssl.create_default_context()
	s = ctx.wrap_socket(socket.create_connection(("allowed.test", int(sys.argv[1]))), server_hostname="allowed.test")
	s.sendall(b"GET /ws HTTP/1.1\r\nHost: allowed.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	head = b""
	while b"\r\n\r\n" not in head:
	    head += s.recv(1)
	print(head.split(b"\r\n")[0].decode())
	msg = b"hello ws"
	s.sendall(bytes([0x81, 0x80 | len(msg)]) + b"\0\0\0\0" + msg)
	f = s.recv(2); print(s.recv(f[1]).decode())
	EOF2
	lrun -- python3 ws.py $PORT >out 2>&1 ||
	{ cat out; false; } &&
	test_eq "HTTP/1.1 101 Switching Protocols" "$(sed -n 1p out)" &&
	test_eq "echo: hello ws" "$(sed -n 2p out)"
'

test_done
