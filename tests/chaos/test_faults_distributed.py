"""Faults of the distributed deployment under load: PostgreSQL restarted, Redis restarted (and so
flushed: the test Redis keeps nothing on disk), one of three instances killed.

During an outage every answer is 503 SERVICE_UNAVAILABLE or a success that really happened (the
ledger checks see to that), never another 5xx, and nothing is half written; the service comes
back by itself; after the Redis loss seats and money are as PostgreSQL had them and fans can take
new tokens and buy. PostgreSQL and Redis here are this module's own, so that stopping them
disturbs no other test.
"""
import random
import time

import pytest

import backends
from support import (active_user, charge, create_concert, expect, hold, issue, must_charge, must_hold, must_pay,
                     pay, seat_map, status_of, uid, wait_active, wait_until)

from . import report
from .driver import Load, make_concerts
from .invariants import PostgresView, check_everything, ledger_problems, store_problems

pytestmark = pytest.mark.skipif(not (backends.uses_postgres() and backends.uses_redis()),
                                reason="needs PostgreSQL and Redis (CONCERTD_TEST_ENGINE=distributed)")

FANS = 12
PARK_TIMEOUT = 3.0


@pytest.fixture(scope="module")
def own():
    b = backends.Backends().start()
    yield b
    b.stop()


def cluster(make_server, own, count=3):
    db, red = own.new_database(), own.new_redis()
    nodes = [make_server("--postgres", db, "--redis", red, "--max-active", "1000", "--hold-ttl", "30")
             for _ in range(count)]
    for n in nodes[1:]:
        n.ledger = nodes[0].ledger
    return nodes, PostgresView(own, db).with_redis(red)


def readyz_everywhere(nodes, status, timeout, what):
    def probe():
        got = [n.get("/readyz", check=False).status for n in nodes]
        return got if all(s == status for s in got) else None

    return wait_until(probe, timeout, what)


def wait_payments(load, more, timeout, what):
    target = load.acked()[1] + more
    wait_until(lambda: load.acked()[1] >= target or (load.problems and not load.gate.running) or None,
               timeout, what)


def outage_503s(load):
    return load.count_answers(lambda ph, what: ph == "outage" and what == "HTTP 503 SERVICE_UNAVAILABLE")


def finish(load, nodes, view, test, fault, times, problems, outage=True):
    load.stop()
    problems += load.problems
    problems += check_everything(nodes[0], view, load, None, True)
    charges, payments = load.acked()
    bad_outage = [] if not outage else [
        what for (ph, what) in list(load.answers) if ph == "outage"
        and what.startswith("HTTP 5") and what != "HTTP 503 SERVICE_UNAVAILABLE"]
    report.fault(test, fault, times, charges=charges, payments=payments,
                 unknown=sum(v for what, v in load.stats.items() if "resolved" in what),
                 outage_answers=load.outage_answers("outage") if outage else "-",
                 bad5xx=load.count_answers(lambda ph, what: what.startswith("HTTP 5") and what != "HTTP 503 SERVICE_UNAVAILABLE"),
                 problems=len(problems))
    print(f"{test}: answers {dict(load.answers)}, stats {dict(load.stats)}")
    assert not bad_outage, f"5xx other than 503 during the outage: {bad_outage}"
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:40])


def probe_fan(node):
    """A fan outside the crowd with money and a hold on a concert of its own."""
    cid = create_concert(node, seat_count=2, price=20_000)
    user, token = active_user(node, "probe")
    must_charge(node, user, token, 100_000)
    res = must_hold(node, token, cid, 1)
    return user, token, cid, res["reservationId"]


def test_postgres_restarted_mid_load(make_server, own):
    nodes, view = cluster(make_server, own)
    seed = random.randrange(1 << 30)
    load = Load(nodes, make_concerts(nodes[0], count=2, seats=150, seed=seed), clients=FANS, seed=seed,
                max_flows=10_000, duration=120)
    p_user, p_token, p_cid, p_rid = probe_fan(nodes[0])
    problems = []
    load.start()
    wait_payments(load, 10, 30, "load to build up")
    load.set_phase("outage")
    own.stop_postgres("fast")
    try:
        readyz_everywhere(nodes, 503, 10, "every instance to notice the outage")
        # the probe's charge, hold and payment are refused; none of them may leave a trace
        for node in nodes:
            expect(charge(node, p_user, p_token, 50_000), 503, "SERVICE_UNAVAILABLE")
            expect(pay(node, p_token, p_rid), 503, "SERVICE_UNAVAILABLE")
            expect(hold(node, p_token, p_cid, 2), 503, "SERVICE_UNAVAILABLE")
        wait_until(lambda: outage_503s(load) >= 30 or None, 15, "the crowd to run into the outage")
        parked, all_idle = load.gate.pause(PARK_TIMEOUT)
    finally:
        own.start_postgres()
    load.set_phase("recovery")
    t0 = time.monotonic()
    readyz_everywhere(nodes, 200, 30, "every instance to reconnect by itself")
    recovered_in = time.monotonic() - t0
    # still parked: the store holds exactly what was acknowledged, the probe is untouched
    problems += check_everything(nodes[0], view, load, parked, all_idle)
    rows = view.rows(f"SELECT type, amount FROM balance_history WHERE user_id = '{p_user}'")
    if rows != [("CHARGE", "100000")]:
        problems.append(f"the probe's refused charge or payment left history rows: {rows}")
    for node in nodes:
        expect(node.get(f"/api/reservations/{p_rid}", token=p_token), 200, status="TEMPORARILY_ASSIGNED",
               seatNumber=1)
        if seat_map(node, p_cid)[2]["status"] != "available":
            problems.append("the probe's refused hold of seat 2 was written")
    load.gate.resume()
    wait_payments(load, 10, 30, "fans to buy again after the outage")
    # every connection of every pool works again: the probe pays on each instance in turn
    expect(pay(nodes[2], p_token, p_rid), 200, balanceAfter=80_000)
    print(f"recovered {recovered_in:.1f}s after PostgreSQL came back")
    finish(load, nodes, view, "PostgreSQL restarted mid-load (3 instances)", "PostgreSQL stop (fast) + start", 1,
           problems)


def snapshot(view):
    return {
        "balances": sorted(view.rows("SELECT user_id, balance FROM balances")),
        "history": sorted(view.rows("SELECT id, user_id, type, amount, balance_after FROM balance_history")),
        "payments": sorted(view.rows("SELECT id, reservation_id, amount FROM payments")),
        "reserved": sorted(view.rows("SELECT concert_id, number, reservation_id FROM seats WHERE status = 'RESERVED'")),
        "held": sorted(view.rows("SELECT concert_id, number, reservation_id FROM seats WHERE status = 'HELD'")),
        "reservations": dict(view.rows("SELECT id, status FROM reservations")),
    }


def snapshot_changes(a, b) -> list[str]:
    out = [f"{k} changed: {len(a[k])} rows before, {len(b[k])} after; "
           f"gone {sorted(set(a[k]) - set(b[k]))[:5]}, new {sorted(set(b[k]) - set(a[k]))[:5]}"
           for k in ("balances", "history", "payments", "reserved") if a[k] != b[k]]
    for rid in set(a["reservations"]) | set(b["reservations"]):
        before, after = a["reservations"].get(rid), b["reservations"].get(rid)
        if before != after and not (before == "TEMPORARILY_ASSIGNED" and after == "EXPIRED"):
            out.append(f"reservation {rid}: {before} -> {after}")
    for row in set(a["held"]) ^ set(b["held"]):
        if row in b["held"] or b["reservations"].get(row[2]) != "EXPIRED":
            out.append(f"held seat {row} appeared or vanished")
    return out


def test_redis_restarted_and_flushed_mid_load(make_server, own):
    nodes, view = cluster(make_server, own)
    seed = random.randrange(1 << 30)
    concerts = make_concerts(nodes[0], count=2, seats=150, seed=seed)
    load = Load(nodes, concerts, clients=FANS, seed=seed, max_flows=10_000, duration=120, allow_token_loss=True)
    p_user, p_token, p_cid, p_rid = probe_fan(nodes[0])
    problems = []
    load.start()
    wait_payments(load, 10, 30, "load to build up")
    load.set_phase("outage")
    own.stop_redis()  # no persistence: everything in it is gone
    try:
        readyz_everywhere(nodes, 503, 10, "every instance to notice the outage")
        for node in nodes:
            expect(node.post("/api/queue/token", {"userId": uid("down")}), 503, "SERVICE_UNAVAILABLE")
            expect(charge(node, p_user, p_token, 50_000), 503, "SERVICE_UNAVAILABLE")
            expect(pay(node, p_token, p_rid), 503, "SERVICE_UNAVAILABLE")
        wait_until(lambda: outage_503s(load) >= 30 or None, 15, "the crowd to run into the outage")
        parked, all_idle = load.gate.pause(PARK_TIMEOUT)
        # PostgreSQL is up: the store already shows that the 503s wrote nothing
        problems += store_problems(view)
        problems += ledger_problems(nodes[0], view, load.users(parked))
        before = snapshot(view)
    finally:
        own.start_redis()
    load.set_phase("recovery")
    t0 = time.monotonic()
    readyz_everywhere(nodes, 200, 30, "every instance to reconnect to the new, empty Redis")
    recovered_in = time.monotonic() - t0
    # seats and money are what PostgreSQL says, through the store and through the API
    problems += [f"after the Redis loss: {c}" for c in snapshot_changes(before, snapshot(view))]
    problems += check_everything(nodes[0], view, load, parked, all_idle)
    rows = view.rows(f"SELECT type, amount FROM balance_history WHERE user_id = '{p_user}'")
    if rows != [("CHARGE", "100000")]:
        problems.append(f"the probe's refused charge or payment left history rows: {rows}")
    # what happened to a token that lived only in the lost Redis (reported, either is allowed)
    old_token = status_of(nodes[0], p_token)
    # fans take new tokens and buy, on every instance
    for i, node in enumerate(nodes):
        user = uid("after")
        t = expect(node.post("/api/queue/token", {"userId": user}), 201)
        wait_active(node, t["token"], timeout=5)
        must_charge(node, user, t["token"], 200_000, key=uid("k"))
        cid = create_concert(node, seat_count=1, price=30_000)
        res = must_hold(nodes[(i + 1) % 3], t["token"], cid, 1)
        paid = must_pay(nodes[(i + 2) % 3], t["token"], res["reservationId"], key=uid("k"))
        assert paid["balanceAfter"] == 200_000 - res["price"], paid
    # the probe (whose token may be gone) gets one and pays the hold it had before the loss
    p_new = issue(nodes[1], p_user)
    wait_active(nodes[1], p_new["token"], timeout=5)
    expect(pay(nodes[1], p_new["token"], p_rid), 200, balanceAfter=80_000)
    load.gate.resume()
    wait_payments(load, 10, 30, "the crowd to buy again after the Redis loss")
    print(f"recovered {recovered_in:.1f}s after Redis came back; the probe's old token then answered "
          f"{old_token.status} {old_token.code or old_token.get('status')}; fans re-issued tokens "
          f"{load.stats.get('tokens lost (re-issued)', 0)} times")
    finish(load, nodes, view, "Redis restarted + flushed mid-load (3 instances)", "redis-server kill + empty start", 1,
           problems)


def test_one_of_three_instances_killed_mid_load(make_server, own):
    nodes, view = cluster(make_server, own)
    seed = random.randrange(1 << 30)
    load = Load(nodes, make_concerts(nodes[0], count=2, seats=150, seed=seed), clients=FANS, seed=seed,
                max_flows=10_000, duration=120)
    problems = []
    load.start()
    wait_payments(load, 10, 30, "load to build up")
    victim = nodes[1]
    load.set_phase("instance down")
    victim.kill9()
    # the two others carry the load on their own
    wait_payments(load, 15, 30, "the survivors to carry the load")
    readyz_everywhere([nodes[0], nodes[2]], 200, 5, "the survivors to stay ready")
    parked, all_idle = load.gate.pause(PARK_TIMEOUT)
    try:
        problems += check_everything(nodes[0], view, load, parked, all_idle)
        problems += [f"(read on the third instance) {p}"
                     for p in check_everything(nodes[2], view, load, parked, all_idle)]
    finally:
        load.gate.resume()
    # the victim comes back into the same service and takes load again
    victim.start()
    load.set_phase("rejoined")
    served_before = load.served[victim.port]
    wait_payments(load, 10, 30, "the load to go on with the victim back")
    assert load.served[victim.port] > served_before, "the restarted instance got no requests"
    user, token = active_user(victim, "back")
    must_charge(victim, user, token, 50_000)
    finish(load, nodes, view, "one of three instances killed mid-load", "kill -9 of 1 of 3 instances + restart", 1,
           problems, outage=False)
