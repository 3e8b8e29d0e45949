"""GET /api/queue/status: waiting/active, FIFO admission, estimates, idle drop, active expiry."""
import math
import time

from support import (TS_SLACK, admin_queue, charge, expect, hold, is_int, issue, parse_ts,
                     spend_by_paying, status_of, uid, user_path, wait_estimate_consistent, wait_until)


def test_active_status_fields(server):
    tok = issue(server, uid("st"))
    body = expect(status_of(server, tok["token"]), 200, status="active")
    assert body["activeUntil"] == tok["activeUntil"]
    parse_ts(body["activeUntil"])


class PositionWatch:
    """Polls waiting tokens and checks that no position ever grows."""

    def __init__(self, srv, tokens):
        self.srv = srv
        self.tokens = dict(tokens)  # name -> token
        self.seen = {name: [] for name in tokens}

    def poll(self, name):
        r = status_of(self.srv, self.tokens[name])
        body = expect(r, 200)
        if body["status"] == "waiting":
            pos = body["position"]
            assert is_int(pos) and pos >= 1, body
            hist = self.seen[name]
            assert not hist or pos <= hist[-1], \
                f"position of {name} grew from {hist[-1]} to {pos} while polling"
            hist.append(pos)
        else:
            assert body["status"] == "active", body
        return body

    def poll_all(self):
        return {n: self.poll(n) for n in self.tokens}


def test_fifo_positions_and_admission_when_a_slot_frees(make_server):
    srv = make_server("--max-active", "1", "--active-ttl", "60")
    a_user = uid("a")
    a = issue(srv, a_user)
    assert a["status"] == "active" and a["queuePosition"] == 0
    names = ["b", "c", "d", "e"]
    issued = {}
    for i, n in enumerate(names, start=1):
        t = expect(srv.post("/api/queue/token", {"userId": uid(n)}), 201,
                   status="waiting", queuePosition=i)
        wait_estimate_consistent(t)
        issued[n] = t
    watch = PositionWatch(srv, {n: issued[n]["token"] for n in names})
    for i, n in enumerate(names, start=1):
        body = watch.poll(n)
        assert body["status"] == "waiting" and body["position"] == i, body
        # one admission in the last minute (< 5): r = 1/60 per second
        assert body["estimatedWaitSeconds"] == 60 * i, body
        assert body["estimatedWaitTime"] == f"{i}분", body
        wait_estimate_consistent(body)
        assert is_int(body["pollAfterSeconds"]) and 1 <= body["pollAfterSeconds"] <= 30, body
    q = admin_queue(srv)
    assert (q["waiting"], q["active"], q["maxActive"]) == (4, 1, 1), q
    assert q["admittedPerMinute"] == 1, q

    # free the slot: A pays, which spends its token; B (the oldest waiting) is admitted
    spend_by_paying(srv, a_user, a["token"])
    # the server's own times: the payment's (A's balance changed last then) and B's activation
    # (activeUntil - active-ttl), however long the polling takes
    paid_at = parse_ts(expect(srv.get(f"/api/users/{user_path(a_user)}/balance"), 200)["lastUpdated"])
    expect(status_of(srv, a["token"]), 401, "INVALID_TOKEN")

    def b_active():
        watch.poll_all()
        body = watch.poll("b")
        return body if body["status"] == "active" else None

    admitted = parse_ts(wait_until(b_active, 10, "the head of the line to be admitted")["activeUntil"]) - 60
    assert paid_at - TS_SLACK <= admitted <= paid_at + 1 + TS_SLACK, \
        f"B admitted {admitted - paid_at:+.3f} s after A's payment freed the slot: must be within 1 s"
    bodies = watch.poll_all()
    assert bodies["b"]["status"] == "active"
    assert [bodies[n]["position"] for n in ["c", "d", "e"]] == [1, 2, 3], bodies
    for i, n in enumerate(["c", "d", "e"], start=1):
        # two admissions in the last minute: still r = 1/60
        assert bodies[n]["estimatedWaitSeconds"] == 60 * i, bodies[n]
    q = admin_queue(srv)
    assert (q["waiting"], q["active"]) == (3, 1), q
    assert q["admittedPerMinute"] == 2, q

    # a later arrival goes to the back, and never ahead of the line
    f = expect(srv.post("/api/queue/token", {"userId": uid("f")}), 201, queuePosition=4)
    watch.tokens["f"] = f["token"]
    watch.seen["f"] = []
    assert watch.poll("f")["position"] == 4


def test_wait_estimate_rounds_up(make_server):
    srv = make_server("--max-active", "2", "--active-ttl", "90")
    issue(srv, uid("a1"))
    issue(srv, uid("a2"))
    # 2 admissions (< 5): r = 2/90 per second -> seconds = ceil(position * 45)
    for pos in range(1, 7):
        t = expect(srv.post("/api/queue/token", {"userId": uid("w")}), 201, queuePosition=pos)
        st = expect(status_of(srv, t["token"]), 200, status="waiting", position=pos)
        for body in (t, st):
            assert body["estimatedWaitSeconds"] == math.ceil(pos * 45), body
            assert body["estimatedWaitTime"] == f"{max(1, math.ceil(pos * 45 / 60))}분", body


def test_poll_after_is_at_most_a_third_of_idle_ttl(make_server):
    srv = make_server("--max-active", "1", "--waiting-idle-ttl", "3")
    issue(srv, uid("head"))
    for pos in range(1, 13):
        t = expect(srv.post("/api/queue/token", {"userId": uid("w")}), 201, queuePosition=pos)
        assert t["pollAfterSeconds"] == 1, t
        st = expect(status_of(srv, t["token"]), 200, position=pos)
        assert st["pollAfterSeconds"] == 1, st


def test_poll_after_scales_with_idle_ttl(make_server):
    srv = make_server("--max-active", "1", "--waiting-idle-ttl", "9")
    issue(srv, uid("head"))
    for pos in range(1, 31):
        t = expect(srv.post("/api/queue/token", {"userId": uid("w")}), 201, queuePosition=pos)
        p = t["pollAfterSeconds"]
        assert is_int(p) and 1 <= p <= 3, t


def test_waiting_token_dropped_without_polls(make_server):
    ttl = 3
    srv = make_server("--max-active", "1", "--waiting-idle-ttl", str(ttl))
    issue(srv, uid("head"))
    b_user = uid("b")
    b_sent = time.monotonic()
    b = expect(srv.post("/api/queue/token", {"userId": b_user}), 201, queuePosition=1)
    c = expect(srv.post("/api/queue/token", {"userId": uid("c")}), 201, queuePosition=2)
    assert admin_queue(srv)["waiting"] == 2

    # C keeps polling, B does not: B is dropped after the idle ttl and C moves up
    def c_moved_up():
        body = expect(status_of(srv, c["token"]), 200, status="waiting")
        assert body["position"] in (1, 2), body
        return body["position"] == 1

    wait_until(c_moved_up, ttl + 3, "the unpolled token ahead to be dropped", interval=0.2)
    assert time.monotonic() - b_sent >= ttl - 0.05, "a waiting token was dropped before its idle ttl"
    q = admin_queue(srv)
    assert q["waiting"] == 1, f"a dropped token must stop counting: {q}"
    expect(status_of(srv, b["token"]), 401, "INVALID_TOKEN")
    # a dropped user gets a new token, at the back
    again = expect(srv.post("/api/queue/token", {"userId": b_user}), 201, queuePosition=2)
    assert again["token"] != b["token"]
    expect(status_of(srv, c["token"]), 200, status="waiting", position=1)


def test_reissue_counts_as_a_poll(make_server):
    ttl = 3
    srv = make_server("--max-active", "1", "--waiting-idle-ttl", str(ttl))
    issue(srv, uid("head"))
    b_user = uid("b")
    b = expect(srv.post("/api/queue/token", {"userId": b_user}), 201, queuePosition=1)
    start = time.monotonic()
    # keep B alive by re-issuing only, for longer than the idle ttl
    while time.monotonic() - start < ttl + 1.5:
        expect(srv.post("/api/queue/token", {"userId": b_user}), 200, token=b["token"],
               queuePosition=1)
        time.sleep(0.5)
    expect(status_of(srv, b["token"]), 200, status="waiting", position=1)


def test_active_token_is_spent_at_active_until(make_server):
    srv = make_server("--max-active", "1", "--active-ttl", "2")
    a_user = uid("a")
    a = issue(srv, a_user)
    assert a["status"] == "active"
    until = parse_ts(a["activeUntil"])
    assert abs(until - parse_ts(a["issuedAt"]) - 2) <= 0.5, a
    b = expect(srv.post("/api/queue/token", {"userId": uid("b")}), 201, status="waiting",
               queuePosition=1)

    def a_spent():
        sent = time.time()
        r = status_of(srv, a["token"])
        got = time.time()
        if r.status == 200:
            assert r.json["status"] == "active", r
            assert sent <= until + 0.05, f"token still active after activeUntil: {r!r}"
            return False
        expect(r, 401, "INVALID_TOKEN")
        assert got >= until - 0.05, f"token spent before its activeUntil {a['activeUntil']}"
        return True

    wait_until(a_spent, 5, "the active token to be spent at activeUntil")

    def b_active():
        body = expect(status_of(srv, b["token"]), 200)
        return body if body["status"] == "active" else None

    # B's activation by the server's clock (activeUntil - active-ttl), however long the polling takes
    admitted = parse_ts(wait_until(b_active, 10, "the waiting token to take the freed slot")["activeUntil"]) - 2
    assert until - TS_SLACK <= admitted <= until + 1 + TS_SLACK, \
        f"the slot of a token spent at its activeUntil was reused {admitted - until:+.3f} s after it: must be " \
        f"within 1 s"

    # the spent token makes no new hold, but still serves its user for the grace period
    cid_resp = srv.post("/api/admin/concerts", {"title": "t", "venue": "v", "date": "2099-01-01",
                                                 "seatCount": 2, "price": 1000},
                        headers=srv.admin_headers())
    cid = expect(cid_resp, 201)["concertId"]
    expect(hold(srv, a["token"], cid, 1), 401, "INVALID_TOKEN")
    expect(charge(srv, a_user, a["token"], 10000), 200, currentBalance=10000)
    again = expect(srv.post("/api/queue/token", {"userId": a_user}), 201, status="waiting",
                   queuePosition=1)
    assert again["token"] != a["token"]


def test_admin_queue_counts(make_server):
    srv = make_server("--max-active", "2")
    q = admin_queue(srv)
    assert (q["waiting"], q["active"], q["maxActive"], q["admittedPerMinute"]) == (0, 0, 2, 0), q
    for _ in range(5):
        issue(srv, uid("q"))
    q = admin_queue(srv)
    assert (q["waiting"], q["active"], q["maxActive"], q["admittedPerMinute"]) == (3, 2, 2, 2), q
