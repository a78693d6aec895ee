#!/bin/sh
test_description='the network module'\''s BPF programs on a test cgroup: modes, rule forms, a kernel-versus-evaluator differential, live switches under load'
. "$(dirname "$0")/test-lib.sh"

# t/unit/network-kernel.c prints TAP of its own; here it is one test whose
# output (every check) is shown when it fails.
test_expect_success SESSION 'real connects from a test cgroup are decided as the policy says' '
	"$LEASH_BUILD/t/network-kernel" >out 2>err; rc=$?
	cat out &&
	test $rc -eq 0 &&
	! grep "^not ok" out &&
	grep -q "^ok .* the kernel and the evaluator agree on [1-9][0-9]* real connects" out &&
	grep -q "^ok .* every connect under live switching has its event" out
'

test_done
