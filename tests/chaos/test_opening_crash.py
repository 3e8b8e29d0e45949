"""kill -9 during the opening of a pre-queue (API.md, "Waiting room for a real on-sale"), on the
engine CONCERTD_TEST_ENGINE selects: embedded (SQLite + the in-process line) by default,
PostgreSQL + Redis with CONCERTD_TEST_ENGINE=distributed.

Each round starts a server with --max-active 1 and one active token (so that nobody is admitted
and every place stays put), issues N pre-queue tokens, sets opensAt a moment ahead and kills the
server with SIGKILL: as soon as the opening's claim shows (in the store on the embedded engine, in
Redis on the distributed one), or blindly at a few offsets after opensAt. What the kill hit is read
from the dead server's store and log. It is then restarted on the same store, and once every token
has left pre_queue:
  - every pre-queue token is waiting, none lost, none admitted; their positions are exactly 1..N
    (no gap, no duplicate) and GET /api/admin/queue counts N waiting and none pre-queue;
  - the positions are the order drawn from the one shuffleSeed shown (SHA-256 of "<seed>:<id>",
    as scripts/audit-opening.py), and that seed is the one the killed server had claimed with;
  - the store holds the N tokens WAITING on N distinct seqs in one block;
  - a second kill -9 and restart (the opening done) changes no position and no seed.
"""
import hashlib
import http.client
import os
import shutil
import socket
import sqlite3
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import backends
from support import admin_queue, expect, issue, token_id, uid, wait_until

from . import report
from .invariants import PostgresView, SqliteView

N = int(os.environ.get("CONCERTD_CHAOS_OPENING_TOKENS", "2000"))
LEAD = 1.2  # seconds from setting opensAt to opensAt
# When each round kills: ms after the claim shows (the draw, the store write and the placement
# follow it within a few tens of ms), or ms after opensAt (the claiming tick runs every 100 ms).
KILL_AT = (("claim", 0), ("claim", 15), ("opensAt", 50))
# A restarted instance may wait out the killed claimer's lease (10 s) before it finishes the opening.
PLACED_WITHIN = 25.0
WORKERS = 16
CLAIM_ROW = "room.opening_claim"


def rfc3339(posix: float) -> str:
    t = time.gmtime(posix)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{int(posix * 1000) % 1000:03d}Z"


class Clients:
    """One keep-alive connection per worker thread, for thousands of small requests."""

    def __init__(self, srv):
        self.srv = srv
        self.local = threading.local()

    def request(self, method, path, body=None, token=None):
        for attempt in (1, 2):
            conn = getattr(self.local, "conn", None)
            if conn is None or getattr(self.local, "port", None) != self.srv.port:
                conn = self.local.conn = self.srv.connection(timeout=10)
                self.local.port = self.srv.port
            try:
                return self.srv.request(method, path, body, token=token, conn=conn)
            except (OSError, http.client.HTTPException):
                conn.close()
                self.local.conn = None
                if attempt == 2:
                    raise

    def map(self, fn, items):
        with ThreadPoolExecutor(max_workers=WORKERS) as ex:
            return list(ex.map(fn, items))


def issue_pre_queue(clients, n) -> list[str]:
    def one(i):
        return expect(clients.request("POST", "/api/queue/token", {"userId": uid(f"pre{i}")}), 201,
                      status="pre_queue")["token"]

    return clients.map(one, range(n))


def statuses(clients, tokens) -> list[dict]:
    return clients.map(lambda t: expect(clients.request("GET", "/api/queue/status", token=t), 200), tokens)


class ClaimProbe:
    """Sees the opening's claim as early as a client can: the claim row in the SQLite store (written
    right after the claim, before the draw), or the opening key in Redis (the claim itself)."""

    def __init__(self, srv):
        self.srv = srv
        redis = arg_of(srv, "--redis")
        self.sock = self.db = self.pg = None
        if redis:
            hostport, _, number = redis[len("redis://"):].partition("/")
            host, _, port = hostport.partition(":")
            self.sock = socket.create_connection((host, int(port)), timeout=5)
            self.buf = b""
            self._redis(f"SELECT {number or 0}")
        elif arg_of(srv, "--postgres"):
            self.pg = PostgresView(backends.shared(), arg_of(srv, "--postgres"))
        else:
            self.db = sqlite3.connect(f"file:{os.path.join(srv.data_dir, 'concertd.db')}?mode=ro", uri=True,
                                      timeout=5, isolation_level=None)

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            self.buf += self.sock.recv(4096)
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def _redis(self, command: str) -> bytes:
        """One inline command; its reply line (the value for a bulk string, b"" for nil)."""
        self.sock.sendall(command.encode() + b"\r\n")
        line = self._line()
        if line.startswith(b"$"):
            return b"" if line == b"$-1" else self._line()
        return line

    def redis_seed(self) -> str | None:
        """The seed of the opening claimed in Redis (None without Redis or claim)."""
        if self.sock is None:
            return None
        return self._redis("HGET q:opening seed").decode() or None

    def claimed(self) -> bool:
        if self.sock is not None:
            return self._redis("EXISTS q:opening") == b":1"
        if self.db is not None:
            return self.db.execute("SELECT 1 FROM settings WHERE name = ?", (CLAIM_ROW,)).fetchone() is not None
        return bool(self.pg.rows(f"SELECT 1 FROM settings WHERE name = '{CLAIM_ROW}'"))  # psql: ~20 ms a look

    def close(self):
        if self.sock is not None:
            self.sock.close()
        if self.db is not None:
            self.db.close()


def arg_of(srv, flag):
    args = srv.engine_args + srv.args
    return args[args.index(flag) + 1] if flag in args else None


def store_rows(srv, queries: list[str]) -> list[list[tuple]]:
    """The store's rows for `queries`; a dead server's SQLite files are read from a copy, so that
    nothing here recovers or checkpoints the log before the restart does."""
    uri = arg_of(srv, "--postgres")
    if uri:
        return PostgresView(backends.shared(), uri).many(queries)
    with tempfile.TemporaryDirectory(prefix="concertd-opening-") as tmp:
        if srv.alive():
            return SqliteView(srv.data_dir).many(queries)
        for name in os.listdir(srv.data_dir):
            if name.startswith("concertd.db"):
                shutil.copy(os.path.join(srv.data_dir, name), tmp)
        return SqliteView(tmp).many(queries)


def store_facts(srv, ids: set[str]) -> dict:
    claim_rows, tokens = store_rows(srv, [
        f"SELECT value FROM settings WHERE name = '{CLAIM_ROW}'",
        "SELECT id, state, seq FROM tokens"])
    mine = [(state, int(seq)) for tid, state, seq in tokens if tid in ids]
    waiting = [seq for state, seq in mine if state == "WAITING"]
    return {"claim_seed": claim_rows[0][0].split(" ", 3)[3] if claim_rows else None,
            "stored": len(mine),
            "pre_queue": sum(1 for state, _ in mine if state == "PRE_QUEUE"),
            "waiting_seqs": waiting}


def kill_during_opening(srv, kill_at) -> tuple[str, str | None]:
    """Sets opensAt LEAD s ahead and kills the server at `kill_at` (see KILL_AT). Returns the
    opensAt set and the seed of the opening claimed in Redis at the kill, if any."""
    opens_at = time.time() + LEAD
    opens = rfc3339(opens_at)
    probe = ClaimProbe(srv)
    try:
        expect(srv.post("/api/admin/queue", {"opensAt": opens}, headers=srv.admin_headers()), 200)
        anchor, delay_ms = kill_at
        if anchor == "claim":
            wait_until(probe.claimed, LEAD + 5, "the opening's claim", interval=0.0005)
            time.sleep(delay_ms / 1000)
        else:
            time.sleep(max(0.0, opens_at + delay_ms / 1000 - time.time()))
        srv.kill9()
        return opens, probe.redis_seed()
    finally:
        probe.close()


BEFORE, AFTER = "before the claim", "after the opening"


def what_the_kill_hit(srv, facts: dict, redis_seed) -> str:
    if "pre-queue tokens placed in" in srv.log_text():
        return AFTER
    if facts["claim_seed"] is None:
        return "claimed in Redis, claim not stored" if redis_seed else BEFORE
    if facts["pre_queue"] == facts["stored"]:
        return "claim stored, places not yet"
    return "places stored, line not done"


def drawn_positions(seed: str, tokens: list[str]) -> dict:
    ids = sorted((token_id(t) for t in tokens), key=lambda i: (hashlib.sha256(f"{seed}:{i}".encode()).digest(), i))
    return {i: place for place, i in enumerate(ids, 1)}


def placed_answers(srv, clients, tokens) -> list[dict]:
    """Every token's status once none is pre_queue any more (bounded by PLACED_WITHIN)."""
    def opened():
        q = admin_queue(srv)
        return q if q["preQueue"] == 0 and q["openedAt"] is not None else None

    def all_placed():
        answers = statuses(clients, tokens)
        return answers if all(a["status"] != "pre_queue" for a in answers) else None

    wait_until(opened, PLACED_WITHIN, lambda: f"the opening to finish after the restart: {admin_queue(srv)}")
    return wait_until(all_placed, 5, "every token to leave pre_queue")


def check_places(srv, clients, tokens, opens, head) -> tuple[dict, str, list[str]]:
    """After a restart: every token placed, the places 1..N in the drawn order; (positions, seed, problems)."""
    problems = []
    answers = placed_answers(srv, clients, tokens)
    q = admin_queue(srv)
    seed = q["shuffleSeed"]
    if (q["opensAt"], q["waiting"], q["active"], q["preQueue"]) != (opens, N, 1, 0) or not seed:
        problems.append(f"GET /api/admin/queue after the opening: {q} (expected opensAt {opens}, {N} waiting, "
                        f"1 active, 0 pre-queue, a shuffleSeed)")
    not_waiting = [(token_id(t), a) for t, a in zip(tokens, answers) if a["status"] != "waiting"]
    if not_waiting:
        problems.append(f"{len(not_waiting)} pre-queue tokens are not waiting, e.g. {not_waiting[:3]}")
    positions = {token_id(t): a.get("position") for t, a in zip(tokens, answers)}
    if sorted(p for p in positions.values() if p is not None) != list(range(1, N + 1)):
        seen = [p for p in positions.values() if p is not None]
        problems.append(f"positions are not exactly 1..{N}: {len(seen)} positions, {len(set(seen))} distinct, "
                        f"range {min(seen, default=None)}..{max(seen, default=None)}")
    if seed:
        drawn = drawn_positions(seed, tokens)
        off = [(i, positions[i], drawn[i]) for i in drawn if positions[i] != drawn[i]]
        if off:
            problems.append(f"{len(off)} places differ from the order drawn from shuffleSeed {seed}: "
                            f"(id, position, drawn) {off[:3]}")
    if expect(clients.request("GET", "/api/queue/status", token=head), 200)["status"] != "active":
        problems.append("the head token lost its active slot")
    return positions, seed, problems


def check_store(srv, tokens, seed, claim_seeds) -> list[str]:
    problems = []
    facts = store_facts(srv, {token_id(t) for t in tokens})
    seqs = facts["waiting_seqs"]
    if facts["stored"] != N or len(seqs) != N or len(set(seqs)) != N or max(seqs) - min(seqs) + 1 != N:
        problems.append(f"store: of {N} tokens {facts['stored']} stored, {len(seqs)} WAITING on {len(set(seqs))} "
                        f"distinct seqs spanning {max(seqs, default=0) - min(seqs, default=0) + 1}")
    for where, claimed in claim_seeds.items():
        if claimed is not None and seed != claimed:
            problems.append(f"the killed server claimed the opening with seed {claimed} ({where}), the line "
                            f"shows {seed}")
    return problems


def opening_round(make_server, kill_at) -> tuple[str, list[str]]:
    srv = make_server("--max-active", "1", "--no-demo")
    clients = Clients(srv)
    head = issue(srv, uid("head"))
    assert head["status"] == "active", head
    expect(srv.post("/api/admin/queue", {"opensAt": rfc3339(time.time() + 3600)}, headers=srv.admin_headers()), 200)
    tokens = issue_pre_queue(clients, N)
    opens, redis_seed = kill_during_opening(srv, kill_at)
    facts = store_facts(srv, {token_id(t) for t in tokens})
    hit = what_the_kill_hit(srv, facts, redis_seed)
    restarted = time.monotonic()
    srv.start()
    positions, seed, problems = check_places(srv, clients, tokens, opens, head["token"])
    hit += f", all placed {time.monotonic() - restarted:.1f}s after the restart"
    problems += check_store(srv, tokens, seed, {"store": facts["claim_seed"], "Redis": redis_seed})
    # a kill after the opening: the same places, the same seed
    srv.kill9()
    srv.start()
    again, seed_again, more = check_places(srv, clients, tokens, opens, head["token"])
    problems += more
    if again != positions or seed_again != seed:
        moved = [i for i in positions if again.get(i) != positions[i]]
        problems.append(f"a restart after the opening moved {len(moved)} places (seed {seed} -> {seed_again})")
    srv.stop()
    return hit, problems


def test_kill9_during_the_opening(make_server):
    started = time.monotonic()
    problems, hits = [], []
    for kill_at in KILL_AT:
        when = f"{kill_at[0]}+{kill_at[1]}ms"
        hit, found = opening_round(make_server, kill_at)
        hits.append(f"{when}: {hit}")
        problems += [f"kill {when} ({hit}): {p}" for p in found]
    summary = f"{N} pre-queue tokens, kills {hits}, {time.monotonic() - started:.0f}s"
    print(summary)
    report.fault("opening crash", "kill -9 during the opening", len(KILL_AT), problems=len(problems))
    report.check("opening: one place each, 1..N, drawn from the one seed, kept over a restart", len(problems))
    mid = [h for h in hits if BEFORE not in h and AFTER not in h]
    assert mid, f"no kill landed in the middle of an opening: {summary}"
    assert not problems, f"{len(problems)} problems ({summary}):\n" + "\n".join(problems[:40])
