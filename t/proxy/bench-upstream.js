// bench-upstream.js PORT CERT KEY: a fast HTTPS upstream (keep-alive) for
// scripts/bench-proxy; every request gets a short body.
const https = require('https');
const fs = require('fs');
const [port, cert, key] = [+process.argv[2], process.argv[3], process.argv[4]];
https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, (q, r) => {
	r.writeHead(200, { 'content-type': 'text/plain', 'content-length': 3 });
	r.end('ok\n');
}).listen(port, '127.0.0.1', () => console.log('ready'));
