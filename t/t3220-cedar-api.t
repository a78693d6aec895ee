#!/bin/sh
# Cedar API for the modules: vocabulary validation, implied hierarchy, rules, completion (t/unit/cedar-api.c).
exec "${LEASH_BUILD:-$(dirname "$0")/../build}/t/cedar-api"
