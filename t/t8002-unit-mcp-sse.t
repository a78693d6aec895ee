#!/bin/sh
# C unit tests of the HTTP+SSE endpoint registry (t/unit/mcp-sse.c).
exec "${LEASH_BUILD:-$(dirname "$0")/../build}/t/mcp-sse"
