/* store.c: the SQLite audit log.
 *
 * Data: a growable array of queued event references, one prepared INSERT,
 * a libevent timer. Every flush is one BEGIN IMMEDIATE .. COMMIT around all
 * queued rows; with WAL and synchronous=NORMAL a commit is an append to the
 * -wal file, not an fsync, so a flush of a few thousand rows takes a few ms
 * of the loop. If another writer holds the lock (two sessions sharing a
 * database), the flush gives up after a short busy timeout and the rows wait
 * for the next tick: nothing is lost, and the loop never stalls for long.
 *
 * Migrations are schema/NNNN-*.sql compiled in (embed.h), applied in name
 * order inside one transaction each, tracked in PRAGMA user_version.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "bus.h"
#include "embed.h"
#include "log.h"
#include "store.h"

/* Beyond this many unwritten events (minutes of a disk that will not take
 * writes), new events are counted as dropped rather than eating memory. */
#define STORE_QUEUE_CAP (1 << 20)
#define STORE_BUSY_MS 50

struct store {
	sqlite3 *db;
	sqlite3_stmt *insert;
	int64_t session;
	struct record **queue;
	size_t len, cap;
	uint64_t dropped;
	struct event *timer;
	struct event *kick; /* flush now: the batch is full */
	int failing; /* last flush failed; log once until it recovers */
};

static const char insert_sql[] =
	"INSERT INTO events (session, seq, time_ns, kind, pid, ppid, uid, exe, comm, cgroup,"
	" action, resource, decision, policies, mode, details)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)";

int store_schema_version(void)
{
	int n = 0;

	while (schema_files[n].name)
		n++;
	return n;
}

static int fail(char *err, size_t errlen, sqlite3 *db, const char *what)
{
	snprintf(err, errlen, "%s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
	return -EIO;
}

/* Migration N (1-based) is schema_files[N-1]; its file name must start
 * with its number so a renamed or reordered file is caught, not applied. */
static int migrate(sqlite3 *db, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int have, want = store_schema_version();

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return fail(err, errlen, db, "cannot read schema version");
	have = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_finalize(st);
	if (have < 0)
		return fail(err, errlen, db, "cannot read schema version");
	if (have > want) {
		snprintf(err, errlen, "database schema version %d is newer than this leash (%d)",
			 have, want);
		return -EPROTO;
	}
	for (int v = have + 1; v <= want; v++) {
		const struct embedded *m = &schema_files[v - 1];
		char *sql, *msg = NULL;

		if (atoi(m->name) != v) {
			snprintf(err, errlen, "schema file '%s' is out of sequence", m->name);
			return -EPROTO;
		}
		sql = sqlite3_mprintf("BEGIN IMMEDIATE; %s PRAGMA user_version = %d; COMMIT;",
				      m->text, v);
		if (!sql)
			return -ENOMEM;
		if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
			snprintf(err, errlen, "schema '%s': %s", m->name, msg ? msg : "failed");
			sqlite3_free(msg);
			sqlite3_free(sql);
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return -EIO;
		}
		sqlite3_free(sql);
	}
	return 0;
}

int store_open(struct store **out, const char *path, uid_t owner_uid, gid_t owner_gid, char *err,
	       size_t errlen)
{
	struct store *s;
	struct stat st;
	int existed = stat(path, &st) == 0;
	int rc;

	/* An audit log someone else owns (made in a shared directory before
	 * leash ran) is one they can read and rewrite: refuse it. */
	if (existed && st.st_uid != 0 && st.st_uid != owner_uid) {
		snprintf(err, errlen,
			 "'%s' belongs to another user (uid %u): not an audit log to trust", path,
			 (unsigned)st.st_uid);
		return -EPERM;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		rc = fail(err, errlen, s->db, "cannot open database");
		goto out_close;
	}
	/* Give a new file to the invoking user so they can query it without
	 * sudo; SQLite, running as root, gives -wal and -shm the owner of the
	 * main file. */
	if (!existed) {
		if (chmod(path, 0600) < 0 ||
		    (owner_uid != (uid_t)-1 && chown(path, owner_uid, owner_gid) < 0)) {
			rc = -errno;
			snprintf(err, errlen, "cannot set owner of '%s': %s", path,
				 strerror(errno));
			goto out_close;
		}
	}
	sqlite3_busy_timeout(s->db, STORE_BUSY_MS);
	if (sqlite3_exec(s->db,
			 "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
			 " PRAGMA foreign_keys = ON;",
			 NULL, NULL, NULL) != SQLITE_OK) {
		rc = fail(err, errlen, s->db, "cannot set WAL mode");
		goto out_close;
	}
	rc = migrate(s->db, err, errlen);
	if (rc)
		goto out_close;
	if (sqlite3_prepare_v3(s->db, insert_sql, -1, SQLITE_PREPARE_PERSISTENT, &s->insert,
			       NULL) != SQLITE_OK) {
		rc = fail(err, errlen, s->db, "cannot prepare insert");
		goto out_close;
	}
	*out = s;
	return 0;

out_close:
	sqlite3_close(s->db);
	free(s);
	return rc;
}

int store_session_begin(struct store *s, const struct store_session *in, char *err, size_t errlen)
{
	static const char sql[] =
		"INSERT INTO sessions (uuid, started_ns, command, cwd, uid, gid, mode, policy,"
		" cgroup, cgroup_id, leash_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return fail(err, errlen, s->db, "cannot record session");
	sqlite3_bind_text(st, 1, in->uuid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, in->started_ns);
	sqlite3_bind_text(st, 3, in->command_json, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, in->cwd, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, in->uid);
	sqlite3_bind_int64(st, 6, in->gid);
	sqlite3_bind_text(st, 7, mode_name(in->mode), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, in->policy, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, in->cgroup, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 10, (sqlite3_int64)in->cgroup_id);
	sqlite3_bind_text(st, 11, LEASH_VERSION, -1, SQLITE_STATIC);
	/* Start-up may wait for another writer longer than a flush would. */
	sqlite3_busy_timeout(s->db, 5000);
	rc = sqlite3_step(st);
	sqlite3_busy_timeout(s->db, STORE_BUSY_MS);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return fail(err, errlen, s->db, "cannot record session");
	s->session = sqlite3_last_insert_rowid(s->db);
	return 0;
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static void bind_int_or_null(sqlite3_stmt *st, int i, int64_t v)
{
	if (v >= 0)
		sqlite3_bind_int64(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

static void bind_json(sqlite3_stmt *st, int i, const json_t *j)
{
	char *text = j ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;

	if (text)
		sqlite3_bind_text(st, i, text, -1, free);
	else
		sqlite3_bind_null(st, i);
}

static int insert_one(struct store *s, const struct record *ev)
{
	sqlite3_stmt *st = s->insert;
	int rc;

	sqlite3_bind_int64(st, 1, s->session);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)ev->seq);
	sqlite3_bind_int64(st, 3, ev->time_ns);
	sqlite3_bind_text(st, 4, ev->kind, -1, SQLITE_STATIC);
	bind_int_or_null(st, 5, ev->pid);
	bind_int_or_null(st, 6, ev->ppid);
	bind_int_or_null(st, 7, ev->uid);
	bind_text_or_null(st, 8, ev->exe);
	bind_text_or_null(st, 9, ev->comm);
	bind_int_or_null(st, 10, ev->cgroup ? (int64_t)ev->cgroup : -1);
	bind_text_or_null(st, 11, ev->action);
	bind_text_or_null(st, 12, ev->resource);
	bind_text_or_null(st, 13, decision_name(ev->decision));
	bind_json(st, 14, ev->policies);
	sqlite3_bind_text(st, 15, mode_name(ev->mode), -1, SQLITE_STATIC);
	bind_json(st, 16, ev->details);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

int store_flush(struct store *s)
{
	size_t i;
	int rc;

	if (!s->len)
		return 0;
	rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc == SQLITE_BUSY)
		return -EAGAIN;
	if (rc != SQLITE_OK)
		goto fail;
	for (i = 0; i < s->len; i++) {
		if (insert_one(s, s->queue[i]) < 0) {
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			goto fail;
		}
	}
	rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		if (rc == SQLITE_BUSY)
			return -EAGAIN;
		goto fail;
	}
	for (i = 0; i < s->len; i++)
		record_unref(s->queue[i]);
	s->len = 0;
	if (s->failing)
		log_warn("store: writing again");
	s->failing = 0;
	return 0;

fail:
	if (!s->failing)
		log_err("store: cannot write events (kept in memory, retrying): %s",
			sqlite3_errmsg(s->db));
	s->failing = 1;
	return -EIO;
}

static void on_event(struct record *ev, void *arg)
{
	struct store *s = arg;

	if (s->len == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		struct record **q;

		if (s->len >= STORE_QUEUE_CAP || !(q = realloc(s->queue, cap * sizeof(*q)))) {
			s->dropped++;
			return;
		}
		s->queue = q;
		s->cap = cap;
	}
	s->queue[s->len++] = record_ref(ev);
	if (s->len == STORE_BATCH && s->kick)
		event_active(s->kick, 0, 0);
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
	store_flush(arg);
}

int store_attach(struct store *s, struct event_base *base)
{
	struct timeval tv = { 0, STORE_FLUSH_MS * 1000 };
	int rc;

	s->timer = event_new(base, -1, EV_PERSIST, on_flush, s);
	s->kick = event_new(base, -1, 0, on_flush, s);
	if (!s->timer || !s->kick || event_add(s->timer, &tv) < 0)
		return -ENOMEM;
	rc = bus_subscribe(on_event, s);
	return rc;
}

int store_session_end(struct store *s, int exit_status, uint64_t events_lost)
{
	sqlite3_stmt *st;
	int rc;

	/* Shutdown may wait for another writer: nothing else is pending. */
	sqlite3_busy_timeout(s->db, 5000);
	rc = store_flush(s);
	if (sqlite3_prepare_v2(s->db,
			       "UPDATE sessions SET ended_ns = ?, exit_status = ?, events_lost = ?"
			       " WHERE id = ?",
			       -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int64(st, 1, record_now_ns());
	sqlite3_bind_int(st, 2, exit_status);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)(events_lost + s->dropped));
	sqlite3_bind_int64(st, 4, s->session);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = -EIO;
	sqlite3_finalize(st);
	return rc;
}

uint64_t store_dropped(const struct store *s)
{
	return s->dropped;
}

int64_t store_session_id(const struct store *s)
{
	return s->session;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	bus_unsubscribe(on_event, s);
	if (s->timer)
		event_free(s->timer);
	if (s->kick)
		event_free(s->kick);
	for (size_t i = 0; i < s->len; i++)
		record_unref(s->queue[i]);
	free(s->queue);
	sqlite3_finalize(s->insert);
	sqlite3_close(s->db);
	free(s);
}
