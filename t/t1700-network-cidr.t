#!/bin/sh
test_description='CIDR ranges in NetworkConnect rules: validated, implied by addresses, enforced by the kernel'
. "$(dirname "$0")/test-lib.sh"

cat >cidr.cedar <<EOF
permit (principal, action, resource);
@id("lo-v4") permit (principal, action == Action::"NetworkConnect", resource in Host::"127.0.0.0/8");
@id("no-two") forbid (principal, action == Action::"NetworkConnect", resource in Host::"127.0.0.2/32");
@id("no-v6") forbid (principal, action == Action::"NetworkConnect", resource in Host::"[::1]/128");
EOF

test_expect_success 'CIDR hosts validate; malformed ones are refused with a code' '
	"$LEASH" policy check cidr.cedar &&
	printf "permit (principal, action == Action::\"NetworkConnect\", resource in Host::\"10.0.0.0/33\");\n" >bad.cedar &&
	test_expect_code 1 "$LEASH" policy check bad.cedar >out 2>&1 &&
	grep "leash.bad-host" out
'

test_expect_success 'an address is in every range that holds it (the entity provider)' '
	for r in 127.0.0.1:80 127.0.0.2:80 "[::1]:80"; do
		"$LEASH" policy eval cidr.cedar --principal "Agent::\"a\"" --action "Action::\"NetworkConnect\"" --resource "Host::\"$r\"" | head -1
	done >out &&
	printf "decision: allow\ndecision: deny\ndecision: deny\n" >expect &&
	test_cmp expect out
'

test_expect_success SESSION,PYTHON3 'enforce: the kernel refuses what the ranges forbid, with the deciding ids' '
	python3 -c "
import socket, sys
s = socket.socket(socket.AF_INET6); s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind((\"::\", 0)); s.listen(16); print(s.getsockname()[1]); sys.stdout.flush()
import time; time.sleep(30)
" >port &
	server=$! &&
	for i in $(seq 50); do test -s port && break; sleep 0.1; done &&
	port=$(cat port) &&
	"$LEASH" --db "$DB" -q --mode enforce --policy cidr.cedar -- python3 -c "
import socket
for host, fam in ((\"127.0.0.1\", socket.AF_INET), (\"127.0.0.2\", socket.AF_INET), (\"::1\", socket.AF_INET6)):
    s = socket.socket(fam)
    try:
        s.connect((host, $port)); print(host, \"connected\")
    except OSError as e:
        print(host, \"refused\", e.errno)
" >out 2>&1;
	kill $server;
	cat out &&
	printf "127.0.0.1 connected\n127.0.0.2 refused 1\n::1 refused 1\n" >expect &&
	test_cmp expect out &&
	test_eq "deny [\"no-two\"]" "$(sql "SELECT decision || '\'' '\'' || policies FROM events WHERE resource = '\''Host::\"127.0.0.2:$port\"'\''")"
'

command -v cc >/dev/null && test_set_prereq CC

test_expect_success SESSION,PYTHON3,CC 'an io_uring connect reaches the same kernel check' '
	cc -O2 -o uring "$TEST_DIRECTORY/helpers/uring-open.c" &&
	python3 -c "
import socket, sys, time
s = socket.socket(); s.bind((\"0.0.0.0\", 0)); s.listen(16); print(s.getsockname()[1]); sys.stdout.flush()
time.sleep(30)
" >port2 &
	server=$! &&
	for i in $(seq 50); do test -s port2 && break; sleep 0.1; done &&
	port=$(cat port2) &&
	"$LEASH" --db "$DB" -q --mode enforce --policy cidr.cedar -- sh -c "$TRASH/uring -c 127.0.0.1 $port; $TRASH/uring -c 127.0.0.2 $port" >out 2>&1;
	kill $server;
	cat out &&
	printf "connected\nrefused 1\n" >expect &&
	test_cmp expect out
'

test_done
