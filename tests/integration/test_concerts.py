"""GET /api/concerts/available-dates and GET /api/concerts/{concertId}/seats."""
import pytest

from support import (WITHIN_1S, DATE_RE, active_user, available_dates, cancel_reservation,
                     create_concert, day, expect, expect_bad_request, is_int, listed, must_charge,
                     must_hold, must_pay, seat_map, uid, wait_until)


def wait_listed(srv, cid, present=True, timeout=WITHIN_1S):
    def probe():
        entry = listed(srv, cid)
        return entry if present and entry else (not present and entry is None)

    return wait_until(probe, timeout,
                      f"concert {cid} to {'appear in' if present else 'leave'} available-dates")


def check_listing(body):
    assert set(body) >= {"dates", "concerts"}, body
    concerts = body["concerts"]
    today = day(0)
    for c in concerts:
        assert set(c) >= {"concertId", "title", "venue", "date", "availableSeats", "minPrice",
                          "maxPrice"}, c
        assert is_int(c["concertId"]) and isinstance(c["title"], str) and isinstance(c["venue"], str)
        assert DATE_RE.match(c["date"]) and c["date"] >= today, c
        assert is_int(c["availableSeats"]) and c["availableSeats"] >= 1, c
        assert is_int(c["minPrice"]) and is_int(c["maxPrice"]) and c["minPrice"] <= c["maxPrice"], c
    keys = [(c["date"], c["concertId"]) for c in concerts]
    assert keys == sorted(keys), f"concerts must be sorted by date then concertId: {keys}"
    assert len({c["concertId"] for c in concerts}) == len(concerts), "duplicate concerts"
    dates = body["dates"]
    assert dates == sorted(set(dates)), f"dates must be sorted and unique: {dates}"
    assert dates == sorted({c["date"] for c in concerts}), "dates must be those of the concerts"


def test_available_dates_shape_and_order(server):
    c1 = create_concert(server, seat_count=5, date=day(500), title="Later")
    c2 = create_concert(server, seat_count=5, date=day(400), title="Earlier A")
    c3 = create_concert(server, seat_count=5, date=day(400), title="Earlier B")
    for cid in (c1, c2, c3):
        wait_listed(server, cid)
    body = available_dates(server)
    check_listing(body)
    ids = [c["concertId"] for c in body["concerts"]]
    assert ids.index(c2) < ids.index(c3) < ids.index(c1), ids
    assert day(400) in body["dates"] and day(500) in body["dates"]
    entry = listed(server, c1)
    assert entry["title"] == "Later" and entry["venue"] == "Olympic Hall"
    assert entry["date"] == day(500) and entry["availableSeats"] == 5


def test_min_and_max_price_over_all_seats(server):
    prices = [30000, 1000, 10000000, 55000]
    cid = create_concert(server, prices=prices)
    entry = wait_listed(server, cid)
    assert (entry["minPrice"], entry["maxPrice"]) == (1000, 10000000), entry
    assert entry["availableSeats"] == 4
    flat = create_concert(server, seat_count=3, price=77000)
    entry = wait_listed(server, flat)
    assert (entry["minPrice"], entry["maxPrice"]) == (77000, 77000), entry
    # min/max stay over all seats when the cheapest one is sold
    user, token = active_user(server, "mm")
    must_charge(server, user, token, 10000)
    res = must_hold(server, token, cid, 2)
    must_pay(server, token, res["reservationId"])
    entry = wait_listed(server, cid)
    assert (entry["minPrice"], entry["maxPrice"]) == (1000, 10000000), entry


def test_fully_held_concert_disappears_and_reappears(server):
    cid = create_concert(server, seat_count=2, date=day(45))
    wait_listed(server, cid)
    _, token = active_user(server, "full")
    r1 = must_hold(server, token, cid, 1)
    wait_listed(server, cid)  # one seat is still available
    must_hold(server, token, cid, 2)
    wait_listed(server, cid, present=False)
    expect(cancel_reservation(server, token, r1["reservationId"]), 200, status="CANCELLED")
    entry = wait_listed(server, cid)
    assert entry["availableSeats"] >= 1
    check_listing(available_dates(server))


def test_sold_out_concert_is_not_listed(server):
    cid = create_concert(server, seat_count=1, price=1000)
    wait_listed(server, cid)
    user, token = active_user(server, "sold")
    must_charge(server, user, token, 10000)
    res = must_hold(server, token, cid, 1)
    must_pay(server, token, res["reservationId"])
    wait_listed(server, cid, present=False)


def test_new_concert_appears_within_one_second(server):
    available_dates(server)  # warm any cache
    cid = create_concert(server, seat_count=7)
    entry = wait_listed(server, cid)
    assert entry["availableSeats"] == 7


def test_past_concert_is_never_listed_but_today_is(server):
    past = create_concert(server, seat_count=3, date=day(-1))
    long_ago = create_concert(server, seat_count=3, date="2001-01-01")
    today = create_concert(server, seat_count=3, date=day(0))
    sentinel = create_concert(server, seat_count=3, date=day(3))
    wait_listed(server, sentinel)
    wait_listed(server, today)
    body = available_dates(server)
    ids = {c["concertId"] for c in body["concerts"]}
    assert past not in ids and long_ago not in ids, body
    # a past concert still has a seat map
    seats = expect(server.get(f"/api/concerts/{past}/seats"), 200, concertId=past, date=day(-1))
    assert len(seats["seats"]) == 3


def test_seat_map_fields_and_statuses(server):
    prices = [1000, 2000, 3000, 4000]
    cid = create_concert(server, prices=prices, date=day(33))
    body = expect(server.get(f"/api/concerts/{cid}/seats"), 200, concertId=cid, date=day(33))
    assert [s["number"] for s in body["seats"]] == [1, 2, 3, 4]
    assert [s["price"] for s in body["seats"]] == prices
    assert all(s["status"] == "available" for s in body["seats"])
    user, token = active_user(server, "map")
    must_charge(server, user, token, 10000)
    r2 = must_hold(server, token, cid, 2)
    r3 = must_hold(server, token, cid, 3)
    assert [s["status"] for s in seat_map(server, cid).values()] == \
        ["available", "temporarily_assigned", "temporarily_assigned", "available"]
    must_pay(server, token, r2["reservationId"])
    assert [s["status"] for s in seat_map(server, cid).values()] == \
        ["available", "reserved", "temporarily_assigned", "available"]
    expect(cancel_reservation(server, token, r3["reservationId"]), 200)
    assert [s["status"] for s in seat_map(server, cid).values()] == \
        ["available", "reserved", "available", "available"]


def test_large_seat_map_in_order(server):
    cid = create_concert(server, seat_count=5000, price=1000)
    seats = expect(server.get(f"/api/concerts/{cid}/seats"), 200)["seats"]
    assert [s["number"] for s in seats] == list(range(1, 5001))


def test_unknown_concert_is_404(server):
    expect(server.get("/api/concerts/9223372036854775807/seats"), 404, "CONCERT_NOT_FOUND")
    expect(server.get("/api/concerts/987654321/seats"), 404, "CONCERT_NOT_FOUND")


@pytest.mark.parametrize("cid", ["0", "-1", "01", "007", "9223372036854775808",
                                 "99999999999999999999", "abc", "1.0", "+1", "1e3", "0x1", "%201"])
def test_invalid_concert_id_is_400(server, cid):
    expect_bad_request(server.get(f"/api/concerts/{cid}/seats"))


def test_titles_round_trip_unicode(server):
    title = f"아이유 콘서트 🎵 {uid('t')}"
    cid = create_concert(server, seat_count=1, title=title, venue="잠실 올림픽 주경기장")
    entry = wait_listed(server, cid)
    assert entry["title"] == title and entry["venue"] == "잠실 올림픽 주경기장"
