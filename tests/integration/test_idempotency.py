"""Idempotency-Key on POST /api/users/{userId}/balance and POST /api/payments."""
import uuid

import pytest

from support import (active_user, balance_of, charge, create_concert, expect, expect_bad_request,
                     get_reservation, must_charge, must_hold, pay, seat_status, status_of, user_path)


def key():
    return "idem-" + uuid.uuid4().hex


def post_charge(srv, user, token, raw, k):
    return srv.post(f"/api/users/{user_path(user)}/balance", raw=raw, token=token,
                    headers={"Idempotency-Key": k})


def test_same_key_same_body_replays_without_second_charge(server):
    user, token = active_user(server, "ik")
    k = key()
    first = charge(server, user, token, 50000, key=k)
    body = expect(first, 200, currentBalance=50000)
    again = charge(server, user, token, 50000, key=k)
    expect(again, 200)
    assert again.json == body, "a replay must return the stored response"
    assert balance_of(server, user) == 50000
    # the stored response stays the same after other changes of the balance
    must_charge(server, user, token, 10000)
    third = charge(server, user, token, 50000, key=k)
    expect(third, 200)
    assert third.json == body
    assert balance_of(server, user) == 60000


@pytest.mark.parametrize("variant", [
    '{ "amount" : 30000 }',
    '{"amount":30000,"note":"x"}',
    '\n{\n  "note": "x",\n  "amount": 30000\n}\n',
])
def test_equal_json_bodies_replay(server, variant):
    user, token = active_user(server, "eq")
    k = key()
    original = '{"amount":30000,"note":"x"}' if "note" in variant else '{"amount":30000}'
    first = expect(post_charge(server, user, token, original, k), 200, currentBalance=30000)
    again = post_charge(server, user, token, variant, k)
    expect(again, 200)
    assert again.json == first
    assert balance_of(server, user) == 30000


def test_same_key_other_body_is_422(server):
    user, token = active_user(server, "ob")
    k = key()
    must_charge(server, user, token, 20000, key=k)
    expect(charge(server, user, token, 30000, key=k), 422, "IDEMPOTENCY_KEY_REUSED")
    # the stored key is looked at before the body is validated
    expect(post_charge(server, user, token, '{"amount":"lots"}', k), 422, "IDEMPOTENCY_KEY_REUSED")
    assert balance_of(server, user) == 20000


def test_same_key_on_the_other_endpoint_is_422(server):
    cid = create_concert(server, seat_count=2, price=10000)
    user, token = active_user(server, "oe")
    k = key()
    must_charge(server, user, token, 50000, key=k)
    res = must_hold(server, token, cid, 1)
    expect(pay(server, token, res["reservationId"], key=k), 422, "IDEMPOTENCY_KEY_REUSED")
    assert seat_status(server, cid, 1) == "temporarily_assigned"
    assert balance_of(server, user) == 50000
    expect(status_of(server, token), 200, status="active")
    # and a payment key reused for a charge
    k2 = key()
    expect(pay(server, token, res["reservationId"], key=k2), 200, balanceAfter=40000)
    expect(charge(server, user, token, 10000, key=k2), 422, "IDEMPOTENCY_KEY_REUSED")
    assert balance_of(server, user) == 40000


def test_payment_replay_after_the_token_was_spent(server):
    cid = create_concert(server, seat_count=1, price=10000)
    user, token = active_user(server, "pr")
    must_charge(server, user, token, 30000)
    res = must_hold(server, token, cid, 1)
    k = key()
    first = expect(pay(server, token, res["reservationId"], key=k), 200, balanceAfter=20000)
    expect(status_of(server, token), 401, "INVALID_TOKEN")
    again = pay(server, token, res["reservationId"], key=k)
    expect(again, 200)
    assert again.json == first
    assert balance_of(server, user) == 20000
    # without the key the same request is an error (already paid)
    expect(pay(server, token, res["reservationId"]), 400, "INVALID_RESERVATION")


@pytest.mark.parametrize("bad", ["k" * 129, "ab\tcd", "k\xe9y"], ids=["129-chars", "tab", "non-ascii"])
def test_malformed_key_is_400(server, bad):
    user, token = active_user(server, "mk")
    expect_bad_request(charge(server, user, token, 10000, key=bad))
    assert balance_of(server, user) == 0
    # the key's format is checked before the body
    expect_bad_request(charge(server, user, token, 5, key=bad))
    cid = create_concert(server, seat_count=1, price=1000)
    res = must_hold(server, token, cid, 1)
    expect_bad_request(pay(server, token, res["reservationId"], key=bad))
    assert seat_status(server, cid, 1) == "temporarily_assigned"


@pytest.mark.parametrize("good", ["k" * 128, "a b c", "~!@#$%^&*()_+{}|:<>?", "1"])
def test_well_formed_keys_are_accepted(server, good):
    user, token = active_user(server, "gk")
    first = expect(charge(server, user, token, 10000, key=good), 200)
    assert charge(server, user, token, 10000, key=good).json == first
    assert balance_of(server, user) == 10000


def test_empty_key_is_400_and_moves_no_money(server):
    # The contract: a key is 1 to 128 printable ASCII characters, else 400; an empty header
    # value is a key of length 0, not a missing header.
    user, token = active_user(server, "ek")
    expect(charge(server, user, token, 10000, key=""), 400, "INVALID_REQUEST")
    assert balance_of(server, user) == 0


def test_key_format_checked_after_forbidden(server):
    _, token = active_user(server, "kf")
    other, _ = active_user(server, "kf-other")
    expect(charge(server, other, token, 10000, key="k" * 129), 403, "FORBIDDEN")


def test_failed_request_can_be_retried_with_the_same_key(server):
    user, token = active_user(server, "retry")
    k = key()
    expect(charge(server, user, token, 5000, key=k), 400, "INVALID_AMOUNT")
    first = expect(charge(server, user, token, 20000, key=k), 200, currentBalance=20000)
    assert charge(server, user, token, 20000, key=k).json == first
    # a payment that failed for lack of money, retried with the same key once charged
    cid = create_concert(server, seat_count=1, price=50000)
    res = must_hold(server, token, cid, 1)
    pk = key()
    expect(pay(server, token, res["reservationId"], key=pk), 400, "INSUFFICIENT_BALANCE")
    must_charge(server, user, token, 30000)
    paid = expect(pay(server, token, res["reservationId"], key=pk), 200, balanceAfter=0)
    assert pay(server, token, res["reservationId"], key=pk).json == paid
    assert balance_of(server, user) == 0


def test_keys_belong_to_one_user(server):
    a, ta = active_user(server, "ka")
    b, tb = active_user(server, "kb")
    k = key()
    ra = expect(charge(server, a, ta, 10000, key=k), 200)
    rb = expect(charge(server, b, tb, 10000, key=k), 200, userId=b, currentBalance=10000)
    assert ra["transactionId"] != rb["transactionId"]
    assert balance_of(server, a) == 10000 and balance_of(server, b) == 10000


def test_replay_status_is_stored_too(server):
    cid = create_concert(server, seat_count=1, price=1000)
    user, token = active_user(server, "st")
    must_charge(server, user, token, 10000)
    res = must_hold(server, token, cid, 1)
    k = key()
    r1 = pay(server, token, res["reservationId"], key=k)
    r2 = pay(server, token, res["reservationId"], key=k)
    assert (r1.status, r1.json) == (r2.status, r2.json) and r1.status == 200
    expect(get_reservation(server, token, res["reservationId"]), 200, status="CONFIRMED")
