#!/usr/bin/env python3
"""paginate.py BASE TOKEN: walks GET /api/events with cursor pagination.

Asserts every page is newest first and no event comes twice; prints the
first (highest) seq, the number of events, and how many distinct files under
many/ (t4000's 10,000) had a file.open event.
"""
import json
import re
import sys
import urllib.request

base, token = sys.argv[1], sys.argv[2]
seen, first, last, many, pages = set(), None, None, set(), 0
cursor = None
while True:
    url = base + "/api/events?limit=1000" + ("&before=" + cursor if cursor else "")
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
    page = json.load(urllib.request.urlopen(req, timeout=30))
    pages += 1
    for ev in page["events"]:
        seq = ev["seq"]
        assert seq not in seen, "seq %d twice" % seq
        assert last is None or seq < last, "seq %d after %d" % (seq, last)
        seen.add(seq)
        last = seq
        first = seq if first is None else first
        m = re.search(r'/many/(\d+)"$', ev.get("resource", ""))
        if ev["kind"] == "file.open" and m:
            many.add(m.group(1))
    cursor = page["next"]
    if cursor is None:
        break
    assert pages < 1000, "too many pages"
print(first)
print(len(seen))
print(len(many))
