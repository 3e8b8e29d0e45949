"""GET /api/admin/sales: the operators' dashboard's numbers, the same on every instance.

Not part of the fans' contract (API.md); the dashboard at /admin reads it. Answers may be up to
a second old (one read serves every dashboard), so the checks poll with a deadline.
"""
import pytest

from support import (ADMIN_KEY, active_user, cancel_reservation, create_concert, expect, must_charge,
                     must_hold, must_pay, wait_until)

DEADLINE = 10  # seconds: the answer is at most a second old; the rest is room for slow builds


def sales(srv):
    body = expect(srv.get("/api/admin/sales", headers={"X-Admin-Key": ADMIN_KEY}), 200)
    for k in ("held", "sold", "revenue", "released", "cancelled", "concertCount"):
        assert isinstance(body.get(k), int) and body[k] >= 0, body
    assert isinstance(body.get("concerts"), list) and len(body["concerts"]) <= 100, body
    return body


def row_of(body, cid):
    return next((c for c in body["concerts"] if c["concertId"] == cid), None)


@pytest.fixture(scope="module")
def short_holds(module_pool):
    return module_pool("--hold-ttl", "1", "--max-active", "1000")


@pytest.mark.parametrize("headers", [{}, {"X-Admin-Key": "wrong"}], ids=["missing", "wrong"])
def test_sales_need_the_admin_key(server, headers):
    expect(server.get("/api/admin/sales", headers=headers), 401, "ADMIN_KEY_REQUIRED")


def test_sales_count_holds_payments_and_cancels(server):
    cid = create_concert(server, seat_count=4, price=12000, title="매출 집계")
    before = sales(server)
    buyer, buyer_token = active_user(server, "buyer")
    must_charge(server, buyer, buyer_token, 12000)
    must_pay(server, buyer_token, must_hold(server, buyer_token, cid, 1)["reservationId"])
    _, holder_token = active_user(server, "holder")
    must_hold(server, holder_token, cid, 2)
    _, quitter_token = active_user(server, "quitter")
    expect(cancel_reservation(server, quitter_token, must_hold(server, quitter_token, cid, 3)["reservationId"]), 200)

    expected_row = {"concertId": cid, "title": "매출 집계", "venue": "Olympic Hall", "seatCount": 4,
                    "held": 1, "sold": 1, "revenue": 12000}

    def settled():
        body = sales(server)
        row = row_of(body, cid)
        return body if row and {k: row[k] for k in expected_row} == expected_row else None

    after = wait_until(settled, DEADLINE, "the sales to show the hold, the payment and the cancel")
    assert after["sold"] - before["sold"] == 1 and after["revenue"] - before["revenue"] == 12000, (before, after)
    assert after["held"] - before["held"] == 1 and after["cancelled"] - before["cancelled"] == 1, (before, after)
    assert row_of(after, cid)["date"] == expect(server.get(f"/api/concerts/{cid}/seats"), 200)["date"]


def test_sales_count_released_holds(short_holds):
    cid = create_concert(short_holds, seat_count=1)
    before = sales(short_holds)
    _, token = active_user(short_holds, "lapse")
    must_hold(short_holds, token, cid, 1)

    def released():
        body = sales(short_holds)
        return body if body["released"] - before["released"] == 1 and row_of(body, cid)["held"] == 0 else None

    wait_until(released, DEADLINE, "the expired hold to count as released")


def test_sales_list_the_newest_hundred_concerts(short_holds):
    ids = [create_concert(short_holds, seat_count=1, price=1000) for _ in range(101)]

    def listed():
        body = sales(short_holds)
        return body if body["concerts"] and body["concerts"][0]["concertId"] == ids[-1] else None

    body = wait_until(listed, DEADLINE, "the newest concert to head the list")
    assert len(body["concerts"]) == 100 and body["concertCount"] >= 101, body["concertCount"]
    listed_ids = [c["concertId"] for c in body["concerts"]]
    assert listed_ids == sorted(listed_ids, reverse=True)
    assert listed_ids[:100] == ids[::-1][:100]
