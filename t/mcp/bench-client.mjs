// bench-client.mjs URL N: N sequential tools/call of echo over one MCP
// session (the official SDK client; Streamable HTTP, or the older HTTP+SSE
// transport when URL's path ends in /sse), after 50 warm-up calls. Prints
// "p50_ms p99_ms calls_per_s".
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';

const [url, n] = [process.argv[2], Number(process.argv[3] || 1000)];
const client = new Client({ name: 'leash-bench', version: '0' });
const u = new URL(url);
const transport = u.pathname.endsWith('/sse') ? new SSEClientTransport(u) : new StreamableHTTPClientTransport(u);
await client.connect(transport);
const call = () => client.callTool({ name: 'echo', arguments: { text: 'ping' } });
for (let i = 0; i < 50; i++) await call();
const t = [];
const t0 = process.hrtime.bigint();
for (let i = 0; i < n; i++) {
	const s = process.hrtime.bigint();
	await call();
	t.push(Number(process.hrtime.bigint() - s) / 1e6);
}
const total = Number(process.hrtime.bigint() - t0) / 1e9;
t.sort((a, b) => a - b);
const q = (p) => t[Math.min(t.length - 1, Math.floor(p * t.length))].toFixed(3);
console.log(q(0.5), q(0.99), (n / total).toFixed(0));
await transport.terminateSession?.().catch(() => {});
await client.close();
