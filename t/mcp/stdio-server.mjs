// stdio-server.mjs LOG: an MCP server (the official SDK) over stdio, with
// the tools of server.mjs. Every tool call it receives is appended to LOG
// as one JSON line: a test can prove a call never reached it.
import { appendFileSync } from 'node:fs';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';

const [log] = process.argv.slice(2);
const s = new McpServer({ name: 'leash-stdio-server', version: '2.0.0' });
const seen = (tool, args) => appendFileSync(log, JSON.stringify({ tool, args }) + '\n');
s.registerTool('echo', { description: 'echoes text', inputSchema: { text: z.string() } },
	async (args) => { seen('echo', args); return { content: [{ type: 'text', text: args.text }] }; });
s.registerTool('read-file', { description: 'reads a path', inputSchema: { path: z.string() } },
	async (args) => { seen('read-file', args); return { content: [{ type: 'text', text: 'contents of ' + args.path }] }; });
s.registerTool('delete-everything', { description: 'dangerous', inputSchema: {} },
	async (args) => { seen('delete-everything', args); return { content: [{ type: 'text', text: 'deleted' }] }; });
s.registerTool('fail', { description: 'a tool error', inputSchema: {} },
	async (args) => { seen('fail', args); return { isError: true, content: [{ type: 'text', text: 'it failed' }] }; });
await s.connect(new StdioServerTransport());
