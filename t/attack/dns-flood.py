"""dns-flood.py N DOMAIN: N A queries for distinct names under DOMAIN, as
fast as the socket takes them, answers unread; then one for DOMAIN
itself (three tries): "final rcode R answers N" (or "final timeout")."""
import socket, struct, sys, time

A = ('127.3.2.1', 53)


def q(name, id):
    return struct.pack('>HHHHHH', id, 0x0100, 1, 0, 0, 0) + b''.join(
        bytes([len(l)]) + l.encode() for l in name.split('.')) + b'\0' + struct.pack('>HH', 1, 1)


n, dom = int(sys.argv[1]), sys.argv[2]
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(n):
    u.sendto(q('h%d.%s' % (i, dom), i & 0xffff), A)
    if i % 200 == 199:
        time.sleep(0.01)  # within the socket buffers: every query arrives
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.settimeout(3)
for attempt in range(3):  # as resolvers do: leash's socket buffer may be full
    c.sendto(q(dom, 0x4321), A)
    try:
        r = c.recv(512)
        print('final rcode', r[3] & 15, 'answers', struct.unpack('>H', r[6:8])[0])
        break
    except socket.timeout:
        pass
else:
    print('final timeout')
