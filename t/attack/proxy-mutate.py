"""proxy-mutate.py SEED SECS HTTP_PORT HTTPS_PORT: randomly mutated request
heads (bytes replaced, cut, duplicated; CR, LF, NUL, colons, a second
Content-Length or Transfer-Encoding, a foreign Host inserted) to the
explicit proxy and transparently to HTTP_PORT, and mutated ClientHellos
(a real one from Python's ssl) transparently to HTTPS_PORT and inside a
CONNECT; then a CONNECT + GET to allowed.test: "sent N", "final STATUS"."""
import os, random, socket, ssl, struct, sys, time
random.seed(int(sys.argv[1])); SECS = float(sys.argv[2]); HP, SP = int(sys.argv[3]), int(sys.argv[4])
P = os.environ['HTTP_PROXY'][7:]; PH, PP = P.rsplit(':', 1); PP = int(PP)
# a real ClientHello from Python's ssl, captured via a memory BIO
ctx = ssl.create_default_context(); inb, outb = ssl.MemoryBIO(), ssl.MemoryBIO()
o = ctx.wrap_bio(inb, outb, server_hostname='allowed.test')
try: o.do_handshake()
except ssl.SSLWantReadError: pass
HELLO = outb.read()
HEADS = [b'GET http://allowed.test:%d/echo HTTP/1.1\r\nHost: allowed.test:%d\r\n\r\n' % (HP, HP),
         b'POST http://allowed.test:%d/echo HTTP/1.1\r\nHost: allowed.test:%d\r\nContent-Length: 5\r\n\r\nhello' % (HP, HP),
         b'POST http://allowed.test:%d/echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n' % HP,
         b'CONNECT allowed.test:%d HTTP/1.1\r\n\r\n' % SP,
         b'GET /echo HTTP/1.1\r\nHost: allowed.test:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n' % HP]
def mut(b):
    b = bytearray(b)
    for _ in range(random.randint(1, 6)):
        r = random.random()
        if r < 0.4 and b: b[random.randrange(len(b))] = random.choice([0, 0x0a, 0x0d, 0x20, 0x3a, 0xff, random.randrange(256)])
        elif r < 0.55: b = b[:random.randrange(len(b) + 1)]
        elif r < 0.75:
            i = random.randrange(len(b) + 1); b[i:i] = random.choice([b'\r\n', b':', b' ', b'\x00', b'Content-Length: 3\r\n', b'Transfer-Encoding: chunked\r\n', b'Host: evil.test\r\n', b'\xff' * 50, b'a' * 3000])
        else:
            i = random.randrange(len(b) + 1); j = random.randrange(len(b) + 1); b[i:i] = b[min(i, j):max(i, j)]
    return bytes(b)
t = time.time(); n = 0
while time.time() - t < SECS:
    kind = random.random()
    try:
        if kind < 0.35: addr, data = ('127.0.0.1', SP), mut(HELLO)
        elif kind < 0.5: addr, data = (PH, PP), b'CONNECT allowed.test:%d HTTP/1.1\r\n\r\n' % SP, 
        elif kind < 0.75: addr, data = (PH, PP), mut(random.choice(HEADS))
        else: addr, data = ('127.0.0.1', HP), mut(random.choice(HEADS)).replace(b'http://allowed.test:%d' % HP, b'', 1)
        if isinstance(data, tuple): data = data[0]
        s = socket.create_connection(addr, timeout=0.3)
        s.sendall(data)
        if kind >= 0.35 and kind < 0.5:
            s.recv(4096); s.sendall(mut(HELLO))
        try: s.recv(65536)
        except OSError: pass
        s.close()
    except OSError: pass
    n += 1
print('sent', n, flush=True)
ctx = ssl.create_default_context(); s = socket.create_connection((PH, PP), timeout=10)
s.sendall(b'CONNECT allowed.test:%d HTTP/1.1\r\n\r\n' % SP); s.recv(4096)
t = ctx.wrap_socket(s, server_hostname='allowed.test'); t.sendall(b'GET /echo HTTP/1.1\r\nHost: allowed.test\r\nConnection: close\r\n\r\n')
print('final', t.recv(100).split(b'\r\n')[0].decode())
