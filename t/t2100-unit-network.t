#!/bin/sh
# C unit tests of the network module's compiler: rule forms, reports, and
# the compiled-versus-evaluator differential (t/unit/network-diff.c).
exec "${LEASH_BUILD:-$(dirname "$0")/../build}/t/network-diff"
