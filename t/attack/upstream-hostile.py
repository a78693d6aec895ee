"""upstream-hostile.py HTTPS_PORT: a server the agent runs itself in the
sandbox, answering each path with a hostile response (oversized or
malformed heads, bad chunking, endless bodies, huge or deeply nested
MCP answers, an unasked-for upgrade); curl asks each path through leash's
proxy as an MCP tools/list POST and prints "path status curl-exit". Then
"normal STATUS" of a GET to https://allowed.test:HTTPS_PORT/echo."""
import os, socket, sys, threading, time, json, subprocess
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(('127.0.0.1', 0)); srv.listen(64); PORT = srv.getsockname()[1]
R = {
 'bighead': b'HTTP/1.1 200 OK\r\nX-A: ' + b'a' * 70000 + b'\r\nContent-Length: 0\r\n\r\n',
 'manyhdr': b'HTTP/1.1 200 OK\r\n' + b''.join(b'X-%d: y\r\n' % i for i in range(300)) + b'Content-Length: 0\r\n\r\n',
 'badchunk': b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\nabc',
 'clte': b'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
 'garbage': b'\x00\xff' * 100,
 'status999': b'HTTP/1.1 999 What\r\nContent-Length: 2\r\n\r\nok',
 'noend': b'HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\nabc',
 'sse-huge': b'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: ' + b'{' * 100 + b'x' * (12 << 20),
 'sse-deep': b'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: {"jsonrpc":"2.0","id":1,"result":' + b'[' * 50000 + b']' * 50000 + b'}\n\n',
 'json-deep': (lambda b: b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n' % len(b) + b)(b'{"jsonrpc":"2.0","id":1,"result":{"tools":' + b'[' * 50000 + b']' * 50000 + b'}}'),
 'json-tools-odd': (lambda b: b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n' % len(b) + b)(b'{"jsonrpc":"2.0","id":1,"result":{"tools":[1,null,{"name":5},{"name":"' + b'n' * 100000 + b'"},{"name":"x"}]}}'),
 'json-big': (lambda b: b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n' % len(b) + b)(b'{"jsonrpc":"2.0","id":1,"result":{"tools":[' + b','.join(b'{"name":"t%d","description":"%s"}' % (i, b'd' * 1000) for i in range(10000)) + b']}}'),
 'sse-endpoint-odd': b'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\nevent: endpoint\ndata: ' + b'/' + b'e' * 100000 + b'\n\nevent: endpoint\ndata: http://[::1\n\nevent: endpoint\ndata: \n\n',
 'upgrade-unasked': b'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n' + b'\xff' * 1000,
 '100-continue-flood': b'HTTP/1.1 100 Continue\r\n\r\n' * 10000 + b'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n',
}
def serve():
    while True:
        c, _ = srv.accept()
        def h(c):
            try:
                c.settimeout(5)
                d = b''
                while b'\r\n\r\n' not in d:
                    x = c.recv(65536)
                    if not x: return
                    d += x
                key = d.split(b' ')[1].decode().strip('/').split('?')[0]
                cl = 0
                for line in d.split(b'\r\n'):
                    if line.lower().startswith(b'content-length:'): cl = int(line.split(b':')[1])
                rest = d.split(b'\r\n\r\n', 1)[1]
                while len(rest) < cl:
                    rest += c.recv(65536)
                c.sendall(R.get(key, b'HTTP/1.1 404 No\r\nContent-Length: 0\r\n\r\n'))
                time.sleep(1)
            except OSError:
                pass
            finally:
                c.close()
        threading.Thread(target=h, args=(c,), daemon=True).start()
threading.Thread(target=serve, daemon=True).start()
mcp = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
for k in R:
    t = time.time()
    r = subprocess.run(['curl', '-s', '-m', '4', '-o', '/dev/null', '-w', '%{http_code}', '-H', 'Content-Type: application/json',
                        '-H', 'Accept: application/json, text/event-stream', '-d', mcp, 'http://127.0.0.1:%d/%s' % (PORT, k)],
                       capture_output=True, text=True)
    print(k, r.stdout, r.returncode, flush=True)
r = subprocess.run(['curl', '-s', '-m', '10', '-o', '/dev/null', '-w', '%{http_code}', 'https://allowed.test:%s/echo' % sys.argv[1]], capture_output=True, text=True)
print('normal', r.stdout, flush=True)
