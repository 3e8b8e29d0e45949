"""Holds go to PostgreSQL in batches (concertd_hold_seats, one transaction per batch).

Run with CONCERTD_TEST_ENGINE=postgres (or distributed); skipped on the embedded engine. The
function is called directly with psql for the rules inside one batch (the API's seat lock keeps
two holds of one seat out of one batch), and through the API with one seat broken on purpose in
a batch made to form behind a row lock.
"""
import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import backends
from support import RawConn, active_user, charge, create_concert, expect, hold, pay, race, seat_map, token_id, wait_until

pytestmark = pytest.mark.skipif(not backends.uses_postgres(), reason="PostgreSQL store only")

# Far in the future, so that the server's own expiry sweep (real clock) never touches these holds.
NOW = 4_000_000_000_000


def database_of(uri: str) -> str:
    return uri.rsplit("/", 1)[1]


def lock_seat_row(pg, db, cid, seat, seconds):
    """Another client holds the seat's row lock for `seconds`; returns once it does (wait() on the
    returned process before the test ends)."""
    blocker = subprocess.Popen(
        ["psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(pg.pg_port), "-U", "postgres", "-d", db, "-c",
         f"BEGIN; SELECT 1 FROM seats WHERE concert_id = {cid} AND number = {seat} FOR UPDATE; "
         f"SELECT pg_sleep({seconds}); COMMIT;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: pg.psql(db, f"SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep({seconds})%' "
                                   "AND pid <> pg_backend_pid()") == [["1"]], 5, "the blocking session")
    return blocker


def hold_batch(pg, db, holds, now, max_holds=2):
    """holds: (reservation id, user, concert, seat) in batch order -> (kind, own, released) rows."""
    ids, users, concerts, seats = (",".join(str(h[i]) for h in holds) for i in range(4))
    expires = ",".join(str(now + 1000) for _ in holds)
    limits = ",".join(str(max_holds) for _ in holds)
    return [tuple(row) for row in pg.psql(
        db, f"SELECT out_kind, coalesce(out_own_reservation, '-'), coalesce(rel_id, '-') "
            f"FROM concertd_hold_seats('{{{ids}}}', '{{{users}}}', '{{{concerts}}}', '{{{seats}}}', "
            f"'{{{expires}}}', '{{{limits}}}', {now})")]


def test_one_batch_is_decided_in_order(make_server):
    pg = backends.shared()
    uri = pg.new_database()
    srv = make_server("--postgres", uri)
    db = database_of(uri)
    cid = create_concert(srv, seat_count=5, price=10000)
    rows = hold_batch(pg, db, [
        ("b1", "u1", cid, 1),
        ("b2", "u1", cid, 1),      # the same seat again, same user: taken, and it is theirs
        ("b3", "u2", cid, 1),      # the same seat, another user: taken
        ("b4", "u1", cid, 2),      # u1's second hold: at the limit of 2, allowed
        ("b5", "u1", cid, 3),      # u1's third: over the limit, counting b1 and b4 of this batch
        ("b6", "u3", cid, 9),      # no such seat
        ("b7", "u3", 999_999, 1),  # no such concert
    ], NOW)
    assert rows == [("HELD", "-", "-"), ("ALREADY_ASSIGNED", "b1", "-"), ("ALREADY_ASSIGNED", "-", "-"),
                    ("HELD", "-", "-"), ("HOLD_LIMIT_EXCEEDED", "-", "-"), ("SEAT_NOT_FOUND", "-", "-"),
                    ("CONCERT_NOT_FOUND", "-", "-")]
    assert pg.psql(db, f"SELECT number, status, coalesce(reservation_id, '-') FROM seats "
                       f"WHERE concert_id = {cid} ORDER BY number") == [
        ["1", "HELD", "b1"], ["2", "HELD", "b4"], ["3", "AVAILABLE", "-"], ["4", "AVAILABLE", "-"],
        ["5", "AVAILABLE", "-"]]
    assert pg.psql(db, "SELECT r.id, h.action FROM reservations r JOIN reservation_history h ON h.reservation_id = r.id "
                       "ORDER BY r.id") == [["b1", "HOLD"], ["b4", "HOLD"]]

    # After b1 ran out: the first hold of seat 1 in the next batch releases it, the second finds
    # the seat taken again.
    later = NOW + 5000
    assert hold_batch(pg, db, [("c1", "u3", cid, 1), ("c2", "u2", cid, 1)], later) == [
        ("HELD", "-", "b1"), ("ALREADY_ASSIGNED", "-", "-")]
    assert pg.psql(db, "SELECT status FROM reservations WHERE id = 'b1'") == [["EXPIRED"]]
    assert pg.psql(db, "SELECT action, reason FROM reservation_history WHERE reservation_id = 'b1' ORDER BY id") == [
        ["HOLD", ""], ["AUTO_RELEASE", "EXPIRED"]]


def test_a_broken_hold_fails_alone_and_writes_nothing(make_server):
    pg = backends.shared()
    uri = pg.new_database()
    srv = make_server("--postgres", uri)
    db = database_of(uri)
    seats = 12
    cid = create_concert(srv, seat_count=seats, price=10000)
    fans = [active_user(srv, "batch") for _ in range(seats)]
    # Seat 4 cannot be held: its update fails inside whatever batch it lands in.
    pg.psql(db, "CREATE FUNCTION test_broken_seat() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF NEW.number = 4 AND NEW.status = 'HELD' THEN RAISE EXCEPTION 'broken on purpose'; END IF; "
                "RETURN NEW; END $$; "
                "CREATE TRIGGER test_broken_seat BEFORE UPDATE ON seats FOR EACH ROW EXECUTE FUNCTION test_broken_seat()")
    # Seat 12's hold goes first and waits for a row lock held here, so that the other eleven queue
    # behind it and go together as the next batch.
    blocker = lock_seat_row(pg, db, cid, seats, seconds=3)
    try:
        with ThreadPoolExecutor(max_workers=1) as ex:
            first = ex.submit(hold, srv, fans[-1][1], cid, seats)
            wait_until(lambda: pg.psql(db, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                           "AND query LIKE '%concertd_hold_seats%'") == [["1"]], 5,
                       "the first batch waiting for the row lock")
            results = race(srv, [{"method": "POST", "path": "/api/reservations", "token": token,
                                  "body": {"concertId": cid, "seatNumber": seat}}
                                 for seat, (_, token) in enumerate(fans[:-1], start=1)], check=False)
            expect(first.result(), 201)
    finally:
        blocker.wait(30)
    for seat, r in enumerate(results, start=1):
        if seat == 4:
            assert r.status == 500 and r.json["code"] == "INTERNAL", r
        else:
            assert r.status == 201, (seat, r)
    assert "rerunning it one by one" in srv.log_text()
    states = seat_map(srv, cid)
    assert states[4]["status"] == "available"
    assert all(states[n]["status"] == "temporarily_assigned" for n in range(1, seats + 1) if n != 4), states
    assert pg.psql(db, f"SELECT count(*) FROM reservations WHERE concert_id = {cid}") == [[str(seats - 1)]]
    assert pg.psql(db, f"SELECT count(*) FROM reservations WHERE concert_id = {cid} AND seat_number = 4") == [["0"]]


def test_a_slow_hold_is_answered_after_the_header_deadline_has_passed(make_server):
    """The header clock (10 s) starts at the request's first byte and stops at its end: a hold
    whose header took 6 s and whose row stayed locked 6 s more is answered, not cut off."""
    pg = backends.shared()
    uri = pg.new_database()
    srv = make_server("--postgres", uri)
    db = database_of(uri)
    cid = create_concert(srv, seat_count=5, price=10000)
    _, token = active_user(srv, "slow")
    blocker = lock_seat_row(pg, db, cid, 3, seconds=12)
    try:
        started = time.monotonic()
        body = json.dumps({"concertId": cid, "seatNumber": 3}).encode()
        conn = RawConn(srv, timeout=30)
        lines = [b"POST /api/reservations HTTP/1.1\r\n", b"Host: x\r\n", f"Authorization: Bearer {token}\r\n".encode(),
                 b"Content-Type: application/json\r\n", f"Content-Length: {len(body)}\r\n".encode(), b"X-Slow: 1\r\n",
                 b"X-Slow: 2\r\n"]
        for line in lines:
            conn.send(line)
            time.sleep(1)  # the slow client under test, not a wait for the server
        conn.send(b"\r\n" + body)
        response = conn.read_response("POST", "/api/reservations")
        took = time.monotonic() - started
    finally:
        blocker.wait(30)
    expect(response, 201)
    assert took > 10.5, f"answered after {took:.1f} s: the test did not outlast the header deadline"


def store_tokens(pg, db, changes):
    """changes: (token id, state) in order -> the positions concertd_store_tokens reports unmatched."""
    ids = ",".join(c[0] for c in changes)
    states = ",".join(c[1] for c in changes)
    nulls = ",".join("NULL" for _ in changes)
    return [int(row[0]) for row in pg.psql(
        db, f"SELECT * FROM concertd_store_tokens('{{}}', '{{}}', '{{}}', '{{}}', '{{}}', '{{}}', '{{}}', "
            f"'{{{ids}}}', '{{{states}}}', '{{{nulls}}}', '{{{nulls}}}')")]


def test_token_changes_report_missing_tokens_and_leave_final_states(make_server):
    pg = backends.shared()
    uri = pg.new_database()
    make_server("--postgres", uri)
    db = database_of(uri)
    pg.psql(db, "INSERT INTO tokens (id, user_id, seq, state, issued_at, spent_at) VALUES "
                "('t-wait', 'u1', 900001, 'WAITING', 1, NULL), ('t-spent', 'u2', 900002, 'SPENT', 1, 5)")
    # A missing token's changes all wait (a later one must not land before an earlier one); a
    # spent token stays spent, and its change is not waiting for anything.
    assert store_tokens(pg, db, [("t-missing", "ACTIVE"), ("t-wait", "ACTIVE"), ("t-spent", "ACTIVE"),
                                 ("t-missing", "SPENT")]) == [1, 4]
    assert pg.psql(db, "SELECT id, state FROM tokens WHERE id LIKE 't-%' ORDER BY id") == [
        ["t-spent", "SPENT"], ["t-wait", "ACTIVE"]]


def test_a_payment_spends_a_token_the_store_still_has_waiting(make_server):
    """With a shared line the ACTIVE change of a token can reach the store after its user paid
    (the change waited for the token's insert): the payment spends it all the same."""
    pg = backends.shared()
    uri = pg.new_database()
    srv = make_server("--postgres", uri)
    db = database_of(uri)
    cid = create_concert(srv, seat_count=2, price=10_000)
    user, token = active_user(srv, "lagging")
    expect(charge(srv, user, token, 10_000), 200)
    held = expect(hold(srv, token, cid, 1), 201)
    pg.psql(db, f"UPDATE tokens SET state = 'WAITING', active_until = NULL WHERE id = '{token_id(token)}'")
    expect(pay(srv, token, held["reservationId"]), 200)
    assert pg.psql(db, f"SELECT state FROM tokens WHERE id = '{token_id(token)}'") == [["SPENT"]]
