#!/bin/sh
test_description='NetworkConnect in a real leash session: enforce, shadow and record rows, reports, processes outside untouched'
. "$(dirname "$0")/test-lib.sh"

# conn.py HOW:ADDR:PORT...: one line per target, "HOW:ADDR:PORT RESULT"
# where RESULT is ok or the errno name; HOW (tcp, udp, sendto) picks the call.
cat >conn.py <<'PY'
import errno, socket, sys
for arg in sys.argv[1:]:
    how, target = arg.split(':', 1)
    host, port = target.rsplit(':', 1)
    host = host.strip('[]')
    fam = socket.AF_INET6 if ':' in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM if how == 'tcp' else socket.SOCK_DGRAM)
    try:
        if how == 'sendto':
            s.sendto(b'x', (host, int(port)))
        else:
            s.connect((host, int(port)))
        r = 'ok'
    except OSError as e:
        r = errno.errorcode.get(e.errno, str(e.errno))
    print(arg, r)
PY

cat >policy.cedar <<'EOF2'
@id("files")
permit (principal, action in [Action::"FileOpen", Action::"ProcessExec"], resource);
@id("lo-udp")
permit (principal, action == Action::"NetworkConnect", resource in Host::"127.0.0.1:9");
@id("lo2")
permit (principal, action == Action::"NetworkConnect", resource in Host::"127.0.0.2");
@id("no-lo2-7")
forbid (principal, action == Action::"NetworkConnect", resource in Host::"127.0.0.2:7");
@id("gh")
permit (principal, action == Action::"NetworkConnect", resource in Host::"github.com");
EOF2

targets="udp:127.0.0.1:9 udp:127.0.0.1:10 tcp:127.0.0.2:1 udp:127.0.0.2:7 udp:[::ffff:127.0.0.2]:7 sendto:127.0.0.2:7 sendto:127.0.0.2:8 udp:[::1]:9"

# row KIND RESOURCE: "decision|policies|reason" of the last such row
row() {
	sql "SELECT decision || '|' || policies || '|' || json_extract(details, '\$.reason') FROM events
		WHERE kind = '$1' AND resource = '$2' ORDER BY seq DESC LIMIT 1"
}

test_expect_success SESSION,PYTHON3,SQLITE3 'enforce: permitted connects pass, forbidden ones fail with EPERM' '
	leash_run --mode enforce --allow-degraded --policy policy.cedar -- python3 conn.py $targets >out &&
	cat >expect <<-EOF2 &&
	udp:127.0.0.1:9 ok
	udp:127.0.0.1:10 EPERM
	tcp:127.0.0.2:1 ECONNREFUSED
	udp:127.0.0.2:7 EPERM
	udp:[::ffff:127.0.0.2]:7 EPERM
	sendto:127.0.0.2:7 EPERM
	sendto:127.0.0.2:8 ok
	udp:[::1]:9 EPERM
	EOF2
	test_cmp expect out
'

test_expect_success SESSION,PYTHON3,SQLITE3 'enforce: each connect is a row with the decision and the policy ids' '
	test_eq "allow|[\"lo-udp\"]|policy" "$(row network.connect "Host::\"127.0.0.1:9\"")" &&
	test_eq "deny|[]|default deny" "$(row network.connect "Host::\"127.0.0.1:10\"")" &&
	test_eq "allow|[\"lo2\"]|policy" "$(row network.connect "Host::\"127.0.0.2:1\"")" &&
	test_eq "deny|[\"no-lo2-7\"]|policy" "$(row network.connect "Host::\"127.0.0.2:7\"")" &&
	test_eq 2 "$(sql "SELECT count(*) FROM events WHERE kind = \"network.connect\" AND resource = \"Host::\"\"127.0.0.2:7\"\"\" AND decision = \"deny\"")" &&
	test_eq 1 "$(sql "SELECT count(*) FROM events WHERE kind = \"network.connect\" AND json_extract(details, \"\$.ipv4_mapped\") = 1")" &&
	test_eq "deny|[\"no-lo2-7\"]|policy" "$(row network.sendmsg "Host::\"127.0.0.2:7\"")" &&
	test_eq "allow|[\"lo2\"]|policy" "$(row network.sendmsg "Host::\"127.0.0.2:8\"")" &&
	test_eq "deny|[]|default deny" "$(row network.connect "Host::\"[::1]:9\"")" &&
	test_eq "NetworkConnect|python3|udp|ipv6|::1|9" "$(sql "SELECT action || \"|\" || comm || \"|\" || json_extract(details, \"\$.protocol\") || \"|\" || json_extract(details, \"\$.family\") || \"|\" || json_extract(details, \"\$.address\") || \"|\" || json_extract(details, \"\$.port\") FROM events WHERE resource = \"Host::\"\"[::1]:9\"\"\"")" &&
	test_eq 0 "$(sql "SELECT count(*) FROM events e, sessions s WHERE e.kind LIKE \"network.%\" AND e.cgroup != s.cgroup_id")"
'

test_expect_success SESSION,SQLITE3 'a host name rule is reported as not enforced, with its policy id' '
	test_eq "[\"gh\"]" "$(sql "SELECT policies FROM events WHERE kind = \"policy.unenforced\"")" &&
	test_eq github.com "$(sql "SELECT json_extract(details, \"\$.rules[0].target\") FROM events WHERE kind = \"policy.unenforced\"")"
'

test_expect_success SESSION,PYTHON3,SQLITE3 'shadow: everything passes, denials are would_deny rows' '
	reset_db &&
	leash_run --mode shadow --policy policy.cedar -- python3 conn.py $targets >out &&
	cat >expect <<-EOF2 &&
	udp:127.0.0.1:9 ok
	udp:127.0.0.1:10 ok
	tcp:127.0.0.2:1 ECONNREFUSED
	udp:127.0.0.2:7 ok
	udp:[::ffff:127.0.0.2]:7 ok
	sendto:127.0.0.2:7 ok
	sendto:127.0.0.2:8 ok
	udp:[::1]:9 ok
	EOF2
	test_cmp expect out &&
	test_eq "allow|[\"lo-udp\"]|policy" "$(row network.connect "Host::\"127.0.0.1:9\"")" &&
	test_eq "would_deny|[]|default deny" "$(row network.connect "Host::\"127.0.0.1:10\"")" &&
	test_eq "would_deny|[\"no-lo2-7\"]|policy" "$(row network.connect "Host::\"127.0.0.2:7\"")" &&
	test_eq "would_deny|[\"no-lo2-7\"]|policy" "$(row network.sendmsg "Host::\"127.0.0.2:7\"")" &&
	test_eq "would_deny|[]|default deny" "$(row network.connect "Host::\"[::1]:9\"")"
'

test_expect_success SESSION,PYTHON3,SQLITE3 'record: everything passes, allow rows' '
	reset_db &&
	leash_run --mode record --policy policy.cedar -- python3 conn.py udp:127.0.0.2:7 >out &&
	test_eq "udp:127.0.0.2:7 ok" "$(cat out)" &&
	test_eq "allow|record mode" "$(sql "SELECT decision || \"|\" || json_extract(details, \"\$.reason\") FROM events WHERE kind = \"network.connect\"")"
'

test_expect_success SESSION,PYTHON3,SQLITE3 'processes outside the session are not affected and not recorded' '
	reset_db &&
	( for i in $(seq 30); do python3 conn.py udp:127.0.0.2:7 udp:127.0.0.1:10; sleep 0.01; done ) >outside &
	outside=$! &&
	leash_run --mode enforce --allow-degraded --policy policy.cedar -- sh -c "for i in 1 2 3; do python3 conn.py udp:127.0.0.2:7; sleep 0.1; done" >inside &&
	wait $outside &&
	test_eq 3 "$(grep -c EPERM inside)" &&
	test_eq 0 "$(grep -c EPERM outside)" &&
	test_eq 60 "$(grep -c " ok$" outside)" &&
	test_eq 3 "$(sql "SELECT count(*) FROM events WHERE kind LIKE \"network.%\"")"
'

# proto.py: one line per socket kind, "NAME EPERM" when it cannot be made,
# else "NAME made RESULT" from connecting it to 127.0.0.1:10 (which the
# policy does not permit) and sending. UDP-Lite's connect reaches no cgroup
# hook; SCTP's connectx and implicit associations reach neither hook set
# (this host may have no SCTP: then not made either way).
cat >proto.py <<'PY'
import errno, socket
kinds = [("tcp", socket.SOCK_STREAM, 0), ("udp", socket.SOCK_DGRAM, 0),
         ("udplite", socket.SOCK_DGRAM, 136), ("sctp", socket.SOCK_STREAM, 132),
         ("sctp-seqpacket", socket.SOCK_SEQPACKET, 0)]
for name, t, p in kinds:
    try:
        s = socket.socket(socket.AF_INET, t, p)
    except OSError as e:
        print(name, errno.errorcode.get(e.errno, str(e.errno)))
        continue
    try:
        s.connect(("127.0.0.1", 10))
        s.send(b"x")
        r = "sent"
    except OSError as e:
        r = errno.errorcode.get(e.errno, str(e.errno))
    print(name, "made", r)
PY

test_expect_success SESSION,PYTHON3,SQLITE3 'enforce: a socket of a protocol the hooks do not all decide cannot be made (UDP-Lite connected and sent anywhere); a row says so' '
	reset_db &&
	leash_run --mode enforce --allow-degraded --policy policy.cedar -- python3 proto.py >out &&
	cat out &&
	grep -x "tcp made EPERM" out && grep -x "udp made EPERM" out &&
	grep -x "udplite EPERM" out &&
	! grep "^sctp.* made" out &&
	test_eq "deny|protocol|136|ipv4" "$(sql "SELECT decision || \"|\" || json_extract(details, \"\$.reason\") || \"|\" || json_extract(details, \"\$.protocol\") || \"|\" || json_extract(details, \"\$.family\") FROM events WHERE kind = \"network.socket\" ORDER BY seq LIMIT 1")"
'

test_expect_success SESSION,PYTHON3,SQLITE3 'record and shadow: those sockets are made as before' '
	reset_db &&
	leash_run --mode shadow --policy policy.cedar -- python3 proto.py >out &&
	grep -x "udplite made sent" out &&
	test_eq 0 "$(sql "SELECT count(*) FROM events WHERE kind = \"network.socket\"")"
'

# A connect to the unspecified address (0.0.0.0, ::, ::ffff:0.0.0.0) goes
# to a local address (loopback, or the socket's own): it must not reach
# leash's control server, which is protected in every mode.
cat >unspec.py <<'PY'
import errno, socket, sys
port = int(sys.argv[1])
for fam, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET, "0.0.0.0"),
                  (socket.AF_INET6, "::ffff:0.0.0.0"), (socket.AF_INET6, "::")):
    s = socket.socket(fam, socket.SOCK_STREAM)
    if addr == "::":
        s.bind(("::ffff:127.0.0.1", 0))  # then :: means this address
    try:
        s.connect((addr, port))
        r = "connected"
    except OSError as e:
        r = errno.errorcode.get(e.errno, str(e.errno))
    print(addr, r)
PY

test_expect_success SESSION,PYTHON3,SQLITE3 'record: the control server is unreachable through the unspecified address too' '
	reset_db &&
	cport=$(( 30000 + $$ % 20000 )) &&
	leash_run --listen 127.0.0.1:$cport --mode record -- python3 unspec.py $cport >out &&
	cat out &&
	cat >expect <<-EOF2 &&
	127.0.0.1 EPERM
	0.0.0.0 EPERM
	::ffff:0.0.0.0 EPERM
	:: EPERM
	EOF2
	test_cmp expect out &&
	test_eq "deny|protected" "$(sql "SELECT DISTINCT decision || \"|\" || json_extract(details, \"\$.reason\") FROM events WHERE kind = \"network.connect\" AND resource = \"Host::\"\"0.0.0.0:$cport\"\"\"")"
'

test_expect_success SESSION 'enforce refuses a NetworkConnect rule with a condition, naming it' '
	cat >cond.cedar <<-EOF2 &&
	@id("files")
	permit (principal, action in [Action::"FileOpen", Action::"ProcessExec"], resource);
	@id("by-pid")
	permit (principal, action == Action::"NetworkConnect", resource) when { context.pid > 1 };
	EOF2
	test_expect_code 125 "$LEASH" --db "$DB" --mode enforce --allow-degraded --policy cond.cedar -- true 2>err &&
	grep "cannot enforce .by-pid." err &&
	"$LEASH" --db "$DB" -q --mode shadow --policy cond.cedar -- true
'

test_done
