"""Authorization: Bearer parsing, unknown tokens, other users, waiting tokens, error order."""
import pytest

from support import (active_user, cancel_reservation, charge, create_concert, expect,
                     expect_bad_request, get_reservation, hold, issue, must_charge, must_hold, pay,
                     seat_status, status_of, uid)

# (method, path, body) of every endpoint that takes a queue token; {user} is filled in
PROTECTED = [
    ("GET", "/api/queue/status", None),
    ("POST", "/api/reservations", {"concertId": 1, "seatNumber": 1}),
    ("GET", "/api/reservations/res-unknown", None),
    ("DELETE", "/api/reservations/res-unknown", None),
    ("POST", "/api/users/{user}/balance", {"amount": 10000}),
    ("POST", "/api/payments", {"reservationId": "res-unknown"}),
]
PROTECTED_IDS = [f"{m} {p.split('/')[2]}{'/' + p.split('/')[3] if p.count('/') > 2 else ''}"
                 for m, p, _ in PROTECTED]


def send(srv, method, path, body, user, headers):
    return srv.request(method, path.format(user=user), body, headers=headers)


@pytest.mark.parametrize("method,path,body", PROTECTED, ids=PROTECTED_IDS)
@pytest.mark.parametrize("auth", [
    None, "", "Bearer", "Bearer ", "bearer", "Basic dXNlcjpwYXNz", "Token abcdefabcdefabcdefabcdef",
    "Bearerabcdefabcdefabcdefabcdef", "Bearer " + "x" * 257, "Bearer abc def", "Bearer t\xf6ken",
], ids=["missing", "empty", "scheme-only", "scheme-space", "lower-scheme-only", "basic", "token",
        "no-space", "too-long", "inner-space", "non-ascii"])
def test_missing_or_malformed_authorization_is_401_missing_token(server, method, path, body, auth):
    user = uid("auth")
    headers = {} if auth is None else {"Authorization": auth}
    expect(send(server, method, path, body, user, headers), 401, "MISSING_TOKEN")


@pytest.mark.parametrize("method,path,body", PROTECTED, ids=PROTECTED_IDS)
@pytest.mark.parametrize("token", ["x" * 40, "x" * 256, "not-a-real-token.AAAA"],
                         ids=["unknown", "unknown-256", "unknown-dotted"])
def test_unknown_token_is_401_invalid_token(server, method, path, body, token):
    expect(send(server, method, path, body, uid("u"), {"Authorization": f"Bearer {token}"}),
           401, "INVALID_TOKEN")


def test_tampered_token_is_invalid(server):
    _, token = active_user(server, "tamper")
    mid = len(token) // 2
    for i in (mid, len(token) - 1, 0):
        repl = "A" if token[i] != "A" else "B"
        bad = token[:i] + repl + token[i + 1:]
        expect(status_of(server, bad), 401, "INVALID_TOKEN")
    expect(status_of(server, token + "x"), 401, "INVALID_TOKEN")
    expect(status_of(server, token[:-1]), 401, "INVALID_TOKEN")


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_scheme_is_case_insensitive(server, scheme):
    user, token = active_user(server, "scheme")
    h = {"Authorization": f"{scheme} {token}"}
    expect(server.get("/api/queue/status", headers=h), 200, status="active")
    expect(server.post(f"/api/users/{user}/balance", {"amount": 10000}, headers=h), 200,
           currentBalance=10000)


def test_other_users_token_on_user_path_is_403(server):
    a, ta = active_user(server, "a")
    b, _ = active_user(server, "b")
    expect(charge(server, b, ta, 10000), 403, "FORBIDDEN")
    assert server.get(f"/api/users/{b}/balance").json["balance"] == 0
    # 403 FORBIDDEN comes before the body checks
    expect(server.post(f"/api/users/{b}/balance", {"amount": "lots"}, token=ta), 403, "FORBIDDEN")
    expect(server.post(f"/api/users/{b}/balance", raw="{", token=ta), 403, "FORBIDDEN")


def test_other_users_reservation_is_404_and_untouched(server):
    cid = create_concert(server, seat_count=3)
    _, ta = active_user(server, "owner")
    _, tb = active_user(server, "other")
    res = must_hold(server, ta, cid, 2)
    rid = res["reservationId"]
    expect(get_reservation(server, tb, rid), 404, "RESERVATION_NOT_FOUND")
    expect(cancel_reservation(server, tb, rid), 404, "RESERVATION_NOT_FOUND")
    expect(pay(server, tb, rid), 400, "INVALID_RESERVATION")
    expect(get_reservation(server, ta, rid), 200, status="TEMPORARILY_ASSIGNED")
    assert seat_status(server, cid, 2) == "temporarily_assigned"


def test_order_path_parameter_before_token(server):
    expect_bad_request(server.post("/api/users/bad%20user/balance", {"amount": 10000}))
    expect_bad_request(server.get("/api/reservations/" + "r" * 129))
    expect_bad_request(server.delete("/api/reservations/" + "r" * 129,
                                     headers={"Authorization": "Basic x"}))


def test_order_token_before_body(server):
    expect(server.post("/api/reservations", raw="{garbage"), 401, "MISSING_TOKEN")
    expect(server.post("/api/payments", {"reservationId": 5}, token="y" * 32), 401, "INVALID_TOKEN")
    expect(server.post("/api/users/u-1/balance", {"amount": 5}), 401, "MISSING_TOKEN")


@pytest.fixture(scope="module")
def line(module_pool):
    """A server with one active user and one waiting user (max-active 1)."""
    srv = module_pool("--max-active", "1")
    head_user = uid("head")
    head = issue(srv, head_user)
    assert head["status"] == "active"
    waiter_user = uid("waiter")
    waiter = expect(srv.post("/api/queue/token", {"userId": waiter_user}), 201, status="waiting",
                    queuePosition=1)
    return srv, head_user, head["token"], waiter_user, waiter["token"]


def test_waiting_token_on_protected_endpoints_is_403_token_not_active(line):
    srv, head_user, head, user, token = line
    cid = create_concert(srv, seat_count=2)
    r = hold(srv, token, cid, 1)
    expect(r, 403, "TOKEN_NOT_ACTIVE", position=1)
    expect(charge(srv, user, token, 10000), 403, "TOKEN_NOT_ACTIVE", position=1)
    expect(pay(srv, token, "res-unknown"), 403, "TOKEN_NOT_ACTIVE", position=1)
    expect(get_reservation(srv, token, "res-unknown"), 403, "TOKEN_NOT_ACTIVE", position=1)
    expect(cancel_reservation(srv, token, "res-unknown"), 403, "TOKEN_NOT_ACTIVE", position=1)
    # a waiting token is not an error for the status endpoint
    expect(status_of(srv, token), 200, status="waiting", position=1)
    assert seat_status(srv, cid, 1) == "available"
    assert srv.get(f"/api/users/{user}/balance").json["balance"] == 0


def test_order_forbidden_before_token_not_active(line):
    srv, head_user, head, user, token = line
    expect(charge(srv, head_user, token, 10000), 403, "FORBIDDEN")


def test_order_token_not_active_before_body(line):
    srv, head_user, head, user, token = line
    expect(srv.post("/api/reservations", raw="{bad json", token=token), 403, "TOKEN_NOT_ACTIVE",
           position=1)
    expect(srv.post("/api/reservations", {"concertId": "x"}, token=token), 403, "TOKEN_NOT_ACTIVE")
    expect(srv.post(f"/api/users/{user}/balance", {"amount": 1}, token=token), 403,
           "TOKEN_NOT_ACTIVE")


def test_order_body_before_resource(server):
    _, token = active_user(server, "ord")
    expect_bad_request(hold(server, token, 9223372036854775807, "x"), "seatNumber")
    expect_bad_request(server.post("/api/payments", {"reservationId": 7}, token=token),
                       "reservationId")


def test_public_endpoints_need_no_token(server):
    user = uid("pub")
    expect(server.get(f"/api/users/{user}/balance"), 200, balance=0)
    expect(server.get("/api/concerts/available-dates"), 200)
    cid = create_concert(server, seat_count=1)
    expect(server.get(f"/api/concerts/{cid}/seats"), 200)
    # and a bogus token on a public endpoint is simply ignored
    expect(server.get(f"/api/users/{user}/balance", token="z" * 40), 200, balance=0)


def test_spent_token_cannot_hold_but_can_charge(server):
    user, token = active_user(server, "sp")
    must_charge(server, user, token, 100000)
    cid = create_concert(server, seat_count=3, price=10000)
    r1 = must_hold(server, token, cid, 1)
    expect(pay(server, token, r1["reservationId"]), 200)
    expect(status_of(server, token), 401, "INVALID_TOKEN")
    expect(hold(server, token, cid, 2), 401, "INVALID_TOKEN")
    expect(charge(server, user, token, 10000), 200, currentBalance=100000)
