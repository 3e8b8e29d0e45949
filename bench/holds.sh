#!/usr/bin/env bash
# Holds per second against a running concertd: creates concerts of 5000 seats, issues active
# tokens, then lets wrk hold a different seat with every request.
# Usage: [METRICS_URLS="http://a http://b"] [WRK_EXTRA="--latency"] bench/holds.sh URL ADMIN_KEY [duration_s] [connections]
# (the servers need --max-active >= 200 and --max-holds-per-user 1000000)
set -euo pipefail
url=${1:?url}; key=${2:?admin key}; duration=${3:-5}; conns=${4:-64}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
concerts=()
for i in $(seq 1 $((duration * 6))); do  # 30,000 seats per second of run: never runs out
  id=$(curl -sf -X POST "$url/api/admin/concerts" -H "X-Admin-Key: $key" \
        -d '{"title":"bench","venue":"hall","date":"2030-01-01","seatCount":5000,"price":50000}' |
       python3 -c 'import json,sys; print(json.load(sys.stdin)["concertId"])')
  concerts+=("$id")
done
for i in $(seq 1 200); do
  curl -sf -X POST "$url/api/queue/token" -d "{\"userId\":\"bench-$RANDOM-$i\"}" |
    python3 -c 'import json,sys; b=json.load(sys.stdin); assert b["status"]=="active", b; print(b["token"])'
done > "$dir/tokens.txt"
# Holds are counted by the servers (201s only): METRICS_URLS lists every instance behind $url.
holds_total() {
  local sum=0
  for m in ${METRICS_URLS:-$url}; do
    sum=$((sum + $(curl -sf "$m/metrics" | awk '$1 == "concertd_holds_total" {print $2}')))
  done
  echo "$sum"
}
before=$(holds_total)
TOKENS="$dir/tokens.txt" CONCERTS=$(IFS=,; echo "${concerts[*]}") SEATS=5000 \
  wrk ${WRK_EXTRA:-} -t1 -c"$conns" -d"${duration}s" -s "$(dirname "$0")/holds.lua" "$url"
after=$(holds_total)
echo "holds taken (201): $((after - before)) in ${duration}s = $(( (after - before) / duration )) holds/s"
