"""kill -9 and restart on the same data dir: no acknowledged write is lost, no fan loses a place."""

from support import (TS_SLACK, admin_queue, assert_invariants, balance_of, charge, create_concert,
                     expect, get_reservation, hold, issue, must_charge, must_hold, must_pay, parse_ts, pay,
                     seat_map, status_of, uid, wait_active)


def test_kill9_restart_keeps_money_seats_reservations_and_tokens(make_server):
    srv = make_server("--max-active", "3")
    cid = create_concert(srv, seat_count=5, price=50000)
    users = {n: uid(n) for n in "abcdef"}
    tok = {}
    for n in "abc":
        t = issue(srv, users[n])
        assert t["status"] == "active", t
        tok[n] = t
    for i, n in enumerate("de", start=1):
        tok[n] = expect(srv.post("/api/queue/token", {"userId": users[n]}), 201, status="waiting",
                        queuePosition=i)

    # A buys seat 1 (its token is spent; D takes the slot)
    k1 = "dur-" + uid("k")
    must_charge(srv, users["a"], tok["a"]["token"], 300000, key=k1)
    a_res = must_hold(srv, tok["a"]["token"], cid, 1)
    a_pay = must_pay(srv, tok["a"]["token"], a_res["reservationId"])
    assert a_pay["balanceAfter"] == 250000
    wait_active(srv, tok["d"]["token"], timeout=3)
    expect(status_of(srv, tok["e"]["token"]), 200, status="waiting", position=1)
    tok["f"] = expect(srv.post("/api/queue/token", {"userId": users["f"]}), 201, status="waiting",
                      queuePosition=2)
    # B charges with a key and holds seat 2 (unpaid)
    k2 = "dur-" + uid("k")
    b_charge = must_charge(srv, users["b"], tok["b"]["token"], 100000, key=k2)
    b_res = must_hold(srv, tok["b"]["token"], cid, 2)

    before = {n: expect(status_of(srv, tok[n]["token"]), 200) for n in "bcdef"}
    assert [before[n]["status"] for n in "bcd"] == ["active"] * 3, before
    assert (before["e"]["position"], before["f"]["position"]) == (1, 2), before

    srv.kill9()
    srv.start()

    # money
    assert balance_of(srv, users["a"]) == 250000
    assert balance_of(srv, users["b"]) == 100000
    got = expect(srv.get(f"/api/users/{users['a']}/balance"), 200)
    assert got["lastUpdated"] is not None
    # seats
    seats = seat_map(srv, cid)
    assert [seats[n]["status"] for n in range(1, 6)] == \
        ["reserved", "temporarily_assigned", "available", "available", "available"], seats
    # tokens: the same state, the same places
    for n in "bcd":
        expect(status_of(srv, tok[n]["token"]), 200, status="active",
               activeUntil=before[n]["activeUntil"])
    expect(status_of(srv, tok["e"]["token"]), 200, status="waiting", position=1)
    expect(status_of(srv, tok["f"]["token"]), 200, status="waiting", position=2)
    expect(status_of(srv, tok["a"]["token"]), 401, "INVALID_TOKEN")  # spent stays spent
    expect(srv.post("/api/queue/token", {"userId": users["e"]}), 200, token=tok["e"]["token"],
           queuePosition=1)
    q = admin_queue(srv)
    assert (q["active"], q["waiting"]) == (3, 2), q
    # the hold and the sale
    expect(get_reservation(srv, tok["b"]["token"], b_res["reservationId"]), 200,
           status="TEMPORARILY_ASSIGNED", expiresAt=b_res["expiresAt"], seatNumber=2)
    expect(hold(srv, tok["c"]["token"], cid, 1), 409, "SEAT_ALREADY_ASSIGNED")
    expect(hold(srv, tok["c"]["token"], cid, 2), 409, "SEAT_ALREADY_ASSIGNED")
    expect(hold(srv, tok["b"]["token"], cid, 2), 409, "SEAT_ALREADY_ASSIGNED",
           reservationId=b_res["reservationId"])
    # the stored idempotent response survives
    replay = charge(srv, users["b"], tok["b"]["token"], 100000, key=k2)
    assert replay.status == 200 and replay.json == b_charge
    assert balance_of(srv, users["b"]) == 100000
    # and the line moves on: B pays, E takes the slot within a second
    paid = expect(pay(srv, tok["b"]["token"], b_res["reservationId"]), 200, balanceAfter=50000)
    # by the server's clock: the payment (B's balance changed last then) and E's activation
    # (activeUntil - the default active-ttl of 600 s)
    paid_at = parse_ts(expect(srv.get(f"/api/users/{users['b']}/balance"), 200)["lastUpdated"])
    admitted = parse_ts(wait_active(srv, tok["e"]["token"], timeout=10)["activeUntil"]) - 600
    assert paid_at - TS_SLACK <= admitted <= paid_at + 1 + TS_SLACK, \
        f"E admitted {admitted - paid_at:+.3f} s after B's payment freed the slot: must be within 1 s"
    expect(status_of(srv, tok["f"]["token"]), 200, status="waiting", position=1)
    assert paid["seatNumber"] == 2
    assert_invariants(srv)


def test_spent_tokens_grace_survives_restart(make_server):
    srv = make_server()
    cid = create_concert(srv, seat_count=2, price=10000)
    user = uid("grace")
    token = issue(srv, user)["token"]
    must_charge(srv, user, token, 50000)
    r1 = must_hold(srv, token, cid, 1)
    r2 = must_hold(srv, token, cid, 2)
    must_pay(srv, token, r1["reservationId"])
    srv.kill9()
    srv.start()
    expect(status_of(srv, token), 401, "INVALID_TOKEN")
    expect(get_reservation(srv, token, r1["reservationId"]), 200, status="CONFIRMED")
    expect(pay(srv, token, r2["reservationId"]), 200, balanceAfter=30000)


def test_graceful_restart_on_a_new_port(make_server):
    srv = make_server()
    cid = create_concert(srv, seat_count=2, price=10000)
    user = uid("term")
    token = issue(srv, user)["token"]
    must_charge(srv, user, token, 20000)
    res = must_hold(srv, token, cid, 1)
    old_port = srv.port
    srv.restart(new_port=True)
    assert srv.port != old_port
    expect(status_of(srv, token), 200, status="active")
    expect(pay(srv, token, res["reservationId"]), 200, balanceAfter=10000)
    assert seat_map(srv, cid)[1]["status"] == "reserved"


def test_many_acknowledged_writes_then_kill9(make_server):
    srv = make_server("--max-active", "100")
    cid = create_concert(srv, seat_count=20, price=1000)
    fans = []
    for i in range(10):
        user = uid("bulk")
        token = issue(srv, user)["token"]
        must_charge(srv, user, token, 10000 + i * 1000)
        res = must_hold(srv, token, cid, i + 1)
        if i % 2 == 0:
            must_pay(srv, token, res["reservationId"])
        fans.append((user, token, res))
    srv.kill9()
    srv.start()
    seats = seat_map(srv, cid)
    for i, (user, token, res) in enumerate(fans):
        expected = 10000 + i * 1000 - (1000 if i % 2 == 0 else 0)
        assert balance_of(srv, user) == expected
        assert seats[i + 1]["status"] == ("reserved" if i % 2 == 0 else "temporarily_assigned")
    assert_invariants(srv)
