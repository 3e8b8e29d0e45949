"""POST and GET /api/users/{userId}/balance."""
import time

import pytest

from support import (MSG_INVALID_AMOUNT, active_user, balance_of, charge, expect,
                     expect_bad_request, is_int, parse_ts, uid)


def test_never_charged_user_has_zero_and_null_last_updated(server):
    user = uid("zero")
    body = expect(server.get(f"/api/users/{user}/balance"), 200, userId=user, balance=0)
    assert "lastUpdated" in body and body["lastUpdated"] is None, body


def test_charge_fields_and_visibility(server):
    user, token = active_user(server, "ch")
    assert balance_of(server, user) == 0  # may now be cached
    before = time.time()
    body = expect(charge(server, user, token, 100000), 200, userId=user, currentBalance=100000,
                  chargedAmount=100000)
    assert isinstance(body["transactionId"], str) and body["transactionId"], body
    got = expect(server.get(f"/api/users/{user}/balance"), 200, userId=user, balance=100000)
    assert before - 1 <= parse_ts(got["lastUpdated"]) <= time.time() + 1, got
    second = expect(charge(server, user, token, 50000), 200, currentBalance=150000,
                    chargedAmount=50000)
    assert second["transactionId"] != body["transactionId"]
    assert balance_of(server, user) == 150000


def test_every_charge_is_visible_to_the_next_read(server):
    user, token = active_user(server, "vis")
    total = 0
    for amount in (10000, 20000, 30000, 40000, 50000):
        assert balance_of(server, user) == total
        total += amount
        expect(charge(server, user, token, amount), 200, currentBalance=total)
        assert balance_of(server, user) == total


@pytest.mark.parametrize("amount", [10000, 1000000, 123456])
def test_amount_bounds_accepted(server, amount):
    user, token = active_user(server, "ok")
    expect(charge(server, user, token, amount), 200, currentBalance=amount, chargedAmount=amount)


@pytest.mark.parametrize("raw", [
    '{"amount":9999}', '{"amount":1000001}', '{"amount":0}', '{"amount":-10000}',
    '{"amount":"100000"}', '{"amount":100000.0}', '{"amount":1e5}', '{"amount":1E5}',
    '{"amount":100000.5}', '{"amount":null}', '{"amount":true}', '{"amount":[100000]}',
    '{"amount":{"value":100000}}', '{}', '{"amt":100000}',
    '{"amount":100000000000000000000000000000}', '{"amount":-0}',
], ids=lambda r: r[10:40] or "missing")
def test_invalid_amount_is_400_invalid_amount(server, raw):
    user, token = active_user(server, "bad")
    r = server.post(f"/api/users/{user}/balance", raw=raw, token=token)
    expect(r, 400, "INVALID_AMOUNT")
    assert r.json["error"] == MSG_INVALID_AMOUNT, r
    assert balance_of(server, user) == 0


@pytest.mark.parametrize("raw", ["", "{", "[]", "null", "100000", '"100000"'])
def test_unparseable_charge_body_is_400_invalid_request(server, raw):
    user, token = active_user(server, "unp")
    expect_bad_request(server.post(f"/api/users/{user}/balance", raw=raw, token=token))
    assert balance_of(server, user) == 0


def test_balance_cap(server):
    user, token = active_user(server, "cap")
    for _ in range(99):
        expect(charge(server, user, token, 1000000), 200)
    expect(charge(server, user, token, 990000), 200, currentBalance=99990000)
    expect(charge(server, user, token, 20000), 400, "BALANCE_LIMIT_EXCEEDED")
    assert balance_of(server, user) == 99990000
    expect(charge(server, user, token, 10000), 200, currentBalance=100000000)
    expect(charge(server, user, token, 10000), 400, "BALANCE_LIMIT_EXCEEDED")
    assert balance_of(server, user) == 100000000


def test_invalid_user_in_path(server):
    expect_bad_request(server.get("/api/users/" + "a" * 65 + "/balance"))
    expect_bad_request(server.get("/api/users/a%2Fb/balance"))
    expect(server.get("/api/users/" + "a" * 64 + "/balance"), 200, userId="a" * 64)


def test_balance_values_are_integers(server):
    user, token = active_user(server, "int")
    expect(charge(server, user, token, 10000), 200)
    body = expect(server.get(f"/api/users/{user}/balance"), 200)
    assert is_int(body["balance"]) and body["balance"] == 10000
