// client.mjs URL STEP...: an MCP client (the official SDK) over Streamable
// HTTP. Steps: list (tool names), call:NAME:JSON (a tool call), read:URI,
// batch:JSON (a raw JSON-RPC batch POSTed on the session, its answers by
// id), post:TEXT (TEXT POSTed as is), big:N (a tools/call of echo whose
// text is N bytes). Prints one JSON line per step: {"ok": ...} or
// {"error": {code, message}}; post and big print the HTTP status and body.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const [url, ...steps] = process.argv.slice(2);
const client = new Client({ name: 'leash-test-client', version: '0.9.0' });
const transport = new StreamableHTTPClientTransport(new URL(url));
await client.connect(transport);
const out = (x) => console.log(JSON.stringify(x));

// The messages of a JSON or SSE answer.
async function messages(res) {
	const text = await res.text();
	if (!(res.headers.get('content-type') || '').includes('text/event-stream'))
		return text ? [].concat(JSON.parse(text)) : [];
	return text.split(/\r?\n\r?\n/).map((ev) => ev.split(/\r?\n/).filter((l) => l.startsWith('data:'))
		.map((l) => l.slice(5).trim()).join('\n')).filter((d) => d).map((d) => JSON.parse(d));
}

for (const step of steps) {
	const [op, ...rest] = step.split(':');
	const arg = rest.join(':');
	try {
		if (op === 'list') {
			out({ ok: (await client.listTools()).tools.map((t) => t.name) });
		} else if (op === 'call') {
			const i = arg.indexOf(':');
			const name = i < 0 ? arg : arg.slice(0, i);
			const args = i < 0 ? {} : JSON.parse(arg.slice(i + 1));
			const r = await client.callTool({ name, arguments: args });
			out({ ok: r.content.map((c) => c.text).join(''), isError: !!r.isError });
		} else if (op === 'read') {
			out({ ok: (await client.readResource({ uri: arg })).contents[0].text });
		} else if (op === 'post' || op === 'big') {
			const body = op === 'post' ? arg : JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/call',
				params: { name: 'echo', arguments: { text: 'x'.repeat(Number(arg)) } } });
			const res = await fetch(url, {
				method: 'POST',
				headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream',
					'mcp-session-id': transport.sessionId, 'mcp-protocol-version': transport.protocolVersion },
				body,
			});
			out({ status: res.status, body: (await res.text()).slice(0, 300) });
		} else if (op === 'batch') {
			const res = await fetch(url, {
				method: 'POST',
				headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream',
					'mcp-session-id': transport.sessionId, 'mcp-protocol-version': transport.protocolVersion },
				body: arg,
			});
			const msgs = await messages(res);
			out({ status: res.status, answers: msgs.map((m) => ({ id: m.id, idType: typeof m.id,
				...(m.error ? { error: m.error.code } : { text: m.result.content.map((c) => c.text).join('') }) }))
				.sort((a, b) => String(a.id).localeCompare(String(b.id))) });
		}
	} catch (e) {
		out({ error: { code: e.code, message: e.message } });
	}
}
await transport.terminateSession().catch(() => {});
await client.close();
