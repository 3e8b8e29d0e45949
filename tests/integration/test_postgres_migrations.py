"""PostgreSQL migrations move an old database forward with its data (the counterpart of the SQLite
test in tests/unit/migrations_test.cpp).

A database gets migration 0001 alone, recorded in schema_migrations as the store records it, and
data written by 0001's own functions as a binary of that time wrote it: a concert, a paid seat, a
hold that has since expired, a charged balance with its idempotency key, tokens. concertd then
starts on it and applies the remaining migrations; the data must still be there and usable
through the API. It needs a real PostgreSQL, so it runs on every engine (the session's PostgreSQL
from backends.py, started on first use), never skipped.
"""
import datetime as dt
import subprocess

import pytest

import backends
from support import (REPO, active_user, balance_of, create_concert, expect, issue, listed, must_charge,
                     must_hold, must_pay, seat_map, wait_active, wait_until)

MIGRATIONS = REPO / "src" / "adapters" / "postgres" / "migrations"
FIRST = "0001_initial.sql"
# As the store creates it (src/adapters/postgres/sql.hpp, kCreateMigrationsTable).
CREATE_MIGRATIONS_TABLE = ("CREATE TABLE IF NOT EXISTS schema_migrations "
                           "(name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)")
FIRST_APPLIED_AT = 1  # a mark: the row of 0001 must be left as it is

CONCERT = {"title": "Before the upgrade", "venue": "Old Hall", "prices": [50000, 70000, 70000]}


def database_of(uri: str) -> str:
    return uri.rsplit("/", 1)[1]


def run_sql(pg: backends.Backends, database: str, sql: str) -> list[list[str]]:
    """Runs `sql` (several statements) in one transaction, stopping at the first error; returns the
    rows every statement printed (unaligned, tab-separated)."""
    out = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "--single-transaction",
                          "-h", "127.0.0.1", "-p", str(pg.pg_port), "-U", "postgres", "-d", database, "-f", "-"],
                         input=sql, capture_output=True, text=True)
    assert out.returncode == 0, f"psql failed ({out.returncode}):\n{out.stderr}"
    return [line.split("\t") for line in out.stdout.splitlines() if line]


def seed_with_first_migration(pg: backends.Backends, database: str, now_ms: int, date_days: int):
    run_sql(pg, database, (MIGRATIONS / FIRST).read_text() + ";\n" + CREATE_MIGRATIONS_TABLE + ";\n"
            f"INSERT INTO schema_migrations (name, applied_at) VALUES ('{FIRST}', {FIRST_APPLIED_AT});\n")
    prices = ",".join(str(p) for p in CONCERT["prices"])
    rows = run_sql(pg, database, f"""
        SELECT concertd_create_concert('{CONCERT["title"]}', '{CONCERT["venue"]}', {date_days},
                                       ARRAY[{prices}]::bigint[], {now_ms});
        INSERT INTO tokens (id, user_id, seq, state, issued_at, active_until, spent_at) VALUES
          ('tok-alice', 'alice', 1, 'ACTIVE', {now_ms}, {now_ms + 600_000}, NULL),
          ('tok-bob', 'bob', 2, 'ACTIVE', {now_ms}, {now_ms + 600_000}, NULL),
          ('tok-carol', 'carol', 3, 'WAITING', {now_ms}, NULL, NULL);
        SELECT out_kind, out_balance_after FROM concertd_charge('alice', 100000, 100000000, 'tx-alice', {now_ms},
                                                                'key-alice', 'charge', 'fingerprint');
        SELECT out_kind FROM concertd_hold_seat('r-alice', 'alice', 1, 2, {now_ms}, {now_ms + 300_000}, 4);
        SELECT out_kind, out_balance_after FROM concertd_pay('r-alice', 'alice', 'p-alice', 'tok-alice', {now_ms},
                                                             NULL, NULL, NULL);
        -- bob's hold ran out before the upgrade; nothing released it yet
        SELECT out_kind FROM concertd_hold_seat('r-bob', 'bob', 1, 3, {now_ms - 400_000}, {now_ms - 100_000}, 4);
    """)
    assert rows == [["1"], ["CHARGED", "100000"], ["HELD"], ["PAID", "30000"], ["HELD"]], rows


@pytest.fixture
def old_database():
    """A fresh database on the session's PostgreSQL, at migration 0001 with data in it."""
    pg = backends.shared()
    uri = pg.new_database()
    now = dt.datetime.now(dt.timezone.utc)
    date_days = (now.date() - dt.date(1970, 1, 1)).days + 30
    seed_with_first_migration(pg, database_of(uri), int(now.timestamp() * 1000), date_days)
    return pg, uri


def test_a_database_made_by_the_first_migration_alone_moves_forward_with_its_data(make_server, old_database):
    pg, uri = old_database
    db = database_of(uri)
    srv = make_server("--postgres", uri)
    # What the old binary acknowledged, so that the teardown's invariants cover it too.
    srv.ledger.charges["tx-alice"] = ("alice", 100000)
    srv.ledger.payments["p-alice"] = {"user": "alice", "reservationId": "r-alice", "concertId": 1,
                                      "seatNumber": 2, "amount": 70000}
    srv.ledger.concerts.add(1)

    # every migration applied once, in order; 0001's record untouched (it did not run again)
    files = sorted(p.name for p in MIGRATIONS.glob("*.sql"))
    rows = pg.psql(db, "SELECT name, applied_at FROM schema_migrations ORDER BY name")
    assert [r[0] for r in rows] == files, rows
    assert rows[0] == [FIRST, str(FIRST_APPLIED_AT)], rows

    # the data, through the API: the concert is listed (no demo concerts beside it: the store was
    # not empty), its seats have their prices and states, the balance reads back
    listing = expect(srv.get("/api/concerts/available-dates"), 200)
    assert [c["concertId"] for c in listing["concerts"]] == [1], listing
    concert = listed(srv, 1)
    assert (concert["title"], concert["venue"], concert["availableSeats"]) == (CONCERT["title"], CONCERT["venue"], 2), \
        concert
    assert (concert["minPrice"], concert["maxPrice"]) == (50000, 70000), concert
    seats = seat_map(srv, 1)
    assert {n: (s["status"], s["price"]) for n, s in seats.items()} == {
        1: ("available", 50000), 2: ("reserved", 70000), 3: ("available", 70000)}, seats
    assert balance_of(srv, "alice") == 30000

    # the rows behind it, kept as they were
    assert pg.psql(db, "SELECT id, user_id, state FROM tokens ORDER BY id")[0] == ["tok-alice", "alice", "SPENT"]
    assert pg.psql(db, "SELECT count(*) FROM tokens") == [["3"]]
    assert pg.psql(db, "SELECT result_ref FROM idempotency_keys WHERE user_id = 'alice' AND key = 'key-alice'") == \
        [["tx-alice"]]
    assert pg.psql(db, "SELECT id, reservation_id, amount FROM payments") == [["p-alice", "r-alice", "70000"]]

    # and usable: today's release job releases the hold 0001 wrote ...
    def released():
        return pg.psql(db, "SELECT status FROM reservations WHERE id = 'r-bob'") == [["EXPIRED"]]

    wait_until(released, 10, "the release job to expire the old hold")
    assert pg.psql(db, "SELECT action FROM reservation_history WHERE reservation_id = 'r-bob' ORDER BY id") == \
        [["HOLD"], ["AUTO_RELEASE"]]
    # ... a new fan buys the seat it held; the old payer charges again on her old balance row
    user, token = active_user(srv, "after")
    must_charge(srv, user, token, 70000)
    hold = must_hold(srv, token, 1, 3)
    must_pay(srv, token, hold["reservationId"])
    assert seat_map(srv, 1)[3]["status"] == "reserved"
    alice_token = issue(srv, "alice")["token"]
    wait_active(srv, alice_token)
    assert must_charge(srv, "alice", alice_token, 10000)["currentBalance"] == 40000
    assert pg.psql(db, "SELECT type, balance_after FROM balance_history WHERE user_id = 'alice' ORDER BY seq") == \
        [["CHARGE", "100000"], ["PAYMENT", "30000"], ["CHARGE", "40000"]]
    # a new concert takes the next id after the old one
    assert create_concert(srv, seat_count=2) == 2

    # a restart finds nothing more to apply
    applied = pg.psql(db, "SELECT name, applied_at FROM schema_migrations ORDER BY name")
    srv.restart()
    assert pg.psql(db, "SELECT name, applied_at FROM schema_migrations ORDER BY name") == applied
    assert balance_of(srv, "alice") == 40000
