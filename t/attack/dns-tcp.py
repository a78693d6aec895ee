"""dns-tcp.py MODE ...: DNS over TCP port 53 the way a client should not.
  odd NAME      odd frames, one connection each: "probe answers N"
  unread SECS   queries as fast as leash takes them, never reading the
                answers: "sent MB N" """
import socket, struct, sys, time

A = ('127.3.2.1', 53)


def q(name, id=0x1111, qtype=1):
    m = struct.pack('>HHHHHH', id, 0x0100, 1, 0, 0, 0) + b''.join(
        bytes([len(l)]) + l.encode() for l in name.split('.')) + b'\0' + struct.pack('>HH', qtype, 1)
    return struct.pack('>H', len(m)) + m


mode = sys.argv[1]
if mode == 'unread':
    s = socket.create_connection(A)
    s.setblocking(False)
    blob = b''.join(q('x%d.%s' % (i, 'a' * 50), i & 0xffff) for i in range(2000))
    sent, off, t = 0, 0, time.time()
    while time.time() - t < float(sys.argv[2]):
        try:
            k = s.send(blob[off:])
            sent += k
            off = (off + k) % len(blob)
        except BlockingIOError:
            time.sleep(0.005)
    print('sent MB', sent >> 20)
elif mode == 'odd':
    name = sys.argv[2]
    for probe, data in [('length-0', b'\x00\x00'), ('length-65535', b'\xff\xff' + b'a' * 100),
                        ('half-a-frame', q(name)[:7]), ('runt', b'\x00\x05abcde'),
                        ('qdcount-0', b'\x00\x0c' + struct.pack('>HHHHHH', 1, 0x100, 0, 0, 0, 0)),
                        ('byte-by-byte', None),
                        ('50-pipelined', b''.join(q(name, i) for i in range(50)))]:
        s = socket.create_connection(A, timeout=1)
        if data is None:
            for b in q(name):
                s.send(bytes([b]))
                time.sleep(0.01)
        else:
            s.sendall(data)
        r = b''
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    break
                r += d
        except (socket.timeout, ConnectionResetError):
            pass
        n = off = 0
        while off + 2 <= len(r):
            off += 2 + struct.unpack('>H', r[off:off + 2])[0]
            n += 1
        print(probe, 'answers', n)
