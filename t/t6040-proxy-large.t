#!/bin/sh
test_description='the proxy streams: a 1 GiB HTTPS download through leash arrives whole while leash'"'"'s memory stays flat'
. "$(dirname "$0")/test-lib.sh"

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

"$TEST_DIRECTORY/proxy/mkcerts.sh" certs >/dev/null 2>&1
PORT=$(free_port)
python3 "$TEST_DIRECTORY/proxy/upstream.py" $PORT certs/server.pem certs/server.key >up.out 2>&1 &
UP=$!
trap 'kill $UP 2>/dev/null' EXIT
for i in $(seq 50); do grep -q ready up.out && break; sleep 0.1; done
printf '127.0.0.1 localhost\n127.0.0.1 allowed.test\n' >hosts
cat >policy.cedar <<EOF2
@id("all-files")
permit (principal, action in [Action::"FileOpen", Action::"ProcessExec"], resource);
@id("allowed")
permit (principal, action == Action::"NetworkConnect", resource in Host::"allowed.test");
EOF2

GiB=1073741824
# rss PID: resident KiB of PID, or nothing once it is gone.
rss() {
	awk '/^VmRSS:/ { print $2 }' /proc/$1/status 2>/dev/null
}

test_expect_success SESSION,PYTHON3,SQLITE3 '1 GiB over HTTPS (transparent, intercepted): every byte arrives, leash grows by less than 64 MiB' '
	# Under make check, the ASan quarantine would hold freed buffers and
	# hide whether the memory of the proxy stays flat: turn it off.
	ASAN_OPTIONS=quarantine_size_mb=0:thread_local_quarantine_size_kb=0 \
	"$LEASH" --db "$DB" -q --mode enforce --policy policy.cedar --listen "" \
		--upstream-ca certs/ca.pem --proxy-ports 80,443,$PORT --resolve allowed.test=127.0.0.1 \
		-v "$TRASH/hosts:/etc/hosts:ro" -- \
		sh -c "sleep 1; curl -sS --noproxy \"*\" -o /dev/null -w \"%{http_code} %{size_download}\" https://allowed.test:$PORT/big?n=$GiB" >out 2>leash.err &
	LP=$! &&
	sleep 0.7 && base=$(rss $LP) && max=$base &&
	while kill -0 $LP 2>/dev/null; do
		r=$(rss $LP) && test -n "$r" && test "$r" -gt "$max" && max=$r
		sleep 0.1
	done &&
	wait $LP &&
	test_eq "200 $GiB" "$(cat out)" &&
	echo "leash RSS: $base KiB before, $max KiB at most" &&
	test $((max - base)) -lt 65536 &&
	test_eq "200|$GiB" "$(sql "SELECT json_extract(details, \"\$.status\") || \"|\" || json_extract(details, \"\$.bytes_in\") FROM events WHERE kind = \"http.request\" ORDER BY seq DESC LIMIT 1")"
'

test_done
