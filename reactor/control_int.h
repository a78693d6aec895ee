/* control_int.h: what the control server's files share (not an API).
 *
 * control.c owns the server, authentication, routing and static files;
 * control_api.c the REST handlers; control_db.c the read-only SQLite
 * queries; control_stream.c the bus subscriber, backlog and WebSocket
 * clients. One server per process, so its state is one static struct.
 */
#ifndef LEASH_CONTROL_INT_H
#define LEASH_CONTROL_INT_H

#include <stdint.h>

#include <jansson.h>

#include "http.h"

struct sqlite3;

struct control {
	struct http_server *srv;
	char token[CONTROL_TOKEN_MAX + 1];
	char cookie[32]; /* cookie name, per port: leash_<port> */
	char host[80]; /* the listening host as it appears in Host headers */
	int port;
	char url[256];
	char runfile[256];
	char uuid[40];
	int64_t started_ns;
	struct sqlite3 *db;
	char db_path[4096];
};

extern struct control control;

/* Responses: BODY is stolen. */
void control_json(struct http_conn *c, int status, json_t *body);
/* {"error":{"message","code", ...EXTRA}}; EXTRA (stolen, may be NULL) is
 * merged into the error object. */
void control_error(struct http_conn *c, int status, const char *code, const char *message,
		   json_t *extra);

/* The request body as JSON when it is JSON, else NULL. */
json_t *control_body_json(const struct http_request *rq);

/* REST handlers (control_api.c). */
void api_status(struct http_conn *c, const struct http_request *rq);
void api_policies_get(struct http_conn *c, const struct http_request *rq);
void api_policies_post(struct http_conn *c, const struct http_request *rq);
void api_validate(struct http_conn *c, const struct http_request *rq);
void api_complete(struct http_conn *c, const struct http_request *rq);
void api_add_from_event(struct http_conn *c, const struct http_request *rq);
void api_mode_get(struct http_conn *c, const struct http_request *rq);
void api_mode_post(struct http_conn *c, const struct http_request *rq);
void api_events(struct http_conn *c, const struct http_request *rq);
void api_sessions(struct http_conn *c, const struct http_request *rq);
void api_synthesized(struct http_conn *c, const struct http_request *rq);
/* POST /api/mcp/decide (control_mcp.c). */
void api_mcp_decide(struct http_conn *c, const struct http_request *rq);

/* Read-only store access (control_db.c). */
int control_db_open(const char *path, char *err, size_t errlen);
void control_db_close(void);
/* Events of the query in RQ as {"events":[...],"next":cursor|null}. */
int control_db_events(const struct http_request *rq, json_t **out, char *err, size_t errlen);
int control_db_sessions(json_t **out);
/* leash policy synthesize over SESSION (a uuid or prefix) of the audit
 * log: the Cedar text (malloc'd) or NULL with ERR. */
char *control_db_synthesize(const char *session, unsigned collapse, char *err, size_t errlen);
/* One event by session uuid (NULL: this one) and seq; NULL if none. */
json_t *control_db_event(const char *session, int64_t seq);

/* The stream (control_stream.c). */
int control_stream_start(void);
void control_stream_stop(void);
void control_stream_accept(struct http_conn *c, const struct http_request *rq);
/* A recent event by seq from the backlog, as new JSON; NULL if gone. */
json_t *control_stream_event(int64_t seq);
/* Distinct resources seen recently (NULL-terminated, borrowed). */
const char *const *control_stream_resources(void);
/* {"clients","dropped","last_seq"} */
json_t *control_stream_stats(void);

#endif
