// bench-client.js MODE N HOST PORT: GETs to HOST:PORT (connecting to
// 127.0.0.1; HTTPS with SNI = HOST and the CA bundle $BENCH_CA, or plain
// HTTP when $BENCH_HTTP). MODE keepalive: N requests on one connection,
// prints p50/p99 latency (ms) and requests/s; MODE handshake: N new
// connections (SNI h<i>.HOST when $BENCH_COLD), prints handshakes/s in the
// third column; MODE download: one GET of N bytes, prints MB/s. The CA
// bundle is parsed once into one TLS context, as a long-lived client does:
// node's `ca` option alone parses it again for every connection (~20 ms
// for the system bundle), which is what the first handshake numbers
// measured.
const https = require('https');
const http = require('http');
const tls = require('tls');
const fs = require('fs');
const [mode, n, host, port] = [process.argv[2], +process.argv[3], process.argv[4], +process.argv[5]];
const plain = !!process.env.BENCH_HTTP;
const mod = plain ? http : https;
const secureContext = plain ? undefined
	: tls.createSecureContext({ ca: fs.readFileSync(process.env.BENCH_CA) });
const agent = new mod.Agent({ keepAlive: mode === 'keepalive', maxSockets: 1 });
function get(i, path) {
	const name = process.env.BENCH_COLD ? `h${i}.${host}` : host;
	return new Promise((ok, bad) => {
		const t = process.hrtime.bigint();
		let bytes = 0;
		mod.get({ host: '127.0.0.1', servername: name, port, path: path || '/echo', agent,
			secureContext, headers: { host: plain ? `${name}:${port}` : name } }, (r) => {
			r.on('data', (d) => { bytes += d.length; });
			r.on('end', () => ok([Number(process.hrtime.bigint() - t) / 1e6, bytes]));
		}).on('error', bad);
	});
}
(async () => {
	if (mode === 'download') {
		const [ms, bytes] = await get(0, `/big?n=${n}`);
		if (bytes !== n)
			throw new Error(`got ${bytes} of ${n} bytes`);
		console.log((n / 1e6 / (ms / 1000)).toFixed(0));
		agent.destroy();
		return;
	}
	await get(0);
	const lat = [];
	const t0 = Date.now();
	for (let i = 1; i <= n; i++) lat.push((await get(i))[0]);
	const s = (Date.now() - t0) / 1000;
	lat.sort((a, b) => a - b);
	const p = (q) => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))].toFixed(3);
	console.log(`${p(0.5)} ${p(0.99)} ${(n / s).toFixed(0)}`);
	agent.destroy();
})().catch((e) => { console.error(String(e)); process.exit(1); });
