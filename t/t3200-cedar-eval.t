#!/bin/sh
# Cedar evaluator checklist: every rule of the language and the decision (t/unit/cedar-eval.c).
exec "${LEASH_BUILD:-$(dirname "$0")/../build}/t/cedar-eval"
