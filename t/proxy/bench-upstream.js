// bench-upstream.js PORT CERT KEY [HTTP_PORT]: a fast upstream for
// scripts/bench-proxy: HTTPS on PORT (and plain HTTP on HTTP_PORT), both
// keep-alive. GET /big?n=BYTES streams BYTES (1 MiB writes, back-pressure
// honoured); anything else gets a short body.
const https = require('https');
const http = require('http');
const fs = require('fs');
const [port, cert, key, hport] = [+process.argv[2], process.argv[3], process.argv[4], +process.argv[5]];
const chunk = Buffer.alloc(1 << 20, 120);
function handler(q, r) {
	const m = /^\/big\?n=(\d+)/.exec(q.url);
	if (!m) {
		r.writeHead(200, { 'content-type': 'text/plain', 'content-length': 3 });
		r.end('ok\n');
		return;
	}
	let left = +m[1];
	r.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': left });
	const write = () => {
		while (left > 0) {
			const n = Math.min(left, chunk.length);
			left -= n;
			if (!r.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
				r.once('drain', write);
				return;
			}
		}
		r.end();
	};
	write();
}
let ready = hport ? 2 : 1;
const up = () => { if (--ready === 0) console.log('ready'); };
https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, handler)
	.listen(port, '127.0.0.1', up);
if (hport)
	http.createServer(handler).listen(hport, '127.0.0.1', up);
