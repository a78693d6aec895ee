#!/usr/bin/env python3
"""upstream.py PORT [CERT KEY] [--addr A] [--log FILE]: a test upstream.

GET  /echo...        200, JSON of the request line and headers (what arrived)
POST /echo...        200, JSON with the body length and its sha256
GET  /sse            text/event-stream: 3 events, 1 s apart (incremental)
GET  /big?n=BYTES    BYTES of 'x', chunked
GET  /ws             WebSocket echo (text frames)
GET  /files/P        file P under --root (a dumb-http git repository)
Every request line is appended to --log (to prove what reached whom).
"""
import base64, hashlib, json, socket, ssl, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

args = sys.argv[1:]
addr, logf, root = '127.0.0.1', None, None
if '--root' in args:
    i = args.index('--root'); root = args[i + 1]; del args[i:i + 2]
if '--addr' in args:
    i = args.index('--addr'); addr = args[i + 1]; del args[i:i + 2]
if '--log' in args:
    i = args.index('--log'); logf = args[i + 1]; del args[i:i + 2]
port = int(args[0])
cert = args[1] if len(args) > 2 else None
key = args[2] if len(args) > 2 else None


def log(line):
    if logf:
        with open(logf, 'a') as f:
            f.write(line + '\n')


class H(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *a):
        pass

    def reply(self, code, body, ctype='application/json'):
        self.send_response(code)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        log('%s %s %s' % (self.command, self.headers.get('Host'), self.path))
        if root and self.path.startswith('/files/'):
            import os
            p = os.path.realpath(os.path.join(root, self.path[7:].split('?')[0]))
            if not p.startswith(os.path.realpath(root)) or not os.path.isfile(p):
                return self.reply(404, b'no such file\n', 'text/plain')
            with open(p, 'rb') as f:
                return self.reply(200, f.read(), 'application/octet-stream')
        if self.path.startswith('/sse'):
            self.send_response(200)
            self.send_header('Content-Type', 'text/event-stream')
            self.send_header('Transfer-Encoding', 'chunked')
            self.end_headers()
            for i in range(3):
                data = ('data: event %d %.3f\n\n' % (i, time.time())).encode()
                self.wfile.write(b'%x\r\n%s\r\n' % (len(data), data))
                self.wfile.flush()
                time.sleep(1)
            self.wfile.write(b'0\r\n\r\n')
            return
        if self.path.startswith('/big'):
            n = int(self.path.split('n=')[1])
            self.send_response(200)
            self.send_header('Transfer-Encoding', 'chunked')
            self.end_headers()
            chunk = b'x' * 65536
            while n > 0:
                c = chunk[:n]
                self.wfile.write(b'%x\r\n%s\r\n' % (len(c), c))
                n -= len(c)
            self.wfile.write(b'0\r\n\r\n')
            return
        if self.path.startswith('/ws'):
            k = self.headers.get('Sec-WebSocket-Key')
            acc = base64.b64encode(hashlib.sha1((k + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').encode()).digest()).decode()
            self.send_response(101)
            self.send_header('Upgrade', 'websocket')
            self.send_header('Connection', 'Upgrade')
            self.send_header('Sec-WebSocket-Accept', acc)
            self.end_headers()
            self.wfile.flush()
            self.ws_echo()
            self.close_connection = True
            return
        self.echo(b'')

    def ws_echo(self):
        r = self.rfile
        while True:
            h = r.read(2)
            if len(h) < 2:
                return
            op, n = h[0] & 0x0f, h[1] & 0x7f
            if n == 126:
                n = int.from_bytes(r.read(2), 'big')
            elif n == 127:
                n = int.from_bytes(r.read(8), 'big')
            mask = r.read(4) if h[1] & 0x80 else b'\0\0\0\0'
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(r.read(n)))
            if op == 8:
                self.wfile.write(b'\x88\x00'); self.wfile.flush()
                return
            log('WS %s' % data.decode(errors='replace'))
            out = b'echo: ' + data
            self.wfile.write(bytes([0x81, len(out)]) + out)
            self.wfile.flush()

    def echo(self, body):
        out = {'method': self.command, 'path': self.path,
               'headers': {k: v for k, v in self.headers.items()},
               'body_len': len(body), 'body_sha256': hashlib.sha256(body).hexdigest()}
        self.reply(200, json.dumps(out).encode())

    def do_HEAD(self):
        log('HEAD %s %s' % (self.headers.get('Host'), self.path))
        self.send_response(200)
        self.send_header('Content-Length', '1234')
        self.end_headers()

    def do_POST(self):
        log('%s %s %s' % (self.command, self.headers.get('Host'), self.path))
        if self.headers.get('Transfer-Encoding', '').lower() == 'chunked':
            body = b''
            while True:
                n = int(self.rfile.readline().split(b';')[0], 16)
                if n == 0:
                    self.rfile.readline()
                    break
                body += self.rfile.read(n)
                self.rfile.readline()
        else:
            body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        self.echo(body)


class S(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


srv = S((addr, port), H)
if cert:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print('ready', flush=True)
srv.serve_forever()
