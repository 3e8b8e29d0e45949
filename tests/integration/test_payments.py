"""POST /api/payments, and what a payment does to the token."""
import pytest

from support import (MSG_INSUFFICIENT, MSG_INVALID_RESERVATION, active_user, balance_of,
                     cancel_reservation, charge, create_concert, expect, expect_bad_request,
                     get_reservation, hold, is_int, must_charge, must_hold, pay, seat_status,
                     status_of, wait_active)


def test_payment_fields_and_effects(server):
    cid = create_concert(server, prices=[50000, 70000, 90000])
    user, token = active_user(server, "pay")
    must_charge(server, user, token, 200000)
    res = must_hold(server, token, cid, 2)
    body = expect(pay(server, token, res["reservationId"]), 200,
                  reservationId=res["reservationId"], concertId=cid, seatNumber=2, amount=70000,
                  status="CONFIRMED", balanceAfter=130000)
    assert isinstance(body["paymentId"], str) and body["paymentId"].startswith("pay-"), body
    assert balance_of(server, user) == 130000
    assert seat_status(server, cid, 2) == "reserved"
    expect(get_reservation(server, token, res["reservationId"]), 200, status="CONFIRMED",
           expiresAt=res["expiresAt"], price=70000)


def test_token_is_spent_after_payment_but_serves_its_grace(server):
    cid = create_concert(server, seat_count=5, price=50000)
    user, token = active_user(server, "spent")
    must_charge(server, user, token, 200000)
    r1 = must_hold(server, token, cid, 1)
    r2 = must_hold(server, token, cid, 2)
    r3 = must_hold(server, token, cid, 3)
    expect(pay(server, token, r1["reservationId"]), 200, balanceAfter=150000)
    # spent: no status, no new hold
    expect(status_of(server, token), 401, "INVALID_TOKEN")
    expect(hold(server, token, cid, 4), 401, "INVALID_TOKEN")
    assert seat_status(server, cid, 4) == "available"
    # ... but within the grace: read, pay another hold, cancel, charge
    expect(get_reservation(server, token, r1["reservationId"]), 200, status="CONFIRMED")
    expect(pay(server, token, r2["reservationId"]), 200, balanceAfter=100000)
    expect(cancel_reservation(server, token, r3["reservationId"]), 200, status="CANCELLED")
    expect(charge(server, user, token, 10000), 200, currentBalance=110000)
    # a new token for the user
    fresh = expect(server.post("/api/queue/token", {"userId": user}), 201)
    assert fresh["token"] != token
    wait_active(server, fresh["token"])
    must_hold(server, fresh["token"], cid, 4)


def test_insufficient_balance_changes_nothing(server):
    cid = create_concert(server, seat_count=2, price=50000)
    user, token = active_user(server, "poor")
    must_charge(server, user, token, 30000)
    res = must_hold(server, token, cid, 1)
    r = pay(server, token, res["reservationId"])
    expect(r, 400, "INSUFFICIENT_BALANCE", currentBalance=30000, requiredAmount=50000)
    assert r.json["error"] == MSG_INSUFFICIENT, r
    assert balance_of(server, user) == 30000
    assert seat_status(server, cid, 1) == "temporarily_assigned"
    expect(get_reservation(server, token, res["reservationId"]), 200,
           status="TEMPORARILY_ASSIGNED")
    expect(status_of(server, token), 200, status="active")  # not spent
    must_charge(server, user, token, 20000)
    expect(pay(server, token, res["reservationId"]), 200, balanceAfter=0, amount=50000)
    assert balance_of(server, user) == 0


def test_never_charged_user_is_insufficient(server):
    cid = create_concert(server, seat_count=1, price=1000)
    _, token = active_user(server, "never")
    res = must_hold(server, token, cid, 1)
    expect(pay(server, token, res["reservationId"]), 400, "INSUFFICIENT_BALANCE",
           currentBalance=0, requiredAmount=1000)


def test_invalid_reservations(server):
    cid = create_concert(server, seat_count=4, price=10000)
    user, token = active_user(server, "inv")
    other_user, other = active_user(server, "inv-other")
    must_charge(server, user, token, 100000)
    must_charge(server, other_user, other, 100000)

    def invalid(tok, rid):
        r = pay(server, tok, rid)
        expect(r, 400, "INVALID_RESERVATION")
        assert r.json["error"] == MSG_INVALID_RESERVATION, r

    invalid(token, "res-unknown-123")
    invalid(token, "x" * 128)
    invalid(token, "가" * 128)  # 128 characters, 384 bytes: an id, just not this user's hold
    # another user's hold
    theirs = must_hold(server, other, cid, 1)
    invalid(token, theirs["reservationId"])
    assert seat_status(server, cid, 1) == "temporarily_assigned"
    # cancelled
    mine = must_hold(server, token, cid, 2)
    expect(cancel_reservation(server, token, mine["reservationId"]), 200)
    invalid(token, mine["reservationId"])
    assert balance_of(server, user) == 100000
    expect(status_of(server, token), 200, status="active")
    # already paid (the token is spent but within its grace)
    paid = must_hold(server, token, cid, 3)
    expect(pay(server, token, paid["reservationId"]), 200, balanceAfter=90000)
    invalid(token, paid["reservationId"])
    assert balance_of(server, user) == 90000
    assert balance_of(server, other_user) == 100000


@pytest.mark.parametrize("body,field", [
    ({}, "reservationId"),
    ({"reservationId": 123}, "reservationId"),
    ({"reservationId": ""}, "reservationId"),
    ({"reservationId": None}, "reservationId"),
    ({"reservationId": ["res-1"]}, "reservationId"),
    ({"reservationId": "r" * 129}, "reservationId"),
    ({"reservation_id": "res-1"}, "reservationId"),
])
def test_bad_payment_body_is_400(server, body, field):
    _, token = active_user(server, "pb")
    r = server.post("/api/payments", body, token=token)
    expect_bad_request(r, field, require_field=not (body.get("reservationId") == "r" * 129))


@pytest.mark.parametrize("raw", ["", "{", "[]", "null", '"res-1"'])
def test_unparseable_payment_body_is_400(server, raw):
    _, token = active_user(server, "pu")
    expect_bad_request(server.post("/api/payments", raw=raw, token=token))


def test_payment_amount_is_the_held_seats_price(server):
    cid = create_concert(server, prices=[1000, 10000000])
    user, token = active_user(server, "price")
    for _ in range(11):
        must_charge(server, user, token, 1000000)
    res = must_hold(server, token, cid, 2)
    body = expect(pay(server, token, res["reservationId"]), 200, amount=10000000)
    assert body["balanceAfter"] == 1000000 and is_int(body["balanceAfter"])
