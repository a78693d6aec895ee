#!/bin/sh
# C unit tests of the reactor's pure pieces (t/unit/reactor-core.c).
exec "${LEASH_BUILD:-$(dirname "$0")/../build}/t/reactor-core"
