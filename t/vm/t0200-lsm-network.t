#!/bin/sh
test_description='connections in the BPF LSM guest: lsm/socket_connect and socket_sendmsg deny with EPERM what the policy denies (IPv4, IPv6, mapped IPv6, TCP and UDP), also on a socket passed in from outside the session, leave the proxy and DNS redirects to the cgroup hooks, keep the control server unreachable, and each call is one row'
. "$(dirname "$0")/../test-lib.sh"

C=$LEASH_BUILD/t/lsm-net-client

# Addresses and ports whose bytes are not palindromes: 127.3.2.1 is
# 127.1.2.3 reversed, 13330 (0x3412) is 4660 (0x1234) swapped. A byte order
# slip anywhere between the Cedar text, the trie and the record would allow
# one of them or name the wrong resource.
cat >policy.cedar <<'EOF'
@id("files")
permit (principal, action == Action::"FileOpen", resource);
@id("run")
permit (principal, action == Action::"ProcessExec", resource);
@id("one-port")
permit (principal, action == Action::"NetworkConnect", resource in Host::"127.1.2.3:4660");
@id("host-wide")
permit (principal, action == Action::"NetworkConnect", resource in Host::"127.1.2.4");
@id("no-4661")
forbid (principal, action == Action::"NetworkConnect", resource in Host::"127.1.2.4:4661");
@id("v6-one-port")
permit (principal, action == Action::"NetworkConnect", resource in Host::"[::1]:4660");
EOF

# Listeners and fd servers, outside the session, for the whole script.
pids=
start() { # start NAME ARGS...: runs "$C ARGS" in the background until it is listening
	out=$1
	shift
	"$C" "$@" >"$out" 2>&1 &
	pids="$pids $!"
	for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		grep -q listening "$out" && return 0
		sleep 0.1
	done
	cat "$out"
	return 1
}

# net_row connect|sendmsg HOSTID [DB]: "<rows> <decision> <policies>
# <backend>[ outside];..." of the network.connect or network.sendmsg rows
# for Host::"HOSTID", in order.
net_row() {
	sqlite3 -batch -noheader "${3:-$DB}" "SELECT count(*) || ' ' || coalesce(group_concat(d, ';'), '') FROM (SELECT decision || ' ' || coalesce(policies, 'null') || ' ' || coalesce(json_extract(details, '\$.backend'), 'cgroup-bpf') || CASE WHEN json_extract(details, '\$.socket_from_outside') THEN ' outside' ELSE '' END AS d FROM events WHERE kind = 'network.$1' AND resource = 'Host::\"$2\"' ORDER BY seq)"
}

test_expect_success 'the guest kernel lists bpf among its LSMs, listeners are up' '
	mkdir -p /run &&
	grep -q "\(^\|,\)bpf\(,\|$\)" /sys/kernel/security/lsm &&
	start l1 listen tcp 127.1.2.3 4660 &&
	start l2 listen tcp 127.3.2.1 4660 &&
	start l3 listen tcp 127.1.2.3 13330 &&
	start l4 listen tcp 127.1.2.4 4660 &&
	start l5 listen tcp 127.1.2.4 4661 &&
	start l6 listen tcp 127.1.2.4 4662 &&
	start l10 listen tcp 127.1.2.4 4663 &&
	start l7 listen tcp ::1 4660 &&
	start l8 listen tcp ::1 13330 &&
	start l9 listen udp 127.1.2.3 4660 &&
	start f1 serve-fd leash-tcp4 tcp4 &&
	start f2 serve-fd leash-udp4 udp4 &&
	start f3 serve-fd leash-tcp6 tcp6 &&
	"$C" connect tcp 127.3.2.1 4660 && "$C" connect tcp 127.1.2.3 13330
'

cat >calls.sh <<EOF
C=$C
\$C connect tcp 127.1.2.3 4660
\$C connect tcp 127.3.2.1 4660
\$C connect tcp 127.1.2.3 13330
\$C connect tcp 127.1.2.4 4660
\$C connect tcp 127.1.2.4 4661
\$C sendto udp 127.1.2.3 4660
\$C sendto udp 127.3.2.1 4670
\$C connect udp 127.3.2.1 4671
\$C connect tcp ::1 4660
\$C connect tcp ::1 13330
\$C connect tcp ::ffff:127.1.2.4 4662
\$C connect tcp ::ffff:127.3.2.1 4672
\$C sendto udp ::ffff:127.3.2.1 4673
\$C connect-passed leash-tcp4 127.3.2.1 4680
\$C connect-passed leash-tcp4 127.1.2.4 4663
\$C sendto-passed leash-udp4 127.3.2.1 4681
\$C sendto-passed leash-udp4 127.3.2.1 4682 unspec
\$C connect-passed leash-tcp6 ::ffff:127.3.2.1 4683
\$C connect-passed leash-tcp4 127.3.2.2 80
\$C connect tcp 127.3.2.1 80
\$C sendto udp 127.3.2.1 53
exit 0
EOF

test_expect_success SESSION 'enforce: the session runs its calls' '
	"$LEASH" --db "$DB" -q --listen "" --mode enforce --allow-degraded --policy policy.cedar -- sh -c "sh calls.sh; touch ran; while [ ! -e go ]; do sleep 0.1; done" >out 2>err &
	lp=$! &&
	for i in $(seq 100); do [ -e ran ] && break; sleep 0.2; done &&
	"$C" insns >insns; touch go; wait $lp; rc=$?; cat out err insns; test $rc -eq 0 &&
	grep "^verified_insns handle_socket_connect=[1-9]" insns &&
	grep "^verified_insns handle_socket_sendmsg=[1-9]" insns
'
diag "$(cat insns 2>/dev/null)"

test_expect_success SESSION 'the session says the bpf LSM decides connections too' '
	test_eq "cgroup-bpf + bpf-lsm" "$(sql "SELECT json_extract(details, '\''\$.network'\'') FROM events WHERE kind = '\''session.enforcement'\''")"
'

test_expect_success SESSION 'IPv4 TCP: the permitted port connects; reversed address and swapped port fail with EPERM, one LSM row each' '
	grep -x "connect 127.1.2.3 4660: ok" out &&
	grep -x "connect 127.3.2.1 4660: Operation not permitted" out &&
	grep -x "connect 127.1.2.3 13330: Operation not permitted" out &&
	test_eq "1 allow [\"one-port\"] cgroup-bpf" "$(net_row connect 127.1.2.3:4660)" &&
	test_eq "1 deny [] bpf-lsm" "$(net_row connect 127.3.2.1:4660)" &&
	test_eq "1 deny [] bpf-lsm" "$(net_row connect 127.1.2.3:13330)"
'

test_expect_success SESSION 'a forbid on one port denies it and the row names the forbid; the host-wide permit holds elsewhere' '
	grep -x "connect 127.1.2.4 4660: ok" out &&
	grep -x "connect 127.1.2.4 4661: Operation not permitted" out &&
	test_eq "1 allow [\"host-wide\"] cgroup-bpf" "$(net_row connect 127.1.2.4:4660)" &&
	test_eq "1 deny [\"no-4661\"] bpf-lsm" "$(net_row connect 127.1.2.4:4661)"
'

test_expect_success SESSION 'UDP: sendto and connect to a denied address fail with EPERM, the permitted sendto goes through' '
	grep -x "sendto 127.1.2.3 4660: ok" out &&
	grep -x "sendto 127.3.2.1 4670: Operation not permitted" out &&
	grep -x "connect 127.3.2.1 4671: Operation not permitted" out &&
	test_eq "deny [] bpf-lsm network.sendmsg" "$(sql "SELECT decision || '\'' '\'' || policies || '\'' '\'' || json_extract(details, '\''\$.backend'\'') || '\'' '\'' || kind FROM events WHERE resource = '\''Host::\"127.3.2.1:4670\"'\''")" &&
	test_eq "1 allow [\"one-port\"] cgroup-bpf" "$(net_row sendmsg 127.1.2.3:4660)" &&
	test_eq "1 deny [] bpf-lsm" "$(net_row connect 127.3.2.1:4671)"
'

test_expect_success SESSION 'IPv6 and IPv4-mapped IPv6: decided as the policy says, mapped ones as their IPv4 address' '
	grep -x "connect ::1 4660: ok" out &&
	grep -x "connect ::1 13330: Operation not permitted" out &&
	grep -x "connect ::ffff:127.1.2.4 4662: ok" out &&
	grep -x "connect ::ffff:127.3.2.1 4672: Operation not permitted" out &&
	grep -x "sendto ::ffff:127.3.2.1 4673: Operation not permitted" out &&
	test_eq "1 deny [] bpf-lsm" "$(net_row connect [::1]:13330)" &&
	test_eq "1 deny [] bpf-lsm" "$(net_row connect 127.3.2.1:4672)" &&
	test_eq "1 deny [] bpf-lsm" "$(net_row sendmsg 127.3.2.1:4673)" &&
	test_eq "ipv4 1" "$(sql "SELECT json_extract(details, '\''\$.family'\'') || '\'' '\'' || json_extract(details, '\''\$.ipv4_mapped'\'') FROM events WHERE resource = '\''Host::\"127.3.2.1:4672\"'\''")"
'

test_expect_success SESSION 'a socket made outside the session and passed in (SCM_RIGHTS) is decided too: EPERM where the policy denies, one row either way' '
	grep -x "connect-passed 127.3.2.1 4680: Operation not permitted" out &&
	grep -x "connect-passed 127.1.2.4 4663: ok" out &&
	grep -x "sendto-passed 127.3.2.1 4681: Operation not permitted" out &&
	grep -x "sendto-passed 127.3.2.1 4682: Operation not permitted" out &&
	grep -x "connect-passed ::ffff:127.3.2.1 4683: Operation not permitted" out &&
	test_eq "1 deny [] bpf-lsm outside" "$(net_row connect 127.3.2.1:4680)" &&
	test_eq "1 allow [\"host-wide\"] bpf-lsm outside" "$(net_row connect 127.1.2.4:4663)" &&
	test_eq "1 deny [] bpf-lsm outside" "$(net_row sendmsg 127.3.2.1:4681)" &&
	test_eq "1 deny [] bpf-lsm outside" "$(net_row sendmsg 127.3.2.1:4682)" &&
	test_eq "1 deny [] bpf-lsm outside" "$(net_row connect 127.3.2.1:4683)"
'

test_expect_success SESSION 'the proxy and DNS redirects still work (the cgroup hook rewrites, one row); a passed-in socket, which nothing redirects, is decided by the policy' '
	grep -x "connect 127.3.2.1 80: ok" out &&
	grep -x "sendto 127.3.2.1 53: ok" out &&
	grep -x "connect-passed 127.3.2.2 80: Operation not permitted" out &&
	test_eq "redirected to the proxy|1" "$(sql "SELECT json_extract(details, '\''\$.reason'\'') || '\''|'\'' || count(*) FROM events WHERE resource = '\''Host::\"127.3.2.1:80\"'\''")" &&
	test_eq "redirected to leash'\''s DNS|1" "$(sql "SELECT json_extract(details, '\''\$.reason'\'') || '\''|'\'' || count(*) FROM events WHERE kind LIKE '\''network.%'\'' AND resource = '\''Host::\"127.3.2.1:53\"'\''")" &&
	test_eq "1 deny [] bpf-lsm outside" "$(net_row connect 127.3.2.2:80)"
'

test_expect_success SESSION 'outside the session nothing is decided: the same denied connect succeeds' '
	"$C" connect tcp 127.3.2.1 4660 && "$C" connect-passed leash-tcp4 127.3.2.1 4660
'

cat >calls-record.sh <<EOF
C=$C
\$C connect tcp 127.0.0.1 47123
\$C connect-passed leash-tcp4 127.0.0.1 47123
\$C connect tcp 127.3.2.1 4660
\$C connect-passed leash-tcp4 127.1.2.3 13330
exit 0
EOF

test_expect_success SESSION 'record mode denies nothing but the control server, which stays unreachable also through a passed-in socket' '
	R=$TRASH/record.db &&
	"$LEASH" --db "$R" -q --listen 127.0.0.1:47123 --mode record --policy policy.cedar -- sh calls-record.sh >rout 2>rerr; rc=$?; cat rout rerr; test $rc -eq 0 &&
	grep -x "connect 127.0.0.1 47123: Operation not permitted" rout &&
	grep -x "connect-passed 127.0.0.1 47123: Operation not permitted" rout &&
	grep -x "connect 127.3.2.1 4660: ok" rout &&
	grep -x "connect-passed 127.1.2.3 13330: ok" rout &&
	test_eq "2 deny [] bpf-lsm;deny [] bpf-lsm outside" "$(net_row connect 127.0.0.1:47123 "$R")" &&
	test_eq "protected" "$(sqlite3 "$R" "SELECT DISTINCT json_extract(details, '\''\$.reason'\'') FROM events WHERE resource = '\''Host::\"127.0.0.1:47123\"'\''")" &&
	test_eq "1 allow null cgroup-bpf" "$(net_row connect 127.3.2.1:4660 "$R")" &&
	test_eq "1 allow null bpf-lsm outside" "$(net_row connect 127.1.2.3:13330 "$R")"
'

kill $pids 2>/dev/null
test_done
