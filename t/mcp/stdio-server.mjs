// stdio-server.mjs LOG [ARGS...]: an MCP server (the official SDK) over
// stdio, with the tools of server.mjs, plus "notify" (sends a logging
// notification before it answers), a resource (test://motd) and a prompt
// ("greet"). Every tool call it receives is appended to LOG as one JSON
// line: a test can prove a call never reached it. ARGS are ignored (a
// test gives it secret-looking ones to see them redacted).
import { appendFileSync } from 'node:fs';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';

const [log] = process.argv.slice(2);
const s = new McpServer({ name: 'leash-stdio-server', version: '2.0.0' },
	{ capabilities: { logging: {} } });
const seen = (tool, args) => appendFileSync(log, JSON.stringify({ tool, args }) + '\n');
s.registerTool('echo', { description: 'echoes text', inputSchema: { text: z.string() } },
	async (args) => { seen('echo', args); return { content: [{ type: 'text', text: args.text }] }; });
s.registerTool('read-file', { description: 'reads a path', inputSchema: { path: z.string() } },
	async (args) => { seen('read-file', args); return { content: [{ type: 'text', text: 'contents of ' + args.path }] }; });
s.registerTool('delete-everything', { description: 'dangerous', inputSchema: {} },
	async (args) => { seen('delete-everything', args); return { content: [{ type: 'text', text: 'deleted' }] }; });
s.registerTool('fail', { description: 'a tool error', inputSchema: {} },
	async (args) => { seen('fail', args); return { isError: true, content: [{ type: 'text', text: 'it failed' }] }; });
s.registerTool('notify', { description: 'a notification, then an answer', inputSchema: {} },
	async (args) => {
		seen('notify', args);
		await s.server.sendLoggingMessage({ level: 'info', data: 'note from the server' });
		return { content: [{ type: 'text', text: 'notified' }] };
	});
s.registerResource('motd', 'test://motd', { description: 'message of the day' },
	async (uri) => ({ contents: [{ uri: uri.href, text: 'hello' }] }));
s.registerPrompt('greet', { description: 'a greeting', argsSchema: { who: z.string() } },
	({ who }) => ({ messages: [{ role: 'user', content: { type: 'text', text: 'greet ' + who } }] }));
await s.connect(new StdioServerTransport());
