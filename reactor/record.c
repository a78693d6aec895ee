/* event.c: construction, reference counting and JSON form of struct record. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "record.h"

int64_t record_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Length of the valid UTF-8 sequence at S (at most N bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		len = 2, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		len = 3, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

json_t *record_json_text(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	json_t *j = json_stringn(s, n);
	char *buf, *o;

	if (j || !(buf = malloc(n * 3 + 1)))
		return j;
	o = buf;
	for (size_t i = 0; i < n;) {
		size_t len = u[i] ? utf8_len(u + i, n - i) : 0;

		if (len) {
			memcpy(o, s + i, len);
			o += len;
			i += len;
		} else {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	j = json_stringn(buf, o - buf);
	free(buf);
	return j;
}

struct record *record_new(const char *kind)
{
	struct record *ev = calloc(1, sizeof(*ev));

	if (!ev)
		return NULL;
	ev->details = json_object();
	if (!ev->details) {
		free(ev);
		return NULL;
	}
	ev->refs = 1;
	ev->kind = kind;
	ev->time_ns = record_now_ns();
	ev->pid = ev->ppid = ev->uid = -1;
	return ev;
}

struct record *record_ref(struct record *ev)
{
	ev->refs++;
	return ev;
}

void record_unref(struct record *ev)
{
	if (!ev || --ev->refs > 0)
		return;
	free(ev->exe);
	free(ev->comm);
	free(ev->resource);
	json_decref(ev->policies);
	json_decref(ev->details);
	free(ev);
}

static void set_str(char **slot, const char *s)
{
	free(*slot);
	*slot = s ? strdup(s) : NULL;
}

void record_set_exe(struct record *ev, const char *exe)
{
	set_str(&ev->exe, exe);
}

void record_set_comm(struct record *ev, const char *comm)
{
	set_str(&ev->comm, comm);
}

void record_set_resource(struct record *ev, const char *resource)
{
	set_str(&ev->resource, resource);
}

static const char *const decision_names[] = {
	[DECISION_NONE] = NULL,
	[DECISION_ALLOW] = "allow",
	[DECISION_DENY] = "deny",
	[DECISION_WOULD_DENY] = "would_deny",
};

static const char *const mode_names[] = {
	[MODE_RECORD] = "record",
	[MODE_SHADOW] = "shadow",
	[MODE_ENFORCE] = "enforce",
};

const char *decision_name(enum decision d)
{
	return decision_names[d];
}

const char *mode_name(enum mode m)
{
	return mode_names[m];
}

int mode_parse(const char *name, enum mode *out)
{
	for (size_t i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++) {
		if (strcmp(name, mode_names[i]) == 0) {
			*out = (enum mode)i;
			return 0;
		}
	}
	return -EINVAL;
}

static void put_str(json_t *o, const char *key, const char *s)
{
	if (s)
		json_object_set_new(o, key, json_string(s));
}

static void put_int(json_t *o, const char *key, int64_t v)
{
	if (v >= 0)
		json_object_set_new(o, key, json_integer(v));
}

json_t *record_to_json(const struct record *ev)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "seq", json_integer((json_int_t)ev->seq));
	json_object_set_new(o, "time_ns", json_integer(ev->time_ns));
	put_str(o, "kind", ev->kind);
	put_int(o, "pid", ev->pid);
	put_int(o, "ppid", ev->ppid);
	put_int(o, "uid", ev->uid);
	put_str(o, "exe", ev->exe);
	put_str(o, "comm", ev->comm);
	if (ev->cgroup)
		json_object_set_new(o, "cgroup", json_integer((json_int_t)ev->cgroup));
	put_str(o, "action", ev->action);
	put_str(o, "resource", ev->resource);
	put_str(o, "decision", decision_name(ev->decision));
	if (ev->policies)
		json_object_set(o, "policies", ev->policies);
	put_str(o, "mode", mode_name(ev->mode));
	json_object_set(o, "details", ev->details);
	return o;
}
