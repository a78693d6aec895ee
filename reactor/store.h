/* store.h: the SQLite audit log (sessions and events).
 *
 * The store subscribes to the bus, queues events in memory and writes them
 * in one transaction per flush tick (STORE_FLUSH_MS) or per STORE_BATCH
 * events, whichever comes first, so the loop never waits for an fsync per
 * event and a crash loses at most one flush interval. WAL mode lets people
 * query the file with sqlite3 while a session runs.
 */
#ifndef LEASH_STORE_H
#define LEASH_STORE_H

#include <stdint.h>
#include <sys/types.h>

#include "record.h"

#define STORE_FLUSH_MS 100
#define STORE_BATCH 2048

struct store;
struct event_base;

struct store_session {
	const char *uuid;
	int64_t started_ns;
	const char *command_json; /* JSON array of argv */
	const char *cwd;
	uid_t uid;
	gid_t gid;
	enum mode mode;
	const char *policy;
	const char *cgroup;
	uint64_t cgroup_id;
};

/* Opens (creating if needed) the database at PATH, applies pending
 * migrations from schema/, and sets WAL mode. When OWNER_UID is not -1 a
 * newly created file is given to that user (the invoking user under sudo).
 * Returns 0, or -errno with a message in ERR. */
int store_open(struct store **out, const char *path, uid_t owner_uid, gid_t owner_gid, char *err,
	       size_t errlen);

/* Inserts the sessions row; later events are recorded under it. */
int store_session_begin(struct store *s, const struct store_session *info, char *err,
			size_t errlen);

/* Subscribes to the bus and arms the flush timer on BASE. */
int store_attach(struct store *s, struct event_base *base);

/* Writes every queued event now. 0, or -EAGAIN when the database is busy
 * (events stay queued), or -EIO. */
int store_flush(struct store *s);

/* Flushes, then records the end of the session. */
int store_session_end(struct store *s, int exit_status, uint64_t events_lost);

/* Events dropped because the queue hit its memory cap (the store could not
 * write for a long time). Counted, reported, never silent. */
uint64_t store_dropped(const struct store *s);

int64_t store_session_id(const struct store *s);

/* Flushes what it can and closes. NULL is fine. */
void store_close(struct store *s);

/* The user_version the embedded schema brings a database to. */
int store_schema_version(void);

#endif
