"""Unit tests of bench/run.py's pure parts: the parsers (wrk, pgbench, `concertd bench --json`,
bench/holds.sh), the figures (medians, paired ratios, half-peak rates, CPU per operation), the
nginx config and the table. The samples at the end are real outputs: captured from `make bench`
runs of bench/run.sh on the 2-core VM (2026-12-07), with its raw measurements and the tables it
printed, which bench/run.py must print the same.

  python3 -m pytest bench/test_run.py -q
"""
import json
import math
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402


def results_from_raw(raw: str) -> run.Results:
    """bench/run.sh's raw.tsv: `metric<TAB>run<TAB>value` or `note<TAB>key<TAB>text`."""
    res = run.Results()
    for line in raw.splitlines():
        kind, key, value = line.split("\t", 2)
        if kind == "note":
            res.note(key, value)
        else:
            res.record(kind, float(value))
    return res


# ---- parsers ---------------------------------------------------------------------------------

def test_wrk_closed_loop_run():
    w = run.parse_wrk(WRK_STATUS)
    assert w == run.WrkResult(rps=119461.84, p50_ms=pytest.approx(0.424), p99_ms=7.55, requests=717044,
                              non2xx=0, socket_errors=0)


def test_wrk_non_2xx_replies_are_counted():
    w = run.parse_wrk(HOLDS_SH)
    assert (w.rps, w.p99_ms, w.requests, w.non2xx, w.socket_errors) == (50394.85, 2.28, 156256, 154256, 0)


def test_wrk_socket_errors_are_summed():
    w = run.parse_wrk(WRK_SOCKET_ERRORS)
    assert (w.rps, w.requests, w.non2xx, w.socket_errors) == (0.0, 0, 0, 4)


def test_wrk_without_a_rate_is_an_error_that_shows_the_output():
    with pytest.raises(run.BenchError, match="no Requests/sec") as e:
        run.parse_wrk(WRK_REFUSED)
    assert "Connection refused" in e.value.output


def test_wrk_without_latency_distribution_gives_nan():
    w = run.parse_wrk("Running 1s test @ http://x/\n  10 requests in 1.00s, 1KB read\nRequests/sec:     10.00\n")
    assert w.rps == 10.0 and w.requests == 10 and math.isnan(w.p50_ms) and math.isnan(w.p99_ms)


@pytest.mark.parametrize("text, ms", [("424.00us", 0.424), ("7.55ms", 7.55), ("1.02s", 1020.0), ("2.00m", 120000.0)])
def test_wrk_durations(text, ms):
    assert run.wrk_ms(text) == pytest.approx(ms)


def test_wrk_duration_garbage():
    with pytest.raises(run.BenchError):
        run.wrk_ms("-nan%")


def test_pgbench():
    assert run.parse_pgbench(PGBENCH_UPDATE1) == (10674.255617, 2.998)
    with pytest.raises(run.BenchError, match="no tps"):
        run.parse_pgbench(PGBENCH_INIT)


def test_bench_json_steps():
    doc = json.loads(BENCH_HOLDS_JSON)
    assert run.bench_step(doc, "hold") == run.BenchStep(rate=6350.5, p99_ms=48.5115, errors=0, invariants_ok=True)
    assert run.bench_step(doc, "token").rate == pytest.approx(1589.3333333333333)
    with pytest.raises(run.BenchError, match="no step 'pay'.*'hold', 'token'"):
        run.bench_step(doc, "pay")


def test_bench_json_broken_invariants():
    doc = json.loads(BENCH_HOLDS_JSON)
    doc["invariants"]["ok"] = False
    assert run.bench_step(doc, "hold").invariants_ok is False


def test_find_rss():
    # The waiting scenario names its figures server_rss_bytes.before / .after_issuing: the walk
    # looks at the key right above a number, so it finds none (as bench/report.py did).
    assert run.find_rss(json.loads(BENCH_WAITING_JSON)) == []
    assert run.find_rss({"a": {"rss_bytes": 5, "x": 1}, "server_rss": 7.5, "max_rss": True}) == [
        ("rss_bytes", 5), ("server_rss", 7.5)]


def test_holds_sh_rate():
    assert run.parse_holds_rate(HOLDS_SH) == 666
    with pytest.raises(run.BenchError, match="no holds/s"):
        run.parse_holds_rate(WRK_STATUS)


# ---- figures ---------------------------------------------------------------------------------

def test_rounding_as_recorded():
    assert run.r3(10674.255617) == 10674.256 and run.r1(-0.04) == 0.0 and str(run.r1(-0.04)) == "-0.0"


def test_median_and_half_rate():
    assert run.median(None) is None and run.median([]) is None
    assert run.median([3.0, 1.0, 2.0]) == 2.0 and run.median([1.0, 2.0]) == 1.5
    assert run.half_rate([158619.89]) == 79309  # truncated
    assert run.half_rate([101.0, 90.0, 120.0]) == 50
    with pytest.raises(run.BenchError):
        run.half_rate([])


def test_paired_ratio_is_the_median_of_per_run_ratios():
    subject, reference = [80.0, 50.0, 90.0], [100.0, 100.0, 100.0]
    assert run.paired_ratio(subject, reference) == 0.8
    # Not the ratio of the medians: 90 / 100 here.
    assert run.paired_ratio([80.0, 50.0, 90.0], [100.0, 50.0, 200.0]) == 0.8
    assert run.paired_ratio([1.0, 2.0], [0.0, 4.0]) == 0.5  # a zero reference is left out
    assert run.paired_ratio([], [1.0]) is None
    assert run.paired_ratio([1.0, 2.0, 3.0], [2.0]) == 0.5  # pairs in run order, as far as both go


def test_cpu_per_operation():
    # The two samples of concertd.holds_embedded in the distributed run (12,697 holds/s; 100 Hz,
    # 2 cpus), and what bench/run.sh recorded from them (RAW_DISTRIBUTED).
    first = run.CpuSample(uptime=33975.58, machine=4215220, server=142, postgres=96, redis=4)
    second = run.CpuSample(uptime=33977.70, machine=4215630, server=290, postgres=96, redis=4)
    assert run.cpu_per_op(first, second, rate=12697.0, hz=100, cpus=2) == {
        "machine_us": 152.3, "server_us": 55.0, "postgres_us": 0.0, "redis_us": 0.0, "idle_pct": 3.3}
    assert run.cpu_per_op(first, second, rate=0.0, hz=100, cpus=2) is None


def test_proc_parsers():
    stat = ("1 (process api) S 0 0 0 0 -1 4194560 209265 921921307 0 49976 3150 7956 3506451 603119 10 -10 41 0 "
            "23 56160256 3283 18446744073709551615 1 1 0 0 0 0 0 4096 1256 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0")
    assert run.proc_stat_ticks(stat) == 3150 + 7956 + 3506451 + 603119
    assert run.proc_stat_ppid(stat) == 0
    assert run.proc_stat_ppid("21785 (cat) R 21782 21782 16924 0 -1") == 21782
    proc_stat = ("cpu  3576580 76667 546262 2521257 39687 0 113858 3336 0 0\n"
                 "cpu0 1715870 37432 254774 1364658 7781 0 55613 1634 0 0\n")
    assert run.machine_busy_ticks(proc_stat) == 3576580 + 76667 + 546262 + 0 + 113858


def test_nginx_escape_and_config():
    assert run.nginx_escape("{\"a\":\"it's $x \\\\\"}\n\n") == "{\"a\":\"it\\'s _x \\\\\\\\\"}"
    conf = run.nginx_config("/tmp/b/nginx", 8123, '{"s":1}', "[1,2]", "{'t'}")
    assert "listen 127.0.0.1:8123;" in conf and "pid /tmp/b/nginx/nginx.pid;" in conf
    assert "location = /status { return 200 '{\"s\":1}'; }" in conf
    assert "location = /seats { return 200 '[1,2]'; }" in conf
    assert "location = /token { return 201 '{\\'t\\'}'; }" in conf


def test_filesystem_type():
    mounts = ("proc /proc proc rw,relatime 0 0\n/dev/vda / ext4 rw,relatime 0 0\n"
              "tmpfs /tmp tmpfs rw 0 0\n/dev/vdb /mnt/my\\040disk xfs rw 0 0\n")
    assert run.filesystem_type("/tmp/concertd-bench.x", mounts) == "tmpfs"
    assert run.filesystem_type("/tmpx/a", mounts) == "ext4"
    assert run.filesystem_type("/mnt/my disk/a", mounts) == "xfs"


def test_result_base_never_overwrites_a_report():
    taken = {"/r/2026-12-07-vm.md", "/r/2026-12-07-vm-2.md"}
    assert run.result_base("/r", "2026-12-07", "vm", taken.__contains__) == "/r/2026-12-07-vm-3"
    assert run.result_base("/r", "2026-12-08", "vm", taken.__contains__) == "/r/2026-12-08-vm"
    assert run.result_base("/r", "d", "h", lambda p: True) == "/r/d-h-9"


def test_config_from_env():
    cfg = run.config_from_env({}, "/w")
    assert cfg == run.Config(concertd=os.path.join(run.ROOT, "build", "concertd"), duration=10, repeat=3,
                             waiting=1000000, distributed=True, connections=64, pgbench_scale=10,
                             tool_slack=300, waiting_timeout=3600)
    cfg = run.config_from_env({"CONCERTD": "b/concertd", "BENCH_DURATION": "3", "BENCH_REPEAT": "1",
                               "BENCH_WAITING": "0", "BENCH_DISTRIBUTED": "0", "BENCH_CONNECTIONS": ""}, "/w")
    assert (cfg.concertd, cfg.duration, cfg.repeat, cfg.waiting, cfg.distributed, cfg.connections) == (
        "/w/b/concertd", 3, 1, 0, False, 64)
    assert cfg.command() == ("BENCH_DURATION=3 BENCH_REPEAT=1 BENCH_WAITING=0 BENCH_DISTRIBUTED=0 "
                             "CONCERTD=/w/b/concertd bench/run.py")
    with pytest.raises(run.BenchError, match="BENCH_DURATION"):
        run.config_from_env({"BENCH_DURATION": "3s"}, "/w")
    with pytest.raises(run.BenchError, match="BENCH_REPEAT"):
        run.config_from_env({"BENCH_REPEAT": "0"}, "/w")


# ---- the table -------------------------------------------------------------------------------

def test_table_of_a_distributed_run_is_bench_run_sh_s():
    markdown, doc = run.render_report(results_from_raw(RAW_DISTRIBUTED), META_DISTRIBUTED)
    assert markdown == TABLE_DISTRIBUTED
    assert doc["meta"] == META_DISTRIBUTED
    assert doc["medians"]["concertd.holds_pg.rps"] == 3574.3333333333335
    assert doc["runs"]["half.status.rate"] == [59730.0]
    assert doc["notes"]["waiting.fans"] == "20000"
    rows = {r["path"]: r for r in doc["rows"]}
    assert rows["payments/s, PostgreSQL + Redis, one instance"]["ratio"] == pytest.approx(1406.6666666666667 / 6051.039)
    assert rows["cpu per operation: pgbench 1-row UPDATE"]["rest_us"] == pytest.approx(179.1 - 71.7)
    assert len(doc["rows"]) == 8 + 4 + 1 + 5


def test_table_of_a_stand_in_run_without_backends_is_bench_run_sh_s():
    markdown, doc = run.render_report(results_from_raw(RAW_STANDIN), META_STANDIN)
    assert markdown == TABLE_STANDIN
    assert doc["notes"]["skip.concertd.payments_pg"] == "needs concertd bench payments"
    assert len(doc["rows"]) == 8 + 4 + 1  # no CPU rows: runs under 6 s


def test_table_medians_over_runs():
    res = run.Results()
    for subject, reference in ((100.0, 200.0), (90.0, 100.0), (300.0, 400.0)):
        res.record("concertd.status.rps", subject)
        res.record("nginx.status.rps", reference)
    for m, s, p, r in ((10.0, 4.0, 0.0, 0.0), (20.0, 4.0, 0.0, 0.0), (30.0, 5.0, 0.0, 0.0)):
        for part, v in zip(run.CPU_PARTS, (m, s, p, r, 50.0)):
            res.record(f"concertd.holds_embedded.cpu.{part}", v)
    res.record("concertd.holds_embedded.rps", 1000.0)
    res.note("waiting.fans", "1000")
    for k, v in (("waiting.rss_growth_mb", 10.0), ("waiting.status_p99_before_ms", 1.0),
                 ("waiting.status_p99_after_ms", 2.5)):
        res.record(k, v)
    meta = dict(date="D", machine="M", commit="C", command="X", repeat="3", duration="10")
    markdown, doc = run.render_report(res, meta)
    lines = markdown.splitlines()
    # medians 200 and 300 (not paired), ratio median(0.5, 0.9, 0.75) = 0.75
    assert "| `GET /api/queue/status` (waiting token), wrk -t1 -c64 | 100 | 200 nginx | 0.75 | >= 0.80 x | **no** |" in lines
    assert "| `GET /api/queue/status`, PostgreSQL + Redis, one instance (for comparison) | n/a (not measured) " \
           "| 200 nginx | n/a |  |  |" in lines
    assert "| status | n/a/s | n/a/s | n/a (not measured) | <= 5 ms | n/a |" in lines
    # p99 2.5 ms after 1.0 ms: more than max(2 x 1.0, 1.0 + 1) ms, so not unchanged
    assert "| 1000 | 10 MB | 1.00 / 2.50 ms | <= 300 MB, p99 unchanged | **no** |" in lines
    # rest = median(6, 16, 25) = 16, not 20 - 4
    assert "| hold (and a quarter of a token), embedded | 1,000/s | 20 | 4 |  |  | 16 | 50% |" in lines
    assert "Notes:" not in lines


def test_why_missing():
    notes = {"skip.concertd.holds_pg": "BENCH_DISTRIBUTED=0", "skip.waiting": "BENCH_WAITING=0"}
    assert run.why_missing(notes, "concertd.holds_pg.rps") == "BENCH_DISTRIBUTED=0"
    assert run.why_missing(notes, "waiting") == "BENCH_WAITING=0"
    assert run.why_missing(notes, "half.status") == "not measured"


# =============================================================================================
# Samples: real outputs (bench/run.sh runs on the 2-core VM, 2026-12-07; the tools as installed by
# scripts/install-deps.sh: wrk 4.1.0, pgbench 15.18, and build/concertd's bench subcommand)
# =============================================================================================

# wrk -t1 -c64 -d6s --latency -H 'Authorization: Bearer ...' <concertd>/api/queue/status
WRK_STATUS = """\
Running 6s test @ http://127.0.0.1:55709/api/queue/status
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   676.22us    1.45ms  26.02ms   97.11%
    Req/Sec   120.17k    26.23k  155.78k    48.33%
  Latency Distribution
     50%  424.00us
     75%  588.00us
     90%  700.00us
     99%    7.55ms
  717044 requests in 6.00s, 145.59MB read
Requests/sec: 119461.84
Transfer/sec:     24.26MB
"""

# WRK_EXTRA=--latency bench/holds.sh <concertd> bench-admin-key 3 64 (wrk, then holds.sh's own line)
HOLDS_SH = """\
Running 3s test @ http://127.0.0.1:49797
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.26ms  238.34us   4.59ms   90.89%
    Req/Sec    50.73k     3.92k   55.41k    83.87%
  Latency Distribution
     50%    1.22ms
     75%    1.30ms
     90%    1.40ms
     99%    2.28ms
  156256 requests in 3.10s, 35.64MB read
  Non-2xx or 3xx responses: 154256
Requests/sec:  50394.85
Transfer/sec:     11.49MB
holds taken (201): 2000 in 3s = 666 holds/s
"""

# wrk against a listener that never answers (and closes every third connection)
WRK_SOCKET_ERRORS = """\
Running 2s test @ http://127.0.0.1:38797/
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     0.00us    0.00us   0.00us    -nan%
    Req/Sec     0.00      0.00     0.00      -nan%
  Latency Distribution
     50%    0.00us
     75%    0.00us
     90%    0.00us
     99%    0.00us
  0 requests in 2.00s, 0.00B read
  Socket errors: connect 0, read 4, write 0, timeout 0
Requests/sec:      0.00
Transfer/sec:       0.00B
"""

# wrk against a closed port
WRK_REFUSED = """\
unable to connect to 127.0.0.1:38799 Connection refused
"""

# pgbench -n -M prepared -c 32 -j 2 -T 6 -s 10 -f update1.sql pgbench
PGBENCH_UPDATE1 = """\
pgbench (15.18 (Debian 15.18-0+deb12u1))
transaction type: /tmp/concertd-bench.JFFZCS/update1.sql
scaling factor: 10
query mode: prepared
number of clients: 32
number of threads: 2
maximum number of tries: 1
duration: 6 s
number of transactions actually processed: 63985
number of failed transactions: 0 (0.000%)
latency average = 2.998 ms
initial connection time = 93.689 ms
tps = 10674.255617 (without initial connection time)
"""

# pgbench -i -q -s 10 (no tps line)
PGBENCH_INIT = """\
dropping old tables...
NOTICE:  table "pgbench_accounts" does not exist, skipping
NOTICE:  table "pgbench_branches" does not exist, skipping
NOTICE:  table "pgbench_history" does not exist, skipping
NOTICE:  table "pgbench_tellers" does not exist, skipping
creating tables...
generating data (client-side)...
1000000 of 1000000 tuples (100%) done (elapsed 0.47 s, remaining 0.00 s)
vacuuming...
creating primary keys...
done in 0.96 s (drop tables 0.00 s, create tables 0.00 s, client-side generate 0.63 s, vacuum 0.09 s, primary keys 0.23 s).
"""

# concertd bench holds --rate 6348 --json
BENCH_HOLDS_JSON = """\
{"scenario":"holds","url":"http://127.0.0.1:39429","config":{"concurrency":64,"duration_s":6E0,"warmup_s":1E0,"threads":1,"poll_scale":1E0,"arrival_s":5E0,"timeout_ms":10000,"rate":6.348E3,"concert":null,"seat_count":null,"fans":null},"started_at":"2026-12-07T23:27:09.848Z","duration_s":6E0,"steps":{"hold":{"ok":38103,"errors":0,"by_status":{"201":38103},"by_code":{},"rate_per_s":6.3505E3,"latency_ms":{"p50":5.1355E0,"p90":2.09275E1,"p99":4.85115E1,"p999":5.82395E1,"max":6.3905E1,"mean":8.197259034721675E0},"series":[{"t":0,"ok":6206,"errors":0,"p99_ms":3.25115E1},{"t":1,"ok":6433,"errors":0,"p99_ms":5.47835E1},{"t":2,"ok":6336,"errors":0,"p99_ms":3.94235E1},{"t":3,"ok":6407,"errors":0,"p99_ms":2.02235E1},{"t":4,"ok":6355,"errors":0,"p99_ms":5.58075E1},{"t":5,"ok":6366,"errors":0,"p99_ms":2.73915E1}]},"token":{"ok":9536,"errors":0,"by_status":{"201":9536},"by_code":{},"rate_per_s":1.5893333333333333E3,"latency_ms":{"p50":3.4475E0,"p90":8.2875E0,"p99":1.69595E1,"p999":2.70715E1,"max":2.8193E1,"mean":4.366146287751678E0},"series":[{"t":0,"ok":1536,"errors":0,"p99_ms":1.44635E1},{"t":1,"ok":1659,"errors":0,"p99_ms":2.68795E1},{"t":2,"ok":1541,"errors":0,"p99_ms":1.3948E1},{"t":3,"ok":1600,"errors":0,"p99_ms":1.13915E1},{"t":4,"ok":1600,"errors":0,"p99_ms":1.76635E1},{"t":5,"ok":1600,"errors":0,"p99_ms":1.71515E1}]}},"concerts_created":9,"invariants":{"checked":false,"ok":true,"checks":0,"violations":[]},"notes":[]}

"""

# concertd bench waiting --fans 20000 --json
BENCH_WAITING_JSON = """\
{"scenario":"waiting","url":"http://127.0.0.1:57291","config":{"concurrency":64,"duration_s":6E0,"warmup_s":1E0,"threads":1,"poll_scale":1E0,"arrival_s":5E0,"timeout_ms":10000,"rate":null,"concert":null,"seat_count":null,"fans":20000},"started_at":"2026-12-07T23:27:24.357Z","duration_s":6E0,"steps":{"token":{"ok":20000,"errors":0,"by_status":{"201":20000},"by_code":{},"rate_per_s":1.92525333311216E4,"latency_ms":{"p50":1.8275E0,"p90":7.8235E0,"p99":1.01435E1,"p999":1.23835E1,"max":1.2396E1,"mean":3.30816895E0},"series":[{"t":0,"ok":18800,"errors":0,"p99_ms":1.01115E1},{"t":1,"ok":1200,"errors":0,"p99_ms":7.9995E0}]},"status":{"ok":3983,"errors":0,"by_status":{"200":3983},"by_code":{},"rate_per_s":6.638333333333334E2,"latency_ms":{"p50":1.18E-1,"p90":1.84E-1,"p99":5.975E-1,"p999":4.5595E0,"max":6.079E0,"mean":1.4278282701481296E-1},"series":[{"t":0,"ok":690,"errors":0,"p99_ms":2.995E-1},{"t":1,"ok":650,"errors":0,"p99_ms":5.995E-1},{"t":2,"ok":684,"errors":0,"p99_ms":2.215E-1},{"t":3,"ok":679,"errors":0,"p99_ms":1.5195E0},{"t":4,"ok":655,"errors":0,"p99_ms":2.1435E0},{"t":5,"ok":625,"errors":0,"p99_ms":4.915E-1}]}},"waiting":{"tokens_issued":20000,"waiting_tokens":20000,"active_at_issue":0,"issue_seconds":1.038824328E0,"modelled_status_per_s":6.686949871309696E2,"achieved_status_per_s":6.638333333333334E2,"left_line_while_polling":0},"server_rss_bytes":{"before":1.9099648E7,"after_issuing":2.4915968E7},"invariants":{"checked":false,"ok":true,"checks":0,"violations":[]},"notes":[]}

"""

# A distributed run: BENCH_DURATION=6 BENCH_REPEAT=1 BENCH_WAITING=20000 BENCH_DISTRIBUTED=1 bench/run.sh;
# its measurements (the temp dir's raw.tsv: metric, run, value / note, key, text)
RAW_DISTRIBUTED = """\
note\tinfo.size_status\treply body 113 bytes (concertd and nginx)
note\tinfo.size_seats\treply body 2486 bytes (concertd and nginx)
note\tinfo.size_token\treply body 330 bytes (concertd and nginx)
note\tinfo.headers\tstatus reply headers: concertd 96 bytes, nginx 155 bytes
note\tinfo.postgresql\tPostgreSQL 15.18: fsync=on, full_page_writes=on, max_connections=300, shared_buffers=16384, synchronous_commit=on, wal_level=replica (shared_buffers in 8 kB pages)
note\tinfo.redis\tRedis 7.0.15, no persistence (the queue state is also stored in PostgreSQL)
note\tinfo.pgbench\tpgbench -n -M prepared -c32 -j2 -T6 -s10: 1-row UPDATE autocommit (random aid of 1000000); 3-statement tx = BEGIN; UPDATE accounts (aid in the first half); UPDATE accounts (aid2 in the second half); INSERT history; END (no branches/tellers rows: no hot-row contention)
nginx.status.rps\t1\t166676.420
nginx.status.p99_wrk_ms\t1\t1.240
concertd.status.rps\t1\t119461.840
concertd.status.p99_wrk_ms\t1\t7.550
nginx.seats.rps\t1\t139820.990
nginx.seats.p99_wrk_ms\t1\t3.050
concertd.seats.rps\t1\t122014.320
concertd.seats.p99_wrk_ms\t1\t1.440
nginx.token.rps\t1\t124346.250
nginx.token.p99_wrk_ms\t1\t1.790
concertd.token.rps\t1\t37136.900
concertd.token.p99_wrk_ms\t1\t10.700
note\tsource.concertd.holds_embedded\tconcertd bench holds
concertd.holds_embedded.rps\t1\t12697.0
concertd.holds_embedded.cpu.machine_us\t1\t152.3
concertd.holds_embedded.cpu.server_us\t1\t55.0
concertd.holds_embedded.cpu.postgres_us\t1\t0.0
concertd.holds_embedded.cpu.redis_us\t1\t0.0
concertd.holds_embedded.cpu.idle_pct\t1\t3.3
concertd.status_pg.rps\t1\t20575.780
concertd.status_pg.p99_wrk_ms\t1\t11.610
pgbench.update1.tps\t1\t10674.256
pgbench.update1.cpu.machine_us\t1\t179.1
pgbench.update1.cpu.server_us\t1\t0.0
pgbench.update1.cpu.postgres_us\t1\t71.7
pgbench.update1.cpu.redis_us\t1\t0.0
pgbench.update1.cpu.idle_pct\t1\t4.4
note\tsource.concertd.holds_pg\tconcertd bench holds
concertd.holds_pg.rps\t1\t3574.3333333333335
concertd.holds_pg.cpu.machine_us\t1\t556.9
concertd.holds_pg.cpu.server_us\t1\t42.4
concertd.holds_pg.cpu.postgres_us\t1\t90.2
concertd.holds_pg.cpu.redis_us\t1\t34.5
concertd.holds_pg.cpu.idle_pct\t1\t0.5
pgbench.tx3.tps\t1\t6051.039
pgbench.tx3.cpu.machine_us\t1\t329.7
pgbench.tx3.cpu.server_us\t1\t0.0
pgbench.tx3.cpu.postgres_us\t1\t180.2
pgbench.tx3.cpu.redis_us\t1\t0.0
pgbench.tx3.cpu.idle_pct\t1\t0.2
concertd.payments_pg.rps\t1\t1406.6666666666667
concertd.payments_pg.cpu.machine_us\t1\t1421.8
concertd.payments_pg.cpu.server_us\t1\t154.1
concertd.payments_pg.cpu.postgres_us\t1\t483.3
concertd.payments_pg.cpu.redis_us\t1\t115.6
concertd.payments_pg.cpu.idle_pct\t1\t-0.0
note\tsource.concertd.payments_pg\tconcertd bench payments
note\tsource.half.status\tconcertd bench status --rate 59730
half.status.rate\t1\t59730
half.status.achieved\t1\t59481.666666666664
half.status.p99_ms\t1\t84.2235
note\tsource.half.seats\tconcertd bench seats --rate 61007
half.seats.rate\t1\t61007
half.seats.achieved\t1\t61040.833333333336
half.seats.p99_ms\t1\t5.9995
note\tsource.half.token\tconcertd bench token --rate 18568
half.token.rate\t1\t18568
half.token.achieved\t1\t16814.666666666668
half.token.p99_ms\t1\t515.0715
note\tsource.half.hold\tconcertd bench holds --rate 6348
half.hold.rate\t1\t6348
half.hold.achieved\t1\t6350.5
half.hold.p99_ms\t1\t48.5115
note\twaiting.fans\t20000
waiting.status_p99_before_ms\t1\t6.9275
waiting.status_p99_after_ms\t1\t64.6395
waiting.rss_growth_mb\t1\t5.5
note\tinfo.waiting_rss_proc\tserver VmRSS 18 MB before, 23 MB after 20000 waiting tokens
note\tinfo.binary\t/work/main/build/concertd (2026-12-07 23:22:34)
note\tinfo.load\tload average at the end: 6.53 5.21 4.30 (a shared machine: compare ratios, not absolute figures)
"""

META_DISTRIBUTED = {'date': '2026-12-07T23:25:25Z', 'machine': '2 cores, Intel(R) Xeon(R) Processor, 23.5 GiB RAM, vm', 'commit': '8fbca7f (uncommitted changes)', 'command': 'BENCH_DURATION=6 BENCH_REPEAT=1 BENCH_WAITING=20000 BENCH_DISTRIBUTED=1 CONCERTD=/work/main/build/concertd bench/run.sh', 'repeat': '1', 'duration': '6'}

# the table bench/run.sh (with bench/report.py) printed for it
TABLE_DISTRIBUTED = """\
# concertd bench, 2026-12-07T23:25:25Z

2026-12-07T23:25:25Z | 2 cores, Intel(R) Xeon(R) Processor, 23.5 GiB RAM, vm | commit 8fbca7f (uncommitted changes) | `BENCH_DURATION=6 BENCH_REPEAT=1 BENCH_WAITING=20000 BENCH_DISTRIBUTED=1 CONCERTD=/work/main/build/concertd bench/run.sh`

Medians of 1 run(s) of 6 s each, reference and subject interleaved, load generator on the same machine.

| path | concertd (median) | reference (median) | ratio (median of per-run ratios) | target | met? |
| --- | --- | --- | --- | --- | --- |
| `GET /api/queue/status` (waiting token), wrk -t1 -c64 | 119,462 | 166,676 nginx | 0.72 | >= 0.80 x | **no** |
| `GET /api/concerts/{id}/seats` (50 seats), wrk -t1 -c64 | 122,014 | 139,821 nginx | 0.87 | >= 0.50 x | yes |
| `POST /api/queue/token` (new user each), wrk -t1 -c64 | 37,137 | 124,346 nginx | 0.30 | >= 0.40 x | **no** |
| `GET /api/queue/status`, PostgreSQL + Redis, one instance (for comparison) | 20,576 | 166,676 nginx | 0.12 |  |  |
| holds/s, embedded, `synchronous=FULL` | 12,697 | 166,676 nginx (status size) | 0.08 | >= 0.25 x | **no** |
| holds/s, embedded (for comparison) | 12,697 | 10,674 pgbench 1-row UPDATE | 1.19 |  |  |
| holds/s, PostgreSQL + Redis, one instance | 3,574 | 10,674 pgbench 1-row UPDATE | 0.33 | >= 0.80 x | **no** |
| payments/s, PostgreSQL + Redis, one instance | 1,407 | 6,051 pgbench 3-statement tx | 0.23 | >= 0.80 x | **no** |

| p99 at half of peak (embedded) | offered rate | achieved rate | p99 | target | met? |
| --- | --- | --- | --- | --- | --- |
| status | 59,730/s | 59,482/s | 84.22 ms (concertd bench status --rate 59730) | <= 5 ms | **no** |
| seats | 61,007/s | 61,041/s | 6.00 ms (concertd bench seats --rate 61007) | <= 5 ms | **no** |
| token | 18,568/s | 16,815/s | 515.07 ms (concertd bench token --rate 18568) | <= 5 ms | **no** |
| hold | 6,348/s | 6,350/s | 48.51 ms (concertd bench holds --rate 6348) | <= 5 ms | **no** |

| waiting tokens (embedded) | RSS growth | status p99 before / after | target | met? |
| --- | --- | --- | --- | --- |
| 20000 | 6 MB | 6.93 / 64.64 ms | <= 300 MB, p99 unchanged | **no** |

CPU per operation, us of one core (medians of the runs; sampled from /proc over the middle of each closed-loop run; rest = load generator and kernel threads; idle includes iowait):

| run | operations | machine | concertd server | PostgreSQL | Redis | rest | machine idle |
| --- | --- | --- | --- | --- | --- | --- | --- |
| hold (and a quarter of a token), embedded | 12,697/s | 152 | 55 |  |  | 97 | 3% |
| hold (and a quarter of a token), PostgreSQL + Redis | 3,574/s | 557 | 42 | 90 | 34 | 390 | 0% |
| pgbench 1-row UPDATE | 10,674/s | 179 |  | 72 |  | 107 | 4% |
| payment (its hold, a tenth of a token and a charge), PostgreSQL + Redis | 1,407/s | 1,422 | 154 | 483 | 116 | 669 | -0% |
| pgbench 3-statement tx | 6,051/s | 330 |  | 180 |  | 150 | 0% |

Notes:
- binary: /work/main/build/concertd (2026-12-07 23:22:34)
- headers: status reply headers: concertd 96 bytes, nginx 155 bytes
- load: load average at the end: 6.53 5.21 4.30 (a shared machine: compare ratios, not absolute figures)
- pgbench: pgbench -n -M prepared -c32 -j2 -T6 -s10: 1-row UPDATE autocommit (random aid of 1000000); 3-statement tx = BEGIN; UPDATE accounts (aid in the first half); UPDATE accounts (aid2 in the second half); INSERT history; END (no branches/tellers rows: no hot-row contention)
- postgresql: PostgreSQL 15.18: fsync=on, full_page_writes=on, max_connections=300, shared_buffers=16384, synchronous_commit=on, wal_level=replica (shared_buffers in 8 kB pages)
- redis: Redis 7.0.15, no persistence (the queue state is also stored in PostgreSQL)
- size_seats: reply body 2486 bytes (concertd and nginx)
- size_status: reply body 113 bytes (concertd and nginx)
- size_token: reply body 330 bytes (concertd and nginx)
- waiting_rss_proc: server VmRSS 18 MB before, 23 MB after 20000 waiting tokens
"""

# A stand-in run: BENCH_DURATION=3 BENCH_REPEAT=1 BENCH_WAITING=0 BENCH_DISTRIBUTED=0 bench/run.sh with
# CONCERTD a wrapper that refuses the bench subcommand (holds.sh, paced wrk); its measurements
RAW_STANDIN = """\
note\tinfo.bench_tool\t/tmp/cap/concertd-nobench has no bench subcommand: stand-ins used where marked, the rest n/a
note\tinfo.size_status\treply body 113 bytes (concertd and nginx)
note\tinfo.size_seats\treply body 2486 bytes (concertd and nginx)
note\tinfo.size_token\treply body 330 bytes (concertd and nginx)
note\tinfo.headers\tstatus reply headers: concertd 96 bytes, nginx 155 bytes
note\tskip.concertd.status_pg\tBENCH_DISTRIBUTED=0
note\tskip.concertd.holds_pg\tBENCH_DISTRIBUTED=0
note\tskip.concertd.payments_pg\tBENCH_DISTRIBUTED=0
note\tskip.pgbench.update1\tBENCH_DISTRIBUTED=0
note\tskip.pgbench.tx3\tBENCH_DISTRIBUTED=0
note\tskip.concertd.payments_pg\tneeds concertd bench payments
nginx.status.rps\t1\t144295.390
nginx.status.p99_wrk_ms\t1\t0.571
concertd.status.rps\t1\t108625.510
concertd.status.p99_wrk_ms\t1\t2.410
nginx.seats.rps\t1\t153769.400
nginx.seats.p99_wrk_ms\t1\t1.320
concertd.seats.rps\t1\t145864.180
concertd.seats.p99_wrk_ms\t1\t1.180
nginx.token.rps\t1\t139660.400
nginx.token.p99_wrk_ms\t1\t0.641
concertd.token.rps\t1\t59024.770
concertd.token.p99_wrk_ms\t1\t41.130
note\tsource.concertd.holds_embedded\twrk stand-in, bench/holds.sh
concertd.holds_embedded.rps\t1\t666
note\tsource.half.status\twrk stand-in, paced
half.status.rate\t1\t54312
half.status.achieved\t1\t38149.910
half.status.p99_ms\t1\t1.150
note\tsource.half.seats\twrk stand-in, paced
half.seats.rate\t1\t72932
half.seats.achieved\t1\t37123.190
half.seats.p99_ms\t1\t1.510
note\tsource.half.token\twrk stand-in, paced
half.token.rate\t1\t29512
half.token.achieved\t1\t19973.060
half.token.p99_ms\t1\t3.160
note\tsource.half.hold\twrk stand-in, paced
half.hold.rate\t1\t333
half.hold.achieved\t1\t319.170
half.hold.p99_ms\t1\t4.240
note\tskip.waiting\tBENCH_WAITING=0
note\tinfo.binary\t/tmp/cap/concertd-nobench (2026-12-07 23:28:53)
note\tinfo.load\tload average at the end: 2.04 3.85 3.92 (a shared machine: compare ratios, not absolute figures)
"""

META_STANDIN = {'date': '2026-12-07T23:28:55Z', 'machine': '2 cores, Intel(R) Xeon(R) Processor, 23.5 GiB RAM, vm', 'commit': 'd69a5db (uncommitted changes)', 'command': 'BENCH_DURATION=3 BENCH_REPEAT=1 BENCH_WAITING=0 BENCH_DISTRIBUTED=0 CONCERTD=/tmp/cap/concertd-nobench bench/run.sh', 'repeat': '1', 'duration': '3'}

# the table bench/run.sh (with bench/report.py) printed for it
TABLE_STANDIN = """\
# concertd bench, 2026-12-07T23:28:55Z

2026-12-07T23:28:55Z | 2 cores, Intel(R) Xeon(R) Processor, 23.5 GiB RAM, vm | commit d69a5db (uncommitted changes) | `BENCH_DURATION=3 BENCH_REPEAT=1 BENCH_WAITING=0 BENCH_DISTRIBUTED=0 CONCERTD=/tmp/cap/concertd-nobench bench/run.sh`

Medians of 1 run(s) of 3 s each, reference and subject interleaved, load generator on the same machine.

| path | concertd (median) | reference (median) | ratio (median of per-run ratios) | target | met? |
| --- | --- | --- | --- | --- | --- |
| `GET /api/queue/status` (waiting token), wrk -t1 -c64 | 108,626 | 144,295 nginx | 0.75 | >= 0.80 x | **no** |
| `GET /api/concerts/{id}/seats` (50 seats), wrk -t1 -c64 | 145,864 | 153,769 nginx | 0.95 | >= 0.50 x | yes |
| `POST /api/queue/token` (new user each), wrk -t1 -c64 | 59,025 | 139,660 nginx | 0.42 | >= 0.40 x | yes |
| `GET /api/queue/status`, PostgreSQL + Redis, one instance (for comparison) | n/a (BENCH_DISTRIBUTED=0) | 144,295 nginx | n/a |  |  |
| holds/s, embedded, `synchronous=FULL` | 666 | 144,295 nginx (status size) | 0.00 | >= 0.25 x | **no** |
| holds/s, embedded (for comparison) | 666 | n/a pgbench 1-row UPDATE | n/a |  |  |
| holds/s, PostgreSQL + Redis, one instance | n/a (BENCH_DISTRIBUTED=0) | n/a pgbench 1-row UPDATE | n/a | >= 0.80 x | n/a |
| payments/s, PostgreSQL + Redis, one instance | n/a (needs concertd bench payments) | n/a pgbench 3-statement tx | n/a | >= 0.80 x | n/a |

| p99 at half of peak (embedded) | offered rate | achieved rate | p99 | target | met? |
| --- | --- | --- | --- | --- | --- |
| status | 54,312/s | 38,150/s | 1.15 ms (wrk stand-in, paced) | <= 5 ms | yes |
| seats | 72,932/s | 37,123/s | 1.51 ms (wrk stand-in, paced) | <= 5 ms | yes |
| token | 29,512/s | 19,973/s | 3.16 ms (wrk stand-in, paced) | <= 5 ms | yes |
| hold | 333/s | 319/s | 4.24 ms (wrk stand-in, paced) | <= 5 ms | yes |

| waiting tokens (embedded) | RSS growth | status p99 before / after | target | met? |
| --- | --- | --- | --- | --- |
| n/a | n/a (BENCH_WAITING=0) | | <= 300 MB, p99 unchanged | n/a |

Notes:
- bench_tool: /tmp/cap/concertd-nobench has no bench subcommand: stand-ins used where marked, the rest n/a
- binary: /tmp/cap/concertd-nobench (2026-12-07 23:28:53)
- headers: status reply headers: concertd 96 bytes, nginx 155 bytes
- load: load average at the end: 2.04 3.85 3.92 (a shared machine: compare ratios, not absolute figures)
- size_seats: reply body 2486 bytes (concertd and nginx)
- size_status: reply body 113 bytes (concertd and nginx)
- size_token: reply body 330 bytes (concertd and nginx)
"""

