"""dns-udp.py NAME: malformed DNS datagrams to port 53 (leash's forwarder
takes them whatever the address), one per line "probe result", then a real
A query for NAME: "final rcode R answers N"."""
import socket, struct, sys

A = ('127.3.2.1', 53)


def hdr(id=0x1111, flags=0x0100, qd=1, an=0, ns=0, ar=0):
    return struct.pack('>HHHHHH', id, flags, qd, an, ns, ar)


def qname(n):
    return b''.join(bytes([len(l)]) + l.encode() for l in n.split('.')) + b'\0'


NAME = sys.argv[1]
A_IN = struct.pack('>HH', 1, 1)
Q = qname(NAME) + A_IN
probes = [
    ('qdcount-0', hdr(qd=0)),
    ('qdcount-65535', hdr(qd=65535) + Q),
    ('qdcount-2', hdr(qd=2) + Q + Q),
    ('ancount-65535', hdr(an=65535, ns=65535, ar=65535) + Q),
    ('pointer-to-itself', hdr() + b'\xc0\x0c' + A_IN),
    ('pointer-loop', hdr() + b'\x01a\xc0\x0c' + A_IN),
    ('pointer-past-end', hdr() + b'\xc0\xff' + A_IN),
    ('label-64', hdr() + b'\x40' + b'a' * 64 + b'\0' + A_IN),
    ('name-320', hdr() + (b'\x3f' + b'a' * 63) * 5 + b'\0' + A_IN),
    ('name-truncated', hdr() + b'\x3fabc'),
    ('type-truncated', hdr() + qname(NAME) + b'\x00'),
    ('a-response', hdr(flags=0x8180) + Q),
    ('opcode-15', hdr(flags=0x7800) + Q),
    ('type-any', hdr() + qname(NAME) + struct.pack('>HH', 255, 1)),
    ('class-any', hdr() + qname(NAME) + struct.pack('>HH', 1, 255)),
    ('nul-in-label', hdr() + b'\x03g\x00t\x04test\x00' + A_IN),
    ('byte-255-in-label', hdr() + b'\x03g\xfft\x04test\x00' + A_IN),
    ('root-name', hdr() + b'\x00' + A_IN),
    ('127-labels', hdr() + b'\x01a' * 127 + b'\0' + A_IN),
    ('60k-datagram', hdr() + Q + b'\0' * 60000),
    ('edns-opt', hdr(ar=1) + Q + b'\x00' + struct.pack('>HHIH', 41, 65535, 0, 0)),
]
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(0.3)
for name, p in probes:
    u.sendto(p, A)
    try:
        r = u.recv(70000)
        print(name, 'rcode', r[3] & 15)
    except socket.timeout:
        print(name, 'dropped')
u.settimeout(5)
u.sendto(hdr(id=0x4321) + Q, A)
r = u.recv(512)
print('final rcode', r[3] & 15, 'answers', struct.unpack('>H', r[6:8])[0])
