#!/bin/sh
# The BPF LSM backend in a kernel with the bpf LSM (t/unit/lsm-kernel.c
# prints TAP of its own, every check visible): real EPERMs on opens and
# execs, records with decisions and policy ids, modes, a live switch.
LEASH_IN_VM=1 exec "${LEASH_BUILD:-$(dirname "$0")/../../build}/t/lsm-kernel"
