/* ws.h: WebSocket connections (RFC 6455) for the control server.
 *
 * Frames are read and written by libwslay; this layer does the opening
 * handshake on a request http.c collected, moves bytes between wslay and
 * the bufferevent, and bounds what waits for a slow peer: each connection
 * has a ring of at most QUEUE_MAX outgoing messages, and a full ring drops
 * its oldest message and counts it (ws_dropped), so a client that does not
 * read can never make the loop wait or leash grow without bound.
 *
 * Outgoing messages are shared, reference-counted text payloads: an event
 * is serialised once and queued to every client.
 */
#ifndef LEASH_WS_H
#define LEASH_WS_H

#include <stddef.h>
#include <stdint.h>

struct http_conn;
struct http_request;
struct ws_conn;

struct ws_payload {
	int refs;
	size_t len;
	char data[];
};

/* A payload holding a copy of S (N bytes), one reference. NULL on ENOMEM. */
struct ws_payload *ws_payload_new(const char *s, size_t n);
/* A payload that takes S (malloc'd, N bytes) and frees it. */
struct ws_payload *ws_payload_take(char *s, size_t n);
void ws_payload_unref(struct ws_payload *p);

struct ws_ops {
	/* A text message from the peer (borrowed). May be NULL. */
	void (*on_text)(struct ws_conn *w, const char *msg, size_t len, void *arg);
	/* The connection is gone; W is freed after this returns. */
	void (*on_close)(struct ws_conn *w, void *arg);
};

/* True when RQ is a well-formed WebSocket upgrade request (GET, Upgrade:
 * websocket, Connection: upgrade, version 13, a 16-byte key). */
int ws_is_upgrade(const struct http_request *rq);

/* Answers RQ with 101 and takes C over. 0 and *OUT set, or -errno (then C
 * is already closed). */
int ws_accept(struct http_conn *c, const struct http_request *rq, size_t queue_max,
	      const struct ws_ops *ops, void *arg, struct ws_conn **out);

/* Queues P (takes a reference) as one text frame; a full queue drops its
 * oldest message. 0, or -EPIPE when the connection is closing. */
int ws_send(struct ws_conn *w, struct ws_payload *p);
/* Messages dropped for this client so far. */
uint64_t ws_dropped(const struct ws_conn *w);
/* Messages waiting in the client's queue. */
size_t ws_queued(const struct ws_conn *w);
/* Starts the closing handshake; on_close follows. */
void ws_close(struct ws_conn *w, uint16_t code, const char *reason);
/* Closes at once, without calling on_close (server shutdown). */
void ws_free(struct ws_conn *w);

#endif
