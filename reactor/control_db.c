/* control_db.c: GET /api/events and /api/sessions, from the audit log.
 *
 * Its own SQLite connection, made read-only by PRAGMA query_only (WAL:
 * readers never wait for the store's writer, nor it for us). Not
 * SQLITE_OPEN_READONLY: a read-only connection cannot create the -wal and
 * -shm files, and fails with "unable to open database file" whenever it
 * looks at a WAL database in the moment they do not exist (just created,
 * or after the last other connection closed and removed them). The loop must not wait long, so every
 * query is bounded twice: by construction, each events page scans at most
 * CONTROL_SCAN consecutive seqs of one session through the primary key
 * (session, seq), and returns a cursor to go on below them even when that
 * window held fewer matches than asked; and by a progress handler that
 * interrupts any statement running over CONTROL_QUERY_MS.
 *
 * Cursor pagination, newest first: ?before=SEQ (the "next" of the previous
 * page), ?limit=N (1-1000, default 100). Filters: session=UUID (default:
 * this session), kind=K (exact, or a prefix ending in '.': "process."),
 * decision=allow|deny|would_deny|none, q=TEXT (substring of exe, comm,
 * resource or details), since=NS, until=NS.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "control.h"
#include "control_int.h"
#include "synth.h"

#define CONTROL_SCAN 20000
#define CONTROL_QUERY_MS 250

static int64_t deadline_ns;

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int on_progress(void *arg)
{
	return mono_ns() > deadline_ns;
}

int control_db_open(const char *path, char *err, size_t errlen)
{
	int rc = sqlite3_open_v2(path, &control.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
				 NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_exec(control.db, "PRAGMA query_only = 1", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "control: cannot open '%s': %s", path,
			 control.db ? sqlite3_errmsg(control.db) : "out of memory");
		sqlite3_close(control.db);
		control.db = NULL;
		return -EIO;
	}
	sqlite3_progress_handler(control.db, 2000, on_progress, NULL);
	return 0;
}

void control_db_close(void)
{
	sqlite3_close(control.db);
	control.db = NULL;
}

static void arm_deadline(void)
{
	deadline_ns = mono_ns() + (int64_t)CONTROL_QUERY_MS * 1000000;
}

/* ---- rows as the stream's JSON shape ------------------------------------- */

#define EVENT_COLS                                                                                 \
	"seq, time_ns, kind, pid, ppid, uid, exe, comm, cgroup, action, resource, decision, "      \
	"policies, mode, details"

static void put_col(json_t *o, sqlite3_stmt *st, int i, const char *name, bool is_json)
{
	switch (sqlite3_column_type(st, i)) {
	case SQLITE_NULL:
		return;
	case SQLITE_INTEGER:
		json_object_set_new(o, name, json_integer(sqlite3_column_int64(st, i)));
		return;
	default:
		break;
	}
	const char *text = (const char *)sqlite3_column_text(st, i);
	json_t *v = is_json ? json_loads(text ? text : "null", 0, NULL) : NULL;

	json_object_set_new(o, name, v ? v : json_string(text ? text : ""));
}

static json_t *row_json(sqlite3_stmt *st)
{
	static const char *const names[] = {
		"seq",	  "time_ns", "kind",	 "pid",	     "ppid",	 "uid",	 "exe",	   "comm",
		"cgroup", "action",  "resource", "decision", "policies", "mode", "details"
	};
	json_t *o = json_object();

	for (int i = 0; o && i < 15; i++)
		put_col(o, st, i, names[i], i == 12 || i == 14);
	return o;
}

/* ---- events -------------------------------------------------------------- */

static int64_t session_id(const char *uuid)
{
	sqlite3_stmt *st;
	int64_t id = -1;

	if (sqlite3_prepare_v2(control.db, "SELECT id FROM sessions WHERE uuid = ?", -1, &st,
			       NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, uuid, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return id;
}

static int64_t max_seq(int64_t sid)
{
	sqlite3_stmt *st;
	int64_t seq = 0;

	if (sqlite3_prepare_v2(control.db, "SELECT max(seq) FROM events WHERE session = ?", -1, &st,
			       NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_int64(st, 1, sid);
	if (sqlite3_step(st) == SQLITE_ROW)
		seq = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return seq;
}

struct filters {
	char session[64], kind[128], decision[16], q[512], since[24], until[24], before[24],
		limit[8];
};

static void read_filters(const char *query, struct filters *f)
{
	memset(f, 0, sizeof(*f));
	http_query(query, "session", f->session, sizeof(f->session));
	http_query(query, "kind", f->kind, sizeof(f->kind));
	http_query(query, "decision", f->decision, sizeof(f->decision));
	http_query(query, "q", f->q, sizeof(f->q));
	http_query(query, "since", f->since, sizeof(f->since));
	http_query(query, "until", f->until, sizeof(f->until));
	http_query(query, "before", f->before, sizeof(f->before));
	http_query(query, "limit", f->limit, sizeof(f->limit));
}

static int build_sql(const struct filters *f, char *sql, size_t len)
{
	size_t n = (size_t)snprintf(sql, len,
				    "SELECT " EVENT_COLS " FROM events WHERE session = :sid"
				    " AND seq < :before AND seq >= :floor");

	if (f->kind[0])
		n += (size_t)snprintf(sql + n, len - n, " AND %s",
				      f->kind[strlen(f->kind) - 1] == '.'
					      ? "substr(kind, 1, length(:kind)) = :kind"
					      : "kind = :kind");
	if (f->decision[0]) {
		if (strcmp(f->decision, "none") == 0)
			n += (size_t)snprintf(sql + n, len - n, " AND decision IS NULL");
		else if (!strcmp(f->decision, "allow") || !strcmp(f->decision, "deny") ||
			 !strcmp(f->decision, "would_deny"))
			n += (size_t)snprintf(sql + n, len - n, " AND decision = :decision");
		else
			return -EINVAL;
	}
	if (f->q[0])
		n += (size_t)snprintf(
			sql + n, len - n,
			" AND (instr(coalesce(exe, ''), :q) OR instr(coalesce(comm, ''), :q)"
			" OR instr(coalesce(resource, ''), :q) OR instr(details, :q))");
	if (f->since[0])
		n += (size_t)snprintf(sql + n, len - n, " AND time_ns >= :since");
	if (f->until[0])
		n += (size_t)snprintf(sql + n, len - n, " AND time_ns < :until");
	snprintf(sql + n, len - n, " ORDER BY seq DESC LIMIT :limit");
	return 0;
}

static void bind_named(sqlite3_stmt *st, const char *name, const char *text)
{
	int i = sqlite3_bind_parameter_index(st, name);

	if (i > 0)
		sqlite3_bind_text(st, i, text, -1, SQLITE_TRANSIENT);
}

static void bind_int(sqlite3_stmt *st, const char *name, int64_t v)
{
	int i = sqlite3_bind_parameter_index(st, name);

	if (i > 0)
		sqlite3_bind_int64(st, i, v);
}

int control_db_events(const struct http_request *rq, json_t **out, char *err, size_t errlen)
{
	struct filters f;
	char sql[1024];
	sqlite3_stmt *st = NULL;
	int64_t sid, before, floor, limit, last = 0, got = 0;
	json_t *events;
	int rc;

	if (!control.db) {
		snprintf(err, errlen, "no audit database");
		return -ENOENT;
	}
	read_filters(rq->query, &f);
	limit = f.limit[0] ? strtoll(f.limit, NULL, 10) : 100;
	if (limit < 1 || limit > 1000 || build_sql(&f, sql, sizeof(sql)) < 0) {
		snprintf(
			err, errlen,
			"bad filter: limit is 1-1000, decision is allow, deny, would_deny or none");
		return -EINVAL;
	}
	arm_deadline();
	sid = session_id(f.session[0] ? f.session : control.uuid);
	if (sid < 0) {
		snprintf(err, errlen, "no such session '%s'", f.session);
		return -ENOENT;
	}
	before = f.before[0] ? strtoll(f.before, NULL, 10) : max_seq(sid) + 1;
	floor = before > CONTROL_SCAN ? before - CONTROL_SCAN : 0;
	if (sqlite3_prepare_v2(control.db, sql, -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "query: %s", sqlite3_errmsg(control.db));
		return -EIO;
	}
	bind_int(st, ":sid", sid);
	bind_int(st, ":before", before);
	bind_int(st, ":floor", floor);
	bind_int(st, ":limit", limit);
	bind_named(st, ":kind", f.kind);
	bind_named(st, ":decision", f.decision);
	bind_named(st, ":q", f.q);
	bind_int(st, ":since", strtoll(f.since, NULL, 10));
	bind_int(st, ":until", strtoll(f.until, NULL, 10));
	events = json_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		last = sqlite3_column_int64(st, 0);
		got++;
		json_array_append_new(events, row_json(st));
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		json_decref(events);
		snprintf(err, errlen,
			 rc == SQLITE_INTERRUPT ? "the query took too long; narrow it"
						: "query failed");
		return rc == SQLITE_INTERRUPT ? -ETIMEDOUT : -EIO;
	}
	/* A full page goes on below its last row; a short one below the
	 * window it scanned, until seq 1. */
	if (got == limit)
		last = last > 1 ? last : 0;
	else
		last = floor > 1 ? floor : 0;
	*out = json_pack("{s:o, s:s, s:I}", "events", events, "session",
			 f.session[0] ? f.session : control.uuid, "scanned_to", (json_int_t)floor);
	json_object_set_new(*out, "next",
			    last ? json_sprintf("%lld", (long long)last) : json_null());
	return 0;
}

json_t *control_db_event(const char *session, int64_t seq)
{
	sqlite3_stmt *st;
	json_t *ev = NULL;
	int64_t sid;

	if (!control.db)
		return NULL;
	arm_deadline();
	sid = session_id(session ? session : control.uuid);
	if (sqlite3_prepare_v2(control.db,
			       "SELECT " EVENT_COLS " FROM events WHERE session = ? AND seq = ?",
			       -1, &st, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_int64(st, 1, sid);
	sqlite3_bind_int64(st, 2, seq);
	if (sqlite3_step(st) == SQLITE_ROW)
		ev = row_json(st);
	sqlite3_finalize(st);
	return ev;
}

/* ---- synthesis ----------------------------------------------------------- */

char *control_db_synthesize(const char *session, unsigned collapse, char *err, size_t errlen)
{
	struct synth_options o = { .session = session, .collapse = collapse };
	char *text;

	if (!control.db) {
		snprintf(err, errlen, "no audit log");
		return NULL;
	}
	/* Bounded like every query here: a session too large to read within
	 * CONTROL_QUERY_MS is the command line's job. */
	arm_deadline();
	text = synth_policy(control.db, &o, err, errlen);
	if (!text && strstr(err, "interrupted"))
		snprintf(
			err, errlen,
			"the session is too large to synthesize here: run `leash policy synthesize --session %s`",
			session);
	return text;
}

/* ---- sessions ------------------------------------------------------------ */

int control_db_sessions(json_t **out)
{
	static const char sql[] =
		"SELECT uuid, started_ns, ended_ns, command, cwd, uid, mode, policy, exit_status,"
		" events_lost FROM sessions ORDER BY id DESC LIMIT 200";
	static const char *const names[] = { "uuid",	    "started_ns", "ended_ns", "command",
					     "cwd",	    "uid",	  "mode",     "policy",
					     "exit_status", "events_lost" };
	sqlite3_stmt *st;
	json_t *arr = json_array();

	if (!control.db || !arr)
		return -ENOENT;
	arm_deadline();
	if (sqlite3_prepare_v2(control.db, sql, -1, &st, NULL) != SQLITE_OK) {
		json_decref(arr);
		return -EIO;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		json_t *o = json_object();

		for (int i = 0; i < 10; i++)
			put_col(o, st, i, names[i], i == 3);
		json_object_set_new(o, "current",
				    json_boolean(strcmp((const char *)sqlite3_column_text(st, 0),
							control.uuid) == 0));
		json_array_append_new(arr, o);
	}
	sqlite3_finalize(st);
	*out = json_pack("{s:o}", "sessions", arr);
	return 0;
}
