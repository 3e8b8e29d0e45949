#!/usr/bin/env python3
"""make bench: concertd against references measured in the same run, as ratios (docs/scaling.md).

Standard library only (Debian 12's python3). `make bench` runs it after token_verify_bench;
`bench/test_run.py` tests its pure parts (parsers, medians and ratios, the table).

What it measures
----------------
Every figure is the median of BENCH_REPEAT runs of BENCH_DURATION seconds; a reference and its
subject run back to back in each repeat, and a ratio is the median of those per-run ratios.

Ratio table (subject / reference, target):
  `GET /api/queue/status`, waiting token     wrk -t1 -c64 vs nginx serving a reply of the same
                                             body size, same bearer header              >= 0.80
  `GET /api/concerts/{id}/seats`, 50 seats   wrk vs nginx (same body size)              >= 0.50
  `POST /api/queue/token`, a new user each   wrk + bench/wrk.lua vs nginx (same size)   >= 0.40
  status on PostgreSQL + Redis               wrk vs the nginx status figure             (comparison)
  holds/s, embedded, synchronous=FULL        `concertd bench holds` vs nginx status     >= 0.25
  holds/s, embedded                          vs pgbench 1-row UPDATE                    (comparison)
  holds/s, PostgreSQL + Redis                vs pgbench 1-row UPDATE (autocommit)       >= 0.80
  payments/s, PostgreSQL + Redis             `concertd bench payments` vs pgbench
                                             BEGIN; 2 UPDATE + INSERT; END              >= 0.80
  The pgbench references run on the same PostgreSQL 15 server concertd uses (durable defaults:
  fsync, synchronous_commit, full_page_writes on), -n -M prepared -c32 -j2 -s BENCH_PGBENCH_SCALE.

p99 at half of peak (embedded engine), target <= 5 ms: status, seats, token and hold, each
  offered at half the median closed-loop rate measured above (`concertd bench <scenario> --rate`,
  open loop, latency from the intended send time).
Waiting tokens (embedded): RSS growth of the server after `concertd bench waiting --fans
  BENCH_WAITING` (target <= 300 MB) and the status p99 at half peak before and after (unchanged:
  after <= max(2 x before, before + 1 ms)).
CPU per operation (runs of at least 6 s; holds, payments, pgbench): /proc sampled from 2 s after
  the run starts for D - 4 s; microseconds of one core per operation spent by the machine, the
  concertd server, PostgreSQL (postmaster and children), Redis, and the rest (load generator and
  kernel threads), plus the machine's idle share.

Without a `bench` subcommand in CONCERTD (`concertd bench --help` does not say "load generator"):
holds come from the wrk stand-in bench/holds.sh (bench/holds.lua), p99 at half peak from wrk
paced by bench/wrk.lua (RATE, CONNS), payments and the waiting-token row are n/a. (holds.sh
rotates 200 tokens and wants --max-holds-per-user 1000000; on the hold server's 10 it gets 2,000
holds and then refusals, so its figure is a floor.)

Order of a run (main() -> run()):
  1. a read server answers status, seats and token once: nginx is started with those bodies
     (info.size_*, info.headers); with BENCH_DISTRIBUTED=1, PostgreSQL, Redis and pgbench -i.
  2. BENCH_REPEAT times: nginx / concertd status, seats, token (one read server); holds on a
     fresh embedded server; then, distributed: status on a server of its own, and on one write
     server pgbench 1-row UPDATE, holds, pgbench 3-statement tx, payments.
  3. BENCH_REPEAT times: p99 at half peak of status, seats, token, hold (a fresh server each).
  4. the waiting tokens (one server): status p99, `bench waiting`, status p99 again.
  5. the table and the two files.

Servers, each on a free loopback port, stopped when the measurement ends (and, whatever happens,
Ctrl-C and SIGTERM included, before the program exits; temporary directories removed):
  concertd   `serve --no-demo --admin-key bench-admin-key` on its own data dir in the temp dir
             (/tmp/concertd-bench.*), a fresh server for every measurement. Read server:
             --max-active 1 --active-ttl 86400 (one token takes the only slot, a second one
             waits all run long). Hold server: --max-active 1000000 --max-holds-per-user 10.
  nginx      1 worker, returning the three bodies concertd answered (bodies checked byte for
             byte in size), for the whole run.
  PostgreSQL 15 (BENCH_DISTRIBUTED=1): initdb in /tmp/concertd-bench-pg.* (as the postgres user
             when run as root), pg_ctl start on a free port; a database per run
             (concertd_<n>, concertd_status_<n>) plus pgbench's (pgbench -i). Stopped with
             pg_ctl -m immediate.
  Redis      (BENCH_DISTRIBUTED=1): no persistence, 64 databases: db n % 32 for the write
             server of run n, 32 + n % 32 for its status server, flushed after the run.
Servers are waited for by polling (HTTP /healthz, redis-cli ping) with a deadline; every tool runs
under a timeout.

Environment (names and defaults as bench/run.sh had them):
  CONCERTD               server binary (default build/concertd; relative to the current directory)
  BENCH_DURATION         seconds per run (10)
  BENCH_REPEAT           runs per measurement, medians (3)
  BENCH_WAITING          waiting tokens for the RSS row (1000000; 0 skips)
  BENCH_DISTRIBUTED      1: also PostgreSQL + Redis and pgbench (default 1); anything else skips
  BENCH_CONNECTIONS      wrk / concertd bench connections (64)
  BENCH_PGBENCH_SCALE    pgbench scale (10)
  BENCH_TOOL_SLACK       seconds a `concertd bench` run may take beyond BENCH_DURATION (300)
  BENCH_WAITING_TIMEOUT  the same for the waiting scenario's run (3600)

Output: progress on stderr; the table (markdown) on stdout and in
bench/results/<UTC date>-<hostname>[-n].md (n = 2..9: a report is never overwritten), the raw
numbers in the .json next to it (meta, rows, medians, runs, notes).
"""
from __future__ import annotations

import contextlib
import functools
import itertools
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
from dataclasses import dataclass, field
from typing import Iterator, NamedTuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS_DIR = os.path.join(HERE, "results")
WRK_LUA = os.path.join(HERE, "wrk.lua")
HOLDS_SH = os.path.join(HERE, "holds.sh")
PG_BIN = "/usr/lib/postgresql/15/bin"
ADMIN_KEY = "bench-admin-key"
PG_CLIENTS = 32
REQUIRED_TOOLS = ("nginx", "wrk", "curl", "redis-server", "pgbench", "psql")
# The read/token server: one slot, taken for a day, so that a second token waits all run long.
READ_FLAGS = ("--max-active", "1", "--active-ttl", "86400")
# A new active token every few holds (bench holds: 4, payments: 10), never more live holds per user.
HOLD_FLAGS = ("--max-active", "1000000", "--max-holds-per-user", "10")
HALF_STEPS = ("status", "seats", "token", "hold")
# Environment variables of the wrk scripts: set per run, never inherited.
WRK_SCRIPT_ENV = ("USER_PREFIX", "RATE", "CONNS", "WRK_EXTRA", "OFFSET")
START_TIMEOUT = 30.0  # seconds for a server to answer
HTTP_TIMEOUT = 10.0


class BenchError(Exception):
    """A failed step: the message, and the tool's output to show before it."""

    def __init__(self, message: str, output: str = ""):
        super().__init__(message)
        self.output = output


class Terminated(BaseException):
    """SIGTERM, handled like Ctrl-C."""


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# =============================================================================================
# Configuration
# =============================================================================================

@dataclass(frozen=True)
class Config:
    concertd: str
    duration: int = 10
    repeat: int = 3
    waiting: int = 1000000
    distributed: bool = True
    connections: int = 64
    pgbench_scale: int = 10
    tool_slack: int = 300
    waiting_timeout: int = 3600

    def command(self) -> str:
        """The command line that repeats this run (recorded in the report)."""
        return (f"BENCH_DURATION={self.duration} BENCH_REPEAT={self.repeat} BENCH_WAITING={self.waiting} "
                f"BENCH_DISTRIBUTED={1 if self.distributed else 0} CONCERTD={self.concertd} bench/run.py")


def config_from_env(env: dict[str, str], cwd: str) -> Config:
    def whole(name: str, default: int, minimum: int = 0) -> int:
        text = env.get(name) or str(default)  # set but empty counts as unset, as ${X:-default}
        try:
            value = int(text)
        except ValueError:
            raise BenchError(f"{name} must be a whole number, not {text!r}") from None
        if value < minimum:
            raise BenchError(f"{name} must be at least {minimum}, not {value}")
        return value

    concertd = env.get("CONCERTD") or os.path.join(ROOT, "build", "concertd")
    if not concertd.startswith("/"):
        concertd = os.path.join(cwd, concertd)
    return Config(concertd=concertd,
                  duration=whole("BENCH_DURATION", 10, 1),
                  repeat=whole("BENCH_REPEAT", 3, 1),
                  waiting=whole("BENCH_WAITING", 1000000),
                  distributed=(env.get("BENCH_DISTRIBUTED") or "1") == "1",
                  connections=whole("BENCH_CONNECTIONS", 64, 1),
                  pgbench_scale=whole("BENCH_PGBENCH_SCALE", 10, 1),
                  tool_slack=whole("BENCH_TOOL_SLACK", 300),
                  waiting_timeout=whole("BENCH_WAITING_TIMEOUT", 3600))


# =============================================================================================
# Pure parts: parsers (wrk, pgbench, concertd bench JSON, bench/holds.sh)
# =============================================================================================

UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


class WrkResult(NamedTuple):
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non2xx: int
    socket_errors: int


class BenchStep(NamedTuple):
    rate: float
    p99_ms: float
    errors: int
    invariants_ok: bool


def wrk_ms(text: str) -> float:
    """A wrk duration ("424.00us", "7.55ms", "1.02s") in milliseconds."""
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        raise BenchError(f"not a wrk duration: {text!r}")
    return float(m.group(1)) * UNITS_MS[m.group(2)]


def parse_wrk(out: str) -> WrkResult:
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    if not rps:
        raise BenchError("no Requests/sec in wrk's output", out)
    pct = dict(re.findall(r"^\s+(50|99)(?:\.000)?%\s+(\S+)", out, re.M))
    reqs = re.search(r"^\s+(\d+) requests in", out, re.M)
    non2xx = re.search(r"^\s+Non-2xx or 3xx responses:\s+(\d+)", out, re.M)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return WrkResult(rps=float(rps.group(1)),
                     p50_ms=wrk_ms(pct["50"]) if "50" in pct else float("nan"),
                     p99_ms=wrk_ms(pct["99"]) if "99" in pct else float("nan"),
                     requests=int(reqs.group(1)) if reqs else 0,
                     non2xx=int(non2xx.group(1)) if non2xx else 0,
                     socket_errors=sum(int(x) for x in sock.groups()) if sock else 0)


def parse_pgbench(out: str) -> tuple[float, float]:
    """(tps without the initial connection time, average latency in ms)."""
    tps = re.search(r"^tps = ([\d.]+) \(without initial connection time\)", out, re.M)
    lat = re.search(r"^latency average = ([\d.]+) ms", out, re.M)
    if not tps:
        raise BenchError("no tps in pgbench's output", out)
    return float(tps.group(1)), float(lat.group(1)) if lat else float("nan")


def bench_step(doc: dict, step: str) -> BenchStep:
    """One step of a `concertd bench --json` result."""
    s = doc.get("steps", {}).get(step)
    if s is None:
        raise BenchError(f"no step {step!r} in the bench result (steps: {list(doc.get('steps', {}))})")
    return BenchStep(rate=s["rate_per_s"], p99_ms=s["latency_ms"]["p99"], errors=s.get("errors", 0),
                     invariants_ok=bool(doc.get("invariants", {}).get("ok", True)))


def find_rss(doc: dict) -> list[tuple[str, float]]:
    """Every number under a key that mentions rss, in document order (the waiting scenario's
    contract names /metrics `process_resident_memory_bytes` but not the JSON key)."""
    found = []

    def walk(node, key=""):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, k)
        elif isinstance(node, (int, float)) and not isinstance(node, bool) and "rss" in key.lower():
            found.append((key, node))
    walk(doc)
    return found


def parse_holds_rate(out: str) -> int:
    """bench/holds.sh's last line: "holds taken (201): N in Ds = R holds/s"."""
    m = re.search(r"^.* = (\d*) holds/s$", out, re.M)
    if not m or not m.group(1):
        raise BenchError("no holds/s from bench/holds.sh", out)
    return int(m.group(1))


# =============================================================================================
# Pure parts: figures
# =============================================================================================

def r1(x: float) -> float:
    """Rounded as the shell recorded it ("%.1f")."""
    return float(f"{x:.1f}")


def r3(x: float) -> float:
    """Rounded as the shell recorded it ("%.3f")."""
    return float(f"{x:.3f}")


def median(values: list[float] | None) -> float | None:
    return statistics.median(values) if values else None


def half_rate(values: list[float]) -> int:
    """Half of the median peak, truncated: the rate a p99-at-half-peak run offers."""
    if not values:
        raise BenchError("no peak measured to take half of")
    return int(statistics.median(values) / 2)


class CpuSample(NamedTuple):
    """Busy clock ticks so far (and the uptime in seconds) of the parts of the machine."""
    uptime: float
    machine: int
    server: int
    postgres: int
    redis: int


def cpu_per_op(first: CpuSample, second: CpuSample, rate: float, hz: int, cpus: int) -> dict | None:
    """Microseconds of one core per operation of each part between the two samples, and the
    machine's idle percentage; None when the window saw no operations."""
    window = second.uptime - first.uptime
    ops = rate * window
    if ops <= 0:
        return None
    per_op = {f"{part}_us": r1((getattr(second, part) - getattr(first, part)) * 1e6 / hz / ops)
              for part in ("machine", "server", "postgres", "redis")}
    per_op["idle_pct"] = r1(100 - 100 * (second.machine - first.machine) / (hz * window * cpus))
    return per_op


def proc_stat_ticks(stat: str) -> int:
    """utime + stime + cutime + cstime from a /proc/<pid>/stat line."""
    fields = stat[stat.rindex(")") + 2:].split()  # fields[0] is field 3 (state)
    return sum(int(x) for x in fields[11:15])


def proc_stat_ppid(stat: str) -> int:
    return int(stat[stat.rindex(")") + 2:].split()[1])


def machine_busy_ticks(proc_stat: str) -> int:
    """user + nice + system + irq + softirq of /proc/stat's cpu line (iowait and steal are idle)."""
    for line in proc_stat.splitlines():
        if line.startswith("cpu "):
            f = [int(x) for x in line.split()[1:]]
            return f[0] + f[1] + f[2] + f[5] + f[6]
    raise BenchError("no cpu line in /proc/stat")


def nginx_escape(body: str) -> str:
    """A reply body inside nginx's single quotes: \\ and ' escaped, $ (a variable) made _; the
    trailing newlines dropped as the shell's $(...) did."""
    return body.replace("\\", "\\\\").replace("'", "\\'").replace("$", "_").rstrip("\n")


def nginx_config(ndir: str, port: int, status: str, seats: str, token: str) -> str:
    return f"""worker_processes 1;
daemon off;
pid {ndir}/nginx.pid;
error_log {ndir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 1000000000;
  keepalive_timeout 300s;
  client_body_temp_path {ndir}/body;
  proxy_temp_path {ndir}/proxy;
  fastcgi_temp_path {ndir}/fastcgi;
  uwsgi_temp_path {ndir}/uwsgi;
  scgi_temp_path {ndir}/scgi;
  default_type application/json;
  server {{
    listen 127.0.0.1:{port};
    location = /status {{ return 200 '{nginx_escape(status)}'; }}
    location = /seats {{ return 200 '{nginx_escape(seats)}'; }}
    location = /token {{ return 201 '{nginx_escape(token)}'; }}
  }}
}}
"""


def filesystem_type(path: str, mounts: str) -> str | None:
    """The type of the file system holding path, from /proc/self/mounts (longest mount point)."""
    best, best_type = "", None
    for line in mounts.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        mnt = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), parts[1])
        inside = path == mnt or path.startswith(mnt.rstrip("/") + "/")
        if inside and len(mnt) >= len(best):
            best, best_type = mnt, parts[2]
    return best_type


def result_base(results_dir: str, day: str, host: str, exists=os.path.exists) -> str:
    """<day>-<host>, else -2 ... -9 (the first free one; -9 is reused): a report is never
    overwritten (the README cites them)."""
    base = os.path.join(results_dir, f"{day}-{host}")
    for n in range(2, 10):
        if not exists(base + ".md"):
            break
        base = os.path.join(results_dir, f"{day}-{host}-{n}")
    return base


# =============================================================================================
# Pure parts: the table
# =============================================================================================

# (label, subject metric, reference metric, reference label, target ratio or None)
RATIO_ROWS = [
    ("`GET /api/queue/status` (waiting token), wrk -t1 -c64", "concertd.status.rps", "nginx.status.rps",
     "nginx", 0.80),
    ("`GET /api/concerts/{id}/seats` (50 seats), wrk -t1 -c64", "concertd.seats.rps", "nginx.seats.rps",
     "nginx", 0.50),
    ("`POST /api/queue/token` (new user each), wrk -t1 -c64", "concertd.token.rps", "nginx.token.rps",
     "nginx", 0.40),
    ("`GET /api/queue/status`, PostgreSQL + Redis, one instance (for comparison)", "concertd.status_pg.rps",
     "nginx.status.rps", "nginx", None),
    ("holds/s, embedded, `synchronous=FULL`", "concertd.holds_embedded.rps", "nginx.status.rps",
     "nginx (status size)", 0.25),
    ("holds/s, embedded (for comparison)", "concertd.holds_embedded.rps", "pgbench.update1.tps",
     "pgbench 1-row UPDATE", None),
    ("holds/s, PostgreSQL + Redis, one instance", "concertd.holds_pg.rps", "pgbench.update1.tps",
     "pgbench 1-row UPDATE", 0.80),
    ("payments/s, PostgreSQL + Redis, one instance", "concertd.payments_pg.rps", "pgbench.tx3.tps",
     "pgbench 3-statement tx", 0.80),
]
# (label, metric) of the closed-loop runs whose CPU is sampled (cpu_sampler / record_cpu).
CPU_ROWS = [
    ("hold (and a quarter of a token), embedded", "concertd.holds_embedded"),
    ("hold (and a quarter of a token), PostgreSQL + Redis", "concertd.holds_pg"),
    ("pgbench 1-row UPDATE", "pgbench.update1"),
    ("payment (its hold, a tenth of a token and a charge), PostgreSQL + Redis", "concertd.payments_pg"),
    ("pgbench 3-statement tx", "pgbench.tx3"),
]
CPU_PARTS = ["machine_us", "server_us", "postgres_us", "redis_us", "idle_pct"]
HALF_P99_TARGET_MS = 5.0


@dataclass
class Results:
    """The measurements (metric -> one value a run, in run order) and the notes (key -> text:
    skip.<metric> reasons, source.<metric> of a figure, info.* lines under the table)."""
    values: dict[str, list[float]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def record(self, metric: str, value: float) -> None:
        self.values.setdefault(metric, []).append(float(value))

    def note(self, key: str, text: str) -> None:
        self.notes[key] = text

    def median(self, metric: str) -> float | None:
        return median(self.values.get(metric))


def fmt(x: float | None, digits: int = 0) -> str:
    if x is None:
        return "n/a"
    if digits == 0:
        return f"{x:,.0f}"
    return f"{x:,.{digits}f}"


def paired_ratio(subject: list[float], reference: list[float]) -> float | None:
    """The median of the per-run ratios: reference and subject ran back to back in each repeat,
    which is steadier on a shared machine than the ratio of the medians."""
    pairs = [a / b for a, b in zip(subject, reference) if b]
    return statistics.median(pairs) if pairs else None


def why_missing(notes: dict[str, str], *keys: str) -> str:
    for k in keys:
        for name in (k, k.rsplit(".", 1)[0]):  # "concertd.holds_pg.rps" is skipped as "concertd.holds_pg"
            if f"skip.{name}" in notes:
                return notes[f"skip.{name}"]
    return "not measured"


def ratio_section(res: Results) -> tuple[list[str], list[dict]]:
    lines, rows = [], []
    for label, subj, ref, ref_label, target in RATIO_ROWS:
        s, r = res.median(subj), res.median(ref)
        ratio = paired_ratio(res.values.get(subj, []), res.values.get(ref, []))
        met = "" if target is None else ("n/a" if ratio is None else ("yes" if ratio >= target else "**no**"))
        tgt = "" if target is None else f">= {target:.2f} x"
        src = res.notes.get(f"source.{subj}", "")
        subj_text = fmt(s) if s is not None else f"n/a ({why_missing(res.notes, subj)})"
        if src and s is not None:
            subj_text += f" ({src})"
        lines.append(f"| {label} | {subj_text} | {fmt(r)} {ref_label} | "
                     f"{fmt(ratio, 2) if ratio is not None else 'n/a'} | {tgt} | {met} |")
        rows.append({"path": label, "subject": s, "reference": r, "reference_name": ref_label,
                     "ratio": ratio, "target": target, "source": src or None,
                     "subject_runs": res.values.get(subj, []), "reference_runs": res.values.get(ref, [])})
    return lines, rows


def half_peak_section(res: Results) -> tuple[list[str], list[dict]]:
    lines = ["", "| p99 at half of peak (embedded) | offered rate | achieved rate | p99 | target | met? |",
             "| --- | --- | --- | --- | --- | --- |"]
    rows = []
    for step in HALF_STEPS:
        rate, got, p99 = (res.median(f"half.{step}.{k}") for k in ("rate", "achieved", "p99_ms"))
        src = res.notes.get(f"source.half.{step}", "")
        met = "n/a" if p99 is None else ("yes" if p99 <= HALF_P99_TARGET_MS else "**no**")
        p99_text = f"{p99:.2f} ms" if p99 is not None else f"n/a ({why_missing(res.notes, f'half.{step}')})"
        if src and p99 is not None:
            p99_text += f" ({src})"
        lines.append(f"| {step} | {fmt(rate)}/s | {fmt(got)}/s | {p99_text} | <= 5 ms | {met} |")
        rows.append({"path": f"p99 at half peak: {step}", "rate": rate, "achieved": got, "p99_ms": p99,
                     "target_ms": HALF_P99_TARGET_MS, "source": src or None})
    return lines, rows


def waiting_section(res: Results) -> tuple[list[str], list[dict]]:
    growth = res.median("waiting.rss_growth_mb")
    p99_before = res.median("waiting.status_p99_before_ms")
    p99_after = res.median("waiting.status_p99_after_ms")
    fans = res.notes.get("waiting.fans", "")
    lines = ["", "| waiting tokens (embedded) | RSS growth | status p99 before / after | target | met? |",
             "| --- | --- | --- | --- | --- |"]
    if growth is None:
        lines.append(f"| {fans or 'n/a'} | n/a ({why_missing(res.notes, 'waiting')}) | "
                     "| <= 300 MB, p99 unchanged | n/a |")
    else:
        same = (p99_before is not None and p99_after is not None
                and p99_after <= max(2 * p99_before, p99_before + 1.0))
        lines.append(f"| {fans} | {growth:,.0f} MB | {fmt(p99_before, 2)} / {fmt(p99_after, 2)} ms | "
                     f"<= 300 MB, p99 unchanged | {'yes' if growth <= 300 and same else '**no**'} |")
    rows = [{"path": "waiting tokens", "fans": fans, "rss_growth_mb": growth,
             "status_p99_before_ms": p99_before, "status_p99_after_ms": p99_after}]
    return lines, rows


def cpu_section(res: Results) -> tuple[list[str], list[dict]]:
    lines, rows = [], []
    for label, metric in CPU_ROWS:
        machine, server, pg, redis, idle = (res.median(f"{metric}.cpu.{k}") for k in CPU_PARTS)
        if machine is None:
            continue
        # The rest per run, then its median: medians of the parts taken apart need not add up.
        parts = [res.values.get(f"{metric}.cpu.{k}", []) for k in CPU_PARTS[:4]]
        rest = statistics.median(m - s - p - r for m, s, p, r in zip(*parts))
        rate = res.median(metric + (".tps" if metric.startswith("pgbench") else ".rps"))
        lines.append(f"| {label} | {fmt(rate)}/s | {fmt(machine)} | "
                     f"{fmt(server) if metric.startswith('concertd') else ''} | "
                     f"{fmt(pg) if 'embedded' not in label else ''} | {fmt(redis) if 'Redis' in label else ''} | "
                     f"{fmt(rest)} | {idle:.0f}% |")
        rows.append({"path": f"cpu per operation: {label}", "rate": rate, "machine_us": machine,
                     "server_us": server, "postgres_us": pg, "redis_us": redis, "rest_us": rest,
                     "idle_pct": idle})
    if lines:
        lines = ["", "CPU per operation, us of one core (medians of the runs; sampled from /proc over the middle "
                 "of each closed-loop run; rest = load generator and kernel threads; idle includes iowait):", "",
                 "| run | operations | machine | concertd server | PostgreSQL | Redis | rest | machine idle |",
                 "| --- | --- | --- | --- | --- | --- | --- | --- |"] + lines
    return lines, rows


def render_report(res: Results, meta: dict) -> tuple[str, dict]:
    """The markdown table and the JSON document of a run."""
    lines = [f"# concertd bench, {meta['date']}", "",
             f"{meta['date']} | {meta['machine']} | commit {meta['commit']} | `{meta['command']}`", "",
             f"Medians of {meta['repeat']} run(s) of {meta['duration']} s each, reference and subject "
             "interleaved, load generator on the same machine.", "",
             "| path | concertd (median) | reference (median) | ratio (median of per-run ratios) | target | met? |",
             "| --- | --- | --- | --- | --- | --- |"]
    rows = []
    for section in (ratio_section, half_peak_section, waiting_section, cpu_section):
        section_lines, section_rows = section(res)
        lines += section_lines
        rows += section_rows
    extra = [f"- {k[5:]}: {v}" for k, v in sorted(res.notes.items()) if k.startswith("info.")]
    if extra:
        lines += ["", "Notes:"] + extra
    doc = {"meta": meta, "rows": rows, "medians": {k: statistics.median(v) for k, v in res.values.items()},
           "runs": res.values, "notes": res.notes}
    return "\n".join(lines) + "\n", doc


# =============================================================================================
# Processes: tools under a timeout, servers stopped whatever happens
# =============================================================================================

class Completed(NamedTuple):
    rc: int
    out: str
    err: str

    @property
    def all(self) -> str:
        return self.out + self.err


def _kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def run_tool(argv: list[str], timeout: float, what: str, *, env: dict | None = None,
             check: bool = True) -> Completed:
    """Runs a tool to its end, at most `timeout` seconds, in its own process group (killed whole on
    a timeout or an interrupt: holds.sh's wrk too). check: a non-zero exit is a BenchError."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        try:
            out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:  # something outside the group still holds the pipes
            proc.kill()
            out, err = b"", b""
        raise BenchError(f"{what}: no result within {timeout:.0f} s",
                         (out + err).decode("utf-8", "replace")) from None
    except BaseException:
        _kill_group(proc)
        proc.wait()
        raise
    done = Completed(proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))
    if check and done.rc != 0:
        raise BenchError(f"{what} (exit {done.rc})", done.all)
    return done


def tool_env(**overrides: str) -> dict[str, str]:
    """The environment of a wrk run: the wrk scripts' variables only as given."""
    env = {k: v for k, v in os.environ.items() if k not in WRK_SCRIPT_ENV}
    env.update(overrides)
    return env


class Processes:
    """The long-running processes (servers): each stopped by the code that started it, in a
    finally; stop_all() in main() catches any a second Ctrl-C left behind."""

    def __init__(self) -> None:
        self.running: list[subprocess.Popen] = []

    def start(self, argv: list[str], log_path: str) -> subprocess.Popen:
        with open(log_path, "wb") as log_file:
            # Its own session: Ctrl-C reaches only this program, which stops the servers in order.
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        self.running.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen, grace: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds."""
        try:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    _kill_group(proc)
                    proc.wait(timeout=grace)
        finally:
            if proc.poll() is None:
                _kill_group(proc)
            if proc in self.running:
                self.running.remove(proc)

    def stop_all(self, grace: float = 5.0) -> None:
        for proc in self.running:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + grace
        for proc in list(self.running):
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            if proc.poll() is None:
                _kill_group(proc)
                proc.wait()
            self.running.remove(proc)


def tail(path: str, lines: int = 30) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def wait_until(ready, proc: subprocess.Popen, what: str, log_path: str, timeout: float = START_TIMEOUT) -> None:
    """Polls ready() until it is true, while proc runs, for at most `timeout` seconds; the pause
    between two polls is a wait on the process, which ends early if it exits."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise BenchError(f"process {proc.pid} exited while starting ({log_path})", tail(log_path))
        if ready():
            return
        if time.monotonic() > deadline:
            raise BenchError(f"{what} did not answer within {timeout:.0f} s", tail(log_path))
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# =============================================================================================
# HTTP: a small HTTP/1.1 client that also counts the reply's header bytes (curl's size_header)
# =============================================================================================

class Reply(NamedTuple):
    status: int
    header_bytes: int  # status line, header lines and the blank line
    body: bytes

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            raise BenchError("a reply that is not JSON", self.body.decode("utf-8", "replace")) from None


def http(method: str, url: str, body: str | None = None, headers: dict[str, str] | None = None,
         timeout: float = HTTP_TIMEOUT, check: bool = True) -> Reply:
    """One request on a fresh connection. check: a status >= 400 is a BenchError (curl -f)."""
    u = urllib.parse.urlsplit(url)
    target = (u.path or "/") + (f"?{u.query}" if u.query else "")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {u.netloc}", "Accept: */*"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    data = b"" if body is None else body.encode()
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
    try:
        status, head, payload = _exchange(u, ("\r\n".join(lines) + "\r\n\r\n").encode() + data, timeout)
    except (OSError, ValueError, IndexError) as e:
        raise BenchError(f"{method} {url}: {e}") from None
    if check and status >= 400:
        raise BenchError(f"{method} {url}: HTTP {status}", payload.decode("utf-8", "replace"))
    return Reply(status, len(head), payload)


def _exchange(u: urllib.parse.SplitResult, request: bytes, timeout: float) -> tuple[int, bytes, bytes]:
    """Sends the request, reads the reply: (status, the raw header block, the body)."""
    with socket.create_connection((u.hostname, u.port or 80), timeout=timeout) as sock:
        sock.sendall(request)
        reader = sock.makefile("rb")
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            line = reader.readline(65536)
            if not line:
                raise ValueError("the connection closed before the reply's headers")
            head += line
        status = int(head.split(b" ", 2)[1])
        fields = {}
        for line in head.split(b"\r\n")[1:]:
            if b":" in line:
                k, v = line.split(b":", 1)
                fields[k.strip().lower()] = v.strip()
        if b"content-length" in fields:
            payload = reader.read(int(fields[b"content-length"]))
        elif fields.get(b"transfer-encoding", b"").lower() == b"chunked":
            payload = _read_chunked(reader)
        else:
            payload = reader.read()
    return status, head, payload


def _read_chunked(reader) -> bytes:
    payload = b""
    while True:
        size = int(reader.readline().split(b";")[0], 16)
        if size == 0:
            while reader.readline() not in (b"\r\n", b""):  # trailers
                pass
            return payload
        payload += reader.read(size)
        reader.readline()


def http_ok(url: str) -> bool:
    try:
        return http("GET", url, timeout=2.0, check=False).status < 400
    except BenchError:
        return False


# =============================================================================================
# The run's state, and the servers
# =============================================================================================

@dataclass
class Backends:
    pg_port: int
    redis_port: int
    postmaster_pid: int
    redis_pid: int


@dataclass
class Bench:
    cfg: Config
    tmp: str
    procs: Processes = field(default_factory=Processes)
    results: Results = field(default_factory=Results)
    has_bench: bool = False
    nginx_url: str = ""
    backends: Backends | None = None
    sequence: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def path(self, name: str) -> str:
        """A fresh file or directory name in the temp dir."""
        return os.path.join(self.tmp, f"{name}-{next(self.sequence)}")


@dataclass
class Server:
    url: str
    proc: subprocess.Popen


@dataclass
class ReadServer:
    url: str
    proc: subprocess.Popen
    waiting_token: str
    concert: int

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.waiting_token}"}


@functools.cache
def access_log_flag(binary: str) -> bool:
    """Whether `binary serve` takes --no-access-log."""
    out = subprocess.run([binary, "serve", "--help"], capture_output=True, text=True, timeout=30).stdout
    return "--no-access-log" in out


@contextlib.contextmanager
def concertd(b: Bench, *flags: str) -> Iterator[Server]:
    """A fresh concertd (own data dir, free port), answering /healthz; stopped on leaving."""
    port = free_port()
    sdir = b.path("concertd")
    os.makedirs(os.path.join(sdir, "data"))
    log_path = os.path.join(sdir, "log")
    # The access log off, as nginx's (access_log off): the rows compare request handling. (Its cost
    # is measured apart: docs/performance.md.) Older binaries have no such flag.
    quiet = ["--no-access-log"] if access_log_flag(b.cfg.concertd) else []
    proc = b.procs.start([b.cfg.concertd, "serve", "--host", "127.0.0.1", "--port", str(port),
                          "--data-dir", os.path.join(sdir, "data"), "--admin-key", ADMIN_KEY, "--no-demo", *quiet,
                          *flags],
                         log_path)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: http_ok(url + "/healthz"), proc, url + "/healthz", log_path)
        yield Server(url, proc)
    finally:
        b.procs.stop(proc)


def new_concert(url: str, seats: int) -> int:
    body = json.dumps({"title": "bench", "venue": "hall", "date": "2030-01-01", "seatCount": seats,
                       "price": 50000}, separators=(",", ":"))
    return http("POST", f"{url}/api/admin/concerts", body, {"X-Admin-Key": ADMIN_KEY}).json()["concertId"]


def new_token(url: str, user: str) -> str:
    return http("POST", f"{url}/api/queue/token", json.dumps({"userId": user})).json()["token"]


def require_waiting(rs: ReadServer, message: str) -> None:
    if http("GET", f"{rs.url}/api/queue/status", headers=rs.auth).json().get("status") != "waiting":
        raise BenchError(message)


@contextlib.contextmanager
def read_server(b: Bench, *flags: str) -> Iterator[ReadServer]:
    """A read server whose only slot is taken, a token that waits, and a concert of 50 seats."""
    with concertd(b, *READ_FLAGS, *flags) as cd:
        new_token(cd.url, "bench-active")
        rs = ReadServer(cd.url, cd.proc, new_token(cd.url, "bench-waiting"), 0)
        require_waiting(rs, "the second token is not waiting")
        rs.concert = new_concert(cd.url, 50)
        yield rs


@contextlib.contextmanager
def nginx(b: Bench, bodies: dict[str, bytes]) -> Iterator[str]:
    """nginx (1 worker) answering /status, /seats and /token with the given bodies; yields its URL."""
    port = free_port()
    ndir = os.path.join(b.tmp, "nginx")
    os.makedirs(ndir)
    conf = os.path.join(ndir, "nginx.conf")
    text = {k: v.decode("utf-8", "surrogateescape") for k, v in bodies.items()}
    with open(conf, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write(nginx_config(ndir, port, text["status"], text["seats"], text["token"]))
    argv = [shutil.which("nginx") or "/usr/sbin/nginx", "-e", os.path.join(ndir, "error.log"), "-p", ndir, "-c", conf]
    run_tool(argv + ["-t"], 30, "nginx config")
    proc = b.procs.start(argv, os.path.join(ndir, "out.log"))
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: http_ok(url + "/status"), proc, url + "/status", os.path.join(ndir, "error.log"))
        yield url
    finally:
        b.procs.stop(proc)


def as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def psql(port: int, db: str, *args: str) -> str:
    return run_tool(["psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
                     "-d", db, *args], 60, f"psql {' '.join(args)}").out


def redis_cli(port: int, *args: str) -> str:
    return run_tool(["redis-cli", "-p", str(port), *args], 10, f"redis-cli {' '.join(args)}").out


def redis_ping(port: int) -> bool:
    try:
        return redis_cli(port, "ping").strip() == "PONG"
    except BenchError:
        return False


@contextlib.contextmanager
def backends(b: Bench) -> Iterator[Backends]:
    """PostgreSQL 15 (durable defaults: the same settings for pgbench and concertd) and Redis (no
    persistence: the queue state is also stored in PostgreSQL), on free ports."""
    pgdir = tempfile.mkdtemp(prefix="concertd-bench-pg.", dir="/tmp")
    data = os.path.join(pgdir, "data")
    pg_running = False
    redis = None
    try:
        if os.geteuid() == 0:
            shutil.chown(pgdir, "postgres", "postgres")
        pg_port = free_port()
        run_tool(as_postgres([f"{PG_BIN}/initdb", "-D", data, "-A", "trust", "-U", "postgres"]), 300, "initdb")
        pg_opts = (f"-p {pg_port} -k {pgdir} -c listen_addresses=127.0.0.1 -c max_connections=300 "
                   "-c shared_buffers=128MB")
        started = run_tool(as_postgres([f"{PG_BIN}/pg_ctl", "-D", data, "-l", f"{pgdir}/pg.log", "-w", "-t", "60",
                                        "-o", pg_opts, "start"]), 90, "pg_ctl start", check=False)
        if started.rc != 0:
            raise BenchError("PostgreSQL did not start", started.all + tail(f"{pgdir}/pg.log"))
        pg_running = True
        with open(os.path.join(data, "postmaster.pid")) as f:
            postmaster = int(f.readline())
        settings = psql(pg_port, "postgres", "-Atc", "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) "
                        "FROM pg_settings WHERE name IN ('fsync','synchronous_commit','full_page_writes',"
                        "'shared_buffers','wal_level','max_connections')").strip()
        version = run_tool([f"{PG_BIN}/postgres", "--version"], 30, "postgres --version").out.split()[2]
        b.results.note("info.postgresql", f"PostgreSQL {version}: {settings} (shared_buffers in 8 kB pages)")

        redis_port = free_port()
        redis_log = os.path.join(b.tmp, "redis.log")
        redis = b.procs.start(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--databases", "64", "--dir", b.tmp], redis_log)
        wait_until(lambda: redis_ping(redis_port), redis,
                   "redis-server", redis_log, timeout=10)
        b.backends = Backends(pg_port, redis_port, postmaster, redis.pid)
        version = re.search(r"v=(\S+)", run_tool(["redis-server", "--version"], 30, "redis-server --version").out)
        b.results.note("info.redis", f"Redis {version.group(1) if version else '?'}, no persistence "
                       "(the queue state is also stored in PostgreSQL)")
        yield b.backends
    finally:
        b.backends = None
        if redis is not None:
            b.procs.stop(redis)
        if pg_running:
            run_tool(as_postgres([f"{PG_BIN}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"]), 60,
                     "pg_ctl stop", check=False)
        shutil.rmtree(pgdir, ignore_errors=True)


# =============================================================================================
# CPU per operation: where the two cores went during a run
# =============================================================================================
# Sampled from /proc over the middle of a D-second run (from 2 s after the run starts, past the
# setup and the ramp, for D - 4 s): the server's ticks, PostgreSQL's (the postmaster and its
# children, with the ticks of backends that exited), Redis's, and the machine's busy ticks (user,
# nice, system, irq, softirq: iowait and steal count as idle); the rest is the load generator
# (concertd bench, pgbench) and the kernel's threads. Divided by the run's operations per
# second, it says which process a target's missing throughput is spent in. Only for concertd
# bench and pgbench runs: the wrk stand-in spends its first seconds on setup.

def read_text(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def pids_ticks(pids: list[int]) -> int:
    """utime + stime + the reaped children's of all; a pid that is gone adds 0."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError):
            total += proc_stat_ticks(read_text(f"/proc/{pid}/stat"))
    return total


def children_of(pid: int) -> list[int]:
    kids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            with contextlib.suppress(OSError, ValueError):
                if proc_stat_ppid(read_text(f"/proc/{name}/stat")) == pid:
                    kids.append(int(name))
    return kids


def cpu_sample(server_pid: int | None, backends: Backends | None) -> CpuSample:
    pg = redis = 0
    if backends:
        pg = pids_ticks([backends.postmaster_pid, *children_of(backends.postmaster_pid)])
        redis = pids_ticks([backends.redis_pid]) if backends.redis_pid else 0
    return CpuSample(uptime=float(read_text("/proc/uptime").split()[0]),
                     machine=machine_busy_ticks(read_text("/proc/stat")),
                     server=pids_ticks([server_pid]) if server_pid else 0, postgres=pg, redis=redis)


class CpuSampler:
    """Two samples in a thread while a D-second run goes on: at 2 s and at D - 2 s."""

    def __init__(self, duration: int, server_pid: int | None, backends: Backends | None):
        self.samples: list[CpuSample] = []
        self.failed = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(duration, server_pid, backends), daemon=True)
        self._thread.start()

    def _run(self, duration, server_pid, backends) -> None:
        try:
            for pause in (2, duration - 4):
                if self._stop.wait(pause):
                    return
                self.samples.append(cpu_sample(server_pid, backends))
        except Exception:
            self.failed = True

    def cancel(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def finish(self) -> None:
        self._thread.join(timeout=60)


@contextlib.contextmanager
def cpu_sampler(b: Bench, server_pid: int | None) -> Iterator[CpuSampler | None]:
    """Samples while the block runs one D-second run (nothing for runs under 6 s)."""
    if b.cfg.duration < 6:
        yield None
        return
    sampler = CpuSampler(b.cfg.duration, server_pid, b.backends)
    try:
        yield sampler
    except BaseException:
        sampler.cancel()
        raise
    sampler.finish()


def record_cpu(b: Bench, metric: str, sampler: CpuSampler | None, rate: float) -> None:
    """Records the µs of one core per operation of each part (metric.cpu.*)."""
    if sampler is None:
        return
    if sampler.failed or len(sampler.samples) != 2:
        log(f"{metric}: no CPU sample (the sampler failed)")
        return
    # /proc/stat's total is over all the cpus, whatever the affinity says.
    cpus = len(re.findall(r"^cpu\d", read_text("/proc/stat"), re.M))
    per_op = cpu_per_op(*sampler.samples, rate=rate, hz=os.sysconf("SC_CLK_TCK"), cpus=cpus)
    if per_op is None:
        log(f"{metric}: no CPU figures (rate {rate})")
        return
    for part in CPU_PARTS:
        b.results.record(f"{metric}.cpu.{part}", per_op[part])


# =============================================================================================
# Load generators
# =============================================================================================

def run_wrk(b: Bench, metric: str, url: str, *args: str, user_prefix: str | None = None) -> None:
    """A closed-loop wrk run (-t1, BENCH_CONNECTIONS): records <metric>.rps and .p99_wrk_ms; any
    non-2xx reply or socket error fails the bench."""
    D = b.cfg.duration
    env = tool_env(**({"USER_PREFIX": user_prefix} if user_prefix else {}))
    out = run_tool(["wrk", "-t1", f"-c{b.cfg.connections}", f"-d{D}s", "--latency", *args, url], D + 60,
                   f"wrk on {url}", env=env).all
    w = parse_wrk(out)
    if w.non2xx or w.socket_errors:
        raise BenchError(f"{metric}: {w.non2xx} non-2xx replies, {w.socket_errors} socket errors of "
                         f"{w.requests} requests", out)
    b.results.record(f"{metric}.rps", r3(w.rps))
    b.results.record(f"{metric}.p99_wrk_ms", r3(w.p99_ms))
    log(f"{metric}: {w.rps:.0f} req/s, p99 {w.p99_ms:.3f} ms (wrk, closed loop)")


def run_bench(b: Bench, scenario: str, url: str, *extra: str, slack: int | None = None) -> dict:
    """`concertd bench <scenario>` (BENCH_CONNECTIONS, BENCH_DURATION): its --json result. A
    non-zero exit (a failed run or a broken invariant) fails the bench."""
    out = b.path(f"bench-{scenario}") + ".json"
    slack = b.cfg.tool_slack if slack is None else slack
    run_tool([b.cfg.concertd, "bench", scenario, "--url", url, "--admin-key", ADMIN_KEY,
              "--concurrency", str(b.cfg.connections), "--duration", str(b.cfg.duration), "--no-progress",
              "--json", out, *extra], b.cfg.duration + slack,
             f"concertd bench {scenario} {' '.join(extra)} (exit non-zero: a failed run or a broken invariant)")
    with open(out, encoding="utf-8") as f:
        return json.load(f)


def run_holds_sh(b: Bench, url: str, **env: str) -> str:
    """The wrk stand-in for `concertd bench holds` (bench/holds.sh): its output."""
    D = b.cfg.duration
    return run_tool([HOLDS_SH, url, ADMIN_KEY, str(D), str(b.cfg.connections)], D + 300, "bench/holds.sh",
                    env=tool_env(WRK_EXTRA="--latency", **env)).all


def run_pgbench(b: Bench, metric: str, script: str) -> None:
    """pgbench with a custom script on the bench's PostgreSQL: records <metric>.tps and its CPU."""
    D = b.cfg.duration
    with cpu_sampler(b, None) as cpu:
        out = run_tool(["pgbench", "-h", "127.0.0.1", "-p", str(b.backends.pg_port), "-U", "postgres", "-n",
                        "-M", "prepared", "-c", str(PG_CLIENTS), "-j", "2", "-T", str(D),
                        "-s", str(b.cfg.pgbench_scale), "-f", script, "pgbench"], D + 120, f"pgbench {metric}").all
    tps, latency = parse_pgbench(out)
    b.results.record(f"{metric}.tps", r3(tps))
    record_cpu(b, metric, cpu, r3(tps))
    log(f"{metric}: {tps:.0f} tx/s, latency avg {latency:.3f} ms")


# =============================================================================================
# Measurements
# =============================================================================================

def detect_bench_tool(b: Bench) -> None:
    """Whether CONCERTD has the `bench` subcommand (the load generator); the stand-ins if not."""
    help_text = run_tool([b.cfg.concertd, "bench", "--help"], 30, "concertd bench --help", check=False).all
    b.has_bench = "load generator" in help_text
    if not b.has_bench:
        c = b.cfg.concertd
        log(f"NOTE: {c} has no 'bench' subcommand: holds use the wrk stand-in (bench/holds.sh), p99 at half")
        log("      peak uses paced wrk, payments and the waiting-token row are n/a. Point CONCERTD at a binary")
        log("      that has it (CONCERTD=/path/to/concertd make bench) for the real figures.")
        b.results.note("info.bench_tool", f"{c} has no bench subcommand: stand-ins used where marked, the rest n/a")


def note_tmpfs(b: Bench) -> None:
    if filesystem_type(os.path.realpath(b.tmp), read_text("/proc/self/mounts")) == "tmpfs":
        b.results.note("info.tmpfs", f"WARNING: {b.tmp} is on tmpfs: fsync costs nothing there, "
                       "the durable figures are not")


def capture_replies(b: Bench) -> tuple[dict[str, bytes], int]:
    """The status, seats and token reply bodies of a real concertd (for nginx to serve), and the
    size of its status reply's headers."""
    with read_server(b) as rs:
        status = http("GET", f"{rs.url}/api/queue/status", headers=rs.auth)
        seats = http("GET", f"{rs.url}/api/concerts/{rs.concert}/seats")
        token = http("POST", f"{rs.url}/api/queue/token", '{"userId":"bench-size"}')
    return {"status": status.body, "seats": seats.body, "token": token.body}, status.header_bytes


def check_reply_sizes(b: Bench, bodies: dict[str, bytes], concertd_headers: int) -> None:
    """nginx's bodies are concertd's, byte for byte in size."""
    for what, body in bodies.items():
        reply = http("POST" if what == "token" else "GET", f"{b.nginx_url}/{what}", '{"userId":"x"}')
        if len(reply.body) != len(body):
            raise BenchError(f"nginx {what} reply is {len(reply.body)} bytes, concertd's {len(body)}")
        b.results.note(f"info.size_{what}", f"reply body {len(body)} bytes (concertd and nginx)")
    ng_headers = http("GET", f"{b.nginx_url}/status").header_bytes
    b.results.note("info.headers", f"status reply headers: concertd {concertd_headers} bytes, nginx {ng_headers} bytes")


UPDATE1_SQL = """\\set aid random(1, 100000 * :scale)
UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :aid;
"""
# Like a payment (the buyer's balance row, the seat's row, a history row), without TPC-B's hot
# branch and teller rows: two accounts rows from disjoint halves, always locked in that order
# (no deadlock), then the insert.
TX3_SQL = """\\set aid random(1, 50000 * :scale)
\\set aid2 random(50000 * :scale + 1, 100000 * :scale)
\\set delta random(-5000, 5000)
BEGIN;
UPDATE pgbench_accounts SET abalance = abalance - :delta WHERE aid = :aid;
UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid2;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, :aid, :delta, CURRENT_TIMESTAMP);
END;
"""


def prepare_pgbench(b: Bench) -> None:
    """pgbench's database (pgbench -i) and its two scripts."""
    scale = b.cfg.pgbench_scale
    psql(b.backends.pg_port, "postgres", "-c", "CREATE DATABASE pgbench")
    log(f"pgbench -i -s {scale}")
    run_tool(["pgbench", "-h", "127.0.0.1", "-p", str(b.backends.pg_port), "-U", "postgres", "-i", "-q",
              "-s", str(scale), "pgbench"], 600, "pgbench -i")
    for name, text in (("update1.sql", UPDATE1_SQL), ("tx3.sql", TX3_SQL)):
        with open(os.path.join(b.tmp, name), "w", encoding="utf-8") as f:
            f.write(text)
    b.results.note("info.pgbench", f"pgbench -n -M prepared -c{PG_CLIENTS} -j2 -T{b.cfg.duration} -s{scale}: "
                   f"1-row UPDATE autocommit (random aid of {scale * 100000}); 3-statement tx = BEGIN; UPDATE "
                   "accounts (aid in the first half); UPDATE accounts (aid2 in the second half); INSERT history; "
                   "END (no branches/tellers rows: no hot-row contention)")


def measure_reads(b: Bench, rep: int) -> None:
    """nginx, then concertd, on the status, seats and token paths (wrk, closed loop)."""
    with read_server(b) as rs:
        # The same request as concertd's (its bearer token), so that the ratio compares what the
        # two servers do, not the sizes of the requests the generator sends them.
        bearer = ("-H", f"Authorization: Bearer {rs.waiting_token}")
        run_wrk(b, "nginx.status", f"{b.nginx_url}/status", *bearer)
        run_wrk(b, "concertd.status", f"{rs.url}/api/queue/status", *bearer)
        require_waiting(rs, "the status token no longer waits")
        run_wrk(b, "nginx.seats", f"{b.nginx_url}/seats")
        run_wrk(b, "concertd.seats", f"{rs.url}/api/concerts/{rs.concert}/seats")
        run_wrk(b, "nginx.token", f"{b.nginx_url}/token", "-s", WRK_LUA, user_prefix=f"ng{rep}")
        run_wrk(b, "concertd.token", f"{rs.url}/api/queue/token", "-s", WRK_LUA, user_prefix=f"cd{rep}{os.getpid()}")


def measure_holds(b: Bench, metric: str, cd: Server) -> None:
    """Holds per second against cd: `concertd bench holds`, else the wrk stand-in."""
    cpu = None
    if b.has_bench:
        with cpu_sampler(b, cd.proc.pid) as cpu:
            rate = bench_step(run_bench(b, "holds", cd.url), "hold").rate
        b.results.note(f"source.{metric}", "concertd bench holds")
    else:
        rate = parse_holds_rate(run_holds_sh(b, cd.url))
        b.results.note(f"source.{metric}", "wrk stand-in, bench/holds.sh")
    b.results.record(f"{metric}.rps", rate)
    record_cpu(b, metric, cpu, rate)
    log(f"{metric}: {rate:.0f} holds/s")


def measure_holds_embedded(b: Bench) -> None:
    with concertd(b, *HOLD_FLAGS) as cd:
        measure_holds(b, "concertd.holds_embedded", cd)


def measure_status_distributed(b: Bench, rep: int) -> None:
    """The status path on the shared line (PostgreSQL + Redis), for docs/scaling.md."""
    be = b.backends
    psql(be.pg_port, "postgres", "-c", f"CREATE DATABASE concertd_status_{rep}")
    with read_server(b, "--postgres", f"postgresql://postgres@127.0.0.1:{be.pg_port}/concertd_status_{rep}",
                     "--redis", f"redis://127.0.0.1:{be.redis_port}/{32 + rep % 32}") as rs:
        run_wrk(b, "concertd.status_pg", f"{rs.url}/api/queue/status", "-H", f"Authorization: Bearer {rs.waiting_token}")


def measure_payments(b: Bench, cd: Server) -> None:
    with cpu_sampler(b, cd.proc.pid) as cpu:
        rate = bench_step(run_bench(b, "payments", cd.url), "pay").rate
    b.results.record("concertd.payments_pg.rps", rate)
    record_cpu(b, "concertd.payments_pg", cpu, rate)
    b.results.note("source.concertd.payments_pg", "concertd bench payments")
    log(f"concertd.payments_pg: {rate:.0f} payments/s")


def measure_writes_distributed(b: Bench, rep: int) -> None:
    """pgbench 1-row UPDATE, holds, pgbench 3-statement tx, payments: on one PostgreSQL + Redis."""
    be = b.backends
    psql(be.pg_port, "postgres", "-c", f"CREATE DATABASE concertd_{rep}")
    with concertd(b, *HOLD_FLAGS, "--postgres", f"postgresql://postgres@127.0.0.1:{be.pg_port}/concertd_{rep}",
                  "--redis", f"redis://127.0.0.1:{be.redis_port}/{rep % 32}") as cd:
        run_pgbench(b, "pgbench.update1", os.path.join(b.tmp, "update1.sql"))
        measure_holds(b, "concertd.holds_pg", cd)
        run_pgbench(b, "pgbench.tx3", os.path.join(b.tmp, "tx3.sql"))
        if b.has_bench:
            measure_payments(b, cd)
    for db in (rep % 32, 32 + rep % 32):
        redis_cli(be.redis_port, "-n", str(db), "flushdb")


def half_peak_rates(res: Results) -> dict[str, int]:
    return {"status": half_rate(res.values.get("concertd.status.rps", [])),
            "seats": half_rate(res.values.get("concertd.seats.rps", [])),
            "token": half_rate(res.values.get("concertd.token.rps", [])),
            "hold": half_rate(res.values.get("concertd.holds_embedded.rps", []))}


def half_peak_bench(b: Bench, step: str, rate: int) -> tuple[float, float]:
    """(achieved rate, p99 ms) of `concertd bench <step> --rate` against a fresh server."""
    with concertd(b, *(HOLD_FLAGS if step == "hold" else READ_FLAGS)) as cd:
        extra = ["--concert", str(new_concert(cd.url, 50)), "--seat-count", "50"] if step == "seats" else []
        scenario = "holds" if step == "hold" else step
        s = bench_step(run_bench(b, scenario, cd.url, "--rate", str(rate), *extra), step)
    b.results.note(f"source.half.{step}", f"concertd bench {scenario} --rate {rate}")
    return s.rate, s.p99_ms


def half_peak_wrk(b: Bench, step: str, rate: int, rep: int) -> tuple[float, float]:
    """The stand-in: wrk with a per-connection pause (closed loop: it under-reports queueing
    delay); (achieved rate, p99 ms)."""
    D, conns = b.cfg.duration, str(b.cfg.connections)
    if step == "hold":
        with concertd(b, *HOLD_FLAGS) as cd:
            w = parse_wrk(run_holds_sh(b, cd.url, RATE=str(rate), CONNS=conns))
    else:
        with read_server(b) as rs:
            url, args, env = {
                "status": (f"{rs.url}/api/queue/status", ["-H", f"Authorization: Bearer {rs.waiting_token}"], {}),
                "seats": (f"{rs.url}/api/concerts/{rs.concert}/seats", [], {}),
                "token": (f"{rs.url}/api/queue/token", [], {"USER_PREFIX": f"half{rep}{os.getpid()}"}),
            }[step]
            out = run_tool(["wrk", "-t1", f"-c{conns}", f"-d{D}s", "--latency", *args, "-s", WRK_LUA, url], D + 60,
                           f"wrk paced {step}", env=tool_env(RATE=str(rate), CONNS=conns, **env)).all
        w = parse_wrk(out)
        if w.non2xx:
            raise BenchError(f"paced {step}: non-2xx replies", out)
    b.results.note(f"source.half.{step}", "wrk stand-in, paced")
    return r3(w.rps), r3(w.p99_ms)


def measure_half_peak(b: Bench, rep: int, rates: dict[str, int]) -> None:
    """p99 at half of each embedded path's peak (open loop with concertd bench, else paced wrk)."""
    for step in HALF_STEPS:
        rate = rates[step]
        if b.has_bench:
            achieved, p99 = half_peak_bench(b, step, rate)
        else:
            achieved, p99 = half_peak_wrk(b, step, rate, rep)
        b.results.record(f"half.{step}.rate", rate)
        b.results.record(f"half.{step}.achieved", achieved)
        b.results.record(f"half.{step}.p99_ms", p99)
        log(f"half peak {step}: offered {rate}/s, achieved {achieved:.0f}/s, p99 {p99} ms")


def rss_kb(pid: int) -> int:
    m = re.search(r"^VmRSS:\s+(\d+)", read_text(f"/proc/{pid}/status"), re.M)
    if not m:
        raise BenchError(f"no VmRSS for process {pid}")
    return int(m.group(1))


def measure_waiting(b: Bench, status_rate: int) -> None:
    """RSS growth with BENCH_WAITING waiting tokens, and the status p99 at half peak before/after."""
    n = b.cfg.waiting
    if n == 0:
        b.results.note("skip.waiting", "BENCH_WAITING=0")
        return
    if not b.has_bench:
        b.results.note("skip.waiting", "needs concertd bench waiting")
        return
    log(f"---- {n} waiting tokens")
    b.results.note("waiting.fans", str(n))
    with concertd(b, *READ_FLAGS) as cd:
        before = bench_step(run_bench(b, "status", cd.url, "--rate", str(status_rate)), "status").p99_ms
        b.results.record("waiting.status_p99_before_ms", before)
        rss0 = rss_kb(cd.proc.pid)
        doc = run_bench(b, "waiting", cd.url, "--fans", str(n), slack=b.cfg.waiting_timeout)
        rss1 = rss_kb(cd.proc.pid)
        reported = find_rss(doc)
        if reported:
            b.results.note("info.waiting_rss", f"RSS the bench reported from /metrics: {reported[-1][1]} bytes")
        after = bench_step(run_bench(b, "status", cd.url, "--rate", str(status_rate)), "status").p99_ms
    b.results.record("waiting.status_p99_after_ms", after)
    b.results.record("waiting.rss_growth_mb", r1((rss1 - rss0) / 1024))
    b.results.note("info.waiting_rss_proc", f"server VmRSS {rss0 // 1024} MB before, {rss1 // 1024} MB after "
                   f"{n} waiting tokens")


# =============================================================================================
# The report
# =============================================================================================

def machine_description() -> str:
    mem_kb = int(re.search(r"^MemTotal:\s+(\d+)", read_text("/proc/meminfo"), re.M).group(1))
    model = re.search(r"^model name\s*: (.*)$", read_text("/proc/cpuinfo"), re.M)
    return (f"{len(os.sched_getaffinity(0))} cores, {model.group(1) if model else ''}, "
            f"{mem_kb / 1048576:.1f} GiB RAM, {socket.gethostname()}")


def git_commit() -> str:
    head = run_tool(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], 30, "git rev-parse", check=False)
    commit = head.out.strip() if head.rc == 0 else "unknown"
    if run_tool(["git", "-C", ROOT, "diff", "--quiet", "HEAD"], 60, "git diff", check=False).rc != 0:
        commit += " (uncommitted changes)"
    return commit


def write_report(b: Bench, start_time: str) -> None:
    """The table on stdout and in bench/results/<UTC date>-<hostname>[-n].md, raw numbers in .json."""
    cfg = b.cfg
    mtime = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.stat(cfg.concertd).st_mtime))
    b.results.note("info.binary", f"{cfg.concertd} ({mtime})")
    load = " ".join(read_text("/proc/loadavg").split()[:3])
    b.results.note("info.load", f"load average at the end: {load} (a shared machine: compare ratios, "
                   "not absolute figures)")
    meta = {"date": start_time, "machine": machine_description(), "commit": git_commit(),
            "command": cfg.command(), "repeat": str(cfg.repeat), "duration": str(cfg.duration)}
    markdown, doc = render_report(b.results, meta)
    os.makedirs(RESULTS_DIR, exist_ok=True)
    base = result_base(RESULTS_DIR, time.strftime("%Y-%m-%d", time.gmtime()), socket.gethostname())
    with open(base + ".md", "w", encoding="utf-8") as f:
        f.write(markdown)
    with open(base + ".json", "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
    sys.stdout.write(markdown)
    sys.stdout.flush()
    log(f"written: {base}.md and {base}.json")


# =============================================================================================
# main
# =============================================================================================

def check_tools(cfg: Config) -> None:
    for tool in REQUIRED_TOOLS:
        if not (shutil.which(tool) or os.access(f"/usr/sbin/{tool}", os.X_OK)):
            raise BenchError(f"{tool} is missing (scripts/install-deps.sh installs it)")
    if not os.access(cfg.concertd, os.X_OK):
        raise BenchError(f"no server binary at {cfg.concertd} (make build, or set CONCERTD)")


def run(b: Bench) -> None:
    cfg = b.cfg
    note_tmpfs(b)
    detect_bench_tool(b)
    start_time = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    log(f"concertd: {cfg.concertd}; {cfg.repeat} run(s) of {cfg.duration}s per measurement; temp dir {b.tmp}")

    with contextlib.ExitStack() as servers:
        # Reply sizes from a real concertd, served by nginx for the whole run.
        bodies, concertd_headers = capture_replies(b)
        b.nginx_url = servers.enter_context(nginx(b, bodies))
        check_reply_sizes(b, bodies, concertd_headers)

        if cfg.distributed:
            servers.enter_context(backends(b))
            prepare_pgbench(b)
        else:
            for m in ("concertd.status_pg", "concertd.holds_pg", "concertd.payments_pg", "pgbench.update1",
                      "pgbench.tx3"):
                b.results.note(f"skip.{m}", "BENCH_DISTRIBUTED=0")
        if not b.has_bench:
            b.results.note("skip.concertd.payments_pg", "needs concertd bench payments")

        for rep in range(1, cfg.repeat + 1):
            log(f"---- run {rep} of {cfg.repeat}")
            measure_reads(b, rep)
            measure_holds_embedded(b)
            if cfg.distributed:
                measure_status_distributed(b, rep)
                measure_writes_distributed(b, rep)

        rates = half_peak_rates(b.results)
        for rep in range(1, cfg.repeat + 1):
            log(f"---- p99 at half peak, run {rep} of {cfg.repeat}")
            measure_half_peak(b, rep, rates)

        measure_waiting(b, rates["status"])
        write_report(b, start_time)


def main() -> int:
    def on_sigterm(signum, frame):
        raise Terminated()
    signal.signal(signal.SIGTERM, on_sigterm)
    b = None
    rc = 0
    try:
        cfg = config_from_env(dict(os.environ), os.getcwd())
        check_tools(cfg)
        b = Bench(cfg, tempfile.mkdtemp(prefix="concertd-bench.", dir="/tmp"))
        run(b)
    except BenchError as e:
        if e.output:
            sys.stderr.write(e.output if e.output.endswith("\n") else e.output + "\n")
        print(f"bench: FAILED: {e}", file=sys.stderr)
        rc = 1
    except (KeyboardInterrupt, Terminated):
        rc = 130
    except Exception:  # a bug: its traceback, then the same cleanup
        traceback.print_exc()
        rc = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the last cleanup runs to its end
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if b is not None:
            b.procs.stop_all()
            shutil.rmtree(b.tmp, ignore_errors=True)
        if rc:
            print(f"bench: exit {rc} (every process it started is stopped, temp dirs removed)", file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
