/* control.h: the control server: REST API, WebSocket event stream and the
 * Control UI, in the reactor's loop (no second process).
 *
 * Started by the session once the modules run and the first policy is in
 * force, stopped at teardown. Every request needs the session's token
 * (Authorization: Bearer, or the cookie the UI gets by opening the printed
 * URL); the Host of every request and the Origin of state-changing ones
 * and of WebSocket upgrades must be this server's own. A root-only run
 * file (CONTROL_RUN_DIR/<uuid>.json, 0600) tells `leash ctl` where the
 * server is and its token; it is removed at exit. See docs-control.md.
 */
#ifndef LEASH_CONTROL_H
#define LEASH_CONTROL_H

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

#define CONTROL_RUN_DIR "/run/leash"
#define CONTROL_TOKEN_MAX 128

struct control_opts {
	const char *listen; /* HOST:PORT */
	bool fallback; /* the default address: take a free port if it is busy */
	const char *token; /* NULL: a random one */
	const char *db; /* the audit database (opened read-only here) */
	const char *uuid; /* this session */
	const char *cwd; /* where the session was started (for leash ctl) */
	bool open; /* open the UI in a browser as UID:GID */
	uid_t uid;
	gid_t gid;
};

/* Listens, subscribes to the bus, writes the run file. 0, or -errno with a
 * message in ERR (nothing left behind then). */
int control_start(const struct control_opts *o, char *err, size_t errlen);
/* The address the server listens on. 0, or -ENOTCONN when none runs. */
int control_address(struct sockaddr_storage *ss, socklen_t *len);
/* The UI's URL with the token, or NULL when no server runs. */
const char *control_url(void);
/* Closes every client and the listener, removes the run file. */
void control_stop(void);

/* Checks a --token / LEASH_TOKEN value: 16-128 characters of [A-Za-z0-9._~-].
 * 0 or -EINVAL. */
int control_token_check(const char *token);

#endif
