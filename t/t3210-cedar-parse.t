#!/bin/sh
# Cedar parser diagnostics, bounds and formatter round trip (t/unit/cedar-parse.c).
exec "${LEASH_BUILD:-$(dirname "$0")/../build}/t/cedar-parse"
