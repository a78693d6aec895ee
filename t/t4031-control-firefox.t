#!/bin/sh
test_description='Control UI in Firefox (puppeteer-core over WebDriver BiDi, Debian firefox-esr, headless): live events, filters, error marker, apply, mode switch, a denied event, Deny this'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/control/lib.sh"

# FIREFOX: Debian's firefox-esr (scripts/install-deps) and puppeteer-core
# (t/control/package-lock.json), which never downloads a browser.
[ -x /usr/bin/firefox-esr ] && [ -d "$CONTROL_DIR/node_modules/puppeteer-core" ] &&
	test_set_prereq FIREFOX

# Screenshots: $LEASH_TEST_ARTIFACTS/t4031 when set (CI), else the trash
# directory's screenshots/ (kept when the test fails).
SHOTS=${LEASH_TEST_ARTIFACTS:+$LEASH_TEST_ARTIFACTS/t4031}
SHOTS=${SHOTS:-$TRASH/screenshots}

# The agent: runs echo or reads the secret whenever the browser test drops a
# trigger file (the same as t4030's).
AGENT='while :; do
	if [ -e go-echo ]; then rm -f go-echo; /bin/echo ui >/dev/null 2>&1; fi
	if [ -e go-cat ]; then rm -f go-cat; cat secret >/dev/null 2>&1; fi
	sleep 0.05
done'

cat >ui.cedar <<EOF
permit (principal, action in [Action::"FileOpen", Action::"ProcessExec", Action::"NetworkConnect"], resource);
forbid (principal, action == Action::"FileOpen", resource == File::"$TRASH/secret");
EOF
echo s3cret >secret

test_expect_success CONTROL,FIREFOX 'in Firefox the UI shows events live, marks errors, applies, switches mode, denies from an event' '
	control_start -- sh -c "$AGENT" &&
	node "$CONTROL_DIR/firefox-test.js" "$BASE" "$TOKEN" "$TRASH" "$SHOTS" >steps 2>&1;
	rc=$? && cat steps && test $rc -eq 0 &&
	test_eq 9 "$(grep -c "^ok - " steps)" &&
	for s in 1-events-filtered 2-policy-error-marker 3-apply-diff 4-denied-event 5-deny-this 6-synthesized; do
		test "$(head -c 4 "$SHOTS/$s.png" | od -An -c | tr -d " ")" = "211PNG" || return 1
	done &&
	test_eq enforce "$(jq_get "$(api "$BASE/api/mode")" "j[\"mode\"]")" &&
	api "$BASE/api/policies" >pol &&
	grep -q "from event" pol &&
	grep -q "forbid.*/usr/bin/echo" pol &&
	control_stop
'

test_done
