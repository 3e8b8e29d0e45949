"""POST /api/queue/token, and userId validation / percent-decoding in paths."""
import time

import pytest

from support import (ADMIN_KEY, active_user, expect, expect_bad_request, is_int, issue, parse_ts,
                     pct_encode_all, status_of, uid, wait_estimate_consistent)


def check_token_string(token):
    assert isinstance(token, str), token
    # >= 128 random bits need at least 20 printable characters in any encoding; at most 256
    assert 20 <= len(token) <= 256, f"token length {len(token)}: {token!r}"
    assert all(0x21 <= ord(ch) <= 0x7E for ch in token), f"token must be visible ASCII: {token!r}"


def test_issue_active_token_fields(server):
    user = uid("tok")
    before = time.time()
    r = server.post("/api/queue/token", {"userId": user})
    after = time.time()
    body = expect(r, 201, userId=user, status="active", queuePosition=0)
    check_token_string(body["token"])
    issued = parse_ts(body["issuedAt"])
    assert before - 1 <= issued <= after + 1, body
    until = parse_ts(body["activeUntil"])
    assert abs(until - issued - 600) <= 2, f"activeUntil must be active-ttl (600 s) after activation: {body}"


def test_issue_waiting_token_fields(make_server):
    srv = make_server("--max-active", "1", "--active-ttl", "60")
    first = issue(srv, uid("a"))
    assert first["status"] == "active"
    user = uid("w")
    before = time.time()
    body = expect(srv.post("/api/queue/token", {"userId": user}), 201,
                  userId=user, status="waiting", queuePosition=1)
    check_token_string(body["token"])
    assert before - 1 <= parse_ts(body["issuedAt"]) <= time.time() + 1
    # one admission so far (< 5): r = max-active / active-ttl = 1/60 -> ceil(1 * 60) = 60 s
    assert body["estimatedWaitSeconds"] == 60, body
    assert body["estimatedWaitTime"] == "1분", body
    wait_estimate_consistent(body)
    p = body["pollAfterSeconds"]
    assert is_int(p) and 1 <= p <= 30, body


def test_reissue_returns_same_token_with_200(server):
    user = uid("re")
    first = expect(server.post("/api/queue/token", {"userId": user}), 201)
    again = expect(server.post("/api/queue/token", {"userId": user}), 200,
                   token=first["token"], userId=user, status="active")
    assert again["queuePosition"] == 0


def test_reissue_keeps_waiting_place(make_server):
    srv = make_server("--max-active", "1")
    issue(srv, uid("head"))
    b, c = uid("b"), uid("c")
    tb = expect(srv.post("/api/queue/token", {"userId": b}), 201, queuePosition=1)["token"]
    tc = expect(srv.post("/api/queue/token", {"userId": c}), 201, queuePosition=2)["token"]
    expect(srv.post("/api/queue/token", {"userId": b}), 200, token=tb, status="waiting",
           queuePosition=1)
    expect(srv.post("/api/queue/token", {"userId": c}), 200, token=tc, status="waiting",
           queuePosition=2)
    expect(srv.post("/api/queue/token", {"userId": uid("d")}), 201, queuePosition=3)
    expect(srv.post("/api/queue/token", {"userId": c}), 200, token=tc, queuePosition=2)


def test_tokens_are_distinct(server):
    tokens = [issue(server, uid("dist"))["token"] for _ in range(20)]
    assert len(set(tokens)) == 20


def test_token_is_usable_as_soon_as_issued(server):
    for _ in range(10):
        t = issue(server, uid("now"))["token"]
        expect(status_of(server, t), 200, status="active")


@pytest.mark.parametrize("user", [
    "a", "Z", "0", "a" * 64, "A.z_9@x-Y", "user@example.com", "user-123", "first.last_9",
])
def test_valid_user_ids(server, user):
    r = server.post("/api/queue/token", {"userId": user})
    assert r.status in (200, 201), r
    assert r.json["userId"] == user


@pytest.mark.parametrize("value", [
    "", "a" * 65, "a b", "a/b", "a:b", "a+b", "a#b", "a%40b", "a\tb", "한글", "é", "a\u0000b",
    " a", "a ", 123, 0, 1.5, None, True, ["a"], {"a": 1},
], ids=lambda v: repr(v)[:20])
def test_invalid_user_id_is_400(server, value):
    r = server.post("/api/queue/token", {"userId": value})
    expect_bad_request(r, "userId")


def test_missing_user_id_is_400(server):
    expect_bad_request(server.post("/api/queue/token", {}), "userId")
    expect_bad_request(server.post("/api/queue/token", {"user_id": "abc"}), "userId")


@pytest.mark.parametrize("raw", ["", "not json", "[]", "null", '"u1"', '{"userId":"u1"', "{}{}"])
def test_unparseable_body_is_400(server, raw):
    expect_bad_request(server.post("/api/queue/token", raw=raw))


def test_unknown_fields_are_ignored(server):
    user = uid("extra")
    expect(server.post("/api/queue/token", {"userId": user, "vip": True, "queuePosition": 1}),
           201, userId=user)


def test_user_id_is_percent_decoded_in_paths(server):
    user = f"fan@example.com-{uid('pct')}"[:64]
    tok = issue(server, user)["token"]
    # charge through a fully percent-encoded path: the token is bound to the decoded userId
    path = f"/api/users/{pct_encode_all(user)}/balance"
    expect(server.post(path, {"amount": 10000}, token=tok), 200, userId=user, currentBalance=10000)
    expect(server.get(path), 200, userId=user, balance=10000)
    expect(server.get(f"/api/users/{user.replace('@', '%40')}/balance"), 200, userId=user,
           balance=10000)
    lower = "".join(f"%{b:02x}" for b in user.encode())
    expect(server.get(f"/api/users/{lower}/balance"), 200, userId=user, balance=10000)
    expect(server.get(f"/api/users/{user}/balance"), 200, userId=user, balance=10000)


@pytest.mark.parametrize("segment", ["a%20b", "%20", "a%2Bb", "a%3Ab", "%ED%95%9C", "a" * 65])
def test_invalid_user_id_in_path_is_400(server, segment):
    expect_bad_request(server.get(f"/api/users/{segment}/balance"))
    _, token = active_user(server, "pp")
    # 400 for a path parameter comes before 401/403
    expect_bad_request(server.post(f"/api/users/{segment}/balance", {"amount": 10000}))
    expect_bad_request(server.post(f"/api/users/{segment}/balance", {"amount": 10000}, token=token))


def test_admin_key_is_not_needed_for_tokens(server):
    # sanity: the admin header neither helps nor hurts a public endpoint
    user = uid("adm")
    expect(server.post("/api/queue/token", {"userId": user}, headers={"X-Admin-Key": ADMIN_KEY}),
           201)
