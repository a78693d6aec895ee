#!/bin/sh
test_description='the proxy: bytes that are neither HTTP nor TLS with a server name are decided on the address and port, and relayed untouched only if permitted'
. "$(dirname "$0")/test-lib.sh"

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

"$TEST_DIRECTORY/proxy/mkcerts.sh" certs >/dev/null 2>&1
PORT=$(free_port)
# On PORT (a port the proxy takes): a raw echo server on 127.0.0.1 and
# 127.0.0.2, and on TPORT a TLS echo server (the test CA's certificate) on both.
TPORT=$(free_port)
python3 -c "
import socket, ssl, sys, threading, time
def echo(c):
    try:
        while True:
            d = c.recv(4096)
            if not d:
                break
            c.sendall(b'echo:' + d)
    finally:
        c.close()
def serve(a, p, ctx):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a, p)); s.listen(16)
    while True:
        c, _ = s.accept()
        if ctx:
            try:
                c = ctx.wrap_socket(c, server_side=True)
            except Exception:
                c.close(); continue
        threading.Thread(target=echo, args=(c,), daemon=True).start()
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain('certs/server.pem', 'certs/server.key')
for a in ('127.0.0.1', '127.0.0.2'):
    threading.Thread(target=serve, args=(a, $PORT, None), daemon=True).start()
    threading.Thread(target=serve, args=(a, $TPORT, ctx), daemon=True).start()
time.sleep(0.3); print('ready', flush=True); time.sleep(600)
" >servers.out 2>&1 &
SERVERS=$!
trap 'kill $SERVERS 2>/dev/null' EXIT
for i in $(seq 50); do grep -qs ready servers.out && break; sleep 0.1; done

cat >policy.cedar <<EOF2
@id("all-files")
permit (principal, action in [Action::"FileOpen", Action::"ProcessExec"], resource);
@id("lo1")
permit (principal, action == Action::"NetworkConnect", resource in Host::"127.0.0.1/32");
EOF2

# raw.py ADDR PORT: sends bytes that are not HTTP, prints what came back
# (the two binary bytes left out, and the length), or "closed" when the
# connection ends with nothing.
cat >raw.py <<'EOF2'
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.sendall(b'\x00\x01hello opaque\n')
try:
    d = s.recv(100)
except ConnectionResetError:
    d = b''
print((d[:5] + d[7:]).decode().strip() + ' (%d bytes)' % len(d) if d else 'closed')
EOF2
# nosni.py ADDR PORT: TLS without a server name, trusting the test CA only
# (so only the real server's certificate passes), prints its subject CN
# and the echo.
cat >nosni.py <<'EOF2'
import socket, ssl, sys
ctx = ssl.create_default_context(cafile='certs/ca.pem'); ctx.check_hostname = False
try:
    s = ctx.wrap_socket(socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5))
except (ssl.SSLError, OSError) as e:
    print('failed', type(e).__name__); sys.exit(0)
cn = dict(x[0] for x in s.getpeercert()['subject'])['commonName']
s.sendall(b'ping'); print(cn, s.recv(100).decode())
EOF2

lrun() {
	leash_run --mode enforce --policy policy.cedar --listen '' --proxy-ports 80,443,$PORT,$TPORT "$@" 2>leash.err
}
row() { # ADDR:PORT: decision|policies|opaque|bytes_out|bytes_in of its proxy.tunnel row
	sql "SELECT decision || '|' || policies || '|' || json_extract(details, '\$.opaque') || '|' || json_extract(details, '\$.bytes_out') || '|' || json_extract(details, '\$.bytes_in') FROM events WHERE kind = 'proxy.tunnel' AND resource = 'Host::\"$1\"' ORDER BY session DESC, seq DESC LIMIT 1"
}

test_expect_success SESSION,PYTHON3,SQLITE3 'non-HTTP bytes on a proxied port: a permitted address gets an untouched tunnel, another one is closed' '
	lrun -- sh -c "python3 raw.py 127.0.0.1 $PORT; python3 raw.py 127.0.0.2 $PORT" >out &&
	test_eq "echo:hello opaque (20 bytes)" "$(sed -n 1p out)" &&
	test_eq closed "$(sed -n 2p out)" &&
	test_eq "allow|[\"lo1\"]|neither TLS nor HTTP|15|20" "$(row 127.0.0.1:$PORT)" &&
	test_eq "deny|[]|neither TLS nor HTTP|0|0" "$(row 127.0.0.2:$PORT)"
'

test_expect_success SESSION,PYTHON3,SQLITE3 'TLS without a server name is not intercepted: end to end to a permitted address, refused to another' '
	lrun -- sh -c "python3 nosni.py 127.0.0.1 $TPORT; python3 nosni.py 127.0.0.2 $TPORT" >out &&
	test_eq "allowed.test echo:ping" "$(sed -n 1p out)" &&
	test_eq "failed" "$(sed -n 2p out | cut -d" " -f1)" &&
	test_eq "allow|[\"lo1\"]|TLS without a server name" "$(row 127.0.0.1:$TPORT | cut -d"|" -f1-3)" &&
	test_eq "deny|[]|TLS without a server name|0|0" "$(row 127.0.0.2:$TPORT)"
'

test_expect_success SESSION,PYTHON3,SQLITE3 'HTTP on the same port is still parsed, decided and recorded as a request' '
	lrun -- sh -c "printf \"GET / HTTP/1.1\r\nHost: 127.0.0.2\r\nConnection: close\r\n\r\n\" | python3 -c \"import socket,sys; s=socket.create_connection((\\\"127.0.0.2\\\", $PORT)); s.sendall(sys.stdin.buffer.read()); print(s.recv(100).split(b\\\"\r\n\\\")[0].decode())\"" >out &&
	test_eq "HTTP/1.1 403 Forbidden" "$(cat out)"
'

test_done
