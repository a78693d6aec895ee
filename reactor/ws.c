/* ws.c: WebSocket connections, frames by libwslay, bytes by bufferevents.
 *
 * Data flow out: ws_send() puts a payload in the connection's ring; pump()
 * hands at most WS_IN_FLIGHT of them to wslay at a time and lets wslay
 * write frames into the bufferevent's output, which send_cb refuses (would
 * block) beyond WS_OUT_HIGH bytes. When the socket drains, the write
 * callback pumps again. So memory per client is bounded by the ring and
 * WS_OUT_HIGH, and a slow client only loses its own oldest messages.
 * In: the read callback lets wslay parse frames from the input buffer;
 * wslay answers pings and the close handshake itself.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <wslay/wslay.h>

#include "http.h"
#include "ws.h"

#define WS_OUT_HIGH (512u << 10)
#define WS_IN_FLIGHT 4
#define WS_MAX_IN_MSG (64u << 10)

struct ws_conn {
	struct bufferevent *bev;
	wslay_event_context_ptr ctx;
	const struct ws_ops *ops;
	void *arg;
	struct ws_payload **ring;
	size_t cap, head, count;
	uint64_t dropped;
	bool dead;
};

struct ws_payload *ws_payload_new(const char *s, size_t n)
{
	struct ws_payload *p = malloc(sizeof(*p) + n + 1);

	if (!p)
		return NULL;
	p->refs = 1;
	p->len = n;
	memcpy(p->data, s, n);
	p->data[n] = '\0';
	return p;
}

struct ws_payload *ws_payload_take(char *s, size_t n)
{
	struct ws_payload *p = s ? ws_payload_new(s, n) : NULL;

	free(s);
	return p;
}

void ws_payload_unref(struct ws_payload *p)
{
	if (p && --p->refs == 0)
		free(p);
}

/* ---- handshake ----------------------------------------------------------- */

static bool has_token(const char *list, const char *token)
{
	size_t n = strlen(token);

	for (const char *p = list; p && *p;) {
		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		if (strncasecmp(p, token, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
			return true;
		p = strchr(p, ',');
	}
	return false;
}

int ws_is_upgrade(const struct http_request *rq)
{
	const char *key = http_header(rq, "Sec-WebSocket-Key");
	const char *ver = http_header(rq, "Sec-WebSocket-Version");
	unsigned char raw[32];

	if (strcmp(rq->method, "GET") != 0 || !has_token(http_header(rq, "Upgrade"), "websocket") ||
	    !has_token(http_header(rq, "Connection"), "upgrade") || !ver || strcmp(ver, "13") ||
	    !key || strlen(key) != 24)
		return 0;
	/* 24 base64 characters with "==" decode to 16 bytes (+2 pad zeros). */
	return EVP_DecodeBlock(raw, (const unsigned char *)key, 24) == 18 && key[22] == '=' &&
	       key[23] == '=';
}

static void accept_key(const char *key, char out[32])
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	unsigned char buf[64], md[SHA_DIGEST_LENGTH];
	size_t kl = strlen(key);

	memcpy(buf, key, kl);
	memcpy(buf + kl, guid, sizeof(guid) - 1);
	SHA1(buf, kl + sizeof(guid) - 1, md);
	EVP_EncodeBlock((unsigned char *)out, md, sizeof(md));
}

/* ---- wslay callbacks ----------------------------------------------------- */

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
	struct ws_conn *w = user;
	int n = evbuffer_remove(bufferevent_get_input(w->bev), buf, len);

	if (n <= 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	return n;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
		       void *user)
{
	struct ws_conn *w = user;
	struct evbuffer *out = bufferevent_get_output(w->bev);

	if (evbuffer_get_length(out) >= WS_OUT_HIGH) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (evbuffer_add(out, data, len) < 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return (ssize_t)len;
}

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *m,
		   void *user)
{
	struct ws_conn *w = user;

	if (m->opcode == WSLAY_TEXT_FRAME && w->ops->on_text)
		w->ops->on_text(w, (const char *)m->msg, m->msg_length, w->arg);
}

static const struct wslay_event_callbacks callbacks = {
	.recv_callback = recv_cb,
	.send_callback = send_cb,
	.on_msg_recv_callback = on_msg,
};

/* ---- the connection ------------------------------------------------------ */

void ws_free(struct ws_conn *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->count; i++)
		ws_payload_unref(w->ring[(w->head + i) % w->cap]);
	free(w->ring);
	if (w->ctx)
		wslay_event_context_free(w->ctx);
	if (w->bev)
		bufferevent_free(w->bev);
	free(w);
}

static void die(struct ws_conn *w)
{
	if (w->dead)
		return;
	w->dead = true;
	if (w->ops->on_close)
		w->ops->on_close(w, w->arg);
	ws_free(w);
}

/* Moves queued payloads into wslay and lets it write. False when the
 * connection should end. */
static bool pump(struct ws_conn *w)
{
	while (w->count && wslay_event_get_queued_msg_count(w->ctx) < WS_IN_FLIGHT) {
		struct ws_payload *p = w->ring[w->head];
		struct wslay_event_msg m = { WSLAY_TEXT_FRAME, (const uint8_t *)p->data, p->len };
		int rc = wslay_event_queue_msg(w->ctx, &m);

		if (rc == WSLAY_ERR_NO_MORE_MSG)
			break; /* closing: keep nothing new */
		w->head = (w->head + 1) % w->cap;
		w->count--;
		ws_payload_unref(p);
		if (rc)
			return false;
	}
	if (wslay_event_want_write(w->ctx) && wslay_event_send(w->ctx) != 0)
		return false;
	return wslay_event_want_read(w->ctx) || wslay_event_want_write(w->ctx) ||
	       evbuffer_get_length(bufferevent_get_output(w->bev)) > 0;
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct ws_conn *w = arg;

	if (wslay_event_recv(w->ctx) != 0 || !pump(w))
		die(w);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct ws_conn *w = arg;

	if (!pump(w))
		die(w);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	die(arg);
}

int ws_accept(struct http_conn *c, const struct http_request *rq, size_t queue_max,
	      const struct ws_ops *ops, void *arg, struct ws_conn **out)
{
	struct ws_conn *w = calloc(1, sizeof(*w));
	char key[32], hdr[256];

	if (!w || !(w->ring = calloc(queue_max, sizeof(*w->ring))) ||
	    wslay_event_context_server_init(&w->ctx, &callbacks, w) != 0) {
		ws_free(w);
		http_respond(c, 503, NULL, NULL, NULL, 0);
		return -ENOMEM;
	}
	wslay_event_config_set_max_recv_msg_length(w->ctx, WS_MAX_IN_MSG);
	w->cap = queue_max;
	w->ops = ops;
	w->arg = arg;
	accept_key(http_header(rq, "Sec-WebSocket-Key"), key);
	snprintf(hdr, sizeof(hdr),
		 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		 "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
		 key);
	w->bev = http_take_over(c);
	if (!w->bev) {
		ws_free(w);
		return -ENOMEM;
	}
	evbuffer_add(bufferevent_get_output(w->bev), hdr, strlen(hdr));
	bufferevent_setwatermark(w->bev, EV_WRITE, WS_OUT_HIGH / 4, 0);
	bufferevent_setcb(w->bev, on_read, on_write, on_event, w);
	bufferevent_enable(w->bev, EV_READ | EV_WRITE);
	*out = w;
	return 0;
}

int ws_send(struct ws_conn *w, struct ws_payload *p)
{
	if (w->dead || !wslay_event_get_write_enabled(w->ctx))
		return -EPIPE;
	if (w->count == w->cap) {
		ws_payload_unref(w->ring[w->head]);
		w->head = (w->head + 1) % w->cap;
		w->count--;
		w->dropped++;
	}
	p->refs++;
	w->ring[(w->head + w->count) % w->cap] = p;
	w->count++;
	/* Write now only when the socket has room; otherwise on_write pumps. */
	if (evbuffer_get_length(bufferevent_get_output(w->bev)) < WS_OUT_HIGH / 4 && !pump(w)) {
		die(w);
		return -EPIPE;
	}
	return 0;
}

uint64_t ws_dropped(const struct ws_conn *w)
{
	return w->dropped;
}

size_t ws_queued(const struct ws_conn *w)
{
	return w->count + wslay_event_get_queued_msg_count(w->ctx);
}

void ws_close(struct ws_conn *w, uint16_t code, const char *reason)
{
	wslay_event_queue_close(w->ctx, code, (const uint8_t *)reason, reason ? strlen(reason) : 0);
	if (!pump(w))
		die(w);
}
