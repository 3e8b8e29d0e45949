"""Races: many fans on one seat, concurrent charges and payments, idempotent retries.

All requests of a race connect first and are released together by a barrier. The module ends
with an invariant check over everything the server acknowledged (the same check also runs at
every server's teardown).
"""
import collections
import uuid

import pytest

from support import (active_user, assert_invariants, balance_of, create_concert, expect,
                     get_reservation, issue, must_charge, must_hold, race, seat_map, uid,
                     user_path)

SEAT_CONFLICT = {"SEAT_LOCKED", "SEAT_ALREADY_ASSIGNED"}


@pytest.fixture(scope="module")
def srv(module_pool):
    return module_pool("--max-active", "1000", "--max-holds-per-user", "50")


def hold_spec(token, cid, seat):
    return {"method": "POST", "path": "/api/reservations", "token": token,
            "body": {"concertId": cid, "seatNumber": seat}}


def pay_spec(token, rid, key=None):
    return {"method": "POST", "path": "/api/payments", "token": token,
            "body": {"reservationId": rid},
            "headers": {"Idempotency-Key": key} if key else None}


def charge_spec(user, token, amount, key=None):
    return {"method": "POST", "path": f"/api/users/{user_path(user)}/balance", "token": token,
            "body": {"amount": amount}, "headers": {"Idempotency-Key": key} if key else None}


def test_fifty_fans_one_seat(srv):
    cid = create_concert(srv, seat_count=5, price=10000)
    fans = [active_user(srv, "fan") for _ in range(50)]
    results = race(srv, [hold_spec(t, cid, 3) for _, t in fans])
    winners = [(fan, r) for fan, r in zip(fans, results) if r.status == 201]
    assert len(winners) == 1, f"exactly one hold must win, got {len(winners)}: " \
                              f"{[r for _, r in winners]}"
    for r in results:
        if r.status != 201:
            assert r.status == 409 and r.code in SEAT_CONFLICT, r
    assert seat_map(srv, cid)[3]["status"] == "temporarily_assigned"
    (user, token), win = winners[0]
    expect(get_reservation(srv, token, win.json["reservationId"]), 200,
           status="TEMPORARILY_ASSIGNED", seatNumber=3)
    # every loser still sees the seat as taken
    for _, t in fans[:5]:
        if t != token:
            r = srv.post("/api/reservations", {"concertId": cid, "seatNumber": 3}, token=t)
            expect(r, 409, "SEAT_ALREADY_ASSIGNED")


def test_two_fans_one_seat_many_rounds(srv):
    rounds = 20
    cid = create_concert(srv, seat_count=rounds, price=10000)
    (_, ta), (_, tb) = active_user(srv, "duo-a"), active_user(srv, "duo-b")
    for seat in range(1, rounds + 1):
        ra, rb = race(srv, [hold_spec(ta, cid, seat), hold_spec(tb, cid, seat)])
        statuses = sorted([ra.status, rb.status])
        assert statuses == [201, 409], f"seat {seat}: {ra!r} / {rb!r}"
        loser = ra if ra.status == 409 else rb
        assert loser.code in SEAT_CONFLICT, loser
    assert all(s["status"] == "temporarily_assigned" for s in seat_map(srv, cid).values())


def test_crowd_on_a_few_seats(srv):
    cid = create_concert(srv, seat_count=6, price=10000)
    fans = [active_user(srv, "crowd") for _ in range(30)]
    specs = [hold_spec(t, cid, 1 + (i * 7 + j) % 6) for i, (_, t) in enumerate(fans)
             for j in range(2)]
    results = race(srv, specs)
    won = collections.Counter()
    for spec, r in zip(specs, results):
        if r.status == 201:
            won[spec["body"]["seatNumber"]] += 1
        else:
            assert r.status == 409 and r.code in SEAT_CONFLICT, r
    assert all(n == 1 for n in won.values()), f"a seat was held twice: {won}"
    held = {n for n, s in seat_map(srv, cid).items() if s["status"] == "temporarily_assigned"}
    assert held == set(won), (held, won)


def test_twenty_concurrent_charges_all_count(srv):
    user, token = active_user(srv, "charger")
    results = race(srv, [charge_spec(user, token, 10000) for _ in range(20)])
    for r in results:
        expect(r, 200, chargedAmount=10000)
    assert len({r.json["transactionId"] for r in results}) == 20
    assert sorted(r.json["currentBalance"] for r in results) == \
        [10000 * k for k in range(1, 21)], "each charge must see the ones before it"
    assert balance_of(srv, user) == 200000


def test_ten_concurrent_payments_of_one_hold(srv):
    cid = create_concert(srv, seat_count=2, price=50000)
    user, token = active_user(srv, "payer")
    must_charge(srv, user, token, 100000)
    res = must_hold(srv, token, cid, 1)
    results = race(srv, [pay_spec(token, res["reservationId"]) for _ in range(10)])
    ok = [r for r in results if r.status == 200]
    assert len(ok) == 1, f"exactly one payment must succeed: {results}"
    for r in results:
        if r.status != 200:
            expect(r, 400, "INVALID_RESERVATION")
    assert ok[0].json["balanceAfter"] == 50000
    assert balance_of(srv, user) == 50000
    assert seat_map(srv, cid)[1]["status"] == "reserved"


def test_concurrent_payments_never_overdraw(srv):
    cid = create_concert(srv, seat_count=3, price=50000)
    user, token = active_user(srv, "overdraw")
    must_charge(srv, user, token, 100000)
    holds = [must_hold(srv, token, cid, n) for n in (1, 2, 3)]
    results = race(srv, [pay_spec(token, h["reservationId"]) for h in holds])
    assert sorted(r.status for r in results) == [200, 200, 400], results
    failed = next(r for r in results if r.status == 400)
    expect(failed, 400, "INSUFFICIENT_BALANCE", currentBalance=0, requiredAmount=50000)
    assert balance_of(srv, user) == 0
    statuses = sorted(s["status"] for s in seat_map(srv, cid).values())
    assert statuses == ["reserved", "reserved", "temporarily_assigned"], statuses


def test_concurrent_identical_idempotent_charges_move_money_once(srv):
    user, token = active_user(srv, "idem")
    key = "race-" + uuid.uuid4().hex
    results = race(srv, [charge_spec(user, token, 70000, key) for _ in range(10)])
    ok = [r for r in results if r.status == 200]
    assert ok, f"at least one request must succeed: {results}"
    for r in results:
        if r.status != 200:
            expect(r, 409, "IDEMPOTENCY_KEY_IN_USE")
    assert all(r.json == ok[0].json for r in ok), "every success must be the same stored response"
    assert balance_of(srv, user) == 70000
    again = srv.post(f"/api/users/{user_path(user)}/balance", {"amount": 70000}, token=token,
                     headers={"Idempotency-Key": key})
    assert again.status == 200 and again.json == ok[0].json
    assert balance_of(srv, user) == 70000


def test_concurrent_idempotent_payments_pay_once(srv):
    cid = create_concert(srv, seat_count=1, price=30000)
    user, token = active_user(srv, "idem-pay")
    must_charge(srv, user, token, 100000)
    res = must_hold(srv, token, cid, 1)
    key = "race-pay-" + uuid.uuid4().hex
    results = race(srv, [pay_spec(token, res["reservationId"], key) for _ in range(8)])
    ok = [r for r in results if r.status == 200]
    assert ok, results
    for r in results:
        if r.status != 200:
            expect(r, 409, "IDEMPOTENCY_KEY_IN_USE")
    assert all(r.json == ok[0].json for r in ok)
    assert balance_of(srv, user) == 70000


def test_pay_and_cancel_race_on_one_hold(srv):
    cid = create_concert(srv, seat_count=10, price=10000)
    user, token = active_user(srv, "paycancel")
    must_charge(srv, user, token, 100000)
    holds = {seat: must_hold(srv, token, cid, seat) for seat in (1, 2, 3)}  # before any payment
    for seat, res in holds.items():
        rid = res["reservationId"]
        paid, cancelled = race(srv, [
            pay_spec(token, rid),
            {"method": "DELETE", "path": f"/api/reservations/{rid}", "token": token}])
        outcome = (paid.status, cancelled.status)
        assert outcome in ((200, 409), (400, 200)), f"pay/cancel race: {paid!r} / {cancelled!r}"
        if paid.status == 200:
            expect(cancelled, 409, "RESERVATION_NOT_CANCELLABLE")
            assert seat_map(srv, cid)[seat]["status"] == "reserved"
        else:
            expect(paid, 400, "INVALID_RESERVATION")
            assert seat_map(srv, cid)[seat]["status"] == "available"
    assert_invariants(srv)


def test_concurrent_charges_at_the_cap(srv):
    user, token = active_user(srv, "capper")
    for _ in range(99):
        must_charge(srv, user, token, 1000000)
    must_charge(srv, user, token, 950000)  # 99,950,000: room for exactly five 10,000 charges
    results = race(srv, [charge_spec(user, token, 10000) for _ in range(10)])
    ok = [r for r in results if r.status == 200]
    assert len(ok) == 5, results
    for r in results:
        if r.status != 200:
            expect(r, 400, "BALANCE_LIMIT_EXCEEDED")
    assert balance_of(srv, user) == 100000000


def test_concurrent_token_requests_of_one_user(srv):
    user = uid("same")
    results = race(srv, [{"method": "POST", "path": "/api/queue/token", "body": {"userId": user}}
                         for _ in range(10)])
    assert sorted(r.status for r in results) == [200] * 9 + [201], results
    assert len({r.json["token"] for r in results}) == 1, "one user, one live token"


def test_concurrent_arrivals_get_distinct_positions(make_server):
    s = make_server("--max-active", "1")
    issue(s, uid("head"))
    results = race(s, [{"method": "POST", "path": "/api/queue/token", "body": {"userId": uid("c")}}
                       for _ in range(30)])
    positions = sorted(expect(r, 201, status="waiting")["queuePosition"] for r in results)
    assert positions == list(range(1, 31)), positions
    # FIFO by issue order: positions follow issuedAt
    by_pos = sorted(results, key=lambda r: r.json["queuePosition"])
    issued = [r.json["issuedAt"] for r in by_pos]
    assert issued == sorted(issued), "positions must follow issue order"
    q = expect(s.get("/api/admin/queue", headers=s.admin_headers()), 200)
    assert (q["waiting"], q["active"]) == (30, 1), q


def test_invariants_after_the_races(srv):
    assert_invariants(srv)
    led = srv.ledger
    assert led.payments and led.charges, "the races above should have left money to check"
