#!/usr/bin/env node
// ws-client.js URL [options]: a real WebSocket client (the `ws` package) for
// the control server's stream. Prints every frame it receives as one JSON
// line on stdout, then exits 0 when it has seen what it waits for.
//
//   --token T        send Authorization: Bearer T
//   --origin O       send Origin: O
//   --events N       stop after N event frames (frames with a "seq")
//   --until-kind K   stop after an event of kind K (e.g. session.end)
//   --heartbeats N   stop after N heartbeat frames
//   --pause-ms MS    stop reading the socket for MS after the hello (a slow
//                    client), then read on
//   --pause-until F  the same, until file F exists
//   --until-text S   stop after an event frame whose JSON contains S
//   --timeout MS     give up (exit 3) after MS (default 20000)
//   --ready FILE     create FILE once the hello frame arrived
// A refused upgrade prints {"refused": STATUS} and exits 2.
'use strict';
const fs = require('fs');
const WebSocket = require('ws');

const args = process.argv.slice(2);
const url = args.shift();
const opt = { events: 0, heartbeats: 0, timeout: 20000, pauseMs: 0 };
for (let i = 0; i < args.length; i += 2) {
	const v = args[i + 1];
	switch (args[i]) {
	case '--token': opt.token = v; break;
	case '--origin': opt.origin = v; break;
	case '--events': opt.events = +v; break;
	case '--until-kind': opt.untilKind = v; break;
	case '--heartbeats': opt.heartbeats = +v; break;
	case '--pause-ms': opt.pauseMs = +v; break;
	case '--pause-until': opt.pauseUntil = v; break;
	case '--until-text': opt.untilText = v; break;
	case '--timeout': opt.timeout = +v; break;
	case '--ready': opt.ready = v; break;
	default: console.error('unknown option ' + args[i]); process.exit(64);
	}
}
const headers = {};
if (opt.token) headers.Authorization = 'Bearer ' + opt.token;
const ws = new WebSocket(url, { headers, origin: opt.origin, perMessageDeflate: false });
let events = 0, beats = 0;
const out = [];
let finished = false;
// Once only: a close after the last wanted frame calls it again, and a
// second write would print every frame twice.
const finish = (code) => {
	if (finished)
		return;
	finished = true;
	process.stdout.write(out.join(''), () => process.exit(code));
};
setTimeout(() => { out.push(JSON.stringify({ timeout: true }) + '\n'); finish(3); }, opt.timeout);
ws.on('unexpected-response', (req, res) => {
	out.push(JSON.stringify({ refused: res.statusCode }) + '\n');
	finish(2);
});
ws.on('error', (e) => { out.push(JSON.stringify({ error: String(e) }) + '\n'); finish(4); });
ws.on('close', () => { out.push(JSON.stringify({ closed: true }) + '\n'); finish(0); });
ws.on('message', (data) => {
	const text = data.toString();
	const m = JSON.parse(text);
	m.recv_ns = String(BigInt(Date.now()) * 1000000n);
	out.push(JSON.stringify(m) + '\n');
	if (m.type === 'hello') {
		if (opt.ready) fs.writeFileSync(opt.ready, '');
		if (opt.pauseMs) {
			ws._socket.pause();
			setTimeout(() => ws._socket.resume(), opt.pauseMs);
		}
		if (opt.pauseUntil) {
			ws._socket.pause();
			const t = setInterval(() => {
				if (fs.existsSync(opt.pauseUntil)) {
					clearInterval(t);
					ws._socket.resume();
				}
			}, 50);
		}
	}
	if (m.type === 'heartbeat') beats++;
	if (m.seq !== undefined) events++;
	if ((opt.events && events >= opt.events) || (opt.heartbeats && beats >= opt.heartbeats) ||
	    (opt.untilKind && m.kind === opt.untilKind) ||
	    (opt.untilText && m.seq !== undefined && text.includes(opt.untilText))) {
		ws.close();
		finish(0);
	}
});
