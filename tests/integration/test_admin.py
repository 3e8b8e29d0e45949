"""POST /api/admin/concerts and GET /api/admin/queue."""
import json

import pytest

from support import ADMIN_KEY, day, expect, expect_bad_request, is_int, seat_map


def create(srv, body, headers=None, raw=None):
    h = {"X-Admin-Key": ADMIN_KEY} if headers is None else headers
    if raw is not None:
        return srv.post("/api/admin/concerts", raw=raw, headers=h)
    return srv.post("/api/admin/concerts", body, headers=h)


def base(**over):
    body = {"title": "Test Concert", "venue": "Hall", "date": day(100), "seatCount": 5,
            "price": 50000}
    body.update(over)
    return {k: v for k, v in body.items() if v is not ...}


@pytest.mark.parametrize("headers", [{}, {"X-Admin-Key": "wrong"}, {"X-Admin-Key": ""},
                                     {"X-Admin-Key": ADMIN_KEY + "x"},
                                     {"X-Admin-Key": ADMIN_KEY.upper()},
                                     {"Authorization": f"Bearer {ADMIN_KEY}"}],
                         ids=["missing", "wrong", "empty", "suffix", "case", "bearer"])
def test_admin_key_required(server, headers):
    expect(create(server, base(), headers=headers), 401, "ADMIN_KEY_REQUIRED")
    expect(server.get("/api/admin/queue", headers=headers), 401, "ADMIN_KEY_REQUIRED")


def test_admin_key_checked_before_body(server):
    expect(create(server, None, headers={}, raw="{nonsense"), 401, "ADMIN_KEY_REQUIRED")


def test_create_concert(server):
    r = create(server, base(seatCount=3, price=1000))
    cid = expect(r, 201)["concertId"]
    assert is_int(cid) and cid >= 1
    seats = expect(server.get(f"/api/concerts/{cid}/seats"), 200, concertId=cid, date=day(100))
    assert [(s["number"], s["status"], s["price"]) for s in seats["seats"]] == \
        [(1, "available", 1000), (2, "available", 1000), (3, "available", 1000)]
    other = expect(create(server, base()), 201)["concertId"]
    assert other != cid


def test_seat_count_defaults_to_50(server):
    cid = expect(create(server, base(seatCount=...)), 201)["concertId"]
    assert sorted(seat_map(server, cid)) == list(range(1, 51))


def test_prices_array(server):
    prices = [1000, 10000000, 5000]
    cid = expect(create(server, base(seatCount=..., price=..., prices=prices)), 201)["concertId"]
    assert [s["price"] for s in seat_map(server, cid).values()] == prices
    cid2 = expect(create(server, base(seatCount=3, price=..., prices=prices)), 201)["concertId"]
    assert [s["price"] for s in seat_map(server, cid2).values()] == prices


@pytest.mark.parametrize("over", [
    {"title": "가" * 200}, {"venue": "가" * 200}, {"title": "🎵" * 200}, {"title": "a"},
    {"title": "a" * 200}, {"seatCount": 1}, {"seatCount": 5000}, {"price": 1000},
    {"price": 10000000}, {"date": "2001-01-01"}, {"date": day(0)}, {"extra": "ignored"},
], ids=lambda o: json.dumps(o, ensure_ascii=True)[:30])
def test_valid_bodies(server, over):
    expect(create(server, base(**over)), 201)


def test_title_code_points_with_escapes(server):
    # the same 200 code points sent as JSON escapes (surrogate pairs for the emoji)
    raw = json.dumps(base(title="🎵" * 200, venue="가" * 200), ensure_ascii=True)
    expect(create(server, None, raw=raw), 201)
    raw = json.dumps(base(title="🎵" * 201), ensure_ascii=True)
    expect_bad_request(create(server, None, raw=raw), "title", require_field=False)


# (override, field at fault, strict): strict cases (a missing or mistyped field) must name the
# field; for a value out of range `field` is optional but, if present, must be the right one.
INVALID_FIELDS = [
    ({"title": ""}, "title", False),
    ({"title": "가" * 201}, "title", False),
    ({"title": "a" * 201}, "title", False),
    ({"title": "🎵" * 201}, "title", False),
    ({"title": 5}, "title", True),
    ({"title": None}, "title", True),
    ({"title": ...}, "title", True),
    ({"venue": ""}, "venue", False),
    ({"venue": "v" * 201}, "venue", False),
    ({"venue": ["Hall"]}, "venue", True),
    ({"venue": ...}, "venue", True),
    ({"seatCount": 0}, "seatCount", False),
    ({"seatCount": -1}, "seatCount", False),
    ({"seatCount": 5001}, "seatCount", False),
    ({"seatCount": "5"}, "seatCount", True),
    ({"seatCount": 5.0}, "seatCount", True),
    ({"seatCount": None}, "seatCount", True),
    ({"price": 999}, "price", False),
    ({"price": 0}, "price", False),
    ({"price": -50000}, "price", False),
    ({"price": 10000001}, "price", False),
    ({"price": "50000"}, "price", True),
    ({"price": 50000.0}, "price", True),
    ({"price": None}, "price", True),
    ({"date": "2026-13-01"}, "date", False),
    ({"date": "2026-02-30"}, "date", False),
    ({"date": "2026-1-01"}, "date", False),
    ({"date": "20261224"}, "date", False),
    ({"date": "2026-12-24T00:00:00Z"}, "date", False),
    ({"date": ""}, "date", False),
    ({"date": 20261224}, "date", True),
    ({"date": ...}, "date", True),
]


def _case_id(over):
    return json.dumps({k: ("<missing>" if v is ... else v) for k, v in over.items()},
                      ensure_ascii=True)[:40]


@pytest.mark.parametrize("over,field,strict",
                         [pytest.param(o, f, s, id=_case_id(o)) for o, f, s in INVALID_FIELDS])
def test_invalid_fields_are_400(server, over, field, strict):
    expect_bad_request(create(server, base(**over)), field, require_field=strict)


@pytest.mark.parametrize("over", [
    {"price": ..., "prices": [1000, 2000]},                    # seatCount 5 != 2
    {"price": ..., "seatCount": 2, "prices": [1000, 2000, 3000]},
    {"price": ..., "seatCount": ..., "prices": []},
    {"price": ..., "prices": [1000, 999, 1000, 1000, 1000]},
    {"price": ..., "prices": [1000, 10000001, 1000, 1000, 1000]},
    {"price": ..., "prices": [1000, "2000", 1000, 1000, 1000]},
    {"price": ..., "prices": [1000, 2000.0, 1000, 1000, 1000]},
    {"price": ..., "prices": "1000,2000"},
    {"price": ..., "prices": None},
    {"price": 1000, "prices": [1000, 1000, 1000, 1000, 1000]},  # both
    {"price": ...},                                            # neither
    {"price": ..., "seatCount": ..., "prices": [1000] * 5001},
])
def test_invalid_price_combinations_are_400(server, over):
    expect_bad_request(create(server, base(**over)))


@pytest.mark.parametrize("raw", ["", "{", "[]", "null", '"concert"'])
def test_unparseable_concert_body_is_400(server, raw):
    expect_bad_request(create(server, None, raw=raw))


def test_admin_queue_fields(server):
    body = expect(server.get("/api/admin/queue", headers={"X-Admin-Key": ADMIN_KEY}), 200)
    for k in ("waiting", "active", "maxActive", "admittedPerMinute"):
        assert is_int(body.get(k)) and body[k] >= 0, body
    assert body["maxActive"] == 10000, body
    assert body["active"] <= body["maxActive"]


def test_admin_queue_ignores_members_that_are_not_settings(server):
    # API.md, Conventions: unknown request fields are ignored; the settings given still apply.
    h = {"X-Admin-Key": ADMIN_KEY}
    before = expect(server.get("/api/admin/queue", headers=h), 200)["maxActive"]
    try:
        expect(server.post("/api/admin/queue", {"maxActive": 4321, "maxactive": 1, "note": "x"}, headers=h), 200,
               maxActive=4321)
    finally:
        expect(server.post("/api/admin/queue", {"maxActive": before}, headers=h), 200, maxActive=before)
