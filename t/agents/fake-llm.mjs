// fake-llm.mjs: a scripted stand-in for a model provider's API, for the
// real-agent tests (t/t9100-real-agents.t). The agents are real; only the
// remote model is not, because the test machines cannot reach it.
//
//   node fake-llm.mjs --log FILE --command CMD [--cert PEM --key PEM]
//
// Listens on 127.0.0.1 (a port of its own, printed as "ready PORT"), HTTPS
// when given a certificate. Every request is appended to FILE as one JSON
// line (method, url, headers, parsed body) so the test can read what the
// agent sent: its API key, and the tool results it sends back.
//
// The script, for each API an agent speaks:
//   Anthropic Messages (POST /v1/messages, claude): a request offering the
//     Bash tool whose conversation holds no result of ours yet is answered
//     with a tool_use running CMD; anything else ends the turn with text.
//   OpenAI Responses (POST /v1/responses, codex): the same with a
//     function_call of the shell tool the request offers.
// Answers stream as server-sent events when the request asks for stream,
// as the real APIs do. Other endpoints are logged and answered minimally.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { parseArgs } from 'node:util';
import { WebSocketServer } from 'ws';

const { values: opt } = parseArgs({
	options: {
		log: { type: 'string' },
		command: { type: 'string' },
		cert: { type: 'string' },
		key: { type: 'string' },
	},
});
if (!opt.log || !opt.command) {
	console.error('usage: fake-llm.mjs --log FILE --command CMD [--cert PEM --key PEM]');
	process.exit(2);
}

const TOOL_ID = 'toolu_leash_1';
const CALL_ID = 'call_leash_1';
const DONE_TEXT = 'All done.';

function sse(res, events) {
	res.writeHead(200, {
		'content-type': 'text/event-stream',
		'cache-control': 'no-cache',
		'request-id': 'req_leash',
	});
	for (const [event, data] of events)
		res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
	res.end();
}

function json(res, status, body) {
	res.writeHead(status, { 'content-type': 'application/json', 'request-id': 'req_leash' });
	res.end(JSON.stringify(body));
}

// ---- Anthropic Messages ---------------------------------------------------

function anthropicHasOurResult(body) {
	return (body.messages || []).some(
		(m) =>
			Array.isArray(m.content) &&
			m.content.some((c) => c.type === 'tool_result' && c.tool_use_id === TOOL_ID)
	);
}

function anthropicAnswer(body) {
	const offersBash = (body.tools || []).some((t) => t.name === 'Bash');
	if (offersBash && !anthropicHasOurResult(body))
		return {
			block: { type: 'tool_use', id: TOOL_ID, name: 'Bash', input: {} },
			delta: {
				type: 'input_json_delta',
				partial_json: JSON.stringify({
					command: opt.command,
					description: 'Run the test command',
				}),
			},
			full: {
				type: 'tool_use',
				id: TOOL_ID,
				name: 'Bash',
				input: { command: opt.command, description: 'Run the test command' },
			},
			stop: 'tool_use',
		};
	return {
		block: { type: 'text', text: '' },
		delta: { type: 'text_delta', text: DONE_TEXT },
		full: { type: 'text', text: DONE_TEXT },
		stop: 'end_turn',
	};
}

function anthropicMessages(body, res) {
	const a = anthropicAnswer(body);
	const model = body.model || 'claude-fake';
	const usage = { input_tokens: 10, output_tokens: 10 };
	if (!body.stream)
		return json(res, 200, {
			id: 'msg_leash',
			type: 'message',
			role: 'assistant',
			model,
			content: [a.full],
			stop_reason: a.stop,
			stop_sequence: null,
			usage,
		});
	sse(res, [
		[
			'message_start',
			{
				type: 'message_start',
				message: {
					id: 'msg_leash',
					type: 'message',
					role: 'assistant',
					model,
					content: [],
					stop_reason: null,
					stop_sequence: null,
					usage: { input_tokens: 10, output_tokens: 1 },
				},
			},
		],
		['content_block_start', { type: 'content_block_start', index: 0, content_block: a.block }],
		['content_block_delta', { type: 'content_block_delta', index: 0, delta: a.delta }],
		['content_block_stop', { type: 'content_block_stop', index: 0 }],
		[
			'message_delta',
			{
				type: 'message_delta',
				delta: { stop_reason: a.stop, stop_sequence: null },
				usage: { output_tokens: 10 },
			},
		],
		['message_stop', { type: 'message_stop' }],
	]);
}

// ---- OpenAI Responses ------------------------------------------------------

// The shell tools codex has offered across versions, and how each takes
// its command.
const SHELL_TOOLS = {
	shell_command: (cmd) => ({ command: cmd }),
	exec_command: (cmd) => ({ cmd }),
	shell: (cmd) => ({ command: ['bash', '-lc', cmd] }),
};

function openaiAnswer(body) {
	const tool = (body.tools || []).map((t) => t.name).find((n) => n in SHELL_TOOLS);
	const answered = (Array.isArray(body.input) ? body.input : []).some(
		(i) => i.type === 'function_call_output' && i.call_id === CALL_ID
	);
	if (tool && !answered)
		return {
			type: 'function_call',
			id: 'fc_leash_1',
			call_id: CALL_ID,
			name: tool,
			arguments: JSON.stringify(SHELL_TOOLS[tool](opt.command)),
			status: 'completed',
		};
	return {
		type: 'message',
		id: 'msg_leash',
		role: 'assistant',
		status: 'completed',
		content: [{ type: 'output_text', text: DONE_TEXT, annotations: [] }],
	};
}

// The events of one Responses answer, as the API streams them.
function openaiEvents(body) {
	const item = openaiAnswer(body);
	const response = {
		id: 'resp_leash',
		object: 'response',
		model: body.model || 'gpt-fake',
		status: 'completed',
		output: [item],
		usage: {
			input_tokens: 10,
			input_tokens_details: { cached_tokens: 0 },
			output_tokens: 10,
			output_tokens_details: { reasoning_tokens: 0 },
			total_tokens: 20,
		},
	};
	const created = [
		'response.created',
		{ type: 'response.created', response: { ...response, status: 'in_progress', output: [] } },
	];
	// A warm-up (codex sends one when it connects): nothing generated.
	if (body.generate === false)
		return {
			response,
			events: [created, ['response.completed', { type: 'response.completed', response: { ...response, output: [] } }]],
		};
	const events = [
		created,
		['response.output_item.added', { type: 'response.output_item.added', output_index: 0, item }],
	];
	if (item.type === 'message')
		events.push([
			'response.output_text.delta',
			{ type: 'response.output_text.delta', item_id: item.id, output_index: 0, content_index: 0, delta: DONE_TEXT },
		]);
	events.push(
		['response.output_item.done', { type: 'response.output_item.done', output_index: 0, item }],
		['response.completed', { type: 'response.completed', response }]
	);
	return { response, events };
}

function openaiResponses(body, res) {
	const { response, events } = openaiEvents(body);
	if (!body.stream) return json(res, 200, response);
	sse(res, events);
}

// Codex's default transport: a WebSocket on the same path, one
// response.create message per turn, the events back as JSON messages.
const wss = new WebSocketServer({ noServer: true });

function openaiWebSocket(req, socket, head) {
	log({ method: req.method, url: req.url, headers: req.headers, body: { upgrade: 'websocket' } });
	wss.handleUpgrade(req, socket, head, (ws) =>
		ws.on('message', (data) => {
			let msg = {};
			try {
				msg = JSON.parse(data.toString());
			} catch {
				msg = { unparsed: data.toString() };
			}
			log({ method: 'WS', url: req.url, headers: req.headers, body: msg });
			if (msg.type !== 'response.create') return;
			for (const [, event] of openaiEvents(msg).events) ws.send(JSON.stringify(event));
		})
	);
}

// ---- Gemini generateContent ----------------------------------------------

// The smallest value a JSON schema accepts (gemini's side questions, such
// as its model router's, ask for JSON).
function fromSchema(schema = {}) {
	const type = String(schema.type || 'object').toLowerCase();
	if (schema.enum) return schema.enum[0];
	if (type === 'string') return 'x';
	if (type === 'integer' || type === 'number') return 1;
	if (type === 'boolean') return false;
	if (type === 'array') return [];
	const out = {};
	for (const k of schema.required || []) out[k] = fromSchema((schema.properties || {})[k]);
	return out;
}

function geminiAnswer(body) {
	const offers = (body.tools || []).some((t) =>
		(t.functionDeclarations || []).some((f) => f.name === 'run_shell_command')
	);
	const answered = (body.contents || []).some((c) =>
		(c.parts || []).some((p) => p.functionResponse && p.functionResponse.name === 'run_shell_command')
	);
	const config = body.generationConfig || {};
	let part = { text: DONE_TEXT };
	if (offers && !answered)
		part = { functionCall: { name: 'run_shell_command', args: { command: opt.command } } };
	else if (config.responseMimeType === 'application/json')
		part = { text: JSON.stringify(fromSchema(config.responseJsonSchema || config.responseSchema)) };
	return {
		candidates: [{ content: { role: 'model', parts: [part] }, finishReason: 'STOP', index: 0 }],
		usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 10, totalTokenCount: 20 },
		modelVersion: 'gemini-fake',
	};
}

function geminiGenerate(path, body, res) {
	if (path.endsWith(':countTokens')) return json(res, 200, { totalTokens: 10 });
	const answer = geminiAnswer(body);
	if (!path.endsWith(':streamGenerateContent')) return json(res, 200, answer);
	res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
	res.end(`data: ${JSON.stringify(answer)}\n\n`);
}

// ---- dispatch -------------------------------------------------------------

function route(req, body, res) {
	const path = req.url.split('?')[0];
	if (req.method === 'POST' && path === '/v1/messages') return anthropicMessages(body, res);
	if (req.method === 'POST' && path === '/v1/responses') return openaiResponses(body, res);
	if (req.method === 'POST' && path.startsWith('/v1beta/models/')) return geminiGenerate(path, body, res);
	if (req.method === 'POST' && path === '/v1/messages/count_tokens')
		return json(res, 200, { input_tokens: 10 });
	json(res, 404, { type: 'error', error: { type: 'not_found_error', message: 'not here' } });
}

function log(entry) {
	fs.appendFileSync(opt.log, JSON.stringify(entry) + '\n');
}

function handle(req, res) {
	const chunks = [];
	req.on('data', (c) => chunks.push(c));
	req.on('end', () => {
		const text = Buffer.concat(chunks).toString();
		let body = {};
		try {
			body = text ? JSON.parse(text) : {};
		} catch {
			body = { unparsed: text };
		}
		log({ method: req.method, url: req.url, headers: req.headers, body });
		route(req, body, res);
	});
}

const server = opt.cert
	? https.createServer({ cert: fs.readFileSync(opt.cert), key: fs.readFileSync(opt.key) }, handle)
	: http.createServer(handle);
server.on('upgrade', (req, socket, head) => {
	if (req.url.split('?')[0] === '/v1/responses') return openaiWebSocket(req, socket, head);
	socket.destroy();
});
server.listen(0, '127.0.0.1', () => console.log(`ready ${server.address().port}`));
