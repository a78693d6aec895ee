# test-lib.sh: the shell test harness, in git's style, TAP out.
#
#   test_description='what this script proves'
#   . "$(dirname "$0")/test-lib.sh"
#   test_expect_success [PREREQS] 'what this test proves' '
#           cmd1 &&
#           cmd2
#   '
#   test_done
#
# Each test runs in a subshell inside the script's own trash directory
# ($TRASH, removed at the end unless the script failed). Its output is kept
# and printed as TAP comments only when it fails (or with -v / TEST_VERBOSE).
#
# Prerequisites name what a test needs (ROOT, CGROUP2, BPF, ...). Missing
# ones skip the test, except under CI=true, where a missing prerequisite is
# a failure: CI must run everything it claims to.

set -u

TEST_DIRECTORY=$(cd "$(dirname "$0")" && pwd)
TEST_NAME=$(basename "$0" .t)
LEASH_BUILD=${LEASH_BUILD:-$TEST_DIRECTORY/../build}
LEASH=${LEASH:-$LEASH_BUILD/leash}
export LEASH LEASH_BUILD TEST_DIRECTORY

case " $* " in
*" -v "* | *" --verbose "*) TEST_VERBOSE=1 ;;
esac
TEST_VERBOSE=${TEST_VERBOSE:-}

test_count=0
test_failed=0
test_prereqs=" "

TRASH=$(mktemp -d "${TMPDIR:-/tmp}/leash-test.$TEST_NAME.XXXXXX") || exit 1
# Readable by the unprivileged users tests run commands as.
chmod 755 "$TRASH"
export TRASH
cd "$TRASH" || exit 1

test_set_prereq() {
	test_prereqs="$test_prereqs$1 "
}

test_have_prereq() {
	for p in $(echo "$1" | tr , ' '); do
		case "$test_prereqs" in
		*" $p "*) ;;
		*) return 1 ;;
		esac
	done
}

test_missing_prereqs() {
	missing=
	for p in $(echo "$1" | tr , ' '); do
		case "$test_prereqs" in
		*" $p "*) ;;
		*) missing="$missing $p" ;;
		esac
	done
	echo "${missing# }"
}

say() {
	printf '%s\n' "$*"
}

diag() {
	printf '%s\n' "$@" | sed 's/^/# /'
}

# As in git, the body runs in this shell (variables it sets are seen by
# later tests), from the trash directory, with its output kept aside.
test_run_() {
	cd "$TRASH" || return 1
	eval "$1" >"$TRASH/.out" 2>&1
	test_rc_=$?
	cd "$TRASH" || return 1
	return $test_rc_
}

test_expect_success() {
	if [ $# -eq 3 ]; then
		prereq=$1
		shift
	else
		prereq=
	fi
	test_count=$((test_count + 1))
	if [ -n "$prereq" ] && ! test_have_prereq "$prereq"; then
		missing=$(test_missing_prereqs "$prereq")
		if [ "${CI:-}" = true ]; then
			say "not ok $test_count - $1 # missing prerequisite $missing under CI=true"
			test_failed=$((test_failed + 1))
		else
			say "ok $test_count # skip $1 (missing $missing)"
		fi
		return 0
	fi
	if test_run_ "$2"; then
		say "ok $test_count - $1"
		[ -n "$TEST_VERBOSE" ] && sed 's/^/# /' "$TRASH/.out"
	else
		say "not ok $test_count - $1"
		test_failed=$((test_failed + 1))
		diag "test body:" "$2" "output:"
		sed 's/^/# /' "$TRASH/.out"
	fi
	return 0
}

test_done() {
	say "1..$test_count"
	cd /
	if [ "$test_failed" -eq 0 ]; then
		rm -rf "$TRASH"
		exit 0
	fi
	diag "$test_failed of $test_count failed; trash kept in $TRASH"
	exit 1
}

# ---- helpers for test bodies -----------------------------------------

# test_expect_code N CMD...: CMD must exit with status N.
test_expect_code() {
	want=$1
	shift
	"$@"
	got=$?
	if [ "$got" -ne "$want" ]; then
		echo "expected exit status $want, got $got: $*"
		return 1
	fi
}

# is_running PID: PID exists and is not a zombie (a dead process whose
# parent has not reaped it yet is not running).
is_running() {
	state=$(sed -n "s/^[0-9]* (.*) \([A-Za-z]\).*/\1/p" "/proc/$1/stat" 2>/dev/null)
	[ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# test_cmp EXPECTED ACTUAL
test_cmp() {
	diff -u "$1" "$2"
}

# test_eq EXPECTED ACTUAL [what]
test_eq() {
	if [ "$1" != "$2" ]; then
		echo "expected '${1}', got '${2}'${3:+ ($3)}"
		return 1
	fi
}

# sql QUERY: run QUERY on the test's database ($DB) with the sqlite3 CLI.
DB=$TRASH/leash.db
export DB
# reset_db: start the next test with no database (WAL files included).
reset_db() {
	rm -f "$DB" "$DB-wal" "$DB-shm"
}

sql() {
	sqlite3 -batch -noheader "$DB" "$1"
}

# leash_run ARGS...: the leash under test, recording into $DB, quiet.
leash_run() {
	"$LEASH" --db "$DB" -q "$@"
}

# ---- prerequisites ----------------------------------------------------

[ "$(id -u)" = 0 ] && test_set_prereq ROOT
grep -q ' - cgroup2 ' /proc/self/mountinfo 2>/dev/null && test_set_prereq CGROUP2
[ -r /sys/kernel/btf/vmlinux ] && test_set_prereq BTF
test_have_prereq ROOT,CGROUP2,BTF && test_set_prereq SESSION
command -v python3 >/dev/null && test_set_prereq PYTHON3
command -v sqlite3 >/dev/null && test_set_prereq SQLITE3
id nobody >/dev/null 2>&1 && test_set_prereq NOBODY
