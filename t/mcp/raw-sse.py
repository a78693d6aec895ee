"""raw-sse.py: the older HTTP+SSE transport spoken by hand, byte by byte,
to prove where leash puts its own events on the stream.

  raw-sse.py server PORT CERT KEY LOG
      HTTPS. GET /sse: an event stream (chunked) that announces
      /messages?sessionId=raw, then writes the first half of a
      notification event, waits 3 s, writes the rest and a last event
      ("done"), and ends. POST /messages: the body appended to LOG, 202.
  raw-sse.py client URL
      GETs URL, POSTs a forbidden tools/call (id 5) to the announced
      endpoint as soon as it is announced, reads the stream to its end
      and prints each event as "type data" on one line, in order.
"""
import json, ssl, sys, threading, time, urllib.parse, urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NOTE = json.dumps({"jsonrpc": "2.0", "method": "notifications/message",
                   "params": {"level": "info", "data": "x" * 3000}})


def serve(port, cert, key, log):
    class H(BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'

        def log_message(self, *a):
            pass

        def chunk(self, b):
            self.wfile.write(b'%x\r\n%s\r\n' % (len(b), b))
            self.wfile.flush()

        def do_GET(self):
            self.send_response(200)
            self.send_header('Content-Type', 'text/event-stream')
            self.send_header('Transfer-Encoding', 'chunked')
            self.end_headers()
            self.chunk(b'event: endpoint\ndata: /messages?sessionId=raw\n\n')
            ev = ('event: message\ndata: %s\n\n' % NOTE).encode()
            self.chunk(ev[:len(ev) // 2])
            time.sleep(3)  # leash answers the POST meanwhile
            self.chunk(ev[len(ev) // 2:])
            self.chunk(b'event: message\ndata: {"jsonrpc":"2.0","method":"done"}\n\n')
            self.wfile.write(b'0\r\n\r\n')

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
            with open(log, 'ab') as f:
                f.write(body + b'\n')
            self.send_response(202)
            self.send_header('Content-Length', '8')
            self.end_headers()
            self.wfile.write(b'Accepted')

    srv = ThreadingHTTPServer(('127.0.0.1', port), H)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print('ready', flush=True)
    srv.serve_forever()


SAY = threading.Lock()


def say(*words):
    # One write per line under a lock: print() writes its arguments one by
    # one, so the POST thread's line could land inside the stream's.
    with SAY:
        sys.stdout.write(' '.join(str(w) for w in words) + '\n')
        sys.stdout.flush()


def client(url):
    stream = urllib.request.urlopen(urllib.request.Request(url, headers={'Accept': 'text/event-stream'}))
    etype, data = 'message', []
    for raw in stream:
        line = raw.decode().rstrip('\r\n')
        if line:
            field, _, value = line.partition(':')
            value = value[1:] if value.startswith(' ') else value
            if field == 'event':
                etype = value
            elif field == 'data':
                data.append(value)
            continue
        text = '\n'.join(data)
        if etype == 'endpoint':
            say('endpoint', text)
            call = json.dumps({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
                               "params": {"name": "delete-everything", "arguments": {}}}).encode()
            post = urllib.request.Request(urllib.parse.urljoin(url, text), data=call, method='POST',
                                          headers={'Content-Type': 'application/json'})
            threading.Thread(target=lambda: say('post', urllib.request.urlopen(post).status)).start()
        else:
            m = json.loads(text)
            if m.get('method') == 'notifications/message':
                say(etype, 'notification', 'intact' if text == NOTE else 'CHANGED')
            elif 'error' in m:
                say(etype, 'error', m['id'], m['error']['code'])
            else:
                say(etype, m.get('method'))
        etype, data = 'message', []


if sys.argv[1] == 'server':
    serve(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5])
else:
    client(sys.argv[2])
