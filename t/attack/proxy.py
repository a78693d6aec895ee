"""proxy.py HTTP_PORT HTTPS_PORT: malformed traffic at leash's proxy,
explicit (HTTP_PROXY) and transparent (the upstreams on 127.0.0.1, an
HTTP one on HTTP_PORT and an HTTPS one for allowed.test on HTTPS_PORT),
one line per probe: its name, then the first line of leash's answer (or
closed, RST, a TLS alert's bytes); then "normal" and the status of a
CONNECT + GET to allowed.test."""
import os, socket, ssl, struct, sys, time
P = os.environ['HTTP_PROXY'][7:]
PH, PP = P.rsplit(':', 1)
PP = int(PP)
TH = '127.0.0.1'
HP, SP = int(sys.argv[1]), int(sys.argv[2])


def xchg(addr, data, wait=1.0, chunks=None, read=True):
    s = socket.create_connection(addr, timeout=wait)
    try:
        for c in (chunks or [data]):
            s.sendall(c)
        if not read: return ''
        r = b''
        try:
            while len(r) < 65536:
                d = s.recv(65536)
                if not d: break
                r += d
        except socket.timeout:
            pass
        except ConnectionResetError:
            return 'RST'
        return (r.split(b'\r\n', 1)[0][:60]).decode('latin1') if r else 'closed'
    finally:
        s.close()
def hello(sni=None, raw_ext=None, trunc=None):
    exts = b''
    if sni is not None:
        n = sni.encode('latin1') if isinstance(sni, str) else sni
        sn = b'\x00' + struct.pack('>H', len(n)) + n
        sl = struct.pack('>H', len(sn)) + sn
        exts += struct.pack('>HH', 0, len(sl)) + sl
    if raw_ext: exts += raw_ext
    body = b'\x03\x03' + b'\x11' * 32 + b'\x00' + b'\x00\x02\x13\x01' + b'\x01\x00' + struct.pack('>H', len(exts)) + exts
    hs = b'\x01' + struct.pack('>I', len(body))[1:] + body
    rec = b'\x16\x03\x01' + struct.pack('>H', len(hs)) + hs
    return rec[:trunc] if trunc else rec
def normal():
    ctx = ssl.create_default_context(cafile=os.environ.get('SSL_CERT_FILE'))
    s = socket.create_connection((PH, PP), timeout=10)
    s.sendall(b'CONNECT allowed.test:@SP@ HTTP/1.1\r\nHost: allowed.test:@SP@\r\n\r\n'.replace(b'@SP@', str(SP).encode()))
    r = s.recv(4096)
    t = ctx.wrap_socket(s, server_hostname='allowed.test')
    t.sendall(b'GET /echo HTTP/1.1\r\nHost: allowed.test\r\nConnection: close\r\n\r\n')
    return t.recv(100).split(b'\r\n')[0].decode()
X = (PH, PP); T80 = (TH, HP); T443 = (TH, SP)
big = 'a' * 70000
probes = [
 ('x garbage', X, b'\x00\xff' * 1000),
 ('x badline', X, b'GET\r\n\r\n'),
 ('x nohost', X, b'GET / HTTP/1.1\r\n\r\n'),
 ('x abs-noport', X, b'GET http://allowed.test:/echo HTTP/1.1\r\nHost: allowed.test\r\n\r\n'),
 ('x abs-port0', X, b'GET http://allowed.test:0/echo HTTP/1.1\r\nHost: allowed.test\r\n\r\n'),
 ('x abs-port99999', X, b'GET http://allowed.test:99999/echo HTTP/1.1\r\n\r\n'),
 ('x abs-userinfo', X, b'GET http://evil@allowed.test:@HP@/echo HTTP/1.1\r\n\r\n'),
 ('x connect-empty', X, b'CONNECT  HTTP/1.1\r\n\r\n'),
 ('x connect-colon', X, b'CONNECT : HTTP/1.1\r\n\r\n'),
 ('x connect-v6', X, b'CONNECT [::1 HTTP/1.1\r\n\r\n'),
 ('x connect-v6ok', X, b'CONNECT [::1]:@SP@ HTTP/1.1\r\n\r\n'),
 ('x connect-longhost', X, b'CONNECT ' + b'a' * 5000 + b':443 HTTP/1.1\r\n\r\n'),
 ('x connect-nul', X, b'CONNECT allowed.test\x00evil:443 HTTP/1.1\r\n\r\n'),
 ('x connect-self', X, b'CONNECT %s:%d HTTP/1.1\r\n\r\nCONNECT %s:%d HTTP/1.1\r\n\r\n' % (PH.encode(), PP, PH.encode(), PP)),
 ('x connect-dns', X, b'CONNECT 127.3.2.1:53 HTTP/1.1\r\n\r\n'),
 ('x connect-then-garbage', X, b'CONNECT allowed.test:@SP@ HTTP/1.1\r\n\r\n' + b'\x16\x03\x01\xff\xff' + b'\x00' * 100),
 ('x connect-tls-nosni', X, b'CONNECT allowed.test:@SP@ HTTP/1.1\r\n\r\n' + hello()),
 ('x connect-tls-hugesni', X, b'CONNECT allowed.test:@SP@ HTTP/1.1\r\n\r\n' + hello('b' * 16000)),
 ('x headers-200', X, b'GET http://allowed.test:@HP@/echo HTTP/1.1\r\n' + b''.join(b'X-%d: y\r\n' % i for i in range(200)) + b'\r\n'),
 ('x head-70k', X, b'GET http://allowed.test:@HP@/echo HTTP/1.1\r\nX-Big: ' + big.encode() + b'\r\n\r\n'),
 ('x url-70k', X, b'GET http://allowed.test:@HP@/' + big.encode() + b' HTTP/1.1\r\n\r\n'),
 ('x cl-te', X, b'POST http://allowed.test:@HP@/echo HTTP/1.1\r\nHost: allowed.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET http://evil.test/ HTTP/1.1\r\n\r\n'),
 ('x cl-cl', X, b'POST http://allowed.test:@HP@/echo HTTP/1.1\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nabcd'),
 ('x cl-huge', X, b'POST http://allowed.test:@HP@/echo HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\nabcd'),
 ('x chunk-huge', X, b'POST http://allowed.test:@HP@/echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nabc'),
 ('x pipeline-20', X, b''.join(b'GET http://allowed.test:@HP@/echo?%d HTTP/1.1\r\nHost: allowed.test:@HP@\r\n\r\n' % i for i in range(20))),
 ('x pipeline-mixed-host', X, b'GET http://allowed.test:@HP@/echo HTTP/1.1\r\n\r\nGET http://evil.test:@HP@/echo HTTP/1.1\r\n\r\n'),
 ('x ws-garbage', X, b'GET http://allowed.test:@HP@/ws HTTP/1.1\r\nHost: allowed.test:@HP@\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: x\r\nSec-WebSocket-Version: 13\r\n\r\n' + b'\xff' * 5000),
 ('x upgrade-h2c', X, b'GET http://allowed.test:@HP@/echo HTTP/1.1\r\nHost: allowed.test\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n'),
 ('x h2-preface', X, b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' + b'\x00' * 100),
 ('x mcp-deep', X, (lambda b: b'POST http://allowed.test:@HP@/mcp HTTP/1.1\r\nHost: allowed.test:@HP@\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n' % len(b) + b)(b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":' + b'[' * 100000 + b']' * 100000 + b'}')),
 ('x mcp-deep-args', X, (lambda b: b'POST http://allowed.test:@HP@/mcp HTTP/1.1\r\nHost: allowed.test:@HP@\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n' % len(b) + b)(b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{"a":' + b'{"a":' * 2000 + b'1' + b'}' * 2000 + b'}}}')),
 ('x mcp-hugeid', X, (lambda b: b'POST http://allowed.test:@HP@/mcp HTTP/1.1\r\nHost: allowed.test:@HP@\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n' % len(b) + b)(b'{"jsonrpc":"2.0","id":' + b'9' * 5000 + b',"method":"tools/call","params":{"name":"x"}}')),
 ('x mcp-batch-10k', X, (lambda b: b'POST http://allowed.test:@HP@/mcp HTTP/1.1\r\nHost: allowed.test:@HP@\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n' % len(b) + b)(b'[' + b','.join(b'{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"x"}}' % i for i in range(10000)) + b']')),
 ('x mcp-float-id', X, (lambda b: b'POST http://allowed.test:@HP@/mcp HTTP/1.1\r\nHost: allowed.test:@HP@\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n' % len(b) + b)(b'[{"jsonrpc":"2.0","id":1e400,"method":"tools/call","params":{"name":"x"}},{"jsonrpc":"2.0","id":null,"method":"tools/list"},{"jsonrpc":"2.0","id":[1],"method":"tools/call"},"x",1,[]]')),
 ('x mcp-sse-get', X, b'GET http://allowed.test:@HP@/sse HTTP/1.1\r\nHost: allowed.test:@HP@\r\nAccept: text/event-stream\r\n\r\n'),
 ('t80 garbage', T80, b'\x00\xff' * 1000),
 ('t80 headers-200', T80, b'GET /echo HTTP/1.1\r\nHost: allowed.test\r\n' + b''.join(b'X-%d: y\r\n' % i for i in range(200)) + b'\r\n'),
 ('t80 host-mismatch', T80, b'GET http://evil.test/echo HTTP/1.1\r\nHost: allowed.test\r\n\r\n'),
 ('t80 nohost', T80, b'GET /echo HTTP/1.0\r\n\r\n'),
 ('t80 connect', T80, b'CONNECT allowed.test:@SP@ HTTP/1.1\r\n\r\n'),
 ('t443 hello-trunc', T443, hello('allowed.test', trunc=30)),
 ('t443 hello-nosni', T443, hello()),
 ('t443 hello-sni-empty', T443, hello('')),
 ('t443 hello-sni-nul', T443, hello('allowed.test\x00evil')),
 ('t443 hello-sni-300', T443, hello('c' * 300)),
 ('t443 hello-sni-16k', T443, hello('d' * 16000)),
 ('t443 hello-sni-dots', T443, hello('..')),
 ('t443 hello-sni-ip', T443, hello('127.0.0.1')),
 ('t443 hello-sni-upper-dot', T443, hello('ALLOWED.TEST.')),
 ('t443 hello-bad-sni-ext', T443, hello(raw_ext=struct.pack('>HH', 0, 5) + b'\x00\x03\x00\xff\xff')),
 ('t443 record-lie', T443, b'\x16\x03\x01\x40\x00' + b'\x01\x00\x3f\xfc' + b'\x00' * 100),
 ('t443 http-on-443', T443, b'GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n'),
 ('t443 sslv2', T443, b'\x80\x2e\x01\x00\x02\x00\x15' + b'\x00' * 40),
 ('t443 tiny', T443, b'\x16'),
]
for name, addr, data in probes:
    t = time.time()
    try:
        r = xchg(addr, data.replace(b'@HP@', str(HP).encode()).replace(b'@SP@', str(SP).encode()), wait=1)
    except Exception as e:
        r = 'error %s' % e
    print(name, r.strip() if r.isprintable() else 'binary', flush=True)
try:
    print('normal', normal(), flush=True)
except Exception as e:
    print('normal error', e, flush=True)
