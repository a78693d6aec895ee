#!/bin/sh
test_description='the real leash in the BPF LSM guest: a hard link, a rename or the dynamic loader does not get around a forbid; each refusal is an EPERM and a row in the store'
. "$(dirname "$0")/../test-lib.sh"

LOADER=/lib64/ld-linux-x86-64.so.2

test_expect_success 'the guest kernel lists bpf among its LSMs' '
	grep -q "\(^\|,\)bpf\(,\|$\)" /sys/kernel/security/lsm
'

mkdir -p ws/secret ws/ok ws/bin ws/proj/vault && echo key >ws/secret/key &&
cp "$(command -v sqlite3)" ws/bin/tool &&
ln ws/secret/key ws/ok/prelinked &&
cat >policy.cedar <<EOF2
@id("open-all")
permit (principal, action == Action::"FileOpen", resource);
@id("run-all")
permit (principal, action == Action::"ProcessExec", resource);
@id("no-secret")
forbid (principal, action == Action::"FileOpen", resource) when { resource in Dir::"$TRASH/ws/secret/" };
@id("no-vault")
forbid (principal, action == Action::"FileOpen", resource) when { resource in Dir::"$TRASH/ws/proj/vault/" };
@id("no-tool")
forbid (principal, action == Action::"ProcessExec", resource == File::"$TRASH/ws/bin/tool");
EOF2

# row KIND RESOURCE: "decision policies" of the newest such row
row() {
	sql "SELECT decision || ' ' || policies FROM events WHERE kind = '$1' AND resource = '$2' ORDER BY seq DESC LIMIT 1"
}

test_expect_success SESSION 'enforce: a hard link made before the session, ln, mv and ld.so each fail with EPERM' '
	(cd ws && "$LEASH" --db "$DB" -q --listen "" --mode enforce --allow-degraded --policy ../policy.cedar -- sh -c "
		cat ok/prelinked; echo cat=\$?
		ln secret/key ok/key2; echo ln=\$?
		mv secret/key ok/key3; echo mv=\$?
		$LOADER bin/tool -version; echo loader=\$?
		$LOADER /usr/bin/sqlite3 -version >/dev/null; echo loader-permitted=\$?
	") >out 2>err; cat out err &&
	grep -x "cat=1" out && grep "prelinked.*Operation not permitted" err &&
	grep -x "ln=1" out && grep -x "mv=1" out &&
	grep -x "loader=127" out && grep -x "loader-permitted=0" out &&
	test -f ws/secret/key && ! test -e ws/ok/key2 && ! test -e ws/ok/key3
'

test_expect_success SESSION '...the rows: each names the forbidden name and the policy that decided' '
	test_eq "deny [\"no-secret\"]" "$(row file.open "File::\"$TRASH/ws/secret/key\"")" &&
	test_eq "$TRASH/ws/ok/prelinked" "$(sql "SELECT json_extract(details, \"\$.opened_as\") FROM events WHERE kind = \"file.open\" AND decision = \"deny\" ORDER BY seq DESC LIMIT 1")" &&
	test_eq "deny [\"no-secret\"]" "$(row file.link "File::\"$TRASH/ws/secret/key\"")" &&
	test_eq "deny [\"no-secret\"]" "$(row file.rename "File::\"$TRASH/ws/secret/key\"")" &&
	test_eq "deny [\"no-tool\"] 1" "$(sql "SELECT decision || '\'' '\'' || policies || '\'' '\'' || json_extract(details, \"\$.via_loader\") FROM events WHERE kind = '\''process.exec'\'' AND resource = '\''File::\"$TRASH/ws/bin/tool\"'\'' ORDER BY seq DESC LIMIT 1")"
'

# A directory above a forbidden Dir moves the Dir with it: a file made
# there after the policy was compiled (no inode entry) would then be read
# by its new path. The session waits for the file, made outside it.
test_expect_success SESSION 'enforce: a directory above a forbidden Dir cannot be renamed' '
	rm -f ws/ok/started ws/ok/ready &&
	(cd ws && "$LEASH" --db "$DB" -q --listen "" --mode enforce --allow-degraded --policy ../policy.cedar -- sh -c "
		touch ok/started
		until [ -e ok/ready ]; do sleep 0.1; done
		mv proj proj2; echo mv=\$?
		cat proj2/vault/new 2>/dev/null || cat proj/vault/new; echo cat=\$?
	") >out 2>err &
	i=0 && while [ ! -e ws/ok/started ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done &&
	echo new >ws/proj/vault/new && touch ws/ok/ready &&
	wait $! ; cat out err &&
	grep -x "mv=1" out && grep -x "cat=1" out &&
	test -f ws/proj/vault/new && ! test -e ws/proj2 &&
	test_eq "deny [\"no-vault\"]" "$(row file.rename "Dir::\"$TRASH/ws/proj/vault/\"")"
'

test_expect_success SESSION 'shadow: the same commands run, and the rows say would_deny' '
	reset_db &&
	(cd ws && "$LEASH" --db "$DB" -q --listen "" --mode shadow --allow-degraded --policy ../policy.cedar -- sh -c "
		cat ok/prelinked >/dev/null; echo cat=\$?
		ln secret/key ok/key2; echo ln=\$?
		$LOADER bin/tool -version >/dev/null; echo loader=\$?
	") >out 2>err; cat out err &&
	grep -x "cat=0" out && grep -x "ln=0" out && grep -x "loader=0" out &&
	test_eq "would_deny [\"no-secret\"]" "$(row file.link "File::\"$TRASH/ws/secret/key\"")" &&
	test_eq "would_deny [\"no-tool\"]" "$(row process.exec "File::\"$TRASH/ws/bin/tool\"")" &&
	rm -f ws/ok/key2
'

test_done
