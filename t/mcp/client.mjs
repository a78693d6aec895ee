// client.mjs URL STEP...: an MCP client (the official SDK) over Streamable
// HTTP, or over the older HTTP+SSE transport when URL's path ends in /sse
// (raw POSTs then go to the announced endpoint and their answers are read
// from the event stream). With MCP_TIMES=FILE, each step's milliseconds
// are appended to FILE. Steps: list (tool names), call:NAME:JSON (a tool call), read:URI,
// batch:JSON (a raw JSON-RPC batch POSTed on the session, its answers by
// id), post:TEXT (TEXT POSTed as is), big:N (a tools/call of echo whose
// text is N bytes), orphan:TEXT (HTTP+SSE: TEXT POSTed after the stream
// is closed), race:N (the server's chatter tool streams N progress
// notifications while delete-everything is called). Prints one JSON line per step: {"ok": ...} or
// {"error": {code, message}}; post and big print the HTTP status and body.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { appendFileSync } from 'node:fs';

const [url, ...steps] = process.argv.slice(2);
const client = new Client({ name: 'leash-test-client', version: '0.9.0' });
const legacy = new URL(url).pathname.endsWith('/sse');
const transport = legacy ? new SSEClientTransport(new URL(url)) : new StreamableHTTPClientTransport(new URL(url));
await client.connect(transport);
const out = (x) => console.log(JSON.stringify(x));

// HTTP+SSE: answers to raw POSTs, taken off the stream by id.
const waiting = new Map();
if (legacy) {
	const sdk = transport.onmessage;
	transport.onmessage = (m, extra) => {
		if (m.id !== undefined && waiting.has(m.id)) waiting.get(m.id)(m);
		else sdk?.(m, extra);
	};
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// POSTs BODY as the transport would (Streamable HTTP: on the session's URL,
// answers in the response; HTTP+SSE: to the endpoint, answers on the
// stream, waited for at most 5 s). Returns { status, text, msgs }.
async function rawPost(body) {
	const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
	if (!legacy) {
		const res = await fetch(url, { method: 'POST', body,
			headers: { ...headers, 'mcp-session-id': transport.sessionId, 'mcp-protocol-version': transport.protocolVersion } });
		const text = await res.text();
		return { status: res.status, text, msgs: res.status === 200 ? messages(res, text) : [] };
	}
	let ids = [];
	try { ids = [].concat(JSON.parse(body)).filter((m) => m.id !== undefined && m.method).map((m) => m.id); } catch {}
	const got = ids.map((id) => new Promise((r) => waiting.set(id, r)));
	const res = await fetch(transport._endpoint, { method: 'POST', headers, body });
	const text = await res.text();
	const msgs = res.status === 202 ? await Promise.race([Promise.all(got), sleep(5000).then(() => [])]) : [];
	return { status: res.status, text, msgs };
}

// The messages of a JSON or SSE answer.
function messages(res, text) {
	if (!(res.headers.get('content-type') || '').includes('text/event-stream'))
		return text ? [].concat(JSON.parse(text)) : [];
	return text.split(/\r?\n\r?\n/).map((ev) => ev.split(/\r?\n/).filter((l) => l.startsWith('data:'))
		.map((l) => l.slice(5).trim()).join('\n')).filter((d) => d).map((d) => JSON.parse(d));
}

for (const step of steps) {
	const [op, ...rest] = step.split(':');
	const arg = rest.join(':');
	const t0 = Date.now();
	try {
		if (op === 'list') {
			out({ ok: (await client.listTools()).tools.map((t) => t.name) });
		} else if (op === 'call') {
			const i = arg.indexOf(':');
			const name = i < 0 ? arg : arg.slice(0, i);
			const args = i < 0 ? {} : JSON.parse(arg.slice(i + 1));
			const r = await client.callTool({ name, arguments: args });
			out({ ok: r.content.map((c) => c.text).join(''), isError: !!r.isError });
		} else if (op === 'race') {
			// chatter:N streaming progress while a forbidden call is made
			let progress = 0;
			const [r, denied] = await Promise.all([
				client.callTool({ name: 'chatter', arguments: { n: Number(arg) } }, undefined,
					{ onprogress: () => progress++ }),
				client.callTool({ name: 'delete-everything', arguments: {} }).then(() => 'not denied', (e) => e.code),
			]);
			out({ ok: r.content[0].text, progress, denied });
		} else if (op === 'read') {
			out({ ok: (await client.readResource({ uri: arg })).contents[0].text });
		} else if (op === 'post' || op === 'big') {
			const body = op === 'post' ? arg : JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/call',
				params: { name: 'echo', arguments: { text: 'x'.repeat(Number(arg)) } } });
			const r = await rawPost(body);
			out({ status: r.status, body: (legacy && r.msgs.length ? JSON.stringify(r.msgs) : r.text).slice(0, 300) });
		} else if (op === 'orphan') {
			transport._eventSource.close();
			await sleep(300);
			const r = await rawPost(arg);
			out({ status: r.status, body: r.text.slice(0, 300) });
		} else if (op === 'batch') {
			const { status, msgs } = await rawPost(arg);
			out({ status, answers: msgs.map((m) => ({ id: m.id, idType: typeof m.id,
				...(m.error ? { error: m.error.code } : { text: m.result.content.map((c) => c.text).join('') }) }))
				.sort((a, b) => String(a.id).localeCompare(String(b.id))) });
		}
	} catch (e) {
		out({ error: { code: e.code, message: e.message } });
	}
	if (process.env.MCP_TIMES) appendFileSync(process.env.MCP_TIMES, `${op} ${Date.now() - t0}\n`);
}
await transport.terminateSession?.().catch(() => {});
await client.close();
