"""HTTP framing, routing and the shape of every response (API.md "Conventions")."""
import http.client
import json

import pytest

from support import (RawConn, active_user, create_concert, expect, issue, raw_request, uid,
                     user_path)


# --- routing -----------------------------------------------------------------------------------
@pytest.mark.parametrize("method,path", [
    ("GET", "/api/nope"),
    ("POST", "/api/nope"),
    ("GET", "/api/concerts"),
    ("GET", "/api/concerts/1"),
    ("GET", "/api/concerts/1/seat"),
    ("GET", "/api/queue"),
    ("GET", "/api/users/u1"),
    ("GET", "/api/users/u1/balance/history"),
    ("GET", "/api/reservations/a/b"),
    ("GET", "/healthzz"),
    ("GET", "/api/admin"),
])
def test_unknown_route_is_404(server, method, path):
    expect(server.request(method, path), 404, "NOT_FOUND")


@pytest.mark.parametrize("method,path", [
    ("GET", "/healthz/"),
    ("GET", "/api/concerts/available-dates/"),
    ("GET", "/api/concerts/1/seats/"),
    ("POST", "/api/queue/token/"),
    ("GET", "/api/queue/status/"),
    ("GET", "/api/users/u1/balance/"),
    ("POST", "/api/payments/"),
    ("POST", "/api/reservations/"),
])
def test_trailing_slash_is_another_route(server, method, path):
    expect(server.request(method, path), 404, "NOT_FOUND")


def test_query_string_is_ignored(server):
    expect(server.get("/healthz?x=1"), 200, status="ok")
    expect(server.get("/healthz?"), 200, status="ok")
    body = expect(server.get("/api/concerts/available-dates?date=2020-01-01&page=2"), 200)
    assert "dates" in body and "concerts" in body
    cid = create_concert(server, seat_count=3)
    seats = expect(server.get(f"/api/concerts/{cid}/seats?concertId=999"), 200)
    assert seats["concertId"] == cid and len(seats["seats"]) == 3
    user = uid("qs")
    tok = expect(server.post("/api/queue/token?userId=someone-else", {"userId": user}), 201)
    assert tok["userId"] == user
    expect(server.get(f"/api/users/{user_path(user)}/balance?userId=x"), 200, userId=user)
    expect(server.get("/api/nope?x=1"), 404, "NOT_FOUND")
    expect(server.get("/api/concerts/available-dates/?x=1"), 404, "NOT_FOUND")


@pytest.mark.parametrize("method,path,allowed", [
    ("POST", "/healthz", {"GET"}),
    ("POST", "/readyz", {"GET"}),
    ("POST", "/metrics", {"GET"}),
    ("DELETE", "/api/concerts/available-dates", {"GET"}),
    ("POST", "/api/concerts/1/seats", {"GET"}),
    ("PUT", "/api/concerts/abc/seats", {"GET"}),  # the route comes before the path parameter
    ("GET", "/api/queue/token", {"POST"}),
    ("POST", "/api/queue/status", {"GET"}),
    ("GET", "/api/reservations", {"POST"}),
    ("POST", "/api/reservations/res-1", {"GET", "DELETE"}),
    ("PUT", "/api/users/u1/balance", {"GET", "POST"}),
    ("DELETE", "/api/users/u1/balance", {"GET", "POST"}),
    ("GET", "/api/payments", {"POST"}),  # 405 comes before 401
    ("GET", "/api/admin/concerts", {"POST"}),
    ("DELETE", "/api/admin/queue", {"GET"}),
])
def test_wrong_method_is_405_with_allow(server, method, path, allowed):
    r = server.request(method, path)
    expect(r, 405, "METHOD_NOT_ALLOWED")
    allow = r.header("Allow")
    assert allow, f"405 without an Allow header: {r!r} headers={r.headers}"
    methods = {m.strip().upper() for m in allow.split(",") if m.strip()}
    assert allowed <= methods, f"Allow {allow!r} should list {sorted(allowed)}"
    assert method not in methods, f"Allow {allow!r} lists the refused method {method}"


# --- body limit (413) --------------------------------------------------------------------------
def test_413_from_content_length_without_reading_body(server):
    with RawConn(server) as c:
        c.send(raw_request("POST", "/api/queue/token",
                           ["Content-Type: application/json", "Content-Length: 65537"]))
        # no body is sent: the answer must come from the headers alone
        r = c.read_response("POST", "/api/queue/token")
        expect(r, 413, "PAYLOAD_TOO_LARGE")
        assert c.closed_by_peer(), "the connection must be closed after a 413"


@pytest.mark.parametrize("path,status,code", [("/api/queue/token", 413, "PAYLOAD_TOO_LARGE"),
                                              ("/api/nope", 404, "NOT_FOUND")])
def test_refusal_reaches_a_client_that_sends_its_whole_body_first(server, path, status, code):
    # http.client writes the whole body before it reads. Closing on the unread bytes reset the
    # connection: the client got a broken pipe, never the answer.
    body = json.dumps({"userId": uid("big"), "pad": "x" * 2_000_000}).encode()
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        assert r.status == status, (r.status, r.read())
        assert json.loads(r.read())["code"] == code
    finally:
        conn.close()


def test_413_comes_before_401(server):
    with RawConn(server) as c:
        c.send(raw_request("POST", "/api/reservations", ["Content-Length: 1000000"]))
        r = c.read_response("POST", "/api/reservations")
        expect(r, 413, "PAYLOAD_TOO_LARGE")
        assert c.closed_by_peer()


@pytest.mark.parametrize("method,path,status,code", [
    ("POST", "/api/nope", 404, "NOT_FOUND"),
    ("GET", "/api/nope", 404, "NOT_FOUND"),
    ("PUT", "/api/reservations", 405, "METHOD_NOT_ALLOWED"),
], ids=["unknown-path", "unknown-path-get", "wrong-method"])
def test_route_errors_come_before_413(server, method, path, status, code):
    # The contract's order: 404/405 route, then 413. The headers name both, so the body is
    # still never read.
    with RawConn(server) as c:
        c.send(raw_request(method, path, ["Content-Length: 1000000"]))
        r = c.read_response(method, path)
        expect(r, status, code)
        if status == 405:
            assert r.header("Allow") == "POST"
        assert c.closed_by_peer()


def test_chunked_body_over_limit_on_an_unknown_path_is_404(make_server):
    srv = make_server("--max-body", "256")
    chunk = b"a" * 300
    with RawConn(srv) as c:
        c.send(raw_request("POST", "/api/nope", ["Transfer-Encoding: chunked"]) + b"%x\r\n%s\r\n" % (len(chunk), chunk))
        expect(c.read_response("POST", "/api/nope"), 404, "NOT_FOUND")
        assert c.closed_by_peer()


def test_body_of_exactly_max_body_is_accepted(server):
    user = uid("lim")
    body = json.dumps({"userId": user}).encode()
    body += b" " * (65536 - len(body))
    assert len(body) == 65536
    r = server.post("/api/queue/token", raw=body)
    expect(r, 201, userId=user)


def test_max_body_flag(make_server):
    srv = make_server("--max-body", "256")
    user = uid("mb")
    body = json.dumps({"userId": user}).encode()
    expect(srv.post("/api/queue/token", raw=body + b" " * (256 - len(body))), 201)
    with RawConn(srv) as c:
        c.send(raw_request("POST", "/api/queue/token", ["Content-Length: 257"]))
        expect(c.read_response("POST", "/api/queue/token"), 413, "PAYLOAD_TOO_LARGE")
        assert c.closed_by_peer()


def test_chunked_body_within_limit_is_accepted(server):
    user = uid("chunk")
    body = json.dumps({"userId": user}).encode()
    parts = [body[:5], body[5:12], body[12:]]
    data = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
    with RawConn(server) as c:
        c.send(raw_request("POST", "/api/queue/token",
                           ["Content-Type: application/json", "Transfer-Encoding: chunked"]) + data)
        expect(c.read_response("POST", "/api/queue/token"), 201, userId=user)


def test_chunked_body_over_limit_is_413_then_closed(make_server):
    srv = make_server("--max-body", "256")
    first = b'{"userId":"' + b"a" * 150
    second = b"b" * 150  # 300 bytes in all: over the 256-byte limit
    with RawConn(srv) as c:
        c.send(raw_request("POST", "/api/queue/token", ["Transfer-Encoding: chunked"])
               + b"%x\r\n%s\r\n" % (len(first), first) + b"%x\r\n%s\r\n" % (len(second), second))
        # the final 0-chunk is never sent: the server must answer as soon as the limit is passed
        try:
            r = c.read_response("POST", "/api/queue/token")
        except (ConnectionResetError, EOFError) as e:
            pytest.fail(f"no 413 answer before the connection ended: {e!r}")
        expect(r, 413, "PAYLOAD_TOO_LARGE")
        assert c.closed_by_peer(), "the connection must be closed after a 413"


def test_head_answer_has_no_body_and_the_connection_stays_in_step(server):
    # A body after a HEAD answer would be read by the client as the start of the next response.
    with RawConn(server) as c:
        c.send(raw_request("HEAD", "/api/concerts/available-dates", []) + raw_request("GET", "/healthz", []))
        head = c.read_response("HEAD", "/api/concerts/available-dates", check=False)
        assert head.status == 405 and head.body == b"", head
        assert int(head.header("Content-Length")) > 0
        expect(c.read_response("GET", "/healthz"), 200, status="ok")


@pytest.mark.parametrize("codings", [["gzip"], ["chunked, gzip"], ["identity"], ["identity, chunked"],
                                     ["gzip, chunked"], ["gzip", "chunked"]], ids=lambda c: " + ".join(c))
def test_transfer_coding_other_than_one_chunked_is_400_then_closed(server, codings):
    # The body's end cannot be trusted; taking it as no body (or as chunks of something else)
    # would answer what follows it as a request of its own (request smuggling).
    with RawConn(server) as c:
        c.send(raw_request("POST", "/api/queue/token", [f"Transfer-Encoding: {t}" for t in codings])
               + b"0\r\n\r\n" + raw_request("GET", "/healthz", []))
        expect(c.read_response("POST", "/api/queue/token"), 400, "INVALID_REQUEST")
        assert c.closed_by_peer(), "the request after the body must not be answered"


def test_chunked_in_http_1_0_is_400_then_closed(server):
    # HTTP/1.0 has no chunked coding: an intermediary of that version would frame it otherwise.
    user = uid("te10")
    body = json.dumps({"userId": user}).encode()
    request = (b"POST /api/queue/token HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
    with RawConn(server) as c:
        c.send(request)
        expect(c.read_response("POST", "/api/queue/token"), 400, "INVALID_REQUEST")
        assert c.closed_by_peer()


def test_chunked_coding_name_is_case_insensitive(server):
    user = uid("tecase")
    body = json.dumps({"userId": user}).encode()
    with RawConn(server) as c:
        c.send(raw_request("POST", "/api/queue/token", ["Transfer-Encoding: Chunked"])
               + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
        expect(c.read_response("POST", "/api/queue/token"), 201, userId=user)


# --- bad framing (400, then closed) --------------------------------------------------------------
@pytest.mark.parametrize("headers", [
    ["Content-Length: abc"],
    ["Content-Length: -1"],
    ["Content-Length: 1.5"],
    ["Content-Length: 0x10"],
    ["Content-Length: 5", "Content-Length: 6"],
], ids=["abc", "negative", "fraction", "hex", "conflicting-duplicates"])
def test_bad_content_length_is_400_then_closed(server, headers):
    with RawConn(server) as c:
        c.send(raw_request("POST", "/api/queue/token", headers))
        r = c.read_response("POST", "/api/queue/token")
        expect(r, 400, "INVALID_REQUEST")
        assert c.closed_by_peer(), "the connection must be closed after a framing error"


def test_content_length_with_chunked_is_400_then_closed(server):
    with RawConn(server) as c:
        c.send(raw_request("POST", "/api/queue/token",
                           ["Content-Length: 5", "Transfer-Encoding: chunked"]))
        r = c.read_response("POST", "/api/queue/token")
        expect(r, 400, "INVALID_REQUEST")
        assert c.closed_by_peer()


# --- connections -----------------------------------------------------------------------------------
def test_keep_alive_serves_several_requests(server):
    user = uid("ka")
    with RawConn(server) as c:
        c.send(raw_request("GET", "/healthz"))
        expect(c.read_response(), 200, status="ok")
        c.send(raw_request("GET", "/api/nope"))
        expect(c.read_response("GET", "/api/nope"), 404, "NOT_FOUND")
        c.send(raw_request("POST", "/api/queue/token", [], json.dumps({"userId": "a b"}).encode()))
        expect(c.read_response("POST", "/api/queue/token"), 400, "INVALID_REQUEST")
        c.send(raw_request("POST", "/api/queue/token", [], json.dumps({"userId": user}).encode()))
        expect(c.read_response("POST", "/api/queue/token"), 201, userId=user)
        c.send(raw_request("GET", "/api/concerts/available-dates"))
        expect(c.read_response("GET", "/api/concerts/available-dates"), 200)
        assert not c.closed_by_peer(0.3), "a keep-alive connection must stay open"


def test_http_client_connection_reuse(server):
    conn = server.connection()
    try:
        for _ in range(5):
            expect(server.get("/healthz", conn=conn), 200, status="ok")
        expect(server.get("/api/nope", conn=conn), 404)
        expect(server.get("/healthz", conn=conn), 200)
    finally:
        conn.close()


def test_connection_close_is_honoured(server):
    with RawConn(server) as c:
        c.send(raw_request("GET", "/healthz", ["Connection: close"]))
        expect(c.read_response(), 200)
        assert c.closed_by_peer()


def test_pipelined_requests_are_answered_in_order(server):
    users = [uid("pipe") for _ in range(6)]
    reqs = [
        ("GET", f"/api/users/{users[0]}/balance", None),
        ("POST", "/api/queue/token", {"userId": users[1]}),
        ("GET", f"/api/users/{users[2]}/balance", None),
        ("GET", "/api/nope", None),
        ("POST", "/api/queue/token", {"userId": "bad user"}),
        ("GET", f"/api/users/{users[3]}/balance", None),
        ("POST", "/api/queue/token", {"userId": users[4]}),
        ("GET", "/healthz", None),
        ("GET", f"/api/users/{users[5]}/balance", None),
    ]
    data = b"".join(raw_request(m, p, ["Content-Type: application/json"] if b else [],
                                json.dumps(b).encode() if b is not None else None)
                    for m, p, b in reqs)
    with RawConn(server, timeout=10) as c:
        c.send(data)  # all in one send
        got = [c.read_response(m, p) for m, p, _ in reqs]
    expect(got[0], 200, userId=users[0], balance=0)
    expect(got[1], 201, userId=users[1])
    expect(got[2], 200, userId=users[2])
    expect(got[3], 404, "NOT_FOUND")
    expect(got[4], 400, "INVALID_REQUEST")
    expect(got[5], 200, userId=users[3])
    expect(got[6], 201, userId=users[4])
    expect(got[7], 200, status="ok")
    expect(got[8], 200, userId=users[5])


def test_many_pipelined_gets(server):
    users = [uid("pp") for _ in range(40)]
    data = b"".join(raw_request("GET", f"/api/users/{u}/balance") for u in users)
    with RawConn(server, timeout=10) as c:
        c.send(data)
        for u in users:
            expect(c.read_response(), 200, userId=u)


# --- bodies --------------------------------------------------------------------------------------
@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_requests_are_read_as_json_whatever_content_type(server, content_type):
    user = uid("ct")
    headers = {"Content-Type": content_type} if content_type else {}
    r = server.post("/api/queue/token", raw=json.dumps({"userId": user}), headers=headers)
    expect(r, 201, userId=user)


GARBAGE = [
    b"", b"{", b"}", b"null", b"[]", b"0", b'"text"', b'{"a":', b"\x00\x01\x02", b"\xff\xfe{}",
    b'{"userId":"\xff\xfe"}', b'{"concertId":{"$gt":0},"seatNumber":[1]}',
    b'{"amount":1' + b"0" * 400 + b"}", b'{"reservationId":' + b'"x' * 5 + b"}",
    b"[" * 5000 + b"]" * 5000, b'{"a":' * 3000 + b"1" + b"}" * 3000,
]


def test_no_5xx_for_garbage_bodies(server):
    user, token = active_user(server, "garbage")
    endpoints = ["/api/queue/token", "/api/reservations", f"/api/users/{user}/balance",
                 "/api/payments", "/api/admin/concerts"]
    for path in endpoints:
        for body in GARBAGE:
            r = server.post(path, raw=body, token=token, headers=server.admin_headers())
            assert 400 <= r.status < 500, f"expected a 4xx for garbage body {body[:40]!r}: {r!r}"


def test_every_error_is_json_with_error_and_code(server):
    # Server.request checks Content-Type, `error` and `code` on every response; these just make
    # sure each kind of error is exercised at least once here.
    cases = [
        server.get("/api/nope"),
        server.post("/healthz"),
        server.post("/api/queue/token", raw="{"),
        server.get("/api/queue/status"),
        server.get("/api/queue/status", token="x" * 40),
        server.get("/api/concerts/abc/seats"),
        server.get("/api/concerts/9223372036854775807/seats"),
        server.post("/api/admin/concerts", {"title": "x"}),
    ]
    for r in cases:
        assert r.status >= 400 and r.json["code"] and r.json["error"]
    with RawConn(server) as c:
        c.send(raw_request("POST", "/api/payments", ["Content-Length: 99999999"]))
        r = c.read_response("POST", "/api/payments")
        assert r.status == 413 and r.json["error"] and r.json["code"] == "PAYLOAD_TOO_LARGE"


def test_success_responses_are_json(server):
    user = uid("ok")
    tok = issue(server, user)
    assert tok["userId"] == user
    for path in ["/healthz", "/readyz", "/api/concerts/available-dates",
                 f"/api/users/{user}/balance"]:
        r = server.get(path)
        assert r.status == 200 and isinstance(r.json, dict)
