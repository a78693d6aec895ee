#!/bin/sh
test_description='command line: help, version, and a one-line error with status 2 for every bad option or value'
. "$(dirname "$0")/test-lib.sh"

# expect_usage_error 'message fragment' ARGS...: exit 2, one line on stderr
# that names the problem, nothing on stdout, and no session recorded.
expect_usage_error() {
	frag=$1
	shift
	test_expect_code 2 "$LEASH" --db "$DB" "$@" >out 2>err &&
	test ! -s out &&
	test "$(wc -l <err)" -eq 1 &&
	grep -F -- "$frag" err &&
	test ! -e "$DB"
}

test_expect_success '--help prints usage on stdout and exits 0' '
	"$LEASH" --help >out &&
	grep "^usage: leash \[options\] \[--\] COMMAND" out &&
	grep -- "--mode MODE" out
'

test_expect_success '--version prints the version and exits 0' '
	"$LEASH" --version >out &&
	grep "^leash [0-9a-f]" out
'

test_expect_success 'unknown long and short options are refused' '
	expect_usage_error "unknown option '\''--frobnicate'\''" --frobnicate true &&
	expect_usage_error "unknown option '\''-x'\''" -x true
'

test_expect_success 'an option without its value is refused' '
	expect_usage_error "option '\''--mode'\'' needs a value" --mode
'

test_expect_success 'no command is refused' '
	expect_usage_error "no command given"
'

test_expect_success 'bad --mode values are refused' '
	expect_usage_error "'\''bogus'\'' is not one of record, shadow, enforce" --mode bogus true
'

test_expect_success 'bad --name values are refused' '
	expect_usage_error "is not 1-64 printable characters" --name "a\"b" true &&
	expect_usage_error "is not 1-64 printable characters" --name "" true
'

test_expect_success 'a policy with errors is refused with status 2, every error shown, nothing started' '
	printf "permit (principal, action, resource)\nforbid (principal action, resource);\n" >bad.cedar &&
	test_expect_code 2 "$LEASH" --db "$DB" --policy bad.cedar true 2>err &&
	grep "bad.cedar:1:37: error\[syntax.missing-semicolon\]" err &&
	grep "bad.cedar:2:19: error\[syntax.unexpected-token\]" err &&
	grep "the policy has errors; nothing was started" err &&
	test ! -e "$DB"
'

test_expect_success 'bad --listen addresses are refused' '
	expect_usage_error "is not HOST:PORT" --listen nope true &&
	expect_usage_error "is not HOST:PORT" --listen 127.0.0.1:0 true &&
	expect_usage_error "is not HOST:PORT" --listen 127.0.0.1:70000 true &&
	expect_usage_error "is not HOST:PORT" --listen "[::1:80" true &&
	expect_usage_error "is not HOST:PORT" --listen example.com:80 true
'

test_expect_success 'bad --policy and --db paths are refused' '
	expect_usage_error "--policy: cannot use '\''/nonexistent.cedar'\''" --policy /nonexistent.cedar true &&
	expect_usage_error "--policy: '\''/tmp'\'' is not a regular file" --policy /tmp true &&
	: >empty.cedar &&
	expect_usage_error "--policy: cannot read '\''empty.cedar'\'': the file is empty" --policy empty.cedar true &&
	"$LEASH" --db /nonexistent/dir/x.db true 2>err; test $? -eq 2 &&
	grep "directory '\''/nonexistent/dir'\'' does not exist" err
'

test_expect_success 'bad -e values are refused' '
	expect_usage_error "'\''1BAD'\'' is not a valid variable name" -e 1BAD=x true &&
	expect_usage_error "'\''LEASH_SURELY_UNSET'\'' is not set" -e LEASH_SURELY_UNSET true
'

test_expect_success 'bad -v values are refused' '
	mkdir src &&
	expect_usage_error "is not SRC:DST" -v src true &&
	expect_usage_error "is not SRC:DST" -v src:/mnt:rx true &&
	expect_usage_error "is not an absolute path" -v src:mnt true &&
	expect_usage_error "cannot use source '\''nope'\''" -v nope:/mnt true &&
	expect_usage_error "does not exist" -v src:/nonexistent-dst true &&
	expect_usage_error "not both directories or both files" -v src:/etc/hostname true
'

test_expect_success ROOT,NOBODY 'leash refuses to run without root, with status 125' '
	test_expect_code 125 setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$LEASH" --db /tmp/never.db true 2>err &&
	grep "must run as root" err
'

test_done
