#!/bin/sh
test_description='the real leash in the BPF LSM guest: a session runs, a forbidden open fails with EPERM and its row names the policy'
. "$(dirname "$0")/../test-lib.sh"

test_expect_success 'the guest kernel lists bpf among its LSMs' '
	grep -q "\(^\|,\)bpf\(,\|$\)" /sys/kernel/security/lsm
'

mkdir -p ws/secret && echo hello >ws/readme && echo key >ws/secret/key &&
cat >policy.cedar <<EOF2
@id("read-all")
permit (principal, action == Action::"FileOpen", resource);
@id("run-all")
permit (principal, action == Action::"ProcessExec", resource);
@id("no-secret")
forbid (principal, action == Action::"FileOpen", resource) when { resource in Dir::"$TRASH/ws/secret/" };
EOF2

test_expect_success SESSION 'enforce: a permitted read succeeds, a forbidden one fails with EPERM, the row says deny and no-secret' '
	(cd ws && "$LEASH" --db "$DB" -q --listen "" --mode enforce --allow-degraded --policy ../policy.cedar -- sh -c "cat readme; cat secret/key") >out 2>err; rc=$?; cat out err; test $rc -eq 1 &&
	grep -x hello out &&
	grep "secret/key.*Operation not permitted" err &&
	test_eq "deny [\"no-secret\"]" "$(sql "SELECT decision || '\'' '\'' || policies FROM events WHERE kind = '\''file.open'\'' AND resource = '\''File::\"$TRASH/ws/secret/key\"'\'' ORDER BY seq DESC LIMIT 1")"
'

test_expect_success SESSION 'the capability probe picked the bpf LSM for files and connections, and the session.enforcement row says so' '
	test_eq "bpf-lsm|cgroup-bpf + bpf-lsm" "$(sql "SELECT json_extract(details, '\''$.file'\'') || '\''|'\'' || json_extract(details, '\''$.network'\'') FROM events WHERE kind = '\''session.enforcement'\'' ORDER BY seq DESC LIMIT 1")"
'

test_expect_success SESSION 'a policy the kernel cannot decide whole (the default: its .env rule is a like) runs on fanotify, enforced, instead of being refused' '
	mkdir -p dflt && echo SECRET=1 >dflt/.env && echo fine >dflt/readme &&
	(cd dflt && "$LEASH" --db "$DB" --listen "" --mode enforce --allow-degraded -- sh -c "cat readme; cat .env") >out 2>err; rc=$?; cat out err; test $rc -eq 1 &&
	grep -x fine out &&
	grep "\.env.*Operation not permitted" err &&
	grep "files and programs: fanotify, not the bpf LSM (lsm: policy .* cannot evaluate)" err &&
	test_eq "fanotify" "$(sql "SELECT json_extract(details, '\''$.file'\'') FROM events WHERE kind = '\''session.enforcement'\'' ORDER BY session DESC, seq DESC LIMIT 1")" &&
	test_eq "deny [\"no-dotenv\"]" "$(sql "SELECT decision || '\'' '\'' || policies FROM events WHERE kind = '\''file.open'\'' AND resource = '\''File::\"$TRASH/dflt/.env\"'\'' ORDER BY seq DESC LIMIT 1")"
'

test_done
