"""Hold expiry with --hold-ttl 1 (API.md "Expiry"), and the spent token's grace (= hold-ttl)."""
import time

import pytest

from support import (TS_SLACK, active_user, cancel_reservation, create_concert, expect, get_reservation,
                     hold, listed, must_charge, must_hold, parse_ts, pay, seat_status, status_of,
                     wait_until)

HOLD_TTL = 1
# Deadlines of the polling loops below: generous, for busy sanitizer runs. What is checked is the
# server's answer against its own expiresAt: a request sent after a deadline must see its effect,
# an answer received before it must not, however long the polling takes.
POLL_TIMEOUT = HOLD_TTL + 10


@pytest.fixture(scope="module")
def srv(module_pool):
    return module_pool("--hold-ttl", str(HOLD_TTL), "--max-holds-per-user", "2",
                       "--max-active", "1000")


def wait_expired(srv, token, res, timeout=POLL_TIMEOUT):
    """Poll until the reservation reads EXPIRED; check it was not released early, and that no
    read sent more than a second after expiresAt still finds it TEMPORARILY_ASSIGNED."""
    deadline_ts = parse_ts(res["expiresAt"])

    def probe():
        sent = time.time()  # the server answers after this
        r = get_reservation(srv, token, res["reservationId"])
        body = expect(r, 200)
        if body["status"] == "EXPIRED":
            assert time.time() >= deadline_ts - 0.05, "reservation expired before expiresAt"
            assert body["expiresAt"] == res["expiresAt"], "expiresAt stays the hold's deadline"
            return body
        assert body["status"] == "TEMPORARILY_ASSIGNED", body
        assert sent <= deadline_ts + 1 + TS_SLACK, \
            f"storage must mark an expired hold EXPIRED within one second: still {body['status']} " \
            f"{sent - deadline_ts:.3f} s after expiresAt"
        return None

    return wait_until(probe, timeout, "the hold to read EXPIRED")


def test_hold_message_states_at_least_one_minute(srv):
    cid = create_concert(srv, seat_count=1)
    _, token = active_user(srv, "msg")
    before = time.time()
    res = must_hold(srv, token, cid, 1)
    assert res["message"] == "1분 내에 결제해주세요", res
    exp = parse_ts(res["expiresAt"])
    assert before + HOLD_TTL - 0.5 <= exp <= time.time() + HOLD_TTL + 0.5, res


def test_expired_hold_frees_the_seat(srv):
    cid = create_concert(srv, seat_count=2)
    _, ta = active_user(srv, "exa")
    _, tb = active_user(srv, "exb")
    res = must_hold(srv, ta, cid, 1)
    deadline_ts = parse_ts(res["expiresAt"])

    def seat_free():
        sent = time.time()
        status = seat_status(srv, cid, 1)
        if status == "available":
            # released at once at expiresAt, and not before
            assert time.time() >= deadline_ts - 0.05, "seat released before expiresAt"
            return True
        assert status == "temporarily_assigned" and sent <= deadline_ts + 0.05, \
            f"seat still {status} after expiresAt"
        return False

    wait_until(seat_free, POLL_TIMEOUT, "the expired seat to become available")
    # another user can take it at once
    must_hold(srv, tb, cid, 1)
    wait_expired(srv, ta, res)
    expect(cancel_reservation(srv, ta, res["reservationId"]), 409, "RESERVATION_NOT_CANCELLABLE")


def test_expired_hold_cannot_be_paid(srv):
    cid = create_concert(srv, seat_count=1, price=20000)
    user, token = active_user(srv, "exp-pay")
    must_charge(srv, user, token, 50000)
    res = must_hold(srv, token, cid, 1)
    wait_expired(srv, token, res)
    expect(pay(srv, token, res["reservationId"]), 400, "INVALID_RESERVATION")
    assert srv.get(f"/api/users/{user}/balance").json["balance"] == 50000
    assert seat_status(srv, cid, 1) == "available"
    expect(status_of(srv, token), 200, status="active")  # a failed payment spends nothing


def test_expired_holds_free_the_holders_count(srv):
    cid = create_concert(srv, seat_count=4)
    _, token = active_user(srv, "cnt")
    first = must_hold(srv, token, cid, 1)
    must_hold(srv, token, cid, 2)
    expect(hold(srv, token, cid, 3), 409, "HOLD_LIMIT_EXCEEDED")
    # from the first hold's expiresAt on, the user holds at most one unexpired seat
    freed_ts = parse_ts(first["expiresAt"])

    def can_hold():
        sent = time.time()
        r = hold(srv, token, cid, 3)
        if r.status == 201:
            return True
        expect(r, 409, "HOLD_LIMIT_EXCEEDED")
        assert sent <= freed_ts + 0.05, \
            f"an expired hold still counts against the limit {sent - freed_ts:.3f} s after its expiresAt"
        return False

    wait_until(can_hold, POLL_TIMEOUT, "expired holds to stop counting against the limit")


def test_concert_reappears_after_expiry(srv):
    cid = create_concert(srv, seat_count=1)
    _, token = active_user(srv, "re")
    freed_ts = parse_ts(must_hold(srv, token, cid, 1)["expiresAt"])

    def relisted():
        sent = time.time()
        if listed(srv, cid) is not None:
            return True
        assert sent <= freed_ts + 1 + TS_SLACK, \
            f"a concert whose only hold expired is still not listed {sent - freed_ts:.3f} s after its expiresAt: " \
            f"it must reappear within one second"
        return False

    wait_until(relisted, POLL_TIMEOUT, "the concert to be listed again after its only hold expired")


def test_spent_tokens_grace_lasts_hold_ttl(srv):
    cid = create_concert(srv, seat_count=2, price=1000)
    user, token = active_user(srv, "grace")
    must_charge(srv, user, token, 10000)
    res = must_hold(srv, token, cid, 1)
    paid_sent = time.time()
    expect(pay(srv, token, res["reservationId"]), 200)
    paid_answered = time.time()  # the token was spent between these two

    def grace_over():
        sent = time.time()
        r = get_reservation(srv, token, res["reservationId"])
        if r.status == 200:
            assert r.json["status"] == "CONFIRMED", r
            assert sent <= paid_answered + HOLD_TTL + 0.05, \
                f"the spent token still serves {sent - paid_answered:.3f} s after the payment: grace is hold-ttl"
            return False
        expect(r, 401, "INVALID_TOKEN")
        assert time.time() >= paid_sent + HOLD_TTL - 0.05, "grace ended before hold-ttl"
        return True

    wait_until(grace_over, POLL_TIMEOUT, "the spent token's grace to end")
    expect(srv.post(f"/api/users/{user}/balance", {"amount": 10000}, token=token), 401,
           "INVALID_TOKEN")
    assert seat_status(srv, cid, 1) == "reserved"
