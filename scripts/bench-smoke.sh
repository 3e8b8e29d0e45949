#!/usr/bin/env bash
# `make bench-smoke`: a small ticket-opening rush against a fresh server, then an opening of a
# 2,000-fan pre-queue on it. Passes when the bench
# exits 0, its invariants hold, all 50 seats were bought and every other fan was told sold out.
# Usage: scripts/bench-smoke.sh [build dir]
set -euo pipefail
build=${1:-build}
bin="$build/concertd"
tmp=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# A free port from the kernel (released just before the server binds it).
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
"$bin" serve --host 127.0.0.1 --port "$port" --data-dir "$tmp/data" --no-demo --max-active 5 \
  --admin-key smoke-key >"$tmp/server.log" 2>&1 &
server_pid=$!

# Up within 10 s, polled every 100 ms.
deadline=$((SECONDS + 10))
until curl -sf "$url/healthz" >/dev/null 2>&1; do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "bench-smoke: the server exited at start:"; cat "$tmp/server.log"; exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "bench-smoke: no /healthz within 10 s"; cat "$tmp/server.log"; exit 1
  fi
  sleep 0.1
done

rc=0
timeout 50 "$bin" bench rush --url "$url" --admin-key smoke-key --fans 200 --arrival 0.2 --seat-count 50 \
  --poll-scale 0.2 --no-progress --json "$tmp/rush.json" --html "$tmp/rush.html" || rc=$?
if [ "$rc" -ne 0 ]; then
  echo "bench-smoke: concertd bench rush exited $rc"; exit 1
fi

/usr/bin/python3 - "$tmp/rush.json" "$tmp/rush.html" <<'PY'
import json, sys
result = json.load(open(sys.argv[1]))
html = open(sys.argv[2]).read()
inv, fans = result["invariants"], result["fans"]
problems = []
if not (inv["checked"] and inv["ok"] and inv["checks"] > 0):
    problems.append(f"invariants: {inv}")
if fans["bought"] != 50:
    problems.append(f"bought {fans['bought']} tickets, expected 50")
if fans["sold_out"] != 150 or fans["failed"] != 0:
    problems.append(f"fans: {fans}")
if result["steps"]["pay"]["ok"] != 50:
    problems.append(f"pay step: {result['steps']['pay']}")
if "<svg" not in html or "<script" in html:
    problems.append("the HTML report has no inline chart or carries a script")
if problems:
    print("bench-smoke: FAILED\n  " + "\n  ".join(problems))
    sys.exit(1)
print(f"bench-smoke: ok ({fans['bought']} bought, {fans['sold_out']} sold out, {inv['checks']} invariant checks)")
PY

# An opening of 2,000 pre-queue fans on the same server (the rush above left the line settled):
# every sampled token gets a distinct place, and the bench's invariants hold.
rc=0
timeout 60 "$bin" bench opening --url "$url" --admin-key smoke-key --fans 2000 --no-progress \
  --json "$tmp/opening.json" >"$tmp/opening.txt" 2>&1 || rc=$?
if [ "$rc" -ne 0 ]; then
  cat "$tmp/opening.txt"; echo "bench-smoke: concertd bench opening exited $rc"; exit 1
fi
head -n 2 "$tmp/opening.txt"
echo "bench-smoke: opening ok"
