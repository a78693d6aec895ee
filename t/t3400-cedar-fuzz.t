#!/bin/sh
test_description='the Cedar libFuzzer target (make fuzz) runs for a bounded time under ASan and UBSan without a crash, leak or undefined behaviour'
. "$(dirname "$0")/test-lib.sh"

ROOT=$(cd "$TEST_DIRECTORY/.." && pwd)
# libFuzzer needs clang and its runtime (Debian: clang, libclang-rt-14-dev).
if command -v clang >/dev/null 2>&1 &&
	echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' >probe.c &&
	clang -fsanitize=fuzzer probe.c -o probe 2>/dev/null; then
	test_set_prereq LIBFUZZER
fi

test_expect_success LIBFUZZER "make fuzz for ${LEASH_FUZZ_TIME:-30}s finds nothing" '
	env -u MAKEFLAGS -u MAKELEVEL make -C "$ROOT" --no-print-directory fuzz \
		FUZZ_TIME=${LEASH_FUZZ_TIME:-30} >out 2>&1;
	rc=$?
	cat out &&
	test $rc -eq 0 &&
	grep "^Done [0-9]* runs in" out
'

test_done
