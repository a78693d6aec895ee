// bench-client.js MODE N HOST PORT: HTTPS GETs to HOST:PORT (connecting to
// 127.0.0.1, SNI = HOST), CA from $BENCH_CA. MODE keepalive: N requests on
// one connection, prints p50/p99 latency (ms) and requests/s; MODE
// handshake: N new connections (SNI h<i>.HOST when $BENCH_COLD), prints
// handshakes/s. The CA bundle is parsed once into one TLS context, as a
// long-lived client does: node's `ca` option alone parses it again for
// every connection (~20 ms for the system bundle), which is what the first
// handshake numbers measured.
const https = require('https');
const tls = require('tls');
const fs = require('fs');
const [mode, n, host, port] = [process.argv[2], +process.argv[3], process.argv[4], +process.argv[5]];
const secureContext = tls.createSecureContext({ ca: fs.readFileSync(process.env.BENCH_CA) });
const agent = new https.Agent({ keepAlive: mode === 'keepalive', maxSockets: 1 });
function get(i) {
	const name = process.env.BENCH_COLD ? `h${i}.${host}` : host;
	return new Promise((ok, bad) => {
		const t = process.hrtime.bigint();
		https.get({ host: '127.0.0.1', servername: name, port, path: '/echo', agent, secureContext,
			headers: { host: name } }, (r) => {
			r.resume();
			r.on('end', () => ok(Number(process.hrtime.bigint() - t) / 1e6));
		}).on('error', bad);
	});
}
(async () => {
	await get(0);
	const lat = [];
	const t0 = Date.now();
	for (let i = 1; i <= n; i++) lat.push(await get(i));
	const s = (Date.now() - t0) / 1000;
	lat.sort((a, b) => a - b);
	const p = (q) => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))].toFixed(3);
	console.log(`${p(0.5)} ${p(0.99)} ${(n / s).toFixed(0)}`);
	agent.destroy();
})().catch((e) => { console.error(String(e)); process.exit(1); });
