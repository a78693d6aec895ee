// server.mjs PORT CERT KEY LOG [--json]: an MCP server (the official SDK)
// over Streamable HTTP on https://127.0.0.1:PORT/mcp, with sessions. SSE
// responses by default, application/json with --json. It also speaks the
// older HTTP+SSE transport (SSEServerTransport, protocol 2024-11-05): GET
// /sse opens a stream whose `endpoint` event names /messages?sessionId=...
// Every tool call the server receives is appended to LOG as one JSON line:
// a test can prove a call never reached it. Prints "ready" when listening.
import { readFileSync, appendFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';

const [port, cert, key, log] = process.argv.slice(2);
const json = process.argv.includes('--json');
const sessions = new Map();
const legacy = new Map(); // HTTP+SSE: sessionId -> its transport

function mcpServer() {
	const s = new McpServer({ name: 'leash-test-server', version: '1.2.3' });
	const seen = (tool, args) => appendFileSync(log, JSON.stringify({ tool, args }) + '\n');
	s.registerTool('echo', { description: 'echoes text', inputSchema: { text: z.string() } },
		async (args) => { seen('echo', args); return { content: [{ type: 'text', text: args.text }] }; });
	s.registerTool('read-file', { description: 'reads a path', inputSchema: { path: z.string() } },
		async (args) => { seen('read-file', args); return { content: [{ type: 'text', text: 'contents of ' + args.path }] }; });
	s.registerTool('delete-everything', { description: 'dangerous', inputSchema: {} },
		async (args) => { seen('delete-everything', args); return { content: [{ type: 'text', text: 'deleted' }] }; });
	s.registerTool('fail', { description: 'a tool error', inputSchema: {} },
		async (args) => { seen('fail', args); return { isError: true, content: [{ type: 'text', text: 'it failed' }] }; });
	s.registerTool('chatter', { description: 'N progress notifications, then a result', inputSchema: { n: z.number() } },
		async (args, extra) => {
			seen('chatter', args);
			const token = extra._meta?.progressToken;
			for (let i = 1; token !== undefined && i <= args.n; i++) {
				await extra.sendNotification({ method: 'notifications/progress',
					params: { progressToken: token, progress: i, total: args.n, message: 'p'.repeat(2000) } });
				if (i % 10 === 0) await new Promise((r) => setImmediate(r));
			}
			return { content: [{ type: 'text', text: 'chattered ' + args.n }] };
		});
	s.registerResource('motd', 'test://motd', { description: 'message of the day' },
		async (uri) => ({ contents: [{ uri: uri.href, text: 'hello' }] }));
	return s;
}

async function body(req) {
	const parts = [];
	for await (const p of req) parts.push(p);
	const t = Buffer.concat(parts).toString();
	return t ? JSON.parse(t) : undefined;
}

createServer({ cert: readFileSync(cert), key: readFileSync(key) }, async (req, res) => {
	try {
		const url = new URL(req.url, 'https://localhost');
		if (req.method === 'GET' && url.pathname === '/sse') {
			appendFileSync(log, JSON.stringify({ sse: { 'accept-encoding': req.headers['accept-encoding'] ?? null } }) + '\n');
			const t = new SSEServerTransport('/messages', res);
			legacy.set(t.sessionId, t);
			res.on('close', () => legacy.delete(t.sessionId));
			await mcpServer().connect(t);
			return;
		}
		if (url.pathname === '/messages') {
			const t = legacy.get(url.searchParams.get('sessionId'));
			if (!t) {
				res.writeHead(404).end('no session');
				return;
			}
			// The SDK's transport takes one message per POST; a batch is
			// handed over message by message (answers come on the stream).
			const msg = await body(req);
			if (!Array.isArray(msg)) return await t.handlePostMessage(req, res, msg);
			for (const m of msg) await t.handleMessage(m);
			res.writeHead(202).end('Accepted');
			return;
		}
		const sid = req.headers['mcp-session-id'];
		let t = sid && sessions.get(sid);
		if (req.method === 'POST' && !t) {
			t = new StreamableHTTPServerTransport({
				sessionIdGenerator: () => randomUUID(),
				enableJsonResponse: json,
				onsessioninitialized: (id) => sessions.set(id, t),
			});
			await mcpServer().connect(t);
		}
		if (!t) {
			res.writeHead(404).end('no session');
			return;
		}
		await t.handleRequest(req, res, req.method === 'POST' ? await body(req) : undefined);
	} catch (e) {
		if (!res.headersSent) res.writeHead(400).end(String(e));
	}
}).listen(Number(port), '127.0.0.1', () => console.log('ready'));
