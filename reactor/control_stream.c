/* control_stream.c: the live event stream to WebSocket clients.
 *
 * A bus subscriber serialises each event once into a shared payload,
 * keeps the newest CONTROL_BACKLOG of them in a ring (the backlog a new
 * client gets, and the events "Allow this" may name), and queues it to
 * every client. Each client's queue is bounded by ws.c (drop oldest, with
 * a per-client counter); the client learns of drops from a "dropped"
 * message and from every heartbeat. Nothing here waits for a client.
 *
 * Frames, each one JSON object:
 *   {"type":"hello","session","mode","last_seq","backlog":N,"heartbeat_ms"}
 *   then N backlog events oldest first, then live events (record_to_json
 *   shape, with "seq" and "kind"), including policy.change and mode.change;
 *   {"type":"heartbeat","time_ns","uptime_s","last_seq","mode","dropped"}
 *   {"type":"dropped","dropped":TOTAL}
 * Query: ?backlog=N (at most CONTROL_BACKLOG), ?since=SEQ (only later ones).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "control.h"
#include "control_int.h"
#include "policy.h"
#include "reactor.h"
#include "ws.h"

#define CONTROL_BACKLOG 2000
#define CONTROL_CLIENT_QUEUE 8192
#define CONTROL_MAX_CLIENTS 32
#define CONTROL_RESOURCES 256

struct client {
	struct client *next;
	struct ws_conn *ws;
	uint64_t told_dropped;
};

struct backlog_entry {
	int64_t seq;
	struct ws_payload *p;
};

static struct {
	bool on;
	struct backlog_entry ring[CONTROL_BACKLOG];
	size_t head, count;
	struct client *clients;
	size_t nclients;
	uint64_t dropped_total; /* over every client, ever */
	struct reactor_watch *heartbeat;
	int heartbeat_ms;
	char *resources[CONTROL_RESOURCES + 1];
	size_t nres;
} st;

/* ---- sending ------------------------------------------------------------- */

static void send_json(struct client *cl, json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT);
	struct ws_payload *p = text ? ws_payload_take(text, strlen(text)) : NULL;

	json_decref(j);
	if (!p)
		return;
	ws_send(cl->ws, p);
	ws_payload_unref(p);
}

/* Tells a client about messages it lost, once per change. */
static void tell_dropped(struct client *cl)
{
	uint64_t d = ws_dropped(cl->ws);

	if (d == cl->told_dropped)
		return;
	st.dropped_total += d - cl->told_dropped;
	cl->told_dropped = d;
	send_json(cl, json_pack("{s:s, s:I}", "type", "dropped", "dropped", (json_int_t)d));
}

static void broadcast(struct ws_payload *p)
{
	for (struct client *cl = st.clients, *next; cl; cl = next) {
		next = cl->next;
		if (ws_send(cl->ws, p) == 0 && ws_dropped(cl->ws) != cl->told_dropped &&
		    ws_queued(cl->ws) < CONTROL_CLIENT_QUEUE / 2)
			tell_dropped(cl);
	}
}

/* ---- the bus sink -------------------------------------------------------- */

static void remember_resource(const char *r)
{
	for (size_t i = 0; i < st.nres; i++)
		if (strcmp(st.resources[i], r) == 0)
			return;
	if (st.nres == CONTROL_RESOURCES) {
		free(st.resources[0]);
		memmove(st.resources, st.resources + 1, (st.nres - 1) * sizeof(st.resources[0]));
		st.nres--;
	}
	st.resources[st.nres] = strdup(r);
	if (st.resources[st.nres])
		st.nres++;
	st.resources[st.nres] = NULL;
}

static void on_event(struct record *ev, void *arg)
{
	json_t *j = record_to_json(ev);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	struct ws_payload *p = text ? ws_payload_take(text, strlen(text)) : NULL;
	struct backlog_entry *e;

	json_decref(j);
	if (!p)
		return;
	if (ev->resource)
		remember_resource(ev->resource);
	if (st.count == CONTROL_BACKLOG) {
		ws_payload_unref(st.ring[st.head].p);
		st.head = (st.head + 1) % CONTROL_BACKLOG;
		st.count--;
	}
	e = &st.ring[(st.head + st.count) % CONTROL_BACKLOG];
	e->seq = (int64_t)ev->seq;
	e->p = p;
	st.count++;
	broadcast(p);
}

static void on_heartbeat(void *arg)
{
	int64_t now = record_now_ns();

	for (struct client *cl = st.clients, *next; cl; cl = next) {
		next = cl->next;
		tell_dropped(cl);
		send_json(cl, json_pack("{s:s, s:I, s:I, s:I, s:s, s:I}", "type", "heartbeat",
					"time_ns", (json_int_t)now, "uptime_s",
					(json_int_t)((now - control.started_ns) / 1000000000),
					"last_seq", (json_int_t)bus_last_seq(), "mode",
					mode_name(policy_mode()), "dropped",
					(json_int_t)ws_dropped(cl->ws)));
	}
}

/* ---- clients ------------------------------------------------------------- */

static void on_close(struct ws_conn *w, void *arg)
{
	struct client *cl = arg;

	for (struct client **pp = &st.clients; *pp; pp = &(*pp)->next) {
		if (*pp == cl) {
			*pp = cl->next;
			st.nclients--;
			break;
		}
	}
	free(cl);
}

static const struct ws_ops ops = {
	.on_close = on_close,
};

void control_stream_accept(struct http_conn *c, const struct http_request *rq)
{
	char v[32];
	long want = CONTROL_BACKLOG, since = 0;
	size_t first, n = 0;
	struct client *cl;

	if (st.nclients >= CONTROL_MAX_CLIENTS) {
		control_error(c, 503, "too-many-clients", "too many stream clients", NULL);
		return;
	}
	if (http_query(rq->query, "backlog", v, sizeof(v)) == 0)
		want = strtol(v, NULL, 10);
	if (http_query(rq->query, "since", v, sizeof(v)) == 0)
		since = strtol(v, NULL, 10);
	want = want < 0 ? 0 : want > CONTROL_BACKLOG ? CONTROL_BACKLOG : want;
	cl = calloc(1, sizeof(*cl));
	if (!cl) {
		control_error(c, 503, "internal", "out of memory", NULL);
		return;
	}
	if (ws_accept(c, rq, CONTROL_CLIENT_QUEUE, &ops, cl, &cl->ws) < 0) {
		free(cl);
		return;
	}
	cl->next = st.clients;
	st.clients = cl;
	st.nclients++;
	first = st.count > (size_t)want ? st.count - (size_t)want : 0;
	for (size_t i = first; i < st.count; i++)
		if (st.ring[(st.head + i) % CONTROL_BACKLOG].seq > since)
			n++;
	send_json(cl, json_pack("{s:s, s:s, s:s, s:I, s:I, s:i}", "type", "hello", "session",
				control.uuid, "mode", mode_name(policy_mode()), "last_seq",
				(json_int_t)bus_last_seq(), "backlog", (json_int_t)n,
				"heartbeat_ms", st.heartbeat_ms));
	for (size_t i = first; i < st.count; i++) {
		struct backlog_entry *e = &st.ring[(st.head + i) % CONTROL_BACKLOG];

		if (e->seq > since)
			ws_send(cl->ws, e->p);
	}
}

/* ---- queries from the API ------------------------------------------------ */

json_t *control_stream_event(int64_t seq)
{
	for (size_t i = 0; i < st.count; i++) {
		struct backlog_entry *e = &st.ring[(st.head + i) % CONTROL_BACKLOG];

		if (e->seq == seq)
			return json_loadb(e->p->data, e->p->len, 0, NULL);
	}
	return NULL;
}

const char *const *control_stream_resources(void)
{
	return (const char *const *)st.resources;
}

json_t *control_stream_stats(void)
{
	uint64_t dropped = st.dropped_total;

	for (struct client *cl = st.clients; cl; cl = cl->next)
		dropped += ws_dropped(cl->ws) - cl->told_dropped;
	return json_pack("{s:I, s:I, s:I}", "clients", (json_int_t)st.nclients, "dropped",
			 (json_int_t)dropped, "backlog", (json_int_t)st.count);
}

/* ---- start and stop ------------------------------------------------------ */

int control_stream_start(void)
{
	const char *hb = getenv("LEASH_CONTROL_HEARTBEAT_MS");

	st.heartbeat_ms = hb ? atoi(hb) : 10000;
	if (st.heartbeat_ms < 50 || st.heartbeat_ms > 600000)
		st.heartbeat_ms = 10000;
	if (bus_subscribe(on_event, NULL) < 0)
		return -ENOSPC;
	st.on = true;
	st.heartbeat = reactor_every(st.heartbeat_ms, on_heartbeat, NULL);
	return st.heartbeat ? 0 : -ENOMEM;
}

void control_stream_stop(void)
{
	if (st.on)
		bus_unsubscribe(on_event, NULL);
	reactor_unwatch(st.heartbeat);
	while (st.clients) {
		struct client *cl = st.clients;

		st.clients = cl->next;
		ws_free(cl->ws);
		free(cl);
	}
	for (size_t i = 0; i < st.count; i++)
		ws_payload_unref(st.ring[(st.head + i) % CONTROL_BACKLOG].p);
	for (size_t i = 0; i < st.nres; i++)
		free(st.resources[i]);
	memset(&st, 0, sizeof(st));
}
