#!/bin/sh
# The BPF LSM backend's compiler and kernel lookup code against the Cedar
# evaluator, on the host (t/unit/lsm-diff.c; root for BPF_PROG_TEST_RUN).
exec "${LEASH_BUILD:-$(dirname "$0")/../build}/t/lsm-diff"
