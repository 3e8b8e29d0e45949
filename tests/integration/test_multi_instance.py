"""Several instances on one PostgreSQL and one Redis behave as one service.

Runs only when the suite is on both distributed engines (CONCERTD_TEST_ENGINE=distributed).
"""
import random
import signal
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

import backends
from support import (active_user, token_id, charge, create_concert, expect, hold, issue, seat_map, status_of, uid,
                     wait_active, wait_until)

pytestmark = pytest.mark.skipif(not (backends.uses_postgres() and backends.uses_redis()),
                                reason="needs --postgres and --redis (CONCERTD_TEST_ENGINE=distributed)")


def start_cluster(make_server, count=3, *flags):
    """`count` instances on one fresh database and Redis database, sharing one ledger for the
    invariant checks. (Started from this thread: a server's parent-death signal fires when the
    thread that started it ends. Concurrent migrations are test_postgres_store's subject.)"""
    b = backends.shared()
    shared = ["--postgres", b.new_database(), "--redis", b.new_redis(), *flags]
    nodes = [make_server(*shared) for _ in range(count)]
    for n in nodes[1:]:
        n.ledger = nodes[0].ledger
    return nodes


def test_holds_spread_over_instances_have_one_winner_per_seat(make_server):
    nodes = start_cluster(make_server, 3, "--max-active", "1000", "--max-holds-per-user", "10")
    cid = create_concert(nodes[0], seat_count=4)
    users = []
    for i in range(24):
        user, token = active_user(nodes[i % 3], "crowd")
        users.append((i, token))
    barrier = threading.Barrier(len(users) * 4)
    results = {}

    def attempt(i, token, seat):
        node = nodes[(i + seat) % 3]
        conn = node.connection(30)
        conn.connect()
        try:
            barrier.wait(timeout=30)
            r = node.request("POST", "/api/reservations", {"concertId": cid, "seatNumber": seat}, token=token,
                             conn=conn)
        finally:
            conn.close()
        results[(i, seat)] = r

    with ThreadPoolExecutor(max_workers=len(users) * 4) as ex:
        for i, token in users:
            for seat in range(1, 5):
                ex.submit(attempt, i, token, seat)
    assert len(results) == len(users) * 4
    for seat in range(1, 5):
        outcomes = [r for (i, s), r in results.items() if s == seat]
        winners = [r for r in outcomes if r.status == 201]
        assert len(winners) == 1, f"seat {seat}: {len(winners)} winners"
        for r in outcomes:
            if r.status != 201:
                assert r.status == 409 and r.code in ("SEAT_LOCKED", "SEAT_ALREADY_ASSIGNED"), r
    for node in nodes:
        assert all(s["status"] == "temporarily_assigned" for s in seat_map(node, cid).values())


def test_fifo_positions_across_instances(make_server):
    nodes = start_cluster(make_server, 3, "--max-active", "1")
    first = issue(nodes[0], uid("head"))
    assert first["status"] == "active"
    tokens = []
    for i in range(9):
        body = issue(nodes[i % 3], uid("line"))
        assert body["status"] == "waiting"
        assert body["queuePosition"] == i + 1, body
        tokens.append(body["token"])
    # Every instance sees the same exact place for every token.
    for i, token in enumerate(tokens):
        for node in nodes:
            r = expect(status_of(node, token), 200)
            assert r["position"] == i + 1, (i, r)


def test_token_from_one_instance_serves_on_another(make_server):
    nodes = start_cluster(make_server, 3, "--max-active", "100")
    user, token = active_user(nodes[0], "roam")
    cid = create_concert(nodes[1], seat_count=2)
    expect(charge(nodes[2], user, token, 100_000), 200)
    res = expect(hold(nodes[1], token, cid, 1), 201)
    paid = expect(nodes[2].post("/api/payments", {"reservationId": res["reservationId"]}, token=token), 200)
    assert paid["balanceAfter"] == 50_000
    for node in nodes:
        assert seat_map(node, cid)[1]["status"] == "reserved"
        # The token was spent by the payment, on every instance.
        assert status_of(node, token).status == 401


def line_counts(node):
    q = expect(node.get("/api/admin/queue", headers=node.admin_headers()), 200)
    return q["waiting"], q["active"]


def test_admission_on_another_instance_waits_for_the_tokens_insert(make_server):
    """A token issued on A waits in the shared line while A's insert of it is still uncommitted
    (slowed by a trigger, and A stopped), and B's tick admits it: the ACTIVE change B writes
    matches no row yet. It must be tried again once the row is there, not lost, or the store
    keeps WAITING for a token the line has admitted (and would restore it so after a Redis loss)."""
    b = backends.shared()
    uri = b.new_database()
    db = uri.rsplit("/", 1)[1]
    shared = ["--postgres", uri, "--redis", b.new_redis(), "--max-active", "1"]
    a, other = make_server(*shared), make_server(*shared)
    other.ledger = a.ledger
    cid = create_concert(other, seat_count=1, price=10_000)
    head_user, head = active_user(other, "head")
    expect(charge(other, head_user, head, 10_000), 200)
    held = expect(hold(other, head, cid, 1), 201)
    b.psql(db, "CREATE FUNCTION test_slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
               "PERFORM pg_sleep(3); RETURN NEW; END $$; "
               "CREATE TRIGGER test_slow_insert BEFORE INSERT ON tokens FOR EACH ROW "
               "WHEN (NEW.user_id LIKE 'slow-%') EXECUTE FUNCTION test_slow_insert()")
    sleeping = ("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' "
                "AND datname = current_database()")
    with ThreadPoolExecutor(max_workers=1) as ex:
        issued = ex.submit(issue, a, uid("slow"))
        wait_until(lambda: b.psql(db, sleeping) == [["1"]], 5, "A's insert in the trigger")
        a.proc.send_signal(signal.SIGSTOP)  # A's own tick cannot take the admission now
        try:
            # The head pays: its token is spent, its slot freed, and B's tick admits the slow token.
            expect(other.post("/api/payments", {"reservationId": held["reservationId"]}, token=head), 200)
            wait_until(lambda: line_counts(other) == (0, 1), 2, "B to admit the slow token")
            assert b.psql(db, sleeping) == [["1"]], "admitted after the insert: the race was not exercised"
            wait_until(lambda: b.psql(db, sleeping) == [["0"]], 10, "A's insert to commit")
        finally:
            a.proc.send_signal(signal.SIGCONT)
        token = issued.result(timeout=30)["token"]
    assert expect(status_of(other, token), 200)["status"] == "active"
    wait_until(lambda: b.psql(db, f"SELECT state FROM tokens WHERE id = '{token_id(token)}' AND active_until IS NOT NULL")
               == [["ACTIVE"]], 10, lambda: f"the stored token to be ACTIVE: "
                                           f"{b.psql(db, f'SELECT state, active_until FROM tokens')}")


def test_charge_on_one_instance_is_read_on_every_other(make_server):
    nodes = start_cluster(make_server, 3, "--max-active", "100")
    user, token = active_user(nodes[0], "cache")
    for node in nodes:  # warm every cache
        assert expect(node.get(f"/api/users/{user}/balance"), 200)["balance"] == 0
    expect(charge(nodes[0], user, token, 30_000), 200)
    for node in nodes:
        assert expect(node.get(f"/api/users/{user}/balance"), 200)["balance"] == 30_000
    expect(charge(nodes[1], user, token, 20_000), 200)
    for node in nodes:
        assert expect(node.get(f"/api/users/{user}/balance"), 200)["balance"] == 50_000


def test_idempotency_key_moves_money_once_across_instances(make_server):
    nodes = start_cluster(make_server, 3, "--max-active", "100")
    user, token = active_user(nodes[0], "idem")
    key = uuid.uuid4().hex
    barrier = threading.Barrier(9)

    def attempt(i):
        barrier.wait(timeout=30)
        return charge(nodes[i % 3], user, token, 10_000, key=key)

    with ThreadPoolExecutor(max_workers=9) as ex:
        results = list(ex.map(attempt, range(9)))
    assert any(r.status == 200 for r in results)
    for r in results:
        assert r.status == 200 or (r.status == 409 and r.code == "IDEMPOTENCY_KEY_IN_USE"), r
    for node in nodes:
        assert expect(node.get(f"/api/users/{user}/balance"), 200)["balance"] == 10_000


def test_expired_hold_is_released_once_by_the_cluster(make_server):
    nodes = start_cluster(make_server, 3, "--max-active", "100", "--hold-ttl", "1")
    user, token = active_user(nodes[0], "expire")
    cid = create_concert(nodes[0], seat_count=1)
    res = expect(hold(nodes[1], token, cid, 1), 201)
    wait_until(lambda: seat_map(nodes[2], cid)[1]["status"] == "available" or None, 5, "the hold to expire")
    uri = nodes[0].args[nodes[0].args.index("--postgres") + 1]

    def released_rows():
        out = subprocess.run(["psql", "-X", "-A", "-t", uri, "-c",
                              "SELECT count(*) FROM reservation_history WHERE action = 'AUTO_RELEASE' "
                              f"AND reservation_id = '{res['reservationId']}'"],
                             check=True, capture_output=True, text=True).stdout.strip()
        return int(out)

    wait_until(lambda: released_rows() >= 1 or None, 5, "storage to catch up with the expiry")
    # Every instance runs the release job; give them several rounds to double-release.
    for node in nodes:
        wait_until(lambda node=node: expect(node.get(f"/api/reservations/{res['reservationId']}", token=token),
                                            200)["status"] == "EXPIRED" or None, 5, "EXPIRED everywhere")
    assert released_rows() == 1


def test_an_instance_killed_mid_load_loses_nothing(make_server):
    nodes = start_cluster(make_server, 3, "--max-active", "1000")
    people = [active_user(nodes[i % 3], "load") for i in range(12)]
    stop = threading.Event()
    acknowledged = {user: 0 for user, _ in people}
    lock = threading.Lock()

    def worker(idx):
        user, token = people[idx]
        rnd = random.Random(idx)
        for _ in range(40):
            if stop.is_set():
                return
            key = uuid.uuid4().hex
            # Retry the same key on the live instances until one answers 200: the key makes the
            # charge exactly-once whichever instance had it when the victim died (its claim on
            # the key lapses after a while: 409 until then).
            deadline = time.monotonic() + 40
            while True:
                assert time.monotonic() < deadline, f"charge with key {key} never acknowledged"
                node = rnd.choice([n for n in nodes if n.alive()])
                try:
                    r = charge(node, user, token, 10_000, key=key)
                except OSError:
                    continue
                if r.status == 200:
                    with lock:
                        acknowledged[user] += 10_000
                    break
                if r.status in (409, 503):
                    assert r.code in ("IDEMPOTENCY_KEY_IN_USE", "SERVICE_UNAVAILABLE"), r
                    time.sleep(0.2)  # backoff of a client retrying, not a race cover
                    continue
                raise AssertionError(f"unexpected answer {r!r}")

    with ThreadPoolExecutor(max_workers=len(people)) as ex:
        futures = [ex.submit(worker, i) for i in range(len(people))]
        wait_until(lambda: sum(acknowledged.values()) >= 400_000 or None, 30, "load to build up")
        nodes[1].kill9()
        for f in futures:
            f.result(timeout=120)
    survivors = [nodes[0], nodes[2]]
    for user, _ in people:
        for node in survivors:
            assert expect(node.get(f"/api/users/{user}/balance"), 200)["balance"] == acknowledged[user], user
    # The killed instance comes back into the same service.
    nodes[1].restart()
    for user, _ in people[:3]:
        assert expect(nodes[1].get(f"/api/users/{user}/balance"), 200)["balance"] == acknowledged[user]
