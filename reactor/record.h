/* record.h: the one record shape every source publishes and every sink reads.
 *
 * Kernel exec/exit records, file and network decisions, proxy requests, MCP
 * calls, mode switches and session start/end all become a struct record (an "event" in the store and the UI; the name
 * avoids libevent's struct event), so
 * the store, the log and (later) the WebSocket stream need one code path.
 * Events are reference counted: the bus hands each subscriber a borrowed
 * pointer, and a subscriber that keeps one (the store's flush queue) takes
 * its own reference.
 */
#ifndef LEASH_RECORD_H
#define LEASH_RECORD_H

#include <stdint.h>
#include <jansson.h>

enum decision {
	DECISION_NONE = 0, /* an observation, no policy question was asked */
	DECISION_ALLOW,
	DECISION_DENY,
	DECISION_WOULD_DENY, /* shadow mode: policy denies, leash allowed */
};

enum mode {
	MODE_RECORD = 0,
	MODE_SHADOW,
	MODE_ENFORCE,
};

struct record {
	int refs;
	uint64_t seq; /* assigned by bus_publish(), per session, from 1 */
	int64_t time_ns; /* wall clock, ns since the epoch */
	const char *kind; /* static string: "process.exec", "session.start", ... */
	int64_t pid, ppid, uid; /* -1 when not about a process */
	char *exe, *comm; /* owned, may be NULL */
	uint64_t cgroup; /* cgroup id, 0 when none */
	const char *action; /* static Cedar action name, or NULL */
	char *resource; /* owned Cedar entity uid text, or NULL */
	enum decision decision;
	json_t *policies; /* owned JSON array of policy ids, or NULL */
	enum mode mode;
	json_t *details; /* owned JSON object, never NULL */
};

/* A new event of KIND with one reference, pid fields -1, time now, empty
 * details. Returns NULL only when out of memory. */
struct record *record_new(const char *kind);
struct record *record_ref(struct record *ev);
void record_unref(struct record *ev);

/* Owned copies; NULL stays NULL. */
void record_set_exe(struct record *ev, const char *exe);
void record_set_comm(struct record *ev, const char *comm);
void record_set_resource(struct record *ev, const char *resource);

const char *decision_name(enum decision d); /* NULL for DECISION_NONE */
const char *mode_name(enum mode m);
/* 0 and *out set, or -EINVAL for a name that is not a mode */
int mode_parse(const char *name, enum mode *out);

int64_t record_now_ns(void);

/* A JSON string of N bytes of peer text (argv, paths): valid UTF-8 is kept
 * as is, each invalid byte becomes U+FFFD, so one odd byte never costs the
 * whole record. NULL only when out of memory. */
json_t *record_json_text(const char *s, size_t n);

/* The event as one JSON object (the shape the store's columns and the
 * WebSocket stream share). Caller owns the result. */
json_t *record_to_json(const struct record *ev);

#endif
