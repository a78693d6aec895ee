#!/bin/sh
test_description='the seccomp floor: namespaces, mounts, chroot, bpf, modules, kexec, handles, perf are refused with EPERM'
. "$(dirname "$0")/test-lib.sh"

test_expect_success SESSION,PYTHON3 'every floor syscall fails with EPERM inside, clone3 with ENOSYS' '
	leash_run -- python3 "$TEST_DIRECTORY/helpers/syscall-probe.py" >out &&
	cat out &&
	for c in unshare-user unshare-mount unshare-net setns mount umount2 pivot_root chroot open_tree \
		move_mount fsopen fsmount mount_setattr bpf init_module finit_module delete_module \
		kexec_load kexec_file_load open_by_handle_at perf_event_open; do
		grep -x "$c EPERM" out || { echo "$c: not EPERM"; return 1; }
	done &&
	grep -x "clone3 ENOSYS" out
'

test_expect_success SESSION,PYTHON3 'processes, threads and non-namespace unshare still work inside' '
	grep -x "fork 7" out &&
	grep -x "thread ok" out &&
	grep -x "unshare-files ok" out
'

test_expect_success SESSION 'unshare -Urm + bind mount (a way around mount marks) is refused' '
	leash_run -- sh -c "unshare -Urm sh -c \"mount --bind /tmp /mnt && echo bound\"" >out 2>&1;
	cat out &&
	! grep -x bound out &&
	grep "Operation not permitted" out
'

test_expect_success PYTHON3 'control: outside leash the same probe is not refused by a floor' '
	PROBE_ONLY=clone3,bpf,perf_event_open python3 "$TEST_DIRECTORY/helpers/syscall-probe.py" >out &&
	cat out &&
	grep -x "clone3 EINVAL" out &&
	! grep EPERM out
'

test_done
