#!/usr/bin/env node
// latency-client.js URL TOKEN N MATCH: a WebSocket client that waits for N
// events whose resource contains MATCH, and prints one line of JSON:
// {"got", "dropped", "lat_ms": [...]} where each latency is the client's
// receive time minus the event's kernel time (the syscall). Used by
// scripts/bench-control.
'use strict';
const WebSocket = require('ws');
const [url, token, n, match] = process.argv.slice(2);
const want = +n;
const lat = [];
let dropped = 0;
const now = () => (performance.timeOrigin + performance.now()) * 1e6; // ns, sub-ms
const ws = new WebSocket(url + '?backlog=0', { headers: { Authorization: 'Bearer ' + token } });
const done = () => {
	console.log(JSON.stringify({ got: lat.length, dropped, lat_ms: lat }));
	process.exit(0);
};
setTimeout(done, +(process.env.BENCH_TIMEOUT_MS || 120000));
ws.on('open', () => console.error('ready'));
ws.on('message', (d) => {
	const t = now();
	const m = JSON.parse(d);
	if (m.type === 'dropped' || m.type === 'heartbeat') dropped = Math.max(dropped, m.dropped);
	if (m.resource && m.resource.includes(match)) {
		lat.push((t - Number(m.time_ns)) / 1e6);
		if (lat.length >= want) done();
	}
});
