"""The Redis coordinator (`--redis`): the line lives in Redis, shared by every instance, rebuilt
from the store when Redis lost it, and an unreachable Redis is a 503 that heals by itself.

Runs only with CONCERTD_TEST_ENGINE=redis or distributed. Some tests stop or pause the session's
redis-server; each one brings it back before it ends.
"""
import time

import pytest

import backends
from support import (admin_queue, expect, issue, parse_ts, status_of, uid, wait_active, wait_until)

pytestmark = pytest.mark.skipif(not backends.uses_redis(), reason="needs --redis (CONCERTD_TEST_ENGINE=redis)")


def redis_url(srv) -> str:
    return srv.engine_args[srv.engine_args.index("--redis") + 1]


def waiting_line(srv, n, first_position=1):
    """Issues n tokens that must wait, in order; returns their bodies."""
    out = []
    for i in range(n):
        body = expect(srv.post("/api/queue/token", {"userId": uid("w")}), 201, status="waiting",
                      queuePosition=first_position + i)
        out.append(body)
    return out


def test_restart_keeps_every_place_from_redis(make_server):
    srv = make_server("--max-active", "2")
    active = [issue(srv, uid("a")) for _ in range(2)]
    assert [t["status"] for t in active] == ["active", "active"], active
    before = {t["token"]: expect(status_of(srv, t["token"]), 200)["activeUntil"] for t in active}
    line = waiting_line(srv, 4)
    # Redis is ahead of the store: a poll there is not in the store, nor is the seq counter.
    srv.kill9()
    srv.start()
    assert "already holds the line" in srv.log_text()
    for token, until in before.items():
        expect(status_of(srv, token), 200, status="active", activeUntil=until)
    for i, t in enumerate(line, start=1):
        expect(status_of(srv, t["token"]), 200, status="waiting", position=i)
    late = expect(srv.post("/api/queue/token", {"userId": uid("late")}), 201, status="waiting",
                  queuePosition=5)
    q = admin_queue(srv)
    assert (q["active"], q["waiting"]) == (2, 5), q
    # the same user asking again keeps the place
    expect(srv.post("/api/queue/token", {"userId": line[0]["userId"]}), 200, token=line[0]["token"],
           queuePosition=1)
    assert late["token"] not in before


def test_flushed_redis_gets_the_line_back_from_the_store(make_server):
    srv = make_server("--max-active", "1")
    first = issue(srv, uid("a"))
    assert first["status"] == "active", first
    until = expect(status_of(srv, first["token"]), 200)["activeUntil"]
    line = waiting_line(srv, 3)
    srv.stop()
    assert backends.shared().redis_cli(redis_url(srv), "FLUSHDB") == "OK"
    srv.start()
    assert "line rebuilt from 4 stored tokens" in srv.log_text()
    expect(status_of(srv, first["token"]), 200, status="active", activeUntil=until)
    for i, t in enumerate(line, start=1):
        expect(status_of(srv, t["token"]), 200, status="waiting", position=i)
    # issue order goes on after the restored tokens, not from 1 again
    expect(srv.post("/api/queue/token", {"userId": uid("late")}), 201, status="waiting", queuePosition=4)
    expect(srv.post("/api/queue/token", {"userId": line[1]["userId"]}), 200, token=line[1]["token"],
           queuePosition=2)


def test_redis_flushed_under_a_running_server_restores_the_line_by_itself(make_server):
    srv = make_server("--max-active", "1")
    first = issue(srv, uid("a"))
    assert first["status"] == "active", first
    line = waiting_line(srv, 3)
    assert backends.shared().redis_cli(redis_url(srv), "FLUSHDB") == "OK"
    # While the line is being restored the queue answers 503, never 401 for a live token.
    def restored():
        r = status_of(srv, line[0]["token"])
        assert r.status in (200, 503), r
        return r if r.status == 200 else None

    wait_until(restored, 5, "the line to come back from the store")
    expect(status_of(srv, first["token"]), 200, status="active")
    for i, t in enumerate(line, start=1):
        expect(status_of(srv, t["token"]), 200, status="waiting", position=i)
    expect(srv.post("/api/queue/token", {"userId": uid("late")}), 201, status="waiting", queuePosition=4)


def test_two_instances_share_one_fifo_line_and_max_active(make_server):
    a = make_server("--max-active", "2", "--active-ttl", "2")
    b = make_server("--max-active", "2", "--active-ttl", "2", start=False)
    b.engine_args = list(a.engine_args)
    b.start()
    b.check_invariants = False  # its store never saw the other instance's tokens
    tokens = []
    for i in range(8):
        srv = (a, b)[i % 2]
        tokens.append(expect(srv.post("/api/queue/token", {"userId": uid("s")}), 201))
    assert [t["status"] for t in tokens[:2]] == ["active", "active"], tokens
    assert [t["queuePosition"] for t in tokens[2:]] == [1, 2, 3, 4, 5, 6], tokens
    # either instance sees the same place for any token
    for i, t in enumerate(tokens[2:], start=1):
        expect(status_of(b if i % 2 else a, t["token"]), 200, status="waiting", position=i)
    # both tick; slots free every 2 s; never more than 2 active, and in issue order
    activated = {}
    deadline = time.monotonic() + 12
    while len(activated) < 8 and time.monotonic() < deadline:
        for srv in (a, b):
            q = admin_queue(srv)
            assert q["active"] <= 2, q
        for i, t in enumerate(tokens):
            if i in activated:
                continue
            r = status_of(a, t["token"])
            if r.status == 200 and r.json["status"] == "active":
                activated[i] = parse_ts(r.json["activeUntil"])
            elif r.status == 401:  # already spent at activeUntil between two looks
                activated[i] = None
        time.sleep(0.1)
    assert len(activated) == 8, activated
    known = [(i, until) for i, until in activated.items() if until is not None]
    order = [i for i, _ in sorted(known, key=lambda x: (x[1], x[0]))]
    assert order == sorted(order), activated


def test_redis_down_is_503_and_heals_by_itself(make_server):
    srv = make_server()
    token = issue(srv, uid("up"))["token"]
    shared = backends.shared()
    shared.stop_redis()
    try:
        expect(srv.get("/readyz"), 503, "SERVICE_UNAVAILABLE", status="unavailable")
        expect(srv.post("/api/queue/token", {"userId": uid("down")}), 503, "SERVICE_UNAVAILABLE")
        expect(status_of(srv, token), 503, "SERVICE_UNAVAILABLE")
        expect(srv.get("/healthz"), 200, status="ok")
        # The scrape still works, without the line's counts it cannot read (not stale ones).
        scraped = srv.get("/metrics")
        assert scraped.status == 200, scraped
        text = scraped.body.decode("utf-8")
        assert "\nconcertd_coordinator_up 0\n" in text and "concertd_queue_waiting" not in text
        assert 'concertd_http_requests_total{route="/readyz",method="GET",status="503"}' in text
    finally:
        shared.start_redis()

    def ready():
        return srv.get("/readyz").status == 200 or None

    wait_until(ready, 10, "/readyz to answer 200 again")
    # The restarted Redis is empty: the first tick restores the line from the store, and until
    # then the queue answers 503 like during the outage.
    user = uid("back")

    def issued():
        r = srv.post("/api/queue/token", {"userId": user})
        assert r.status in (201, 503), r
        return r if r.status == 201 else None

    expect(wait_until(issued, 5, "token issue to work again"), 201, status="active")
    expect(status_of(srv, token), 200)  # the token from before the outage is back too
    text = srv.get("/metrics").body.decode("utf-8")
    assert "\nconcertd_coordinator_up 1\n" in text and "\nconcertd_queue_waiting " in text
    assert srv.alive()


def test_unanswered_commands_time_out_as_503_and_heal(make_server):
    srv = make_server()
    issue(srv, uid("up"))
    shared = backends.shared()
    shared.pause_redis()
    try:
        t0 = time.monotonic()
        expect(srv.post("/api/queue/token", {"userId": uid("hang")}), 503, "SERVICE_UNAVAILABLE")
        assert time.monotonic() - t0 < 5
        expect(srv.get("/readyz"), 503, "SERVICE_UNAVAILABLE")
    finally:
        shared.resume_redis()

    def issued():
        r = srv.post("/api/queue/token", {"userId": uid("again")})
        return r if r.status == 201 else None

    wait_until(issued, 10, "token issue to work again")
    expect(srv.get("/readyz"), 200, status="ready")


def test_seat_locks_live_in_redis(make_server):
    srv = make_server()
    from support import create_concert, must_charge, must_hold  # noqa: E402
    cid = create_concert(srv, seat_count=3, price=10000)
    user = uid("lock")
    token = issue(srv, user)["token"]
    wait_active(srv, token)
    must_charge(srv, user, token, 50000)
    must_hold(srv, token, cid, 1)
    url = redis_url(srv)
    cli = backends.shared().redis_cli
    # the seat lock was released (owner-checked) after the hold
    assert cli(url, "EXISTS", f"seat_lock:{cid}:1") == "0"
    expect(srv.get(f"/api/users/{user}/balance"), 200, balance=50000)
    # a lock held by someone else keeps a hold off the seat
    cli(url, "SET", f"seat_lock:{cid}:2", "someone-else", "PX", "5000")
    expect(srv.post("/api/reservations", {"concertId": cid, "seatNumber": 2}, token=token), 409, "SEAT_LOCKED")
    assert cli(url, "GET", f"seat_lock:{cid}:2") == "someone-else"
