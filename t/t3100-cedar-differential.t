#!/bin/sh
test_description='Cedar differential testing: random policies, entities and requests over leash vocabulary, and mutated policy texts, decided by leash and by cedar-wasm 4.13.0, with zero disagreements'
. "$(dirname "$0")/test-lib.sh"

# cedar-wasm is a pinned dev dependency in t/cedar/oracle (scripts/install-deps runs npm ci).
if command -v node >/dev/null 2>&1 &&
	test -d "$TEST_DIRECTORY/cedar/oracle/node_modules/@cedar-policy/cedar-wasm"; then
	test_set_prereq CEDAR_WASM
fi

# LEASH_DIFF_SEED explores other seeds; the default keeps CI reproducible.
SEED=${LEASH_DIFF_SEED:-20260701}

test_expect_success CEDAR_WASM 'the oracle is the pinned cedar-wasm 4.13.0' '
	node -e "console.log(require(\"$TEST_DIRECTORY/cedar/oracle/node_modules/@cedar-policy/cedar-wasm/package.json\").version)" >version &&
	test "$(cat version)" = 4.13.0
'

test_expect_success CEDAR_WASM 'generated and mutated cases: zero disagreements' '
	node "$TEST_DIRECTORY/cedar/difftest.cjs" --leash "$LEASH" --seed "$SEED" \
		--cases 8000 --parse-cases 4000 >result;
	rc=$?
	cat result &&
	test $rc -eq 0 &&
	grep "^# seed $SEED: 12000 cases.* 0 disagree" result
'

test_expect_success CEDAR_WASM 'through the policy index and after fmt: zero disagreements' '
	node "$TEST_DIRECTORY/cedar/difftest.cjs" --leash "$LEASH" --seed "$((SEED + 1))" \
		--cases 4000 --parse-cases 0 --index-always --reformat >result-index;
	rc=$?
	cat result-index &&
	test $rc -eq 0 &&
	grep "^# seed $((SEED + 1)): 4000 cases.* 0 disagree" result-index
'

test_expect_success CEDAR_WASM 'the cases are not vacuous: allows, forbids, errors, rejected texts' '
	sed -n "s/.*(\([0-9]*\) allow, \([0-9]*\) denied by a forbid, \([0-9]*\) with policy errors, \([0-9]*\) rejected by both).*/\1 \2 \3 \4/p" result >counts &&
	read allow forbid errors rejected <counts &&
	test "$allow" -gt 1000 && test "$forbid" -gt 200 &&
	test "$errors" -gt 500 && test "$rejected" -gt 2000
'

test_expect_success CEDAR_WASM 'a disagreement is reported with a minimal reproducer' '
	# a fake engine that always allows must be caught and shrunk to one policy
	cat >fake-leash <<-\EOF &&
	#!/bin/sh
	while IFS= read -r line; do echo "{\"decision\":\"allow\",\"reasons\":[\"policy0\"],\"errors\":[]}"; done
	EOF
	chmod +x fake-leash &&
	test_expect_code 1 node "$TEST_DIRECTORY/cedar/difftest.cjs" --leash ./fake-leash --seed 3 \
		--cases 50 --parse-cases 0 >fake &&
	grep "^# DISAGREEMENT" fake &&
	grep "^# minimal reproducer" fake &&
	grep -A1 "^# minimal reproducer" fake | tail -1 | node -e "
		const c = JSON.parse(require(\"fs\").readFileSync(0, \"utf8\"));
		if (c.entities.length > 3) process.exit(1);"
'

test_done
