// stdio-client.mjs STEP... -- COMMAND ARGS...: an MCP client (the official
// SDK) that starts COMMAND as a stdio server (as an agent starts a
// configured MCP server; the environment is passed on only when
// MCP_PASS_ENV=1, else the SDK's default, minimal one). Steps: list,
// call:NAME:JSON, resources (list, then read each), prompts (list, then
// get each with who=leash), bench:N (N sequential echo calls: their
// latency p50 and p99 in ms, for scripts and the README), raw:JSON (a raw JSON-RPC line written to the
// server's stdin; the answers with its ids are printed). One JSON line per
// step; the logging notifications received are printed at the end.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';

const argv = process.argv.slice(2);
const sep = argv.indexOf('--');
const steps = argv.slice(0, sep);
const [command, ...args] = argv.slice(sep + 1);
const transport = new StdioClientTransport({ command, args, stderr: 'inherit',
	...(process.env.MCP_PASS_ENV === '1' ? { env: process.env } : {}) });
const client = new Client({ name: 'leash-stdio-client', version: '0.9.0' });
await client.connect(transport);
const out = (x) => console.log(JSON.stringify(x));
const notes = [];
client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => notes.push(n.params.data));

// Raw messages: answers to the ids we send are caught before the SDK sees them.
const waiting = new Map();
const onmessage = transport.onmessage;
transport.onmessage = (m) => {
	const k = JSON.stringify(m.id);
	if (waiting.has(k)) waiting.get(k)(m);
	else onmessage(m);
};

for (const step of steps) {
	const [op, ...rest] = step.split(':');
	const arg = rest.join(':');
	try {
		if (op === 'list') {
			out({ ok: (await client.listTools()).tools.map((t) => t.name) });
		} else if (op === 'call') {
			const i = arg.indexOf(':');
			const name = i < 0 ? arg : arg.slice(0, i);
			const a = i < 0 ? {} : JSON.parse(arg.slice(i + 1));
			const r = await client.callTool({ name, arguments: a });
			out({ ok: r.content.map((c) => c.text).join(''), isError: !!r.isError });
		} else if (op === 'resources') {
			const texts = [];
			for (const r of (await client.listResources()).resources)
				texts.push(...(await client.readResource({ uri: r.uri })).contents.map((c) => c.text));
			out({ ok: texts });
		} else if (op === 'prompts') {
			const texts = [];
			for (const p of (await client.listPrompts()).prompts)
				texts.push(...(await client.getPrompt({ name: p.name, arguments: { who: 'leash' } }))
					.messages.map((m) => m.content.text));
			out({ ok: texts });
		} else if (op === 'bench') {
			const ms = [];
			for (let i = 0; i < Number(arg); i++) {
				const t = process.hrtime.bigint();
				await client.callTool({ name: 'echo', arguments: { text: 'x' + i } });
				ms.push(Number(process.hrtime.bigint() - t) / 1e6);
			}
			ms.sort((a, b) => a - b);
			const at = (q) => Number(ms[Math.min(ms.length - 1, Math.floor(q * ms.length))].toFixed(3));
			out({ calls: ms.length, p50: at(0.5), p99: at(0.99) });
		} else if (op === 'raw') {
			const msgs = [].concat(JSON.parse(arg)).filter((m) => m.id !== undefined);
			const answers = await Promise.all(msgs.map((m) => new Promise((res) => {
				waiting.set(JSON.stringify(m.id), res);
				setTimeout(() => res({ id: m.id, timeout: true }), 5000);
			})).concat([transport.send(JSON.parse(arg))]).slice(0, msgs.length));
			out({ answers: answers.map((m) => ({ id: m.id, idType: typeof m.id,
				...(m.timeout ? { timeout: true } : m.error ? { error: m.error.code, message: m.error.message } :
					{ text: m.result.content.map((c) => c.text).join('') }) })) });
		}
	} catch (e) {
		out({ error: { code: e.code, message: e.message } });
	}
}
if (notes.length) out({ notes });
await client.close();
