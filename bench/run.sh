#!/usr/bin/env bash
# make bench: concertd against same-run references, as ratios (see docs/scaling.md).
#   reads and token issue  vs nginx (1 worker) serving a fixed reply of the same byte size, wrk -t1 -c64;
#   holds and payments     vs pgbench on the same PostgreSQL 15 (1-row UPDATE; 2 UPDATE + INSERT);
#   p99 at half of each endpoint's peak; RSS growth with BENCH_WAITING waiting tokens;
#   CPU per hold, payment and pgbench transaction, split between concertd, PostgreSQL, Redis and
#   the rest (runs of at least 6 s).
# Everything it needs (nginx, concertd, PostgreSQL, Redis) is started here on free loopback ports
# in temporary directories and stopped at exit. Output: the table on stdout and in
# bench/results/<UTC date>-<hostname>[-n].md, raw numbers in the .json next to it.
#
# Environment:
#   CONCERTD           server binary (default build/concertd); the `concertd bench` steps need a
#                      binary with the bench subcommand, else they fall back to wrk stand-ins or
#                      are reported as n/a
#   BENCH_DURATION     seconds per run (10)       BENCH_REPEAT   runs per measurement, medians (3)
#   BENCH_WAITING      waiting tokens for the RSS row (1000000; 0 skips)
#   BENCH_DISTRIBUTED  1: also PostgreSQL + Redis and pgbench (default); 0 skips
#   BENCH_CONNECTIONS  wrk / bench connections (64)   BENCH_PGBENCH_SCALE  pgbench scale (10)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
CONCERTD=${CONCERTD:-$root/build/concertd}
case $CONCERTD in /*) ;; *) CONCERTD=$PWD/$CONCERTD ;; esac
D=${BENCH_DURATION:-10}
REPEAT=${BENCH_REPEAT:-3}
WAITING=${BENCH_WAITING:-1000000}
DISTRIBUTED=${BENCH_DISTRIBUTED:-1}
CONNS=${BENCH_CONNECTIONS:-64}
PG_SCALE=${BENCH_PGBENCH_SCALE:-10}
PG_CLIENTS=32
PG_BIN=/usr/lib/postgresql/15/bin
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
ADMIN_KEY=bench-admin-key
report() { "$PY" "$here/report.py" "$@"; }

log() { echo "[bench $(date +%H:%M:%S)] $*" >&2; }
die() { echo "bench: FAILED: $*" >&2; exit 1; }

for tool in nginx wrk curl redis-server pgbench psql; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || die "$tool is missing (scripts/install-deps.sh installs it)"
done
[ -x "$CONCERTD" ] || die "no server binary at $CONCERTD (make build, or set CONCERTD)"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

# ---- temp dirs, processes, cleanup ----------------------------------------------------------
tmp=$(mktemp -d /tmp/concertd-bench.XXXXXX)
pgdir=""
pids=()
pg_running=0
cleanup() {
  local rc=$?
  set +e
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  if [ "$pg_running" = 1 ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$pgdir/data" -m immediate -w stop >/dev/null 2>&1
  fi
  [ -n "$pgdir" ] && rm -rf "$pgdir"
  rm -rf "$tmp"
  [ "$rc" -ne 0 ] && echo "bench: exit $rc (every process it started is stopped, temp dirs removed)" >&2
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget_pid() {
  local keep=() p
  for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  pids=("${keep[@]}")
}
stop_pid() {
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  forget_pid "$1"
}
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() {  # url pid logfile
  for _ in $(seq 1 300); do
    kill -0 "$2" 2>/dev/null || { tail -n 30 "$3" >&2; die "process $2 exited while starting ($3)"; }
    curl -sf -o /dev/null "$1" && return 0
    sleep 0.1
  done
  tail -n 30 "$3" >&2
  die "$1 did not answer within 30 s"
}
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

raw=$tmp/raw.tsv
: >"$raw"
record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$raw"; }
note() { printf 'note\t%s\t%s\n' "$1" "$2" >>"$raw"; }

if [ "$(stat -f -c %T "$tmp")" = tmpfs ]; then
  note info.tmpfs "WARNING: $tmp is on tmpfs: fsync costs nothing there, the durable figures are not"
fi

has_bench=0
if "$CONCERTD" bench --help 2>&1 | grep -q "load generator"; then
  has_bench=1
else
  log "NOTE: $CONCERTD has no 'bench' subcommand: holds use the wrk stand-in (bench/holds.sh), p99 at half"
  log "      peak uses paced wrk, payments and the waiting-token row are n/a. Point CONCERTD at a binary"
  log "      that has it (CONCERTD=/path/to/concertd make bench) for the real figures."
  note info.bench_tool "$CONCERTD has no bench subcommand: stand-ins used where marked, the rest n/a"
fi

# ---- concertd --------------------------------------------------------------------------------
cd_n=0
start_concertd() {  # flags...; sets CD_URL CD_PID CD_LOG
  local port dir
  port=$(free_port)
  cd_n=$((cd_n + 1))
  dir=$tmp/concertd-$cd_n
  mkdir -p "$dir/data"
  "$CONCERTD" serve --host 127.0.0.1 --port "$port" --data-dir "$dir/data" --admin-key "$ADMIN_KEY" \
    --no-demo "$@" >"$dir/log" 2>&1 &
  CD_PID=$!
  pids+=("$CD_PID")
  CD_URL=http://127.0.0.1:$port
  CD_LOG=$dir/log
  wait_http "$CD_URL/healthz" "$CD_PID" "$CD_LOG"
}
stop_concertd() { stop_pid "$CD_PID"; }
json_field() { "$PY" -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }
new_concert() {  # seat count -> concert id
  curl -sf -X POST "$CD_URL/api/admin/concerts" -H "X-Admin-Key: $ADMIN_KEY" \
    -d "{\"title\":\"bench\",\"venue\":\"hall\",\"date\":\"2030-01-01\",\"seatCount\":$1,\"price\":50000}" |
    json_field concertId
}
new_token() {  # user -> token
  curl -sf -X POST "$CD_URL/api/queue/token" -d "{\"userId\":\"$1\"}" | json_field token
}
# The read/token server: one slot, taken for a day, so that a second token waits all run long.
READ_FLAGS=(--max-active 1 --active-ttl 86400)
# A new active token every few holds (bench holds: 4, payments: 10), never more live holds per user.
HOLD_FLAGS=(--max-active 1000000 --max-holds-per-user 10)
setup_read_server() {  # [more flags]; sets WAITING_TOKEN CONCERT
  start_concertd "${READ_FLAGS[@]}" "$@"
  new_token bench-active >/dev/null
  WAITING_TOKEN=$(new_token bench-waiting)
  curl -sf -H "Authorization: Bearer $WAITING_TOKEN" "$CD_URL/api/queue/status" | grep -q '"status":"waiting"' ||
    die "the second token is not waiting"
  CONCERT=$(new_concert 50)
}

# ---- wrk -------------------------------------------------------------------------------------
wrk_n=0
run_wrk() {  # metric repeat url [wrk args...]: records <metric>.rps and .p99_wrk
  local metric=$1 rep=$2 url=$3 out
  shift 3
  wrk_n=$((wrk_n + 1))
  out=$tmp/wrk-$wrk_n-$metric.txt
  timeout $((D + 60)) wrk -t1 -c"$CONNS" -d"${D}s" --latency "$@" "$url" >"$out" 2>&1 ||
    { cat "$out" >&2; die "wrk on $url"; }
  local rps p50 p99 reqs non2xx errs
  read -r rps p50 p99 reqs non2xx errs < <(report wrk "$out")
  if [ "$non2xx" != 0 ] || [ "$errs" != 0 ]; then
    cat "$out" >&2
    die "$metric: $non2xx non-2xx replies, $errs socket errors of $reqs requests"
  fi
  record "$metric.rps" "$rep" "$rps"
  record "$metric.p99_wrk_ms" "$rep" "$p99"
  log "$metric: $(printf '%.0f' "$rps") req/s, p99 $p99 ms (wrk, closed loop)"
}

# ---- concertd bench (the load generator, when the binary has it) ------------------------------
bench_n=0
run_bench() {  # scenario url [options...]: prints the JSON file
  local scenario=$1 url=$2 out
  shift 2
  bench_n=$((bench_n + 1))
  out=$tmp/bench-$bench_n-$scenario.json
  if ! timeout $((D + ${BENCH_TOOL_SLACK:-300})) "$CONCERTD" bench "$scenario" --url "$url" --admin-key "$ADMIN_KEY" \
      --concurrency "$CONNS" --duration "$D" --no-progress --json "$out" "$@" >"$out.log" 2>&1; then
    cat "$out.log" >&2
    die "concertd bench $scenario $* (exit non-zero: a failed run or a broken invariant)"
  fi
  echo "$out"
}

# ---- nginx -----------------------------------------------------------------------------------
nginx_escape() { sed -e 's/\\/\\\\/g' -e "s/'/\\\\'/g" -e 's/\$/_/g' "$1"; }
start_nginx() {  # status-body seats-body token-body; sets NGINX_URL
  local port ndir
  port=$(free_port)
  ndir=$tmp/nginx
  mkdir -p "$ndir"
  cat >"$ndir/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $ndir/nginx.pid;
error_log $ndir/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000000;
  keepalive_timeout 300s;
  client_body_temp_path $ndir/body;
  proxy_temp_path $ndir/proxy;
  fastcgi_temp_path $ndir/fastcgi;
  uwsgi_temp_path $ndir/uwsgi;
  scgi_temp_path $ndir/scgi;
  default_type application/json;
  server {
    listen 127.0.0.1:$port;
    location = /status { return 200 '$(nginx_escape "$1")'; }
    location = /seats { return 200 '$(nginx_escape "$2")'; }
    location = /token { return 201 '$(nginx_escape "$3")'; }
  }
}
EOF
  "$NGINX" -e "$ndir/error.log" -p "$ndir" -c "$ndir/nginx.conf" -t >/dev/null 2>&1 ||
    { "$NGINX" -e "$ndir/error.log" -p "$ndir" -c "$ndir/nginx.conf" -t; die "nginx config"; }
  "$NGINX" -e "$ndir/error.log" -p "$ndir" -c "$ndir/nginx.conf" >"$ndir/out.log" 2>&1 &
  NGINX_PID=$!
  pids+=("$NGINX_PID")
  NGINX_URL=http://127.0.0.1:$port
  wait_http "$NGINX_URL/status" "$NGINX_PID" "$ndir/error.log"
}

# ---- PostgreSQL + Redis ------------------------------------------------------------------------
start_backends() {  # sets PG_PORT REDIS_PORT
  pgdir=$(mktemp -d /tmp/concertd-bench-pg.XXXXXX)
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$pgdir"
  PG_PORT=$(free_port)
  as_pg "$PG_BIN/initdb" -D "$pgdir/data" -A trust -U postgres >"$tmp/initdb.log" 2>&1 ||
    { cat "$tmp/initdb.log" >&2; die initdb; }
  # Durable defaults (fsync, synchronous_commit, full_page_writes on): the same server settings
  # for pgbench and concertd.
  as_pg "$PG_BIN/pg_ctl" -D "$pgdir/data" -l "$pgdir/pg.log" -w -t 60 -o \
    "-p $PG_PORT -k $pgdir -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=128MB" \
    start >/dev/null || { cat "$pgdir/pg.log" >&2; die "PostgreSQL did not start"; }
  pg_running=1
  pg_postmaster=$(head -n 1 "$pgdir/data/postmaster.pid")
  local settings
  settings=$(pgsql postgres -Atc "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings
    WHERE name IN ('fsync','synchronous_commit','full_page_writes','shared_buffers','wal_level','max_connections')")
  note info.postgresql "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}'): $settings (shared_buffers in 8 kB pages)"
  REDIS_PORT=$(free_port)
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --databases 64 \
    --dir "$tmp" >"$tmp/redis.log" 2>&1 &
  REDIS_PID=$!
  pids+=("$REDIS_PID")
  for _ in $(seq 1 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 || die "redis-server did not start"
  note info.redis "Redis $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'), no persistence (the queue state is also stored in PostgreSQL)"
}
pgsql() { local db=$1; shift; psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "$db" "$@"; }
pgbench_n=0
run_pgbench() {  # metric repeat script-file
  local out
  pgbench_n=$((pgbench_n + 1))
  out=$tmp/pgbench-$pgbench_n-$1.txt
  cpu_watch ""
  timeout $((D + 120)) pgbench -h 127.0.0.1 -p "$PG_PORT" -U postgres -n -M prepared -c "$PG_CLIENTS" -j 2 \
    -T "$D" -s "$PG_SCALE" -f "$3" pgbench >"$out" 2>&1 || { cat "$out" >&2; die "pgbench $1"; }
  local tps lat
  read -r tps lat < <(report pgbench "$out")
  record "$1.tps" "$2" "$tps"
  cpu_record "$1" "$2" "$tps"
  log "$1: $(printf '%.0f' "$tps") tx/s, latency avg $lat ms"
}

# ---- CPU per operation: where the two cores went during a run ---------------------------------
# Sampled from /proc over the middle of a D-second run (from 2 s after the run starts, past the
# setup and the ramp, for D - 4 s): the server's ticks, PostgreSQL's (the postmaster and its
# children, with the ticks of backends that exited), Redis's, and the machine's busy ticks (user,
# nice, system, irq, softirq: iowait and steal count as idle); the rest is the load generator
# (concertd bench, pgbench) and the kernel's threads. Divided by the run's operations per
# second, it says which process a target's missing throughput is spent in. Only for concertd
# bench and pgbench runs: the wrk stand-in spends its first seconds on setup.
pg_postmaster=""
REDIS_PID=""
proc_ticks() {  # pid...: utime + stime, plus the reaped children's, of all; a gone pid adds 0
  local files=() p
  for p in "$@"; do files+=("/proc/$p/stat"); done
  [ ${#files[@]} -gt 0 ] || { echo 0; return; }
  # A process may exit between pgrep and cat: it adds nothing (cat's failure must not fail this).
  { cat "${files[@]}" 2>/dev/null || :; } | awk '{s += $14 + $15 + $16 + $17} END {printf "%.0f\n", s}'
}
cpu_ticks() {  # server-pid -> "uptime_s machine server postgres redis", busy ticks so far
  local pg=0
  if [ -n "$pg_postmaster" ]; then
    # shellcheck disable=SC2046  # one pid a word
    pg=$(proc_ticks "$pg_postmaster" $(pgrep -P "$pg_postmaster"))
  fi
  echo "$(cut -d' ' -f1 /proc/uptime) $(awk '/^cpu / {printf "%.0f", $2 + $3 + $4 + $7 + $8}' /proc/stat)" \
    "$(proc_ticks ${1:+"$1"}) $pg $(proc_ticks ${REDIS_PID:+"$REDIS_PID"})"
}
cpu_sampler=""
cpu_file=""
cpu_watch() {  # server-pid|"": samples in the background while a D-second run starts now
  cpu_sampler=""
  [ "$D" -ge 6 ] || return 0
  local file=$tmp/cpu-$RANDOM$RANDOM
  (sleep 2; cpu_ticks "$1" >"$file"; sleep $((D - 4)); cpu_ticks "$1" >>"$file") &
  cpu_sampler=$!
  pids+=("$cpu_sampler")
  cpu_file=$file
}
cpu_record() {  # metric repeat ops-per-second: records the µs of one core per operation of each part
  local sampler=$cpu_sampler
  cpu_sampler=""  # one record per watch
  [ -n "$sampler" ] || return 0
  if ! wait "$sampler"; then
    log "$1: no CPU sample (the sampler failed)"
    return 0
  fi
  forget_pid "$sampler"
  local hz cpus machine="" server="" pg="" redis="" idle=""
  hz=$(getconf CLK_TCK)
  cpus=$(grep -c '^cpu[0-9]' /proc/stat)  # /proc/stat's total is over all of them, whatever taskset says
  # The window is the time between the two samples (a little over D - 4 s), the rate the run's.
  read -r machine server pg redis idle < <(awk -v hz="$hz" -v r="$3" -v n="$cpus" '
    NR == 1 {for (i = 1; i <= 5; i++) a[i] = $i}
    NR == 2 {w = $1 - a[1]; ops = r * w; if (ops <= 0) exit
             for (i = 2; i <= 5; i++) printf "%.1f ", ($i - a[i]) * 1e6 / hz / ops
             printf "%.1f\n", 100 - 100 * ($2 - a[2]) / (hz * w * n)}' "$cpu_file") || {
    log "$1: no CPU figures (rate $3)"
    return 0
  }
  record "$1.cpu.machine_us" "$2" "$machine"
  record "$1.cpu.server_us" "$2" "$server"
  record "$1.cpu.postgres_us" "$2" "$pg"
  record "$1.cpu.redis_us" "$2" "$redis"
  record "$1.cpu.idle_pct" "$2" "$idle"
}

# ---- holds (concertd bench, or the wrk stand-in) -----------------------------------------------
holds_metric() {  # metric repeat [METRICS_URLS...]: against $CD_URL
  local metric=$1 rep=$2 rate
  if [ "$has_bench" = 1 ]; then
    cpu_watch "$CD_PID"
    local f
    f=$(run_bench holds "$CD_URL")
    read -r rate _ < <(report benchjson "$f" hold)
    note "source.$metric" "concertd bench holds"
  else
    local out=$tmp/holds-$metric-$rep.txt
    WRK_EXTRA=--latency timeout $((D + 300)) "$here/holds.sh" "$CD_URL" "$ADMIN_KEY" "$D" "$CONNS" >"$out" 2>&1 ||
      { cat "$out" >&2; die "bench/holds.sh"; }
    rate=$(sed -n 's/.* = \([0-9]*\) holds\/s$/\1/p' "$out")
    [ -n "$rate" ] || { cat "$out" >&2; die "no holds/s from bench/holds.sh"; }
    note "source.$metric" "wrk stand-in, bench/holds.sh"
  fi
  record "$metric.rps" "$rep" "$rate"
  cpu_record "$metric" "$rep" "$rate"
  log "$metric: $(printf '%.0f' "$rate") holds/s"
}

# =============================================================================================
# All of it in one function, read whole before it runs: editing this file during a run is safe.
main() {
start_time=$(date -u +%Y-%m-%dT%H:%M:%SZ)
log "concertd: $CONCERTD; $REPEAT run(s) of ${D}s per measurement; temp dir $tmp"

# Reply sizes, from a real concertd.
setup_read_server
curl -sf -o "$tmp/status.body" -H "Authorization: Bearer $WAITING_TOKEN" "$CD_URL/api/queue/status"
curl -sf -o "$tmp/seats.body" "$CD_URL/api/concerts/$CONCERT/seats"
curl -sf -o "$tmp/token.body" -X POST -d '{"userId":"bench-size"}' "$CD_URL/api/queue/token"
cd_headers=$(curl -sf -o /dev/null -w '%{size_header}' -H "Authorization: Bearer $WAITING_TOKEN" "$CD_URL/api/queue/status")
stop_concertd
start_nginx "$tmp/status.body" "$tmp/seats.body" "$tmp/token.body"
for what in status seats token; do
  cd_size=$(wc -c <"$tmp/$what.body")
  ng_size=$(curl -sf -o /dev/null -w '%{size_download}' -X "$([ $what = token ] && echo POST || echo GET)" \
    -d '{"userId":"x"}' "$NGINX_URL/$what")
  [ "$cd_size" = "$ng_size" ] || die "nginx $what reply is $ng_size bytes, concertd's $cd_size"
  note "info.size_$what" "reply body $cd_size bytes (concertd and nginx)"
done
ng_headers=$(curl -sf -o /dev/null -w '%{size_header}' "$NGINX_URL/status")
note info.headers "status reply headers: concertd $cd_headers bytes, nginx $ng_headers bytes"

if [ "$DISTRIBUTED" = 1 ]; then
  start_backends
  pgsql postgres -c "CREATE DATABASE pgbench" >/dev/null
  log "pgbench -i -s $PG_SCALE"
  pgbench -h 127.0.0.1 -p "$PG_PORT" -U postgres -i -q -s "$PG_SCALE" pgbench >"$tmp/pgbench-init.log" 2>&1 ||
    { cat "$tmp/pgbench-init.log" >&2; die "pgbench -i"; }
  cat >"$tmp/update1.sql" <<'EOF'
\set aid random(1, 100000 * :scale)
UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :aid;
EOF
  # Like a payment (the buyer's balance row, the seat's row, a history row), without TPC-B's hot
  # branch and teller rows: two accounts rows from disjoint halves, always locked in that order
  # (no deadlock), then the insert.
  cat >"$tmp/tx3.sql" <<'EOF'
\set aid random(1, 50000 * :scale)
\set aid2 random(50000 * :scale + 1, 100000 * :scale)
\set delta random(-5000, 5000)
BEGIN;
UPDATE pgbench_accounts SET abalance = abalance - :delta WHERE aid = :aid;
UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid2;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, :aid, :delta, CURRENT_TIMESTAMP);
END;
EOF
  note info.pgbench "pgbench -n -M prepared -c$PG_CLIENTS -j2 -T$D -s$PG_SCALE: 1-row UPDATE autocommit (random aid of $((PG_SCALE * 100000))); 3-statement tx = BEGIN; UPDATE accounts (aid in the first half); UPDATE accounts (aid2 in the second half); INSERT history; END (no branches/tellers rows: no hot-row contention)"
else
  for m in concertd.status_pg concertd.holds_pg concertd.payments_pg pgbench.update1 pgbench.tx3; do
    note "skip.$m" "BENCH_DISTRIBUTED=0"
  done
fi
[ "$has_bench" = 1 ] || note skip.concertd.payments_pg "needs concertd bench payments"

for rep in $(seq 1 "$REPEAT"); do
  log "---- run $rep of $REPEAT"
  setup_read_server
  # The same request as concertd's (its bearer token), so that the ratio compares what the two
  # servers do, not the sizes of the requests the generator sends them.
  run_wrk nginx.status "$rep" "$NGINX_URL/status" -H "Authorization: Bearer $WAITING_TOKEN"
  run_wrk concertd.status "$rep" "$CD_URL/api/queue/status" -H "Authorization: Bearer $WAITING_TOKEN"
  curl -sf -H "Authorization: Bearer $WAITING_TOKEN" "$CD_URL/api/queue/status" | grep -q '"status":"waiting"' ||
    die "the status token no longer waits"
  run_wrk nginx.seats "$rep" "$NGINX_URL/seats"
  run_wrk concertd.seats "$rep" "$CD_URL/api/concerts/$CONCERT/seats"
  USER_PREFIX=ng$rep run_wrk nginx.token "$rep" "$NGINX_URL/token" -s "$here/wrk.lua"
  USER_PREFIX=cd$rep$$ run_wrk concertd.token "$rep" "$CD_URL/api/queue/token" -s "$here/wrk.lua"
  stop_concertd

  start_concertd "${HOLD_FLAGS[@]}"
  holds_metric concertd.holds_embedded "$rep"
  stop_concertd

  if [ "$DISTRIBUTED" = 1 ]; then
    # The status path on the shared line (two Redis scripts a poll), for docs/scaling.md.
    pgsql postgres -c "CREATE DATABASE concertd_status_$rep" >/dev/null
    setup_read_server --postgres "postgresql://postgres@127.0.0.1:$PG_PORT/concertd_status_$rep" \
      --redis "redis://127.0.0.1:$REDIS_PORT/$((32 + rep % 32))"
    run_wrk concertd.status_pg "$rep" "$CD_URL/api/queue/status" -H "Authorization: Bearer $WAITING_TOKEN"
    stop_concertd
    pgsql postgres -c "CREATE DATABASE concertd_$rep" >/dev/null
    start_concertd "${HOLD_FLAGS[@]}" --postgres "postgresql://postgres@127.0.0.1:$PG_PORT/concertd_$rep" \
      --redis "redis://127.0.0.1:$REDIS_PORT/$((rep % 32))"
    run_pgbench pgbench.update1 "$rep" "$tmp/update1.sql"
    holds_metric concertd.holds_pg "$rep"
    run_pgbench pgbench.tx3 "$rep" "$tmp/tx3.sql"
    if [ "$has_bench" = 1 ]; then
      cpu_watch "$CD_PID"
      f=$(run_bench payments "$CD_URL")
      read -r rate _ < <(report benchjson "$f" pay)
      record concertd.payments_pg.rps "$rep" "$rate"
      cpu_record concertd.payments_pg "$rep" "$rate"
      note source.concertd.payments_pg "concertd bench payments"
      log "concertd.payments_pg: $(printf '%.0f' "$rate") payments/s"
    fi
    stop_concertd
    redis-cli -p "$REDIS_PORT" -n $((rep % 32)) flushdb >/dev/null
    redis-cli -p "$REDIS_PORT" -n $((32 + rep % 32)) flushdb >/dev/null
  fi
done

# ---- p99 at half of the measured peak --------------------------------------------------------
median_of() { awk -F'\t' -v m="$1" '$1 == m {print $3}' "$raw" | sort -g |
  awk '{v[NR] = $1} END {if (NR == 0) exit 1; if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
half_of() { local m; m=$(median_of "$1") || return 1; awk -v m="$m" 'BEGIN {printf "%d\n", m / 2}'; }
half_status=$(half_of concertd.status.rps)
for rep in $(seq 1 "$REPEAT"); do
  log "---- p99 at half peak, run $rep of $REPEAT"
  for step in status seats token hold; do
    case $step in
      status) rate=$half_status ;;
      seats) rate=$(half_of concertd.seats.rps) ;;
      token) rate=$(half_of concertd.token.rps) ;;
      hold) rate=$(half_of concertd.holds_embedded.rps) ;;
    esac
    if [ "$has_bench" = 1 ]; then
      if [ $step = hold ]; then start_concertd "${HOLD_FLAGS[@]}"; else start_concertd "${READ_FLAGS[@]}"; fi
      extra=()
      [ $step = seats ] && extra=(--concert "$(new_concert 50)" --seat-count 50)
      scenario=$step; [ $step = hold ] && scenario=holds
      f=$(run_bench "$scenario" "$CD_URL" --rate "$rate" "${extra[@]}")
      read -r achieved p99 _ < <(report benchjson "$f" "$step")
      note "source.half.$step" "concertd bench $scenario --rate $rate"
    else
      # Stand-in: wrk with a per-connection pause (closed loop: it under-reports queueing delay).
      if [ $step = hold ]; then
        start_concertd "${HOLD_FLAGS[@]}"
        out=$tmp/half-hold-$rep.txt
        RATE=$rate CONNS=$CONNS WRK_EXTRA=--latency timeout $((D + 300)) "$here/holds.sh" "$CD_URL" "$ADMIN_KEY" "$D" "$CONNS" \
          >"$out" 2>&1 || { cat "$out" >&2; die "bench/holds.sh paced"; }
        read -r achieved _ p99 _ < <(report wrk "$out")
      else
        setup_read_server
        case $step in
          status) url=$CD_URL/api/queue/status; args=(-H "Authorization: Bearer $WAITING_TOKEN" -s "$here/wrk.lua") ;;
          seats) url=$CD_URL/api/concerts/$CONCERT/seats; args=(-s "$here/wrk.lua") ;;
          token) url=$CD_URL/api/queue/token; args=(-s "$here/wrk.lua") ;;
        esac
        out=$tmp/half-$step-$rep.txt
        if [ $step = token ]; then export USER_PREFIX=half$rep$$; else unset USER_PREFIX; fi
        RATE=$rate CONNS=$CONNS timeout $((D + 60)) wrk -t1 -c"$CONNS" -d"${D}s" --latency "${args[@]}" "$url" \
          >"$out" 2>&1 || { cat "$out" >&2; die "wrk paced $step"; }
        unset USER_PREFIX
        read -r achieved _ p99 _ non2xx _ < <(report wrk "$out")
        [ "$non2xx" = 0 ] || { cat "$out" >&2; die "paced $step: non-2xx replies"; }
      fi
      note "source.half.$step" "wrk stand-in, paced"
    fi
    record "half.$step.rate" "$rep" "$rate"
    record "half.$step.achieved" "$rep" "$achieved"
    record "half.$step.p99_ms" "$rep" "$p99"
    log "half peak $step: offered $rate/s, achieved $(printf '%.0f' "$achieved")/s, p99 $p99 ms"
    stop_concertd
  done
done

# ---- waiting tokens: RSS growth and status p99 ----------------------------------------------
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
if [ "$WAITING" = 0 ]; then
  note skip.waiting "BENCH_WAITING=0"
elif [ "$has_bench" = 0 ]; then
  note skip.waiting "needs concertd bench waiting"
else
  log "---- $WAITING waiting tokens"
  note waiting.fans "$WAITING"
  start_concertd "${READ_FLAGS[@]}"
  f=$(run_bench status "$CD_URL" --rate "$half_status")
  read -r _ p99 _ < <(report benchjson "$f" status)
  record waiting.status_p99_before_ms 1 "$p99"
  rss0=$(rss_kb "$CD_PID")
  BENCH_TOOL_SLACK=${BENCH_WAITING_TIMEOUT:-3600}
  f=$(run_bench waiting "$CD_URL" --fans "$WAITING")
  unset BENCH_TOOL_SLACK
  rss1=$(rss_kb "$CD_PID")
  reported=$(report rss "$f")
  [ -n "$reported" ] && note info.waiting_rss "RSS the bench reported from /metrics: $reported bytes"
  f=$(run_bench status "$CD_URL" --rate "$half_status")
  read -r _ p99 _ < <(report benchjson "$f" status)
  record waiting.status_p99_after_ms 1 "$p99"
  record waiting.rss_growth_mb 1 "$(awk -v a="$rss0" -v b="$rss1" 'BEGIN {printf "%.1f", (b - a) / 1024}')"
  note info.waiting_rss_proc "server VmRSS $((rss0 / 1024)) MB before, $((rss1 / 1024)) MB after $WAITING waiting tokens"
  stop_concertd
fi

# ---- the table -------------------------------------------------------------------------------
mem=$(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$root" diff --quiet HEAD 2>/dev/null || commit="$commit (uncommitted changes)"
cmd="BENCH_DURATION=$D BENCH_REPEAT=$REPEAT BENCH_WAITING=$WAITING BENCH_DISTRIBUTED=$DISTRIBUTED CONCERTD=$CONCERTD bench/run.sh"
note info.binary "$CONCERTD ($(stat -c %y "$CONCERTD" | cut -d. -f1))"
note info.load "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (a shared machine: compare ratios, not absolute figures)"
"$PY" - "$tmp/meta.json" "$start_time" "$(nproc) cores, $model, $mem RAM, $(hostname)" "$commit" "$cmd" "$REPEAT" "$D" <<'EOF'
import json, sys
json.dump(dict(zip(["date", "machine", "commit", "command", "repeat", "duration"], sys.argv[2:])), open(sys.argv[1], "w"))
EOF
mkdir -p "$here/results"
# A second run on one day gets its own files: a report is never overwritten (the README cites them).
base=$here/results/$(date -u +%Y-%m-%d)-$(hostname)
for n in 2 3 4 5 6 7 8 9; do
  [ -e "$base.md" ] || break
  base=$here/results/$(date -u +%Y-%m-%d)-$(hostname)-$n
done
report table "$raw" "$tmp/meta.json" "$base"
log "written: $base.md and $base.json"
}
main "$@"
