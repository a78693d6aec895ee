#!/usr/bin/env python3
"""check-stream.py FILE WHAT: checks what ws-client.js printed.

  order      hello first; then its "backlog" events, all at or below the
             hello's last_seq; every event's seq strictly above the one
             before; at least one live event (above last_seq) naming
             /usr/bin/true. Prints how many processes ran true (live events).
  heartbeat  at least two heartbeats, each with last_seq, uptime_s, mode
             and dropped = 0
  dropped    the client was told it lost events (a "dropped" frame or a
             heartbeat with dropped > 0), and what it got is still in order.
             Prints the dropped count.
"""
import json
import sys

frames = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
what = sys.argv[2]
events = [f for f in frames if "seq" in f]


def in_order():
    seqs = [e["seq"] for e in events]
    assert all(a < b for a, b in zip(seqs, seqs[1:])), "events out of order"


if what == "order":
    hello = frames[0]
    assert hello.get("type") == "hello", "first frame is not hello: %r" % hello
    n = hello["backlog"]
    assert n > 0, "empty backlog"
    assert all(e["seq"] <= hello["last_seq"] for e in events[:n]), "backlog above last_seq"
    in_order()
    live = [e for e in events[n:] if e["seq"] > hello["last_seq"]]
    trues = [e for e in live if e.get("kind") == "process.exec" and e.get("resource", "").endswith('/true"')]
    assert trues, "no live exec of true"
    print(len({e.get("pid") for e in trues}))
elif what == "heartbeat":
    beats = [f for f in frames if f.get("type") == "heartbeat"]
    assert len(beats) >= 2, "fewer than 2 heartbeats"
    for b in beats:
        assert b["dropped"] == 0 and b["mode"] and "last_seq" in b and "uptime_s" in b
    print(len(beats))
elif what == "dropped":
    told = [f["dropped"] for f in frames if f.get("type") in ("dropped", "heartbeat")]
    assert told and max(told) > 0, "not told of any drop"
    in_order()
    print(max(told))
else:
    sys.exit("unknown check " + what)
