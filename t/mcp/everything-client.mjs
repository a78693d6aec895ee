// everything-client.mjs URL [forbid]: drives @modelcontextprotocol/server-everything
// with the official SDK client (Streamable HTTP, or HTTP+SSE when URL's
// path ends in /sse) and prints what it got, one JSON line per step, so a
// test can compare a run through leash with a direct one: the server's
// name, its tools, echo, get-sum, get-tiny-image (a base64 image), the
// long-running operation with its progress notifications, the first static
// resource read, args-prompt. With "forbid": calls get-env and prints the
// error it gets (leash's, when the policy forbids it).
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { createHash } from 'node:crypto';

const [url, mode] = process.argv.slice(2);
const u = new URL(url);
const client = new Client({ name: 'leash-everything-client', version: '1.0.0' });
const transport = u.pathname.endsWith('/sse') ? new SSEClientTransport(u) : new StreamableHTTPClientTransport(u);
await client.connect(transport);
const out = (step, x) => console.log(JSON.stringify({ step, ...x }));
const text = (r) => r.content.map((c) => c.text ?? `${c.type}:${createHash('sha256').update(c.data ?? '').digest('hex')}`);

try {
	if (mode === 'forbid') {
		const t0 = Date.now();
		try {
			const r = await client.callTool({ name: 'get-env', arguments: {} });
			out('get-env', { result: 'not denied', isError: !!r.isError });
		} catch (e) {
			out('get-env', { code: e.code, message: e.message, fast: Date.now() - t0 < 5000 });
		}
		out('tools', { names: (await client.listTools()).tools.map((t) => t.name).sort() });
	} else {
		const v = client.getServerVersion();
		out('server', { name: v.name, version: v.version });
		out('tools', { names: (await client.listTools()).tools.map((t) => t.name).sort() });
		out('echo', { text: text(await client.callTool({ name: 'echo', arguments: { message: 'through leash?' } })) });
		out('get-sum', { text: text(await client.callTool({ name: 'get-sum', arguments: { a: 2, b: 40 } })) });
		out('get-tiny-image', { text: text(await client.callTool({ name: 'get-tiny-image', arguments: {} })) });
		const progress = [];
		const r = await client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 1, steps: 4 } },
			undefined, { onprogress: (p) => progress.push(`${p.progress}/${p.total}`) });
		out('long-running', { text: text(r), progress });
		const res = (await client.listResources()).resources.filter((x) => x.uri.startsWith('demo://resource/static/'));
		const read = await client.readResource({ uri: res[0].uri });
		out('resource', { uri: res[0].uri, count: res.length,
			sha256: createHash('sha256').update(JSON.stringify(read.contents)).digest('hex') });
		const p = await client.getPrompt({ name: 'args-prompt', arguments: { city: 'Lisbon', state: 'PT' } });
		out('prompt', { messages: p.messages.map((m) => `${m.role}: ${m.content.text}`) });
	}
} catch (e) {
	out('error', { code: e.code, message: e.message });
}
await transport.terminateSession?.().catch(() => {});
await client.close();
