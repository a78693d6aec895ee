#!/bin/sh
test_description='Cedar conformance: the official corpus subset, replayed through leash policy eval --batch, agrees on every decision, reason set and error set'
. "$(dirname "$0")/test-lib.sh"

CORPUS=$TEST_DIRECTORY/cedar/subset-requests.jsonl.gz

test_expect_success 'the vendored corpus is there, with its license' '
	test -s "$CORPUS" &&
	test -s "$TEST_DIRECTORY/cedar/LICENSE" &&
	test -s "$TEST_DIRECTORY/cedar/NOTICE" &&
	test "$(gzip -dc "$CORPUS" | wc -l)" -eq 35812
'

test_expect_success 'all 35,812 requests agree with the reference' '
	gzip -dc "$CORPUS" | "$LEASH" policy eval --batch >answers &&
	"$TEST_DIRECTORY/cedar/compare-answers" "$CORPUS" answers >result &&
	cat result &&
	grep "^agree 35812 of 35812$" result
'

test_expect_success 'leash policy fmt keeps the meaning: every policy text reformatted, all agree' '
	gzip -dc "$CORPUS" | "$LEASH" policy eval --batch --reformat >answers-fmt &&
	"$TEST_DIRECTORY/cedar/compare-answers" "$CORPUS" answers-fmt >result-fmt &&
	grep "^agree 35812 of 35812$" result-fmt
'

test_expect_success 'the replay is not vacuous: it has allows, forbids, errors' '
	grep -c "\"decision\":\"allow\"" answers >n_allow &&
	test "$(cat n_allow)" -gt 1000 &&
	grep -c "\"errors\":\[\"" answers >n_err &&
	test "$(cat n_err)" -ge 100
'

test_done
