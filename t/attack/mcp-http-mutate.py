"""mcp-http-mutate.py SEED SECS: MCP over HTTP with both ends hostile: a
server the agent runs itself answers each POST with a mutated JSON-RPC
answer (JSON, or SSE events, some cut short), and mutated requests, single
or batched, some not JSON, go to it through leash's explicit proxy, up to
four per connection. Prints "sent N"."""
import json, os, random, socket, sys, threading, time
random.seed(int(sys.argv[1])); SECS = float(sys.argv[2])
VALS = [None, True, 0, -1, 2**63 - 1, 1.5, '', 'x', 'tools/call', 'tools/list', 'initialize', 'notifications/x', 'resources/read',
        'prompts/get', [], [1], {}, {'a': 1}, {'name': 'x'}, {'name': 5}, {'name': 'x', 'arguments': 5},
        {'tools': [{'name': 'x'}, 1, None, {'name': 'y'}]}, {'tools': 5}, {'code': 'x', 'message': 5}, {'isError': 'x', 'content': 5}, 'a' * 3000]
REQ = [{'jsonrpc': '2.0', 'id': 1, 'method': 'tools/call', 'params': {'name': 'x', 'arguments': {'a': 1}}},
       {'jsonrpc': '2.0', 'id': 2, 'method': 'tools/call', 'params': {'name': 'y', 'arguments': {'token': 's'}}},
       {'jsonrpc': '2.0', 'id': 'z', 'method': 'tools/list'},
       {'jsonrpc': '2.0', 'id': 3, 'method': 'initialize', 'params': {'clientInfo': {'name': 'c'}}},
       {'jsonrpc': '2.0', 'method': 'notifications/initialized'},
       {'jsonrpc': '2.0', 'id': 4, 'method': 'resources/read', 'params': {'uri': 'file:///x'}},
       {'jsonrpc': '2.0', 'id': 5, 'method': 'prompts/get', 'params': {'name': 'p'}}]
RESP = [{'jsonrpc': '2.0', 'id': 1, 'result': {'content': [{'type': 'text', 'text': 'x'}]}},
        {'jsonrpc': '2.0', 'id': 'z', 'result': {'tools': [{'name': 'x'}, {'name': 'y'}]}},
        {'jsonrpc': '2.0', 'id': 2, 'error': {'code': -1, 'message': 'm'}},
        {'jsonrpc': '2.0', 'method': 'notifications/progress', 'params': {}}]
def mutate(m, depth=0):
    m = json.loads(json.dumps(m))
    for _ in range(random.randint(0, 3)):
        tgt = m
        if isinstance(m.get('params'), dict) and random.random() < 0.4: tgt = m['params']
        if isinstance(m.get('result'), dict) and random.random() < 0.4: tgt = m['result']
        k = random.choice(list(tgt.keys()) + ['id', 'method', 'params', 'result', 'error', 'name', 'arguments', 'tools'])
        if random.random() < 0.2: tgt.pop(k, None)
        else: tgt[k] = json.loads(json.dumps(random.choice(VALS)))
    return m
def body(pool):
    r = random.random()
    if r < 0.6: return json.dumps(mutate(random.choice(pool)))
    if r < 0.9: return json.dumps([mutate(random.choice(pool)) for _ in range(random.randint(0, 5))])
    return random.choice(['{', '[]', '[1,2]', '{"jsonrpc":"2.0"', '"jsonrpc"', '{"jsonrpc":"2.0","id":1,"id":2}'])
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); srv.bind(('127.0.0.1', 0)); srv.listen(64)
PORT = srv.getsockname()[1]
def handle(c):
    try:
        c.settimeout(5); buf = b''
        while True:
            while b'\r\n\r\n' not in buf:
                d = c.recv(65536)
                if not d: return
                buf += d
            head, buf = buf.split(b'\r\n\r\n', 1)
            cl = 0
            for l in head.split(b'\r\n'):
                if l.lower().startswith(b'content-length:'): cl = int(l.split(b':')[1])
            while len(buf) < cl:
                d = c.recv(65536)
                if not d: return
                buf += d
            buf = buf[cl:]
            b = body(RESP).encode()
            if random.random() < 0.4:
                ev = b''.join(b'event: message\ndata: ' + body(RESP).encode() + b'\n\n' for _ in range(random.randint(0, 4)))
                if random.random() < 0.2: ev += b'data: partial'
                c.sendall(b'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nMcp-Session-Id: s%d\r\nConnection: close\r\n\r\n' % random.randint(0, 3) + ev)
                return
            c.sendall(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n' % len(b) + b)
    except OSError: pass
    finally: c.close()
def serve():
    while True:
        c, _ = srv.accept(); threading.Thread(target=handle, args=(c,), daemon=True).start()
threading.Thread(target=serve, daemon=True).start()
P = os.environ['HTTP_PROXY'][7:]; PH, PP = P.rsplit(':', 1)
t = time.time(); n = 0
while time.time() - t < SECS:
    try:
        s = socket.create_connection((PH, int(PP)), timeout=5)
        for _ in range(random.randint(1, 4)):
            b = body(REQ).encode()
            meth = random.choice([b'POST'] * 5 + [b'GET', b'DELETE'])
            s.sendall(meth + b' http://127.0.0.1:%d/mcp HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: %d\r\n\r\n' % (PORT, PORT, len(b)) + b)
            r = s.recv(65536)
            n += 1
            if not r: break
        s.close()
    except OSError:
        pass
print('sent', n, flush=True)
