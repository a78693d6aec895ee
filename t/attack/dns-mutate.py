"""dns-mutate.py SEED SECS: queries to port 53 mutated at random (bytes
replaced, cut, inserted, header counts set to 0/1/2/255/65535, compression
pointers appended), over UDP and now and then framed over TCP; then a real
A query for git.test (three tries): "sent N answers M", "final rcode R answers N"."""
import random, socket, struct, sys, time
random.seed(int(sys.argv[1])); SECS = float(sys.argv[2])
A = ('127.3.2.1', 53)
def q(name, qt=1):
    return struct.pack('>HHHHHH', random.randint(0, 65535), 0x0100, 1, 0, 0, 0) + b''.join(bytes([len(l)]) + l.encode() for l in name.split('.')) + b'\0' + struct.pack('>HH', qt, 1)
def mut(b):
    b = bytearray(b)
    for _ in range(random.randint(1, 8)):
        r = random.random()
        if r < 0.4 and b: b[random.randrange(len(b))] = random.randrange(256)
        elif r < 0.55: b = b[:random.randrange(len(b) + 1)]
        elif r < 0.7: b[random.randrange(len(b) + 1):random.randrange(len(b) + 1)] = bytes(random.randrange(256) for _ in range(random.randint(1, 20)))
        elif r < 0.8 and len(b) >= 12: b[4 + 2 * random.randrange(4):6 + 2 * random.randrange(4)] = struct.pack('>H', random.choice([0, 1, 2, 255, 65535]))
        elif r < 0.9: b += b'\xc0' + bytes([random.randrange(256)])
        else: b += bytes(random.randrange(256) for _ in range(random.randint(1, 300)))
    return bytes(b)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.setblocking(False)
t = time.time(); n = 0; ans = 0
while time.time() - t < SECS:
    u.sendto(mut(q(random.choice(['git.test', 'a.git.test', 'evil.test', 'x' * 60 + '.git.test']), random.choice([1, 28, 12, 255]))), A)
    n += 1
    if n % 50 == 0:
        time.sleep(0.002)
        try:
            while True: u.recv(70000); ans += 1
        except BlockingIOError: pass
    if n % 500 == 0:
        try:
            s = socket.create_connection(A, timeout=1); m = mut(q('git.test'))
            s.sendall(struct.pack('>H', len(m) & 0xffff) + m if random.random() < 0.8 else mut(struct.pack('>H', len(m)) + m)); s.close()
        except OSError: pass
print('sent', n, 'answers', ans)
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.settimeout(3)
for _ in range(3):
    c.sendto(struct.pack('>HHHHHH', 0x4321, 0x0100, 1, 0, 0, 0) + b'\x03git\x04test\x00\x00\x01\x00\x01', A)
    try:
        r = c.recv(512); print('final rcode', r[3] & 15, 'answers', struct.unpack('>H', r[6:8])[0]); break
    except socket.timeout: pass
