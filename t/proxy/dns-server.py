#!/usr/bin/env python3
"""dns-server.py PORT [--log FILE] NAME=ADDR[,ADDR...][/TTL] ...: a test DNS server.

Answers A (IPv4 addresses) and AAAA (IPv6 ones) for the names given, with
TTL (default 300); a known name with no address of the asked family gets an
empty NOERROR; any other name gets NXDOMAIN. UDP on 127.0.0.1:PORT. Every
question is appended to --log as "NAME TYPE" (to prove what was asked).
Prints "ready" once listening.
"""
import ipaddress, socket, struct, sys

args = sys.argv[1:]
logf = None
if '--log' in args:
    i = args.index('--log'); logf = args[i + 1]; del args[i:i + 2]
port = int(args[0])
zone = {}
for spec in args[1:]:
    name, rest = spec.split('=', 1)
    ttl = 300
    if '/' in rest:
        rest, t = rest.rsplit('/', 1); ttl = int(t)
    zone[name.lower()] = ([ipaddress.ip_address(a) for a in rest.split(',') if a], ttl)


def qname(msg, off):
    labels = []
    while msg[off]:
        n = msg[off]
        labels.append(msg[off + 1:off + 1 + n].decode())
        off += 1 + n
    return '.'.join(labels), off + 1


def answer(msg):
    qid, flags, qd = struct.unpack('>HHH', msg[:6])
    name, end = qname(msg, 12)
    qtype, qclass = struct.unpack('>HH', msg[end:end + 4])
    question = msg[12:end + 4]
    if logf:
        with open(logf, 'a') as f:
            f.write('%s %d\n' % (name.lower(), qtype))
    rr = []
    rcode = 0
    if name.lower() not in zone:
        rcode = 3
    else:
        addrs, ttl = zone[name.lower()]
        for a in addrs:
            if (qtype == 1 and a.version == 4) or (qtype == 28 and a.version == 6):
                rr.append(b'\xc0\x0c' + struct.pack('>HHIH', qtype, 1, ttl, len(a.packed)) + a.packed)
    head = struct.pack('>HHHHHH', qid, 0x8180 | rcode, 1, len(rr), 0, 0)
    return head + question + b''.join(rr)


s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('127.0.0.1', port))
print('ready', flush=True)
while True:
    msg, peer = s.recvfrom(4096)
    try:
        s.sendto(answer(msg), peer)
    except Exception as e:  # a malformed query: no answer
        print('bad query:', e, file=sys.stderr, flush=True)
