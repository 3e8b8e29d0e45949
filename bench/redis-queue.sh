#!/usr/bin/env bash
# What one Redis holds for the waiting line (docs/scaling.md): loads N waiting tokens the way
# src/adapters/redis/scripts/issue.lua stores them, then times with redis-benchmark (50 clients,
# without pipelining and with pipelines of 16) find.lua with the poll flag and stats.lua (the two
# scripts a status poll used to run) and find.lua with flag 2 (the one script it runs now); lib.lua
# prepended, as the coordinator does.
# Usage: bench/redis-queue.sh [tokens (1000000)] [requests per run (400000)]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
scripts=$here/../src/adapters/redis/scripts
n=${1:-1000000}
requests=${2:-400000}
dir=$(mktemp -d /tmp/concertd-redis-queue.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" >"$dir/log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
cli() { redis-cli -p "$port" "$@"; }

now=$(($(date +%s) * 1000))
used0=$(cli info memory | awk -F: '/^used_memory:/ {print $2+0}')
# ids are 12-digit numbers, the form of redis-benchmark's __rand_int__ (real tokens are 44
# characters, 12 of time and 32 of base64url: this undercounts memory by about 32 bytes per token
# and key).
chunk=100000
for ((start = 0; start < n; start += chunk)); do
  cli eval "
    local now = ARGV[1]
    for i = tonumber(ARGV[2]), tonumber(ARGV[3]) - 1 do
      local id = string.format('%012d', i)
      redis.call('HSET', 'q:tok:' .. id, 'user', 'fan-' .. i, 'seq', i + 1, 'state', 'w', 'issued', now, 'poll', now)
      redis.call('SET', 'q:user:fan-' .. i, id)
      redis.call('ZADD', 'q:waiting', i + 1, id)
      redis.call('ZADD', 'q:idle', now, id)
    end
    return 1" 0 "$now" "$start" "$((start + chunk < n ? start + chunk : n))" >/dev/null
done
cli set q:seq "$n" >/dev/null
used1=$(cli info memory | awk -F: '/^used_memory:/ {print $2+0}')
echo "tokens: $(cli zcard q:waiting) waiting; Redis used_memory +$(((used1 - used0) / 1048576)) MB ($(((used1 - used0) / n)) bytes per token)"

find_sha=$(cat "$scripts/lib.lua" "$scripts/find.lua" | cli -x script load)
stats_sha=$(cat "$scripts/lib.lua" "$scripts/stats.lua" | cli -x script load)
# ARGV: the shared arguments by name (shared_args() in redis_coordinator.cpp), then the script's own.
common=(9 now "$now" max_active 100 active_ttl 600000 idle_ttl 300000 grace 300000 paused 0 admit_per_minute 0
  opens_at -1 opened_for -1)
echo "check: find -> $(cli evalsha "$find_sha" 0 "${common[@]}" "$(printf %012d $((n / 2)))" 1 | tr '\n' ' ')"
for pipeline in 1 16; do
  redis-benchmark -p "$port" -c 50 -n "$requests" -r "$n" -P "$pipeline" -q \
    evalsha "$find_sha" 0 "${common[@]}" __rand_int__ 1 | tr '\r' '\n' | grep -v '^$' | tail -1 |
    sed "s/^[^:]*:/find.lua (a status poll's lookup, ZRANK + idle ZADD), pipeline $pipeline:/"
  redis-benchmark -p "$port" -c 50 -n "$requests" -P "$pipeline" -q \
    evalsha "$stats_sha" 0 "${common[@]}" | tr '\r' '\n' | grep -v '^$' | tail -1 |
    sed "s/^[^:]*:/stats.lua (ZCARD x2 + ZCOUNT), pipeline $pipeline:/"
  # What a status poll costs since it is one script: find.lua with flag 2 adds the line's counts.
  redis-benchmark -p "$port" -c 50 -n "$requests" -r "$n" -P "$pipeline" -q \
    evalsha "$find_sha" 0 "${common[@]}" __rand_int__ 2 | tr '\r' '\n' | grep -v '^$' | tail -1 |
    sed "s/^[^:]*:/find.lua flag 2 (a whole status poll: lookup + counts), pipeline $pipeline:/"
done
