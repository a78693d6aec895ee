#!/bin/sh
test_description='the proxy CA: leash ca, the key hidden from the agent, untrusted upstreams refused'
. "$(dirname "$0")/test-lib.sh"

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
"$TEST_DIRECTORY/proxy/mkcerts.sh" certs >/dev/null 2>&1
PORT=$(free_port)
python3 "$TEST_DIRECTORY/proxy/upstream.py" $PORT certs/rogue.pem certs/rogue.key \
	--log rogue.log >rogue.out 2>&1 &
ROGUE=$!
trap 'kill $ROGUE 2>/dev/null' EXIT
for i in $(seq 50); do grep -q ready rogue.out && break; sleep 0.1; done
mkdir -p xdg

test_expect_success SESSION 'leash ca creates the CA once: ECDSA P-256, key 0600, same fingerprint twice' '
	XDG_DATA_HOME=$TRASH/xdg "$LEASH" ca >one &&
	XDG_DATA_HOME=$TRASH/xdg "$LEASH" ca >two &&
	test_cmp one two &&
	test_eq "$TRASH/xdg/leash/ca.pem" "$(sed -n 1p one)" &&
	test_eq 600 "$(stat -c %a xdg/leash/ca-key.pem)" &&
	openssl x509 -in xdg/leash/ca.pem -noout -text | grep -q "ASN1 OID: prime256v1" &&
	test_eq "$(sed -n 2p one | cut -d" " -f2)" "$(openssl x509 -in xdg/leash/ca.pem -noout -fingerprint -sha256 | cut -d= -f2)"
'

test_expect_success SESSION 'with --db the CA lives next to the database; inside, its key reads empty and the system bundle holds it' '
	leash_run --listen "" -- sh -c "cat $TRASH/ca-key.pem | wc -c; grep -c \"BEGIN CERTIFICATE\" /etc/ssl/certs/ca-certificates.crt; tail -n +2 /etc/ssl/certs/ca-certificates.crt | openssl x509 -noout -subject 2>/dev/null; echo \$SSL_CERT_FILE" >out 2>&1 &&
	test_eq 0 "$(sed -n 1p out)" &&
	test "$(sed -n 2p out)" -gt "$(grep -c "BEGIN CERTIFICATE" /etc/ssl/certs/ca-certificates.crt)" &&
	grep -q "^/etc/ssl/certs/ca-certificates.crt$" out &&
	test_eq 600 "$(stat -c %a ca-key.pem)" &&
	grep -q "leash CA" ca-bundle.pem
'

test_expect_success SESSION,NOBODY 'a CA or an audit log another user made first (a shared directory) is refused, the command never runs' '
	mkdir -p shared/ca shared/db && chmod 1777 shared/ca shared/db &&
	cp ca.pem ca-key.pem shared/ca/ && chown nobody shared/ca/ca.pem shared/ca/ca-key.pem &&
	test_expect_code 125 "$LEASH" --db "$TRASH/shared/ca/x.db" -q --listen "" -- touch ran-ca 2>err &&
	grep "ca-key.pem. belongs to another user" err && test ! -e ran-ca &&
	touch shared/db/x.db && chown nobody shared/db/x.db &&
	test_expect_code 125 "$LEASH" --db "$TRASH/shared/db/x.db" -q --listen "" -- touch ran-db 2>err &&
	grep "x.db. belongs to another user" err && test ! -e ran-db &&
	test ! -s shared/db/x.db
'

test_expect_success SESSION,SQLITE3 'an upstream whose certificate is not trusted gets 502 and an event, never the request' '
	leash_run --listen "" --resolve allowed.test=127.0.0.1 -- curl -s -w "\n%{http_code}" https://allowed.test:$PORT/echo >out &&
	grep -q "upstream certificate not trusted" out &&
	test_eq 502 "$(tail -1 out)" &&
	! test -s rogue.log &&
	test_eq 502 "$(sql "SELECT json_extract(details, \"\$.status\") FROM events WHERE kind = \"http.request\"")"
'

test_done
