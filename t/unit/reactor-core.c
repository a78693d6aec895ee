/* reactor-core.c: unit tests for the reactor's pure pieces: record text
 * sanitising, modes, the bus, the CLI checks, the store's migrations and
 * batching, exit-status mapping. */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "bus.h"
#include "cli.h"
#include "reactor.h"
#include "record.h"
#include "sandbox.h"
#include "store.h"
#include "tap.h"

static void test_json_text(void)
{
	json_t *j;

	j = record_json_text("h\xc3\xa9llo", 6);
	is_str(json_string_value(j), "h\xc3\xa9llo", "valid UTF-8 is kept as is");
	json_decref(j);
	j = record_json_text("a\xff"
			     "b",
			     3);
	is_str(json_string_value(j),
	       "a\xef\xbf\xbd"
	       "b",
	       "an invalid byte becomes U+FFFD");
	json_decref(j);
	j = record_json_text("\xc0\xaf", 2);
	is_str(json_string_value(j), "\xef\xbf\xbd\xef\xbf\xbd",
	       "an overlong '/' is two bad bytes");
	json_decref(j);
	j = record_json_text("\xed\xa0\x80", 3);
	is_int(json_string_length(j), 9, "a UTF-16 surrogate is not UTF-8");
	json_decref(j);
	j = record_json_text("x\xe2\x82", 3);
	is_str(json_string_value(j), "x\xef\xbf\xbd\xef\xbf\xbd", "a cut sequence at the end");
	json_decref(j);
}

static void test_modes(void)
{
	enum mode m = MODE_RECORD;

	ok(mode_parse("enforce", &m) == 0 && m == MODE_ENFORCE, "enforce parses");
	ok(mode_parse("Enforce", &m) < 0, "mode names are case-sensitive");
	is_str(mode_name(MODE_SHADOW), "shadow", "mode names round-trip");
	is_str(decision_name(DECISION_WOULD_DENY), "would_deny", "decision names");
	ok(decision_name(DECISION_NONE) == NULL, "no decision has no name");
}

static int seen[8], nseen;
static void sub_a(struct record *r, void *arg)
{
	seen[nseen++] = (int)r->seq * 10 + 1;
	ok(r->mode == MODE_SHADOW, "the bus stamps the current mode");
}
static void sub_b(struct record *r, void *arg)
{
	seen[nseen++] = (int)r->seq * 10 + 2;
}

static void test_bus(void)
{
	bus_subscribe(sub_a, NULL);
	bus_subscribe(sub_b, NULL);
	bus_set_mode(MODE_SHADOW);
	bus_publish(record_new("t.one"));
	bus_publish(record_new("t.two"));
	ok(nseen == 4 && seen[0] == 11 && seen[1] == 12 && seen[2] == 21 && seen[3] == 22,
	   "every subscriber sees every record, in order, with sequence numbers from 1");
	bus_unsubscribe(sub_a, NULL);
	bus_unsubscribe(sub_b, NULL);
	bus_set_mode(MODE_RECORD);
}

static enum cli_result parse(char *err, const char *a1, const char *a2, const char *a3)
{
	char *argv[] = { (char *)"leash", (char *)a1, (char *)a2, (char *)a3, NULL };
	struct config cfg;
	enum cli_result r = cli_parse(4, argv, &cfg, err, 256);

	cli_free(&cfg);
	return r;
}

static void test_cli(void)
{
	char err[256];

	is_int(parse(err, "--listen", "[::1]:7433", "true"), CLI_RUN, "IPv6 listen address");
	is_int(parse(err, "--listen", "localhost:1", "true"), CLI_RUN, "localhost listen address");
	is_int(parse(err, "--listen", "[::1]", "true"), CLI_ERROR, "listen without a port");
	is_int(parse(err, "-e", "A_1=x=y", "true"), CLI_RUN, "-e keeps '=' in the value");
	is_int(parse(err, "-e", "=x", "true"), CLI_ERROR, "-e without a name");
	is_str(err, "-e: '' is not a valid variable name", "  and says so");
	is_int(parse(err, "-v", "/tmp:/tmp:ro", "true"), CLI_RUN, "-v SRC:DST:ro");
	is_int(parse(err, "-v", "/tmp::ro", "true"), CLI_ERROR, "-v with an empty destination");
	is_int(parse(err, "--", "--mode", "x"), CLI_RUN, "-- ends leash's options");
}

static int count(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int n = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

static void test_store(void)
{
	char dir[] = "/tmp/leash-unit.XXXXXX", path[64], err[256] = "";
	struct store_session row = { .uuid = "u1",
				     .command_json = "[\"x\"]",
				     .cwd = "/",
				     .policy = "(default)",
				     .cgroup = "/cg" };
	struct store *s = NULL;
	sqlite3 *db;

	if (!mkdtemp(dir))
		return;
	snprintf(path, sizeof(path), "%s/t.db", dir);
	ok(store_open(&s, path, -1, -1, err, sizeof(err)) == 0, "a new database opens: %s", err);
	ok(store_session_begin(s, &row, err, sizeof(err)) == 0, "a session row is written");
	ok(store_flush(s) == 0, "flushing an empty queue is fine");
	reactor_init();
	ok(store_attach(s, reactor_base()) == 0, "the store subscribes to the bus");
	for (int i = 0; i < 3; i++) {
		struct record *r = record_new("t.event");

		r->pid = 100 + i;
		json_object_set_new(r->details, "i", json_integer(i));
		bus_publish(r);
	}
	ok(store_session_end(s, 42, 7) == 0, "the end is written");
	store_close(s);
	reactor_fini();

	sqlite3_open(path, &db);
	is_int(count(db, "PRAGMA user_version"), store_schema_version(),
	       "schema at the newest version");
	is_int(count(db, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'"), 1,
	       "WAL mode");
	is_int(count(db, "SELECT exit_status FROM sessions WHERE uuid = 'u1'"), 42, "exit status");
	is_int(count(db, "SELECT events_lost FROM sessions"), 7, "loss count");
	is_int(count(db, "SELECT count(*) FROM events WHERE kind = 't.event' AND session = 1"), 3,
	       "published records are written at the end");
	is_int(count(db, "SELECT sum(json_extract(details, '$.i')) FROM events"), 3,
	       "with their details");
	is_int(count(db, "SELECT count(*) FROM events WHERE pid = 102 AND mode = 'record'"), 1,
	       "and their fields");
	sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL);
	sqlite3_close(db);
	s = NULL;
	ok(store_open(&s, path, -1, -1, err, sizeof(err)) < 0, "a newer schema is refused");
	is_str(err, "database schema version 99 is newer than this leash (1)", "  and says so");
	unlink(path);
	snprintf(path, sizeof(path), "%s/t.db-wal", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/t.db-shm", dir);
	unlink(path);
	rmdir(dir);
}

static void test_exit_code(void)
{
	is_int(sandbox_exit_code(42 << 8), 42, "exit 42");
	is_int(sandbox_exit_code(SIGKILL), 137, "killed by SIGKILL");
	is_int(sandbox_exit_code(SIGSEGV | 0x80), 139, "core dump still 128+N");
}

int main(void)
{
	test_json_text();
	test_modes();
	test_bus();
	test_cli();
	test_store();
	test_exit_code();
	return done_testing();
}
