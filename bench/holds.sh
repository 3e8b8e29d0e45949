#!/usr/bin/env bash
# Holds per second against a running concertd: creates concerts of 5000 seats, issues active
# tokens, then lets wrk hold a different seat with every request.
# Usage: bench/holds.sh URL ADMIN_KEY [duration_s] [connections]   (needs --max-active >= 200 and
# --max-holds-per-user 1000000 on the server)
set -euo pipefail
url=${1:?url}; key=${2:?admin key}; duration=${3:-5}; conns=${4:-64}
dir=$(mktemp -d)
concerts=()
for i in $(seq 1 12); do
  id=$(curl -sf -X POST "$url/api/admin/concerts" -H "X-Admin-Key: $key" \
        -d '{"title":"bench","venue":"hall","date":"2030-01-01","seatCount":5000,"price":50000}' |
       python3 -c 'import json,sys; print(json.load(sys.stdin)["concertId"])')
  concerts+=("$id")
done
for i in $(seq 1 200); do
  curl -sf -X POST "$url/api/queue/token" -d "{\"userId\":\"bench-$RANDOM-$i\"}" |
    python3 -c 'import json,sys; b=json.load(sys.stdin); assert b["status"]=="active", b; print(b["token"])'
done > "$dir/tokens.txt"
TOKENS="$dir/tokens.txt" CONCERTS=$(IFS=,; echo "${concerts[*]}") SEATS=5000 \
  wrk -t1 -c"$conns" -d"${duration}s" -s "$(dirname "$0")/holds.lua" "$url"
rm -rf "$dir"
