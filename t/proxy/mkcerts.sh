#!/bin/sh
# mkcerts.sh DIR: a test CA and one server certificate for the names the
# proxy tests use (127.0.0.1 included), made with openssl.
set -e
d=$1
mkdir -p "$d"
cd "$d"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
	-subj "/CN=leash test upstream CA" -keyout ca.key -out ca.pem 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=allowed.test" \
	-keyout server.key -out server.csr 2>/dev/null
printf 'subjectAltName=DNS:allowed.test,DNS:*.allowed.test,DNS:api.allowed.test,DNS:evilallowed.test,DNS:other.test,DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >ext.cnf
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
	-extfile ext.cnf -out server.pem 2>/dev/null
# a server the test CA did not sign
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
	-subj "/CN=allowed.test" -addext "subjectAltName=DNS:allowed.test" \
	-keyout rogue.key -out rogue.pem 2>/dev/null
