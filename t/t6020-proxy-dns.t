#!/bin/sh
test_description='DNS: the session asks leash (UDP and TCP 53), forbidden names get NXDOMAIN, answered addresses carry their name'"'"'s rules into the kernel for their TTL'
. "$(dirname "$0")/test-lib.sh"

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A test DNS server (leash asks it: --dns-upstream), and TCP listeners an
# ssh-like client connects to: 127.0.0.3 (git.test) and 127.0.0.4 (not
# named) on port P, 127.0.0.3 on port Q too, 127.0.0.6 (ipblocked.test) on P.
NS=$(free_port)
P=$(free_port)
Q=$(free_port)
python3 "$TEST_DIRECTORY/proxy/dns-server.py" $NS --log asked.log git.test=127.0.0.3 \
	ssh.test=127.0.0.3 brief.test=127.0.0.3/1 evil.test=127.0.0.5 ipblocked.test=127.0.0.6 \
	other.test=127.0.0.4 >ns.out 2>&1 &
NSPID=$!
python3 -c "
import socket, sys, threading, time
for a, p in (('127.0.0.3', $P), ('127.0.0.4', $P), ('127.0.0.3', $Q), ('127.0.0.6', $P)):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a, p)); s.listen(16)
    threading.Thread(target=lambda s=s: [c.sendall(b'SSH-2.0-test\r\n') or c.close() for c, _ in iter(s.accept, None)], daemon=True).start()
print('ready', flush=True)
time.sleep(600)
" >listen.out 2>&1 &
LPID=$!
trap 'kill $NSPID $LPID 2>/dev/null' EXIT
for i in $(seq 50); do
	grep -q ready ns.out && grep -q ready listen.out && break
	sleep 0.1
done

cat >policy.cedar <<EOF2
@id("all-files")
permit (principal, action in [Action::"FileOpen", Action::"ProcessExec"], resource);
@id("git")
permit (principal, action == Action::"NetworkConnect", resource in Host::"git.test");
@id("brief")
permit (principal, action == Action::"NetworkConnect", resource in Host::"brief.test");
@id("ssh-port")
permit (principal, action == Action::"NetworkConnect", resource == Host::"ssh.test:$Q");
@id("ipblocked")
permit (principal, action == Action::"NetworkConnect", resource in Host::"ipblocked.test");
@id("no-evil")
forbid (principal, action == Action::"NetworkConnect", resource in Host::"evil.test");
@id("no-addr6")
forbid (principal, action == Action::"NetworkConnect", resource in Host::"127.0.0.6/32");
EOF2

# conn.py NAME:PORT|ADDR:PORT ...: resolve (through the system resolver)
# and connect; prints "target address result" per target (result: the
# server's first line, or the errno name, or the resolver's error).
cat >conn.py <<'EOF2'
import errno, socket, sys, time
for t in sys.argv[1:]:
    if t.startswith('sleep:'):
        time.sleep(float(t[6:])); continue
    host, port = t.rsplit(':', 1)
    try:
        a = socket.getaddrinfo(host, int(port), socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
    except socket.gaierror as e:
        print(t, '-', 'EAI_NONAME' if e.errno == socket.EAI_NONAME else 'gai:%d' % e.errno); continue
    s = socket.socket()
    try:
        s.connect((a, int(port))); print(t, a, s.recv(64).decode().strip())
    except OSError as e:
        print(t, a, errno.errorcode[e.errno])
EOF2

# tcpdns.py NAME: one A query over TCP to the system's first nameserver,
# port 53 (leash takes it whatever the address); prints rcode and addresses.
cat >tcpdns.py <<'EOF2'
import socket, struct, sys
ns = '127.0.0.1'
for line in open('/etc/resolv.conf'):
    if line.split()[:1] == ['nameserver']:
        ns = line.split()[1]; break
q = struct.pack('>HHHHHH', 0x1234, 0x0100, 1, 0, 0, 0)
q += b''.join(bytes([len(l)]) + l.encode() for l in sys.argv[1].split('.')) + b'\0' + struct.pack('>HH', 1, 1)
s = socket.create_connection((ns, 53), timeout=5)
s.sendall(struct.pack('>H', len(q)) + q)
n = struct.unpack('>H', s.recv(2))[0]
r = b''
while len(r) < n:
    r += s.recv(n - len(r))
an = struct.unpack('>H', r[6:8])[0]
addrs = []
off = len(q)
for i in range(an):
    rdlen = struct.unpack('>H', r[off + 10:off + 12])[0]
    addrs.append(socket.inet_ntoa(r[off + 12:off + 12 + rdlen]))
    off += 12 + rdlen
print('rcode', r[3] & 15, 'answers', an, *addrs)
EOF2

lrun() {
	leash_run --listen '' --dns-upstream 127.0.0.1:$NS --policy policy.cedar "$@" 2>leash.err
}
row() { # KIND NAME-or-RESOURCE: decision|policies|rcode-or-reason of the last such row
	if [ "$1" = dns.query ]; then
		sql "SELECT decision || '|' || policies || '|' || json_extract(details, '\$.rcode') || '|' || json_extract(details, '\$.answers') FROM events WHERE kind = 'dns.query' AND json_extract(details, '\$.name') = '$2' ORDER BY session DESC, seq DESC LIMIT 1"
	else
		sql "SELECT decision || '|' || policies || '|' || json_extract(details, '\$.reason') || '|' || coalesce(json_extract(details, '\$.names'), '') FROM events WHERE kind = '$1' AND resource = 'Host::\"$2\"' ORDER BY session DESC, seq DESC LIMIT 1"
	fi
}

test_expect_success SESSION,PYTHON3,SQLITE3 'enforce: a forbidden name and an unnamed one get NXDOMAIN, recorded; leash never asks upstream for them' '
	lrun --mode enforce -- python3 conn.py evil.test:$P other.test:$P >out &&
	test_eq "evil.test:$P - EAI_NONAME" "$(sed -n 1p out)" &&
	test_eq "other.test:$P - EAI_NONAME" "$(sed -n 2p out)" &&
	test_eq "deny|[\"no-evil\"]|NXDOMAIN|[]" "$(row dns.query evil.test)" &&
	test_eq "deny|[]|NXDOMAIN|[]" "$(row dns.query other.test)" &&
	! grep -q "evil.test\|other.test" asked.log &&
	test_eq "redirected to leash'"'"'s DNS" "$(sql "SELECT json_extract(details, \"\$.reason\") FROM events WHERE kind LIKE \"network.%\" AND json_extract(details, \"\$.port\") = 53 LIMIT 1")"
'

test_expect_success SESSION,PYTHON3,SQLITE3 'enforce: ssh-like TCP to a permitted name'"'"'s address passes, to another address fails' '
	lrun --mode enforce -- python3 conn.py git.test:$P 127.0.0.4:$P >out &&
	test_eq "git.test:$P 127.0.0.3 SSH-2.0-test" "$(sed -n 1p out)" &&
	test_eq "127.0.0.4:$P 127.0.0.4 EPERM" "$(sed -n 2p out)" &&
	test_eq "allow|[\"git\"]|NOERROR|[\"127.0.0.3\"]" "$(row dns.query git.test)" &&
	test_eq "allow|[\"git\"]|policy|[\"git.test\"]" "$(row network.connect 127.0.0.3:$P)" &&
	test_eq "deny|[]|default deny|" "$(row network.connect 127.0.0.4:$P)" &&
	grep -q "^git.test 1$" asked.log
'

test_expect_success SESSION,PYTHON3,SQLITE3 'enforce: Host::"name:port" opens that port of the address only; an address rule'"'"'s forbid still wins' '
	lrun --mode enforce -- python3 conn.py ssh.test:$Q ssh.test:$P ipblocked.test:$P >out &&
	test_eq "ssh.test:$Q 127.0.0.3 SSH-2.0-test" "$(sed -n 1p out)" &&
	test_eq "ssh.test:$P 127.0.0.3 EPERM" "$(sed -n 2p out)" &&
	test_eq "ipblocked.test:$P 127.0.0.6 EPERM" "$(sed -n 3p out)" &&
	test_eq "allow|[\"ssh-port\"]|policy|[\"ssh.test\"]" "$(row network.connect 127.0.0.3:$Q)" &&
	test_eq "deny|[\"no-addr6\"]|policy|[\"ipblocked.test\"]" "$(row network.connect 127.0.0.6:$P)"
'

test_expect_success SESSION,PYTHON3,SQLITE3 'enforce: the binding expires with the TTL (1 s, plus 2 s of grace)' '
	lrun --mode enforce -- python3 conn.py brief.test:$P 127.0.0.3:$P sleep:4.5 127.0.0.3:$P >out &&
	test_eq "brief.test:$P 127.0.0.3 SSH-2.0-test" "$(sed -n 1p out)" &&
	test_eq "127.0.0.3:$P 127.0.0.3 SSH-2.0-test" "$(sed -n 2p out)" &&
	test_eq "127.0.0.3:$P 127.0.0.3 EPERM" "$(sed -n 3p out)" &&
	test_eq 1 "$(sql "SELECT json_extract(details, \"\$.ttl\") FROM events WHERE kind = \"dns.query\" AND json_extract(details, \"\$.name\") = \"brief.test\" ORDER BY session DESC LIMIT 1")"
'

test_expect_success SESSION,PYTHON3,SQLITE3 'DNS over TCP port 53 goes to leash too, decided and recorded the same way' '
	lrun --mode enforce -- sh -c "python3 tcpdns.py git.test; python3 tcpdns.py evil.test" >out &&
	test_eq "rcode 0 answers 1 127.0.0.3" "$(sed -n 1p out)" &&
	test_eq "rcode 3 answers 0" "$(sed -n 2p out)" &&
	test_eq "tcp|NOERROR" "$(sql "SELECT json_extract(details, \"\$.transport\") || \"|\" || json_extract(details, \"\$.rcode\") FROM events WHERE kind = \"dns.query\" AND json_extract(details, \"\$.name\") = \"git.test\" ORDER BY session DESC, seq DESC LIMIT 1")"
'

# runts.py: datagrams shorter than a DNS header to port 53 (UDP, and one
# framed over TCP), then a real query: libevent 2.1.12 crashed on the first.
cat >runts.py <<'EOF2'
import socket, struct, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
for p in (b'x', b'x' * 11, b''):
    s.sendto(p, ('127.3.2.1', 53))
t = socket.create_connection(('127.3.2.1', 53), timeout=5)
t.sendall(b'\x00\x01x')
time.sleep(0.3)
q = struct.pack('>HHHHHH', 0x4321, 0x0100, 1, 0, 0, 0) + b'\x03git\x04test\x00' + struct.pack('>HH', 1, 1)
s.sendto(q, ('127.3.2.1', 53))
r = s.recvfrom(512)[0]
print('id', hex(struct.unpack('>H', r[:2])[0]), 'rcode', r[3] & 15, 'answers', struct.unpack('>H', r[6:8])[0])
EOF2

test_expect_success SESSION,PYTHON3,SQLITE3 'datagrams shorter than a DNS header (UDP, or framed over TCP) are dropped; leash lives and answers the next query' '
	lrun --mode enforce -- python3 runts.py >out &&
	test_eq "id 0x4321 rcode 0 answers 1" "$(cat out)" &&
	test_eq "allow|[\"git\"]|NOERROR|[\"127.0.0.3\"]" "$(row dns.query git.test)"
'

test_expect_success SESSION,PYTHON3,SQLITE3 'shadow: a forbidden name is answered and recorded as would_deny' '
	lrun --mode shadow -- python3 conn.py evil.test:$P >out &&
	test_eq "evil.test:$P 127.0.0.5 ECONNREFUSED" "$(cat out)" &&
	test_eq "would_deny|[\"no-evil\"]|NOERROR|[\"127.0.0.5\"]" "$(row dns.query evil.test)"
'

test_expect_success SESSION,PYTHON3,SQLITE3 '--resolve pins answer without asking upstream' '
	lrun --mode enforce --resolve git.test=127.0.0.3 -- python3 conn.py git.test:$P >out &&
	test_eq "git.test:$P 127.0.0.3 SSH-2.0-test" "$(cat out)" &&
	test_eq "pinned by --resolve" "$(sql "SELECT json_extract(details, \"\$.reason\") FROM events WHERE kind = \"dns.query\" ORDER BY session DESC, seq DESC LIMIT 1")"
'

test_done
