"""mcp-socket.py MODE ...: the session's MCP decision socket
($LEASH_MCP_SOCKET), as the agent could use it.
  ops           requests it does not serve, then a decide: "op answer"
  unread SECS   decide lines as fast as leash takes them, answers never
                read: "sent MB N"
  many N        N connections at once: "refused N" (answered "too many
                connections"), then closes them and asks a decide on a new one
  partial N     N connections each holding a line of almost 8 MiB
  mutate SEED SECS  valid requests of every op with fields dropped or
                replaced by values of other types, on up to 10 connections,
                answers drained; then a decide: "sent N", "decide ANSWER"
  fuzz          requests of the right ops with wrong, missing, huge or
                odd fields, one connection each: "name answer" (or "-"
                for requests never answered), then a decide"""
import json, os, socket, sys, time

path = os.environ['LEASH_MCP_SOCKET']


def conn():
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    return s


def ask(s, obj):
    s.sendall((obj if isinstance(obj, str) else json.dumps(obj)).encode() + b'\n')
    f = b''
    while not f.endswith(b'\n'):
        d = s.recv(65536)
        if not d:
            return 'EOF'
        f += d
    return f.decode().strip()


DECIDE = {'op': 'decide', 'server': 'stdio:files', 'tool': 'delete', 'arguments': {}, 'id': 1}
mode = sys.argv[1]
if mode == 'ops':
    s = conn()
    print('garbage', ask(s, 'x'))
    print('not-an-object', ask(s, '[1,2'))
    print('policy', ask(s, {'op': 'policy', 'text': 'permit(principal,action,resource);'}))
    print('mode', ask(s, {'op': 'mode', 'mode': 'record'}))
    print('deep', ask(s, '{"op":"decide","arguments":' + '[' * 100000 + ']' * 100000 + '}'))
    s.sendall(b'{"op":"hello","server":"stdio:files","command":["files"]}\n')
    print('decide', ask(s, DECIDE))
elif mode == 'unread':
    s = conn()
    blob = (json.dumps(DECIDE) + '\n').encode() * 10000
    s.setblocking(False)
    sent, off, t = 0, 0, time.time()
    while time.time() - t < float(sys.argv[2]):
        try:
            k = s.send(blob[off:])
            sent += k
            off = (off + k) % len(blob)
        except BlockingIOError:
            time.sleep(0.01)
    print('sent MB', sent >> 20)
elif mode == 'many':
    held, refused = [], 0
    for i in range(int(sys.argv[2])):
        held.append(conn())
    time.sleep(0.5)
    for s in held:
        s.settimeout(0.2)
        try:
            refused += b'too many connections' in s.recv(200)
        except socket.timeout:
            pass
    print('refused', refused)
    for s in held:
        s.close()
    time.sleep(0.5)
    print('decide', ask(conn(), DECIDE))
elif mode == 'partial':
    held = []
    for i in range(int(sys.argv[2])):
        s = conn()
        s.sendall(b'{"op":"decide","x":"' + b'a' * ((8 << 20) - 100))
        held.append(s)
    print('partial', len(held))
    print('decide', ask(conn(), DECIDE))
elif mode == 'fuzz':
    HELLO = {'op': 'hello', 'server': 'stdio:a', 'command': ['a']}
    cases = [
        ('hello-twice', [HELLO, {'op': 'hello', 'server': 'stdio:b', 'command': [1, None, {'x': 1}]}], False),
        ('hello-bad', [{'op': 'hello', 'server': 5, 'command': 'x'}, {'op': 'hello', 'server': 'x' * 100000}], False),
        ('decide-no-server', [{'op': 'decide', 'tool': 't', 'arguments': {}, 'id': 1}], True),
        ('decide-http-server', [{'op': 'decide', 'server': 'http:x', 'tool': 't', 'arguments': {}, 'id': 1}], True),
        ('decide-tool-number', [{'op': 'decide', 'server': 'stdio:a', 'tool': 5, 'arguments': [], 'id': {'a': 1}}], True),
        ('decide-deep-arguments', ['{"op":"decide","server":"stdio:a","tool":"t","id":1,"arguments":' + '{"a":' * 1500 + '1' + '}' * 1500 + '}'], True),
        ('decide-1mb-tool', [{'op': 'decide', 'server': 'stdio:a', 'tool': 't' * 1000000, 'arguments': {}, 'id': 1}], True),
        ('decide-nul', ['{"op":"decide","server":"stdio:a\\u0000b","tool":"t\\u0000x","arguments":{},"id":1}'], True),
        ('result-unknown', [{'op': 'result', 'call': 999999, 'outcome': 'result'}, {'op': 'result', 'call': -1}, {'op': 'result', 'call': 'x'}, {'op': 'result'}], False),
        ('record-odd', [HELLO, {'op': 'record', 'direction': 'x', 'message': 5}, {'op': 'record', 'direction': 'agent', 'message': {'method': 5, 'id': [1]}},
                        {'op': 'record', 'direction': 'server', 'message': {'id': 1, 'result': {'tools': 5}}}, {'op': 'record'}], False),
        ('record-300-held', [HELLO] + [{'op': 'record', 'direction': 'agent', 'message': {'method': 'ping', 'id': i}} for i in range(300)], False),
        ('list-odd', [HELLO, {'op': 'list', 'id': 1, 'tools': [1, None, 'y' * 100000, {'a': 1}, 'x']}], True),
        ('list-100k', [HELLO, {'op': 'list', 'id': 1, 'tools': ['t%d' % i for i in range(100000)]}], True),
        ('uninspected-odd', [HELLO, {'op': 'uninspected', 'direction': 5, 'why': None, 'bytes': 'x'}], True),
        ('uninspected-100k', [HELLO, {'op': 'uninspected', 'direction': 'agent', 'why': 'w' * 100000, 'bytes': -5}], True),
    ]
    for name, msgs, answered in cases:
        s = conn()
        s.settimeout(20)
        for m in msgs[:-1]:
            s.sendall((m if isinstance(m, str) else json.dumps(m)).encode() + b'\n')
        if answered:
            print(name, ask(s, msgs[-1])[:80])
        else:
            s.sendall((json.dumps(msgs[-1])).encode() + b'\n')
            print(name, '-')
        s.close()
    print('decide', ask(conn(), DECIDE))
elif mode == 'mutate':
    import random
    random.seed(int(sys.argv[2]))
    secs = float(sys.argv[3])
    VALS = [None, True, 0, -1, 2**63 - 1, -2**63, 1.5, '', 'x', 'stdio:', 'stdio:a', 'agent', 'server', 'tools/call', 'tools/list',
            [], [1], [None], ['x'], {}, {'a': 1}, {'method': 'tools/list', 'id': 1}, {'id': 1, 'result': {'tools': [{'name': 'x'}]}},
            {'id': 1, 'result': {'tools': [1, {'name': 5}]}}, {'id': 1, 'error': {'code': 'x', 'message': 5}}, {'jsonrpc': '2.0'},
            'a' * 5000]
    BASE = [
        {'op': 'hello', 'server': 'stdio:a', 'command': ['a', '--token', 's']},
        {'op': 'decide', 'server': 'stdio:a', 'tool': 't', 'arguments': {'a': 1}, 'id': 1},
        {'op': 'result', 'call': 1, 'outcome': 'result', 'is_error': False, 'error_code': 1, 'error_message': 'm'},
        {'op': 'record', 'direction': 'agent', 'message': {'method': 'tools/list', 'id': 1}},
        {'op': 'record', 'direction': 'server', 'message': {'id': 1, 'result': {'tools': [{'name': 'x'}]}}},
        {'op': 'list', 'id': 1, 'tools': ['x', 'y']},
        {'op': 'uninspected', 'direction': 'agent', 'why': 'w', 'bytes': 5},
    ]
    def mutate(m):
        m = dict(m)
        for _ in range(random.randint(0, 3)):
            k = random.choice(list(m.keys()) + ['id', 'call', 'message', 'tools'])
            if k == 'op' and random.random() < 0.8: continue
            if random.random() < 0.2: m.pop(k, None)
            else: m[k] = random.choice(VALS)
        return m
    t = time.time(); n = 0
    conns = []
    while time.time() - t < secs:
        if not conns or random.random() < 0.005:
            s = socket.socket(socket.AF_UNIX); s.connect(path); s.setblocking(False); conns.append(s)
            if len(conns) > 10: conns.pop(0).close()
        s = random.choice(conns)
        try:
            s.send((json.dumps(mutate(random.choice(BASE))) + '\n').encode())
            while True: s.recv(65536)
        except (BlockingIOError, BrokenPipeError, ConnectionResetError):
            pass
        n += 1
    print('sent', n)
    for c in conns:
        c.close()
    # leash may still be reading what the closed connections sent (and
    # count them against its 64): ask until it answers, as a wrapper would
    for attempt in range(60):
        try:
            a = ask(conn(), DECIDE)
            if a.startswith('{"decision"'):
                break
        except OSError as e:
            a = str(e)
        time.sleep(0.5)
    print('decide', a)
