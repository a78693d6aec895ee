"""hold.py HOST PORT N SECS: opens N TCP connections to HOST:PORT, sends
nothing, holds them SECS; prints "held N" then "open N" (those leash did
not close)."""
import resource, socket, sys, time

h = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (h, h))
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
held = []
for i in range(n):
    try:
        held.append(socket.create_connection((host, port), timeout=2))
    except OSError:
        pass
print('held', len(held), flush=True)
time.sleep(float(sys.argv[4]))
open_ = 0
for s in held:
    s.setblocking(False)
    try:
        open_ += s.recv(1) != b''
    except BlockingIOError:
        open_ += 1
    except OSError:
        pass
print('open', open_, flush=True)
