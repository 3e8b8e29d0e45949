"""POST /api/reservations, GET and DELETE /api/reservations/{reservationId}."""
import time

import pytest

from support import (MSG_HOLD_5MIN, MSG_SEAT_ASSIGNED, active_user, cancel_reservation,
                     create_concert, expect, expect_bad_request, get_reservation, hold, is_int,
                     issue, must_charge, must_hold, must_pay, parse_ts, pay, pct_encode_all,
                     seat_status, wait_active)


@pytest.fixture(scope="module")
def concert(server):
    return create_concert(server, seat_count=10, price=50000)


def check_reservation(body, cid, seat, price, status):
    assert isinstance(body["reservationId"], str) and 1 <= len(body["reservationId"]) <= 128, body
    assert body["reservationId"].startswith("res-"), body
    assert body["concertId"] == cid and body["seatNumber"] == seat, body
    assert body["price"] == price and body["status"] == status, body
    parse_ts(body["expiresAt"])


def test_hold_fields(server, concert):
    _, token = active_user(server, "h")
    before = time.time()
    body = must_hold(server, token, concert, 5)
    after = time.time()
    check_reservation(body, concert, 5, 50000, "TEMPORARILY_ASSIGNED")
    assert body["message"] == MSG_HOLD_5MIN, body
    exp = parse_ts(body["expiresAt"])
    assert before + 300 - 1 <= exp <= after + 300 + 1, f"expiresAt must be now + 300 s: {body}"
    assert seat_status(server, concert, 5) == "temporarily_assigned"


def test_hold_price_is_the_seats_price(server):
    cid = create_concert(server, prices=[1000, 2500, 9999000])
    _, token = active_user(server, "p")
    assert must_hold(server, token, cid, 2)["price"] == 2500
    assert must_hold(server, token, cid, 3)["price"] == 9999000


@pytest.mark.parametrize("seat", [0, 11, -1, 1000, 18446744073709551616])
def test_seat_outside_range_is_404(server, concert, seat):
    _, token = active_user(server, "sn")
    expect(hold(server, token, concert, seat), 404, "SEAT_NOT_FOUND")


def test_unknown_concert_is_404(server):
    _, token = active_user(server, "cn")
    expect(hold(server, token, 9223372036854775807, 1), 404, "CONCERT_NOT_FOUND")
    expect(hold(server, token, 9223372036854775807, 0), 404, "CONCERT_NOT_FOUND")


def test_seat_already_assigned(server):
    cid = create_concert(server, seat_count=3, price=20000)
    a_user, ta = active_user(server, "a")
    _, tb = active_user(server, "b")
    res = must_hold(server, ta, cid, 1)
    r = hold(server, tb, cid, 1)
    expect(r, 409, "SEAT_ALREADY_ASSIGNED")
    assert r.json["error"] == MSG_SEAT_ASSIGNED, r
    # the asker's own hold: same code, with the asker's reservationId
    r = hold(server, ta, cid, 1)
    expect(r, 409, "SEAT_ALREADY_ASSIGNED", reservationId=res["reservationId"])
    # a sold seat
    must_charge(server, a_user, ta, 20000)
    must_pay(server, ta, res["reservationId"])
    expect(hold(server, tb, cid, 1), 409, "SEAT_ALREADY_ASSIGNED")
    assert seat_status(server, cid, 1) == "reserved"


def test_hold_limit_default_is_four(server):
    cid = create_concert(server, seat_count=6, price=1000)
    _, token = active_user(server, "lim")
    held = [must_hold(server, token, cid, n) for n in (1, 2, 3, 4)]
    expect(hold(server, token, cid, 5), 409, "HOLD_LIMIT_EXCEEDED")
    assert seat_status(server, cid, 5) == "available"
    expect(cancel_reservation(server, token, held[0]["reservationId"]), 200)
    must_hold(server, token, cid, 5)
    expect(hold(server, token, cid, 6), 409, "HOLD_LIMIT_EXCEEDED")


def test_hold_limit_flag_and_paid_holds_do_not_count(make_server):
    srv = make_server("--max-holds-per-user", "2")
    cid = create_concert(srv, seat_count=6, price=1000)
    user, token = active_user(srv, "lim2")
    must_charge(srv, user, token, 10000)
    r1 = must_hold(srv, token, cid, 1)
    must_hold(srv, token, cid, 2)
    expect(hold(srv, token, cid, 3), 409, "HOLD_LIMIT_EXCEEDED")
    must_pay(srv, token, r1["reservationId"])  # spends the token
    fresh = expect(srv.post("/api/queue/token", {"userId": user}), 201)
    assert fresh["token"] != token
    wait_active(srv, fresh["token"])
    must_hold(srv, fresh["token"], cid, 3)  # seat 2 (unpaid) + seat 3 = 2
    expect(hold(srv, fresh["token"], cid, 4), 409, "HOLD_LIMIT_EXCEEDED")


def test_get_and_cancel_by_owner(server, concert):
    _, token = active_user(server, "gc")
    res = must_hold(server, token, concert, 7)
    rid = res["reservationId"]
    got = expect(get_reservation(server, token, rid), 200)
    check_reservation(got, concert, 7, 50000, "TEMPORARILY_ASSIGNED")
    assert got["expiresAt"] == res["expiresAt"]
    # percent-encoded id
    expect(server.get(f"/api/reservations/{pct_encode_all(rid)}", token=token), 200,
           reservationId=rid)
    expect(cancel_reservation(server, token, rid), 200, reservationId=rid, status="CANCELLED")
    assert seat_status(server, concert, 7) == "available"  # at once
    got = expect(get_reservation(server, token, rid), 200, status="CANCELLED")
    check_reservation(got, concert, 7, 50000, "CANCELLED")
    assert got["expiresAt"] == res["expiresAt"], "expiresAt stays the hold's deadline"
    expect(cancel_reservation(server, token, rid), 409, "RESERVATION_NOT_CANCELLABLE")
    # the freed seat can be held again, by anyone
    _, other = active_user(server, "gc2")
    must_hold(server, other, concert, 7)


def test_paid_reservation_is_confirmed_and_not_cancellable(server):
    cid = create_concert(server, seat_count=2, price=10000)
    user, token = active_user(server, "pd")
    must_charge(server, user, token, 10000)
    res = must_hold(server, token, cid, 1)
    must_pay(server, token, res["reservationId"])
    got = expect(get_reservation(server, token, res["reservationId"]), 200, status="CONFIRMED")
    check_reservation(got, cid, 1, 10000, "CONFIRMED")
    expect(cancel_reservation(server, token, res["reservationId"]), 409,
           "RESERVATION_NOT_CANCELLABLE")
    assert seat_status(server, cid, 1) == "reserved"


def test_unknown_reservation_is_404(server):
    _, token = active_user(server, "unk")
    # Characters, not bytes: 128 Korean characters (384 bytes) are still an id.
    for rid in ["res-does-not-exist", "x", "r" * 128, "가" * 43, "가" * 128]:
        expect(get_reservation(server, token, rid), 404, "RESERVATION_NOT_FOUND")
        expect(cancel_reservation(server, token, rid), 404, "RESERVATION_NOT_FOUND")


def test_reservation_id_over_128_chars_is_400(server):
    _, token = active_user(server, "long")
    for rid in ["r" * 129, "가" * 129]:
        expect_bad_request(get_reservation(server, token, rid))
        expect_bad_request(cancel_reservation(server, token, rid))


def test_cancelled_reservation_cannot_be_paid(server, concert):
    user, token = active_user(server, "cp")
    must_charge(server, user, token, 100000)
    res = must_hold(server, token, concert, 9)
    expect(cancel_reservation(server, token, res["reservationId"]), 200)
    expect(pay(server, token, res["reservationId"]), 400, "INVALID_RESERVATION")
    assert server.get(f"/api/users/{user}/balance").json["balance"] == 100000


@pytest.mark.parametrize("body,field", [
    ({"seatNumber": 1}, "concertId"),
    ({"concertId": "CID"}, "seatNumber"),
    ({"concertId": "1", "seatNumber": 1}, "concertId"),
    ({"concertId": 1.0, "seatNumber": 1}, "concertId"),
    ({"concertId": 0, "seatNumber": 1}, "concertId"),
    ({"concertId": -1, "seatNumber": 1}, "concertId"),
    ({"concertId": 9223372036854775808, "seatNumber": 1}, "concertId"),
    ({"concertId": None, "seatNumber": 1}, "concertId"),
    ({"concertId": True, "seatNumber": 1}, "concertId"),
    ({"concertId": [1], "seatNumber": 1}, "concertId"),
    ({"concertId": "CID", "seatNumber": "1"}, "seatNumber"),
    ({"concertId": "CID", "seatNumber": 15.0}, "seatNumber"),
    ({"concertId": "CID", "seatNumber": 1.5}, "seatNumber"),
    ({"concertId": "CID", "seatNumber": None}, "seatNumber"),
    ({"concertId": "CID", "seatNumber": False}, "seatNumber"),
    ({"concertId": "CID", "seatNumber": {"n": 1}}, "seatNumber"),
], ids=lambda v: repr(v)[:40] if isinstance(v, dict) else v)
def test_bad_hold_body_is_400_with_field(server, concert, body, field):
    _, token = active_user(server, "bb")
    body = {k: (concert if v == "CID" else v) for k, v in body.items()}
    r = server.post("/api/reservations", body, token=token)
    expect_bad_request(r, field)


@pytest.mark.parametrize("raw,field", [
    ('{"concertId":CID,"seatNumber":1e1}', "seatNumber"),
    ('{"concertId":CID,"seatNumber":15.0}', "seatNumber"),
    ('{"concertId":CID,"seatNumber":1E0}', "seatNumber"),
    ('{"concertId":1e0,"seatNumber":1}', "concertId"),
    ('{"concertId":CID,"seatNumber":-0.0}', "seatNumber"),
])
def test_number_written_as_non_integer_is_400(server, concert, raw, field):
    _, token = active_user(server, "nn")
    r = server.post("/api/reservations", raw=raw.replace("CID", str(concert)), token=token)
    expect_bad_request(r, field)


@pytest.mark.parametrize("raw", ["", "nope", "[]", "null", "42", '"x"', '{"concertId":1,'])
def test_unparseable_hold_body_is_400(server, raw):
    _, token = active_user(server, "up")
    expect_bad_request(server.post("/api/reservations", raw=raw, token=token))


def test_unknown_fields_in_hold_are_ignored(server, concert):
    _, token = active_user(server, "uf")
    r = server.post("/api/reservations", {"concertId": concert, "seatNumber": 10,
                                          "userId": "someone-else", "price": 1}, token=token)
    body = expect(r, 201)
    assert body["price"] == 50000


def test_hold_ignores_other_user_in_body(server):
    # the user is the token's: a userId in the body changes nothing
    cid = create_concert(server, seat_count=1)
    a = issue(server, "fixed-a-" + str(cid))["token"]
    res = expect(server.post("/api/reservations", {"concertId": cid, "seatNumber": 1,
                                                   "userId": "fixed-b-" + str(cid)}, token=a), 201)
    expect(get_reservation(server, a, res["reservationId"]), 200)
    assert is_int(res["seatNumber"])


def test_huge_seat_number_under_an_escaped_key_is_still_404(server):
    from support import active_user, create_concert
    _, token = active_user(server, "esc")
    cid = create_concert(server, seat_count=2)
    raw = ('{"concertId":%d,"seat\\u004eumber":99999999999999999999999}' % cid).encode()
    r = server.request("POST", "/api/reservations", token=token, raw=raw)
    assert r.status == 404 and r.code == "SEAT_NOT_FOUND", r
