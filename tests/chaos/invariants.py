"""The engineering invariants, checked where the API cannot see: straight in the store
(SQLite read-only, or PostgreSQL through psql), and against the ledger of acknowledged writes.

Every check is one SQL statement (one snapshot) that returns the rows breaking it, the same text
on both engines (the two schemas have the same tables and columns).
"""
import os
import sqlite3
import subprocess
import time
from collections import defaultdict
from urllib.parse import quote

from support import Server, parse_ts, user_path

from . import report

STORE_CHECKS = [
    ("store: balance = last balance_history row",
     """SELECT b.user_id, b.balance, h.balance_after FROM balances b
        LEFT JOIN balance_history h ON h.seq = (SELECT max(x.seq) FROM balance_history x WHERE x.user_id = b.user_id)
        WHERE h.balance_after IS NULL OR h.balance_after <> b.balance"""),
    ("store: every history user has a balance",
     """SELECT DISTINCT h.user_id FROM balance_history h LEFT JOIN balances b ON b.user_id = h.user_id
        WHERE b.user_id IS NULL"""),
    ("store: balance = charges - payments >= 0",
     """SELECT b.user_id, b.balance, s.net FROM balances b
        JOIN (SELECT user_id, SUM(CASE WHEN type = 'CHARGE' THEN amount ELSE -amount END) AS net
              FROM balance_history GROUP BY user_id) s ON s.user_id = b.user_id
        WHERE s.net <> b.balance OR b.balance < 0"""),
    ("store: history rows chain (after = before +/- amount)",
     """SELECT user_id, seq, balance_after, prev FROM (
          SELECT user_id, seq, balance_after, type, amount,
                 LAG(balance_after, 1, 0) OVER (PARTITION BY user_id ORDER BY seq) AS prev
          FROM balance_history) t
        WHERE balance_after <> prev + CASE WHEN type = 'CHARGE' THEN amount ELSE -amount END"""),
    ("store: reserved seat = its CONFIRMED reservation",
     """SELECT s.concert_id, s.number, s.reservation_id, r.status FROM seats s
        LEFT JOIN reservations r ON r.id = s.reservation_id
        WHERE s.status = 'RESERVED' AND (r.id IS NULL OR r.status <> 'CONFIRMED'
              OR r.concert_id <> s.concert_id OR r.seat_number <> s.number)"""),
    ("store: CONFIRMED reservation = its reserved seat",
     """SELECT r.id, r.concert_id, r.seat_number, s.status, s.reservation_id FROM reservations r
        LEFT JOIN seats s ON s.concert_id = r.concert_id AND s.number = r.seat_number
        WHERE r.status = 'CONFIRMED' AND (s.status IS NULL OR s.status <> 'RESERVED' OR s.reservation_id <> r.id)"""),
    ("store: held seat = its live hold",
     """SELECT s.concert_id, s.number, s.reservation_id, r.status FROM seats s
        LEFT JOIN reservations r ON r.id = s.reservation_id
        WHERE s.status = 'HELD' AND (r.id IS NULL OR r.status <> 'TEMPORARILY_ASSIGNED'
              OR r.concert_id <> s.concert_id OR r.seat_number <> s.number)"""),
    ("store: live hold = its held seat",
     """SELECT r.id, r.concert_id, r.seat_number, s.status, s.reservation_id FROM reservations r
        LEFT JOIN seats s ON s.concert_id = r.concert_id AND s.number = r.seat_number
        WHERE r.status = 'TEMPORARILY_ASSIGNED' AND (s.status IS NULL OR s.status <> 'HELD' OR s.reservation_id <> r.id)"""),
    ("store: available seat points at no reservation",
     """SELECT concert_id, number, reservation_id FROM seats WHERE status = 'AVAILABLE' AND reservation_id IS NOT NULL"""),
    ("store: one live reservation per seat",
     """SELECT concert_id, seat_number, count(*) FROM reservations
        WHERE status IN ('TEMPORARILY_ASSIGNED', 'CONFIRMED') GROUP BY concert_id, seat_number HAVING count(*) > 1"""),
    ("store: payment amount = seat price = reservation price",
     """SELECT p.id, p.amount, s.price, r.price FROM payments p
        JOIN reservations r ON r.id = p.reservation_id
        LEFT JOIN seats s ON s.concert_id = p.concert_id AND s.number = p.seat_number
        WHERE s.price IS NULL OR p.amount <> s.price OR r.price <> s.price OR p.user_id <> r.user_id
              OR p.concert_id <> r.concert_id OR p.seat_number <> r.seat_number"""),
    ("store: one payment per seat",
     """SELECT concert_id, seat_number, count(*) FROM payments GROUP BY concert_id, seat_number HAVING count(*) > 1"""),
    ("store: payment <-> CONFIRMED reservation",
     """SELECT r.id, r.status, p.id FROM reservations r FULL OUTER JOIN payments p ON p.reservation_id = r.id
        WHERE (r.status = 'CONFIRMED' AND p.id IS NULL) OR (p.id IS NOT NULL AND (r.id IS NULL OR r.status <> 'CONFIRMED'))"""),
    ("store: payment <-> PAYMENT history row",
     """SELECT p.id, h.id FROM payments p FULL OUTER JOIN (SELECT * FROM balance_history WHERE type = 'PAYMENT') h
          ON h.id = p.id
        WHERE p.id IS NULL OR h.id IS NULL OR h.user_id <> p.user_id OR h.amount <> p.amount
              OR h.balance_after <> p.balance_after"""),
]


class SqliteView:
    """The embedded store, opened read-only next to the running server."""

    def __init__(self, data_dir: str):
        self.path = os.path.join(data_dir, "concertd.db")
        self.engine = "sqlite"

    def many(self, queries: list[str]) -> list[list[tuple]]:
        """Rows of each query, all read in one transaction (one snapshot)."""
        last = None
        for _ in range(20):  # the writer may hold a lock for a moment (busy timeout covers most)
            try:
                con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5, isolation_level=None)
                try:
                    con.execute("BEGIN")
                    out = [[tuple(None if v is None else str(v) for v in row) for row in con.execute(q)]
                           for q in queries]
                    con.execute("COMMIT")
                    return out
                finally:
                    con.close()
            except sqlite3.OperationalError as e:
                last = e
                time.sleep(0.05)
        raise last

    def rows(self, sql: str) -> list[tuple]:
        return self.many([sql])[0]


class PostgresView:
    """A PostgreSQL database read with psql (NULL reads as '')."""

    def __init__(self, backend, uri: str):
        self.backend = backend
        self.database = uri.rsplit("/", 1)[1]
        self.engine = "postgres"

    def many(self, queries: list[str]) -> list[list[tuple]]:
        """Rows of each query from one psql process, in one REPEATABLE READ transaction."""
        cmd = ["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
               "-p", str(self.backend.pg_port), "-U", "postgres", "-d", self.database,
               "-c", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"]
        for i, q in enumerate(queries):
            cmd += ["-c", f"SELECT '@@{i}'", "-c", q]
        cmd += ["-c", "COMMIT"]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        results: list[list[tuple]] = []
        for line in out.splitlines():
            if line.startswith("@@"):
                results.append([])
            elif line and results:
                results[-1].append(tuple(None if v == "" else v for v in line.split("\t")))
        assert len(results) == len(queries), out
        return results

    def rows(self, sql: str) -> list[tuple]:
        return self.many([sql])[0]

    def with_redis(self, url: str):
        """Diagnostics: what the Redis coordinator caches for a user's balance."""
        self.redis_url = url
        self.cache = lambda user: self.backend.redis_cli(url, "GET", f"user_balance:{user}")
        return self


def store_problems(view) -> list[str]:
    """Runs every store check on one snapshot; counts them in the report; describes violations."""
    try:
        results = view.many([sql for _, sql in STORE_CHECKS])
    except Exception as e:  # noqa: BLE001 - checks that cannot run are a problem too
        for name, _ in STORE_CHECKS:
            report.check(name, 1)
        return [f"store checks could not run: {e!r}"]
    problems = []
    for (name, _), bad in zip(STORE_CHECKS, results):
        report.check(name, len(bad))
        problems += [f"{name}: {row}" for row in bad[:10]]
    return problems


def ledger_snapshot(srv: Server):
    led = srv.ledger
    with led.lock:
        return dict(led.charges), {k: dict(v) for k, v in led.payments.items()}


def holds_snapshot(srv: Server):
    """Acknowledged holds (reservationId -> details of the 201) and cancelled reservationIds."""
    led = srv.ledger
    with led.lock:
        return {k: dict(v) for k, v in led.holds.items()}, set(led.cancelled)


def shown(hold: dict) -> dict:
    return {k: v for k, v in hold.items() if k != "token"}


def sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def ledger_problems(srv: Server, view, exact_users: set[str] | None) -> list[str]:
    """Every acknowledged charge and payment is in the store; for `exact_users` (fans with no
    request of unknown outcome in flight) the store holds no money movement that was not
    acknowledged either."""
    charges, payments = ledger_snapshot(srv)  # first the ledger, then the store: all committed
    history_rows, paid_rows = view.many([
        "SELECT id, user_id, type, amount FROM balance_history",
        "SELECT id, reservation_id, user_id, concert_id, seat_number, amount FROM payments"])
    history = {r[0]: r for r in history_rows}
    paid = {r[0]: r for r in paid_rows}
    problems = []
    missing_c = [t for t, (u, a) in charges.items()
                 if t not in history or history[t][1:] != (u, "CHARGE", str(a))]
    report.check("ledger: acknowledged charges are in the store", len(missing_c))
    problems += [f"acknowledged charge {t} {charges[t]} missing or different in the store: {history.get(t)}"
                 for t in missing_c[:10]]
    missing_p = [p for p, d in payments.items()
                 if p not in paid or paid[p][1:] != (d["reservationId"], d["user"], str(d["concertId"]),
                                                     str(d["seatNumber"]), str(d["amount"]))]
    report.check("ledger: acknowledged payments are in the store", len(missing_p))
    problems += [f"acknowledged payment {p} {payments[p]} missing or different in the store: {paid.get(p)}"
                 for p in missing_p[:10]]
    holds, _ = holds_snapshot(srv)  # again the ledger first, then the store
    stored = {r[0]: r for r in view.rows("SELECT id, user_id, concert_id, seat_number, price FROM reservations")}
    missing_h = [rid for rid, h in holds.items()
                 if rid not in stored or stored[rid][1:] != (h["user"], str(h["concertId"]), str(h["seatNumber"]),
                                                             str(h["price"]))]
    report.check("ledger: acknowledged holds are in the store", len(missing_h))
    problems += [f"acknowledged hold {rid} {shown(holds[rid])} missing or different in the store: {stored.get(rid)}"
                 for rid in missing_h[:10]]
    if exact_users:
        extra = [r for t, r in history.items() if r[1] in exact_users and
                 ((r[2] == "CHARGE" and t not in charges) or (r[2] == "PAYMENT" and t not in payments))]
        report.check("ledger: no unacknowledged money movement (idle fans)", len(extra))
        problems += [f"money moved without an acknowledgement: {r}" for r in extra[:10]]
    return problems


def api_problems(srv: Server, users: set[str], concerts: list[int], view, all_idle: bool) -> list[str]:
    """Through the API: each idle fan's balance = acknowledged charges - payments; every paid seat
    reads `reserved`; with every fan idle, the reserved seats are exactly the paid ones and the
    store's RESERVED seats."""
    charges, payments = ledger_snapshot(srv)
    expected = defaultdict(int)
    for user, amount in charges.values():
        expected[user] += amount
    for p in payments.values():
        expected[p["user"]] -= p["amount"]
    problems = []
    bad = 0
    for user in sorted(users):
        r = srv.get(f"/api/users/{user_path(user)}/balance", check=False)
        if r.status != 200 or r.get("balance") != expected[user]:
            bad += 1
            stored = view.rows(f"SELECT balance FROM balances WHERE user_id = '{user}'")
            problems.append(f"API balance of {user}: expected {expected[user]} (acknowledged charges - payments), "
                            f"the store has {stored[0][0] if stored else None}, the API answered {r!r}"
                            + (f"; balance cache in Redis: {view.cache(user)!r}" if hasattr(view, "cache") else ""))
    report.check("API: balance = acknowledged charges - payments (idle fans)", bad)
    paid_seats = defaultdict(set)
    for p in payments.values():
        paid_seats[p["concertId"]].add(p["seatNumber"])
    store_reserved = defaultdict(set)
    for cid, number in view.rows("SELECT concert_id, number FROM seats WHERE status = 'RESERVED'"):
        store_reserved[int(cid)].add(int(number))
    bad_subset = bad_exact = 0
    for cid in concerts:
        r = srv.get(f"/api/concerts/{cid}/seats", check=False)
        if r.status != 200:
            problems.append(f"seat map of concert {cid}: {r!r}")
            bad_subset += 1
            continue
        reserved = {s["number"] for s in r.json["seats"] if s["status"] == "reserved"}
        if not paid_seats[cid] <= reserved:
            bad_subset += 1
            problems.append(f"concert {cid}: paid seats {sorted(paid_seats[cid] - reserved)} not reserved in the API")
        if all_idle and not (reserved == paid_seats[cid] == store_reserved[cid]):
            bad_exact += 1
            problems.append(f"concert {cid}: API reserved {sorted(reserved)} / paid {sorted(paid_seats[cid])} / "
                            f"store RESERVED {sorted(store_reserved[cid])} differ")
    report.check("API: every paid seat reads reserved", bad_subset)
    if all_idle:
        report.check("API: reserved seats = paid seats = store RESERVED (all idle)", bad_exact)
    return problems


def hold_problems(srv: Server, view, load, parked: set[int] | None) -> list[str]:
    """Every acknowledged hold (a 201 of POST /api/reservations) of an idle fan (`parked`; None: every
    fan) that is not paid, not cancelled, not being paid or cancelled (`load.let_go`) and not past the
    server's own `expiresAt` is still held: GET of the reservation with the token that made it answers
    TEMPORARILY_ASSIGNED (same seat, same expiresAt), the seat map shows its seat temporarily_assigned,
    and in the store the seat is HELD by it. A finding counts only when it was seen before that
    `expiresAt` (the time after the answer came is later than the moment the server decided)."""
    holds, cancelled = holds_snapshot(srv)
    _, payments = ledger_snapshot(srv)
    paid = {p["reservationId"] for p in payments.values()}
    users = load.users(parked)
    with load.lock:
        let_go = set(load.let_go)
    now = time.time()
    kept = {rid: h for rid, h in holds.items()
            if h["user"] in users and rid not in paid and rid not in cancelled and rid not in let_go
            and parse_ts(h["expiresAt"]) > now}
    load.count("acknowledged holds checked as held", len(kept))
    problems = []
    lost: set[str] = set()

    def lost_before_expiry(rid, seen_at, text):
        if seen_at < parse_ts(kept[rid]["expiresAt"]):
            lost.add(rid)
            problems.append(f"acknowledged hold {rid} {shown(kept[rid])}: {text}")

    for rid, h in sorted(kept.items()):
        r = srv.get(f"/api/reservations/{quote(rid, safe='')}", token=h["token"], check=False)
        seen_at = time.time()
        if r.status != 200 or r.get("status") != "TEMPORARILY_ASSIGNED" or \
                (r.get("concertId"), r.get("seatNumber"), r.get("expiresAt")) != \
                (h["concertId"], h["seatNumber"], h["expiresAt"]):
            lost_before_expiry(rid, seen_at, f"GET answered {r!r}")
    for cid in sorted({h["concertId"] for h in kept.values()}):
        r = srv.get(f"/api/concerts/{cid}/seats", check=False)
        seen_at = time.time()
        seats = {s["number"]: s["status"] for s in r.json["seats"]} if r.status == 200 else {}
        for rid, h in kept.items():
            if h["concertId"] == cid and seats.get(h["seatNumber"]) != "temporarily_assigned":
                lost_before_expiry(rid, seen_at, f"seat {cid}/{h['seatNumber']} reads "
                                                 f"{seats.get(h['seatNumber'], r)!r} in the seat map")
    if kept:
        rows = view.rows(
            "SELECT r.id, r.status, s.status, s.reservation_id FROM reservations r"
            " LEFT JOIN seats s ON s.concert_id = r.concert_id AND s.number = r.seat_number"
            " WHERE r.id IN (" + ", ".join(sql_text(rid) for rid in kept) + ")")
        seen_at = time.time()
        stored = {row[0]: row[1:] for row in rows}
        for rid in kept:
            if stored.get(rid) != ("TEMPORARILY_ASSIGNED", "HELD", rid):
                lost_before_expiry(rid, seen_at, f"the store has (reservation, seat, seat's reservation) = "
                                                 f"{stored.get(rid)}")
    report.check("acknowledged unpaid unexpired holds are held (API and store)", len(lost))
    return problems


def check_everything(srv: Server, view, load, parked: set[int] | None, all_idle: bool) -> list[str]:
    """Store, ledger and API checks; `parked` are the fans idle right now (None: all stopped)."""
    users = load.users(parked)
    problems = store_problems(view)
    problems += ledger_problems(srv, view, users)
    problems += api_problems(srv, users, list(load.concerts), view, all_idle)
    return problems
