/* mcp-sse.c: unit tests for the HTTP+SSE endpoint registry (reactor/mcp_sse.c):
 * an endpoint event's URL resolved against the stream's, other origins
 * refused, the session taken from the query, entries detached when their
 * stream goes. */
#include <errno.h>

#include "mcp_sse.h"
#include "tap.h"

/* The key for DATA announced on https://mcp.test:8443 + BASE, or the error. */
static const char *resolve(const char *base, const char *data)
{
	static char key[4200];
	int rc = mcp_sse_resolve("https", "mcp.test", 8443, base, data, key, sizeof(key));

	if (rc == -EINVAL)
		return "EINVAL";
	if (rc < 0)
		return "error";
	return key;
}

static void test_resolve(void)
{
	is_str(resolve("/sse", "/messages?sessionId=abc"),
	       "https://mcp.test:8443/messages?sessionId=abc", "an absolute path");
	is_str(resolve("/sse", "/messages?sessionId=abc\n"),
	       "https://mcp.test:8443/messages?sessionId=abc",
	       "a trailing newline is not the URL's");
	is_str(resolve("/api/v1/sse?x=1", "messages?s=1"),
	       "https://mcp.test:8443/api/v1/messages?s=1",
	       "a relative path, against the stream's directory");
	is_str(resolve("/api/v1/sse", "../post/./here"), "https://mcp.test:8443/api/post/here",
	       "dot segments removed");
	is_str(resolve("/a/sse", "../../../x"), "https://mcp.test:8443/x", "never above the root");
	is_str(resolve("/sse?old=1", "?sessionId=2"), "https://mcp.test:8443/sse?sessionId=2",
	       "a query only: the stream's path");
	is_str(resolve("/sse", "https://MCP.test:8443/m?sessionId=1"),
	       "https://mcp.test:8443/m?sessionId=1", "an absolute URL on the same origin");
	is_str(resolve("/sse", "//mcp.test:8443/m#frag"), "https://mcp.test:8443/m",
	       "a network-path reference; the fragment dropped");
	is_str(resolve("/sse", "https://other.test:8443/m"), "EINVAL", "another host is refused");
	is_str(resolve("/sse", "https://mcp.test/m"), "EINVAL", "another port is refused");
	is_str(resolve("/sse", "http://mcp.test:8443/m"), "EINVAL", "another scheme is refused");
	is_str(resolve("/sse", "https://user@mcp.test:8443/m"), "EINVAL", "userinfo is refused");
	is_str(resolve("/sse", "javascript:alert(1)"), "EINVAL", "a non-HTTP scheme is refused");
}

static void test_registry(void)
{
	char key[200];
	struct proxy_conn *s1 = (struct proxy_conn *)&key[0], *s2 = (struct proxy_conn *)&key[1];
	struct mcp_sse_endpoint *e;

	mcp_sse_key("https", "MCP.test", 443, "/messages?x=1&sessionId=s-1", key, sizeof(key));
	is_str(key, "https://mcp.test:443/messages?x=1&sessionId=s-1",
	       "keys have a lower-case host");
	e = mcp_sse_register(key, s1);
	ok(e && e->stream == s1, "registered");
	is_str(e ? e->session : "", "s-1", "the session is the sessionId parameter");
	ok(mcp_sse_find(key) == e, "found by key");
	mcp_sse_detach(s2);
	ok(e->stream == s1, "another stream's end leaves it");
	mcp_sse_detach(s1);
	ok(mcp_sse_find(key) == e && !e->stream,
	   "its stream's end detaches it, the key stays known");
	for (int i = 0; i < MCP_SSE_MAX_CLOSED + 10; i++) {
		char k[64];

		snprintf(k, sizeof(k), "https://h:443/m?sessionId=%d", i);
		mcp_sse_register(k, s2);
		mcp_sse_detach(s2);
	}
	ok(mcp_sse_find(key) == NULL, "the oldest detached entries are dropped past the bound");
	e = mcp_sse_register("https://h:443/shared", s1);
	ok(mcp_sse_register("https://h:443/shared", s1) == e && e->stream == s1 && !e->ambiguous,
	   "the same stream announcing again changes nothing");
	mcp_sse_register("https://h:443/shared", s2);
	ok(e->ambiguous && !e->stream, "a second open stream: ambiguous, tied to neither");
	mcp_sse_detach(s1);
	mcp_sse_detach(s2);
	mcp_sse_register("https://h:443/shared", s1);
	ok(e->ambiguous && !e->stream, "and it stays so");
	mcp_sse_detach(s1);
	e = mcp_sse_register("https://h:443/reused", s1);
	mcp_sse_detach(s1);
	mcp_sse_register("https://h:443/reused", s2);
	ok(e->stream == s2 && !e->ambiguous, "a closed entry is reused by the next stream");
	mcp_sse_detach(s2);
	mcp_sse_register("https://h:443/nosession", s1);
	is_str(mcp_sse_find("https://h:443/nosession")->session, "/nosession",
	       "no sessionId: the path names the session");
}

int main(void)
{
	test_resolve();
	test_registry();
	return done_testing();
}
