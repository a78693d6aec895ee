#!/usr/bin/env python3
"""syscall-probe: try each syscall the seccomp floor refuses and print
`name errno` for each, so a test can compare against what it expects.
Also checks that ordinary process and thread creation still work."""
import ctypes
import errno
import os
import threading

libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWNET = 0x10000000, 0x00020000, 0x40000000

calls = {  # name: (nr, args)
    "unshare-user": (272, (CLONE_NEWUSER,)),
    "unshare-mount": (272, (CLONE_NEWNS,)),
    "unshare-net": (272, (CLONE_NEWNET,)),
    "unshare-files": (272, (0x400,)),  # CLONE_FILES: allowed
    "clone3": (435, (0, 0)),
    "setns": (308, (0, 0)),
    "mount": (165, (b"none", b"/mnt", b"tmpfs", 0, 0)),
    "umount2": (166, (b"/proc", 2)),
    "pivot_root": (155, (b"/", b"/")),
    "chroot": (161, (b"/",)),
    "open_tree": (428, (-100, b"/", 0)),
    "move_mount": (429, (-100, b"/", -100, b"/mnt", 0)),
    "fsopen": (430, (b"tmpfs", 0)),
    "fsmount": (432, (-1, 0, 0)),
    "mount_setattr": (442, (-100, b"/", 0, 0, 0)),
    "bpf": (321, (0, 0, 0)),
    "init_module": (175, (0, 0, b"")),
    "finit_module": (313, (-1, b"", 0)),
    "delete_module": (176, (b"x", 0)),
    "kexec_load": (246, (0, 0, 0, 0)),
    "kexec_file_load": (320, (-1, -1, 0, 0, 0)),
    "open_by_handle_at": (304, (-1, 0, 0)),
    "perf_event_open": (298, (0, 0, -1, -1, 0)),
}
# PROBE_ONLY=a,b limits the run to harmless calls (the control run outside
# leash must not mount anything on the host).
only = os.environ.get("PROBE_ONLY")
if only:
    calls = {k: v for k, v in calls.items() if k in only.split(",")}
for name, (nr, args) in calls.items():
    ctypes.set_errno(0)
    rc = libc.syscall(nr, *args)
    e = ctypes.get_errno() if rc == -1 else 0
    print(name, errno.errorcode.get(e, e) if e else "ok")

pid = os.fork()
if pid == 0:
    os._exit(7)
print("fork", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
t = threading.Thread(target=lambda: None)
t.start()
t.join()
print("thread ok")
