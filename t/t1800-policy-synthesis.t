#!/bin/sh
test_description='leash policy synthesize: a policy that permits what a recorded session did, which then runs the same work in enforce mode with no denial, and denies what the session did not do'
. "$(dirname "$0")/test-lib.sh"

mkdir -p ws/data ws/out ws/secret &&
for f in a b c d; do echo "$f" >ws/data/$f; done &&
echo hello >ws/readme && echo key >ws/secret/key &&
echo 'forbid (principal, action, resource) when { false };' >nothing.cedar

# The work: reads (four files of one directory, one alone, a directory
# listing, /proc/self: not recorded, fanotify cannot mark /proc), a write, three programs, a TCP connect to a closed
# loopback port (refused, but the connect is decided and recorded first).
port=$(( 20000 + $$ % 20000 ))
WORK="cat data/a data/b data/c data/d readme >/dev/null && ls . >/dev/null &&
	cat /proc/self/status >/dev/null && echo result >out/result &&
	bash -c 'exec 3<>/dev/tcp/127.0.0.1/$port' 2>tcp.err; cat tcp.err >&2; true"

# run DB MODE POLICY CMD: CMD under POLICY in MODE, from ws/.
run() {
	(cd ws && "$LEASH" --db "$1" -q --mode "$2" --allow-degraded --policy "$3" -- sh -c "$4")
}

test_expect_success SESSION 'record the work; synthesize a policy that leash accepts' '
	run "$TRASH/rec.db" record ../nothing.cedar "$WORK" 2>err &&
	grep "Connection refused" err &&
	"$LEASH" policy synthesize --db rec.db >synth.cedar &&
	cat synth.cedar &&
	"$LEASH" policy check synth.cedar
'

test_expect_success SESSION 'it has the rules the work needs, collapsed where it says' '
	grep "Dir::\"$TRASH/ws/data/\"" synth.cedar &&
	grep "File::\"$TRASH/ws/readme\"" synth.cedar &&
	grep "resource == Dir::\"$TRASH/ws/\"" synth.cedar &&
	! grep "/proc/[0-9]" synth.cedar &&
	grep -A4 "synth-read-write" synth.cedar | grep "File::\"$TRASH/ws/out/result\"" &&
	grep -A8 "synth-exec" synth.cedar | grep "File::\"/usr/bin/cat\"" &&
	grep -A8 "synth-exec" synth.cedar | grep "File::\"/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2\"" &&
	grep "Host::\"127.0.0.1:$port\"" synth.cedar &&
	! grep secret synth.cedar
'

test_expect_success SESSION 'enforced, the same work runs without a single denial' '
	rm ws/out/result &&
	run "$TRASH/enf.db" enforce ../synth.cedar "$WORK" 2>err &&
	grep "Connection refused" err &&
	test_eq result "$(cat ws/out/result)" &&
	test_eq 0 "$(sqlite3 enf.db "SELECT count(*) FROM events WHERE decision = '\''deny'\''")" &&
	test "$(sqlite3 enf.db "SELECT count(*) FROM events WHERE decision = '\''allow'\''")" -gt 10
'

test_expect_success SESSION 'enforced, what the session did not do is denied' '
	run "$TRASH/enf.db" enforce ../synth.cedar "cat secret/key" 2>err; test $? -ne 0 &&
	grep "secret/key: Operation not permitted" err &&
	run "$TRASH/enf.db" enforce ../synth.cedar "echo x >readme" 2>err; test $? -ne 0 &&
	grep "readme: Operation not permitted" err &&
	test_eq hello "$(cat ws/readme)" &&
	run "$TRASH/enf.db" enforce ../synth.cedar "ls /" 2>err; test $? -ne 0 &&
	grep "Operation not permitted\|Permission denied" err &&
	run "$TRASH/enf.db" enforce ../synth.cedar "bash -c \"exec 3<>/dev/tcp/127.0.0.1/$((port + 1))\"" 2>err; test $? -ne 0 &&
	grep "Operation not permitted" err &&
	test_eq deny "$(sqlite3 enf.db "SELECT decision FROM events WHERE resource = '\''File::\"$TRASH/ws/secret/key\"'\''")" &&
	test_eq deny "$(sqlite3 enf.db "SELECT decision FROM events WHERE resource = '\''Host::\"127.0.0.1:$((port + 1))\"'\''")"
'

test_expect_success SESSION 'denied accesses are left out and counted; --collapse 0 lists every file' '
	"$LEASH" policy synthesize --db enf.db --collapse 0 >s2.cedar &&
	grep "^// .* [1-9][0-9]* denied accesses left out" s2.cedar &&
	! grep secret s2.cedar &&
	"$LEASH" policy synthesize --db rec.db --collapse 0 >s3.cedar &&
	grep "File::\"$TRASH/ws/data/a\"" s3.cedar &&
	! grep "Dir::\"$TRASH/ws/data/\"" s3.cedar
'

# Names the agent chose, recorded, then written into a policy the user may
# apply: each must stay one string (quotes, backslashes, control characters,
# a Cedar escape spelled out), a name that spells policy text must never
# become policy text, and a name that is not UTF-8 (which Cedar cannot
# write) is left out, not the end of the synthesis.
mkdir -p "ws/inj/\"]; permit(principal, action, resource); " &&
cat >ws/inj-names.sh <<\EOF
d=inj
for n in 'q"uote' 'back\slash\' 'esc\u{22}x' "$(printf 'nl\npermit(principal, action, resource);\nx')" \
	"$(printf 'cr\rpermit(principal, action, resource);\r')" "$(printf 'tab\tdel\177')" \
	'"]; permit(principal, action, resource); /x' "$(printf 'bad\377\376utf8')"; do
	case "$1" in make) echo x >"$d/$n" ;; *) cat "$d/$n" >/dev/null || exit 1 ;; esac
done
EOF
(cd ws && sh inj-names.sh make)

test_expect_success SESSION 'a file name the agent chose cannot inject policy text into a synthesis' '
	run "$TRASH/inj.db" record ../nothing.cedar "sh inj-names.sh read" &&
	"$LEASH" policy synthesize --db inj.db --collapse 0 >inj.cedar &&
	cat inj.cedar &&
	"$LEASH" policy check inj.cedar &&
	test_eq 2 "$(grep -c "^permit" inj.cedar)" &&
	grep "^// 1 accesses to names that are not UTF-8 are left out" inj.cedar &&
	for r in "File::\"$TRASH/ws/secret/key\"" "File::\"/etc/shadow\"" "Dir::\"/\""; do
		test_expect_code 1 "$LEASH" policy eval inj.cedar --principal "User::\"agent\"" \
			--action FileOpen --resource "$r" >out &&
		grep "decision: deny" out || return 1
	done &&
	test_expect_code 1 "$LEASH" policy eval inj.cedar --principal "User::\"agent\"" \
		--action NetworkConnect --resource "Host::\"203.0.113.1:443\"" >out &&
	grep "decision: deny" out &&
	"$LEASH" policy eval inj.cedar --principal "User::\"agent\"" --action FileOpenReadOnly \
		--resource "File::\"$TRASH/ws/inj/q\\\"uote\"" >out &&
	grep "decision: allow" out
'

test_expect_success SESSION 'enforced, the synthesis names those files exactly: all read but the one it left out' '
	run "$TRASH/inj-enf.db" enforce ../inj.cedar "sh inj-names.sh read" 2>err; test $? -ne 0 &&
	grep "bad.*utf8.*Operation not permitted" err &&
	test_eq 1 "$(sqlite3 inj-enf.db "SELECT count(*) FROM events WHERE decision = '\''deny'\''")" &&
	sqlite3 inj-enf.db "SELECT resource FROM events WHERE decision = '\''deny'\''" | grep "/ws/inj/bad" &&
	run "$TRASH/inj-enf.db" enforce ../inj.cedar "cat secret/key" 2>err; test $? -ne 0 &&
	grep "secret/key: Operation not permitted" err
'

test_expect_success SESSION 'a file the agent names like the dynamic loader and reads is not made a program it may run' '
	cp /bin/true ws/ld-linux-x86-64.so.2 && cp /bin/true ws/ld.so.1 &&
	run "$TRASH/ld.db" record ../nothing.cedar "cat ld-linux-x86-64.so.2 ld.so.1 >/dev/null && true" &&
	"$LEASH" policy synthesize --db ld.db >ld.cedar &&
	grep -A8 "synth-exec" ld.cedar | grep "File::\"/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2\"" &&
	! grep -A8 "synth-exec" ld.cedar | grep "$TRASH/ws/ld" &&
	grep "File::\"$TRASH/ws/ld-linux-x86-64.so.2\"" ld.cedar
'

test_expect_success SESSION 'files the agent writes cannot widen a rule to the directories above the workspace (or the home): they stay exact' '
	mkdir -p 4711 &&
	run "$TRASH/up.db" record ../nothing.cedar "echo x >../up-a; echo x >../up-b; echo x >../up-c; echo x >../4711/f; echo x >sub-1; echo x >sub-2; echo x >sub-3" &&
	"$LEASH" policy synthesize --db up.db >up.cedar &&
	cat up.cedar &&
	! grep "Dir::\"$TRASH/\"" up.cedar &&
	! grep "Dir::\"/tmp/\"" up.cedar &&
	grep "File::\"$TRASH/up-a\"" up.cedar &&
	grep "File::\"$TRASH/4711/f\"" up.cedar &&
	grep "Dir::\"$TRASH/ws/\"" up.cedar
'

test_expect_success SQLITE3 'bad input: a clear error and exit 1 or 2, nothing on stdout' '
	uuid=$(sqlite3 rec.db "SELECT uuid FROM sessions") &&
	"$LEASH" policy synthesize --db rec.db --session "$(echo $uuid | cut -c1-6)" >one.cedar &&
	grep "session $uuid" one.cedar &&
	test_expect_code 1 "$LEASH" policy synthesize --db rec.db --session 00000000 >out 2>err &&
	grep "no session 00000000" err && test ! -s out &&
	test_expect_code 1 "$LEASH" policy synthesize --db rec.db --session XYZ 2>err &&
	grep "not a session uuid" err &&
	test_expect_code 1 "$LEASH" policy synthesize --db enf.db --session "" 2>err &&
	test_expect_code 2 "$LEASH" policy synthesize --db rec.db --collapse -1 2>err &&
	test_expect_code 2 "$LEASH" policy synthesize --bogus 2>err &&
	test_expect_code 1 "$LEASH" policy synthesize --db /nonexistent/x.db 2>err &&
	grep "cannot open" err &&
	echo "not a database" >junk.db &&
	test_expect_code 1 "$LEASH" policy synthesize --db junk.db 2>err &&
	grep "not a leash audit log" err
'

test_done
