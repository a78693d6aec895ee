#!/bin/sh
test_description='files and programs under policy: record, shadow and enforce, read versus write, the right rows'
. "$(dirname "$0")/test-lib.sh"

# The policy: the system readable, ws/ readable, ws/rw/ writable, programs
# from /usr, ws/secret/ forbidden (id no-secret), ws/bin/ not executable.
mkdir -p ws/rw ws/secret ws/bin ws/ro &&
echo hello >ws/readme && echo key >ws/secret/key && echo ro >ws/ro/file &&
cp /bin/true ws/bin/mytrue &&
cat >policy.cedar <<EOF
@id("read-system")
permit (principal, action == Action::"FileOpenReadOnly", resource)
when { resource in [Dir::"/usr/", Dir::"/etc/", Dir::"/proc/", Dir::"/dev/", Dir::"$TRASH/ws/"] };
@id("write-rw")
permit (principal, action == Action::"FileOpen", resource)
when { resource in [Dir::"$TRASH/ws/rw/", Dir::"/dev/"] };
@id("run-usr")
permit (principal, action == Action::"ProcessExec", resource) when { resource in Dir::"/usr/" };
@id("no-secret")
forbid (principal, action == Action::"FileOpen", resource) when { resource in Dir::"$TRASH/ws/secret/" };
EOF

# run MODE CMD: the command under the policy in MODE, from ws/.
run() {
	mode=$1
	shift
	(cd ws && "$LEASH" --db "$DB" -q --mode "$mode" --allow-degraded --policy ../policy.cedar -- sh -c "$1")
}

# row KIND RESOURCE: "decision policies" of the newest such row.
row() {
	sql "SELECT decision || ' ' || coalesce(policies, '') FROM events WHERE kind = '$1' AND resource = '$2' ORDER BY session DESC, seq DESC LIMIT 1"
}

test_expect_success SESSION 'enforce: a permitted read succeeds, a forbidden one fails with EPERM' '
	run enforce "cat readme; cat secret/key" >out 2>err; test $? -eq 1 &&
	grep -x hello out &&
	grep "secret/key: Operation not permitted" err &&
	test_eq "deny [\"no-secret\"]" "$(row file.open "File::\"$TRASH/ws/secret/key\"")"
'

test_expect_success SESSION 'enforce: read-only is read-only: a write open fails, the read works' '
	run enforce "echo x >> ro/file" 2>err; test $? -ne 0 &&
	grep "Operation not permitted" err &&
	test_eq ro "$(cat ws/ro/file)" &&
	test_eq "deny []" "$(row file.open "File::\"$TRASH/ws/ro/file\"")" &&
	test_eq FileOpenReadWrite "$(sql "SELECT action FROM events WHERE kind = '\''file.open'\'' AND resource = '\''File::\"$TRASH/ws/ro/file\"'\'' ORDER BY seq DESC LIMIT 1")" &&
	run enforce "cat ro/file" >out && grep -x ro out
'

test_expect_success SESSION 'enforce: writing where writing is permitted works and names the policy' '
	run enforce "echo data > rw/out" &&
	test_eq data "$(cat ws/rw/out)" &&
	test_eq "allow [\"write-rw\"]" "$(row file.open "File::\"$TRASH/ws/rw/out\"")"
'

test_expect_success SESSION 'enforce: a forbidden directory cannot be listed (a Dir resource)' '
	run enforce "ls secret" 2>err; test $? -ne 0 &&
	grep "Operation not permitted" err &&
	test_eq "deny [\"no-secret\"]" "$(row file.open "Dir::\"$TRASH/ws/secret/\"")"
'

test_expect_success SESSION 'enforce: a program outside the permitted directories cannot run (EPERM at exec)' '
	run enforce "./bin/mytrue" 2>err; test $? -eq 126 &&
	grep "Operation not permitted" err &&
	test_eq "deny []" "$(row process.exec "File::\"$TRASH/ws/bin/mytrue\"")" &&
	test_eq 1 "$(sql "SELECT json_extract(details, '\''$.refused'\'') FROM events WHERE kind = '\''process.exec'\'' AND resource = '\''File::\"$TRASH/ws/bin/mytrue\"'\''")"
'

test_expect_success SESSION 'enforce starts before the command'\''s first instruction: a forbidden command never runs' '
	(cd ws && "$LEASH" --db "$DB" -q --mode enforce --allow-degraded --policy ../policy.cedar -- ./bin/mytrue) 2>err;
	test_eq 126 $? "exit status" &&
	grep "cannot run '\''./bin/mytrue'\'': Operation not permitted" err
'

test_expect_success SESSION 'enforce: a permitted exec row carries the policy that allowed it' '
	run enforce "/usr/bin/true" &&
	test_eq "allow [\"run-usr\"]" "$(row process.exec "File::\"/usr/bin/true\"")"
'

test_expect_success SESSION 'shadow: nothing is blocked, denials are recorded as would_deny' '
	reset_db &&
	run shadow "cat secret/key; echo x >> ro/file; ./bin/mytrue; echo rc=\$?" >out 2>&1 &&
	grep -x key out &&
	grep -x rc=0 out &&
	test_eq "would_deny [\"no-secret\"]" "$(row file.open "File::\"$TRASH/ws/secret/key\"")" &&
	test_eq "would_deny []" "$(row file.open "File::\"$TRASH/ws/ro/file\"")" &&
	test_eq "would_deny []" "$(row process.exec "File::\"$TRASH/ws/bin/mytrue\"")" &&
	test_eq shadow "$(sql "SELECT DISTINCT mode FROM events WHERE decision = '\''would_deny'\''")"
'

test_expect_success SESSION 'record: nothing is evaluated or blocked, every access is recorded as allowed' '
	reset_db &&
	echo ro >ws/ro/file &&
	run record "cat secret/key; echo x >> ro/file; ./bin/mytrue; echo rc=\$?" >out 2>&1 &&
	grep -x key out &&
	grep -x rc=0 out &&
	test_eq "allow " "$(row file.open "File::\"$TRASH/ws/secret/key\"")" &&
	test_eq "allow " "$(row file.open "File::\"$TRASH/ws/ro/file\"")" &&
	test_eq "allow " "$(row process.exec "File::\"$TRASH/ws/bin/mytrue\"")" &&
	test_eq 0 "$(sql "SELECT count(*) FROM events WHERE decision != '\''allow'\''")"
'

test_expect_success SESSION 'processes outside the session are not affected and not recorded' '
	reset_db &&
	echo ro >ws/ro/file &&
	(cd ws && "$LEASH" --db "$DB" -q --mode enforce --allow-degraded --policy ../policy.cedar -- \
		sh -c "cat secret/key 2>/dev/null; sleep 2") &
	sleep 1 &&
	cat ws/secret/key >out && echo x >> ws/ro/file && ./ws/bin/mytrue &&
	wait &&
	grep -x key out &&
	test_eq 1 "$(sql "SELECT count(*) FROM events WHERE resource = '\''File::\"$TRASH/ws/secret/key\"'\''")" &&
	test_eq 0 "$(sql "SELECT count(*) FROM events WHERE resource = '\''File::\"$TRASH/ws/ro/file\"'\''")"
'

test_expect_success SESSION 'the default policy denies .env files and allows the workspace' '
	reset_db &&
	echo SECRET=1 >ws/.env &&
	(cd ws && "$LEASH" --db "$DB" -q --mode enforce --allow-degraded -- sh -c "cat readme; cat .env; echo ok > rw/x2") >out 2>err;
	grep -x hello out &&
	grep ".env: Operation not permitted" err &&
	test_eq ok "$(cat ws/rw/x2)" &&
	test_eq "deny [\"no-dotenv\"]" "$(row file.open "File::\"$TRASH/ws/.env\"")"
'

test_expect_success SESSION 'rule paths are canonicalised: a rule on a symlink governs its target' '
	reset_db &&
	ln -s secret ws/alias && ln -s /usr/bin/true ws/truelink &&
	cat >alias.cedar <<-EOF &&
	permit (principal, action, resource);
	@id("no-alias") forbid (principal, action == Action::"FileOpen", resource) when { resource in Dir::"$TRASH/ws/alias/" };
	@id("no-true") forbid (principal, action == Action::"ProcessExec", resource == File::"$TRASH/ws/truelink");
	EOF
	(cd ws && "$LEASH" --db "$DB" -q --mode enforce --allow-degraded --policy ../alias.cedar -- sh -c "cat secret/key; /usr/bin/true") 2>err;
	cat err &&
	grep "secret/key: Operation not permitted" err &&
	grep "/usr/bin/true: Operation not permitted" err &&
	test_eq "deny [\"no-alias\"]" "$(row file.open "File::\"$TRASH/ws/secret/key\"")" &&
	test_eq "deny [\"no-true\"]" "$(row process.exec "File::\"/usr/bin/true\"")"
'

test_expect_success SESSION,PYTHON3 'enforce: read-only opens from many threads at once are reads (threads woken by other answers)' '
	reset_db &&
	mkdir ws/many && (cd ws/many && seq 400 | xargs touch) &&
	cat >ws/threads.py <<-EOF2 &&
	import threading
	bad = []
	def reader(k):
	    for i in range(k, 400, 8):
	        try:
	            open("many/%d" % (i + 1)).read()
	        except OSError as e:
	            bad.append(e.errno)
	ts = [threading.Thread(target=reader, args=(k,)) for k in range(8)]
	[t.start() for t in ts]
	[t.join() for t in ts]
	print("failed", len(bad))
	EOF2
	run enforce "python3 threads.py" >out &&
	test_eq "failed 0" "$(cat out)" &&
	test_eq 0 "$(sql "SELECT count(*) FROM events WHERE kind = \"file.open\" AND decision = \"deny\"")"
'

test_expect_success 'leash policy default prints the embedded policy for this directory' '
	(cd ws && "$LEASH" policy default) >default.cedar &&
	grep "@id(\"no-credentials\")" default.cedar &&
	grep "Dir::\"$TRASH/ws/\"" default.cedar &&
	"$LEASH" policy check default.cedar
'

test_done
