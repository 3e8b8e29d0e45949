"""The PostgreSQL store behind the API: instances sharing one database, and outages.

Run with CONCERTD_TEST_ENGINE=postgres (or distributed); skipped on the embedded engine.
Checks behind the API read the database with psql (backends.Backends.psql).
"""
import subprocess
import threading
import time

import pytest

import backends
from support import (active_user, balance_of, charge, create_concert, expect, hold, must_charge,
                     must_hold, seat_status, wait_until)

pytestmark = pytest.mark.skipif(not backends.uses_postgres(), reason="PostgreSQL store only")


def database_of(uri: str) -> str:
    return uri.rsplit("/", 1)[1]


@pytest.fixture
def launcher():
    """Starts servers from threads that live until after the servers are stopped: a test server
    dies with the thread that spawned it (PR_SET_PDEATHSIG follows the thread, not the process).
    Request it before make_server, so that it is torn down after it."""
    release = threading.Event()
    threads = []

    def start_together(servers):
        errors = []
        barrier = threading.Barrier(len(servers))
        started = threading.Semaphore(0)

        def boot(srv):
            try:
                barrier.wait(10)
                srv.start()
            except Exception as e:  # noqa: BLE001 - re-raised below, in the test's thread
                errors.append(e)
            finally:
                started.release()
            release.wait(120)

        for srv in servers:
            t = threading.Thread(target=boot, args=(srv,), daemon=True)
            t.start()
            threads.append(t)
        for _ in servers:
            assert started.acquire(timeout=60), "a server did not finish starting"
        assert not errors, errors

    yield start_together
    release.set()
    for t in threads:
        t.join(10)


@pytest.fixture
def shared_database():
    return backends.shared().new_database()


def test_instances_started_together_migrate_once(launcher, make_server, shared_database):
    servers = [make_server("--postgres", shared_database, start=False) for _ in range(3)]
    launcher(servers)
    rows = backends.shared().psql(database_of(shared_database), "SELECT name FROM schema_migrations ORDER BY name")
    names = [r[0] for r in rows]
    assert names and len(names) == len(set(names)), rows
    assert names[0] == "0001_initial.sql", rows
    for srv in servers:
        expect(srv.get("/readyz"), 200, status="ready")


def test_one_database_one_truth_across_instances(make_server, shared_database):
    a = make_server("--postgres", shared_database)
    b = make_server("--postgres", shared_database)
    cid = create_concert(a, seat_count=2)
    assert seat_status(b, cid, 1) == "available"
    _, token_a = active_user(a)
    _, token_b = active_user(b)
    must_hold(a, token_a, cid, 1)
    # b's own coordinator knows nothing of the hold: the database refuses the second one
    expect(hold(b, token_b, cid, 1), 409, "SEAT_ALREADY_ASSIGNED")
    assert seat_status(b, cid, 1) == "temporarily_assigned"


def test_expired_hold_released_once_across_instances(make_server, shared_database):
    servers = [make_server("--postgres", shared_database, "--hold-ttl", "1") for _ in range(2)]
    cid = create_concert(servers[0], seat_count=4)
    held = []
    for seat in range(1, 5):
        srv = servers[seat % 2]
        _, token = active_user(srv)
        held.append(must_hold(srv, token, cid, seat)["reservationId"])
    db = database_of(shared_database)
    pg = backends.shared()

    def all_expired():
        rows = pg.psql(db, "SELECT count(*) FROM reservations WHERE status = 'EXPIRED'")
        return int(rows[0][0]) == len(held)

    wait_until(all_expired, 5, "every hold to be released")
    time.sleep(1.0)  # both instances run their release job several more times
    rows = pg.psql(db, "SELECT reservation_id, count(*) FROM reservation_history "
                       "WHERE action = 'AUTO_RELEASE' GROUP BY reservation_id")
    assert sorted(r[0] for r in rows) == sorted(held), rows
    assert all(int(r[1]) == 1 for r in rows), f"a hold was released twice: {rows}"
    # and each instance told its listener only of the holds it released itself
    logged = sum(s.log_text().count("AUTO_RELEASE reservation=") for s in servers)
    assert logged == len(held), f"{logged} AUTO_RELEASE log lines for {len(held)} holds"
    for seat in range(1, 5):
        assert seat_status(servers[1], cid, seat) == "available"


# --- outages: a PostgreSQL of this module's own, so that stopping it disturbs no other test -----
@pytest.fixture(scope="module")
def own_postgres():
    b = backends.Backends().start()
    yield b
    b.stop()


def test_outage_gives_503_writes_nothing_and_recovers(make_server, own_postgres):
    uri = own_postgres.new_database()
    srv = make_server("--postgres", uri)
    user, token = active_user(srv)
    must_charge(srv, user, token, 100000)
    expect(srv.get("/readyz"), 200)

    own_postgres.stop_postgres()
    try:
        expect(srv.get("/readyz"), 503, "SERVICE_UNAVAILABLE")
        # more attempts than the pool has connections: each one answered at once, none written
        for _ in range(20):
            started = time.monotonic()
            expect(charge(srv, user, token, 50000), 503, "SERVICE_UNAVAILABLE")
            assert time.monotonic() - started < 5, "a request hung while PostgreSQL was down"
        expect(srv.get("/readyz"), 503, "SERVICE_UNAVAILABLE")
    finally:
        own_postgres.start_postgres()

    wait_until(lambda: srv.get("/readyz").status == 200, 20, "the store to reconnect by itself")
    assert balance_of(srv, user) == 100000, "a refused charge left money behind"
    rows = own_postgres.psql(database_of(uri), f"SELECT count(*) FROM balance_history WHERE user_id = '{user}'")
    assert rows == [["1"]], rows
    # every connection of the pool works again, not only the one /readyz happened to use
    for _ in range(40):
        must_charge(srv, user, token, 10000)
    assert balance_of(srv, user) == 500000


def test_start_fails_cleanly_without_database(make_server, own_postgres):
    uri = own_postgres.base_uri("no_such_database")
    srv = make_server("--postgres", uri, start=False)
    with pytest.raises(Exception):
        srv.start(timeout=15)
    assert "start failed" in srv.log_text(), srv.log_tail()


def test_statement_stuck_behind_a_lock_times_out_with_nothing_written(make_server, own_postgres):
    uri = own_postgres.new_database()
    srv = make_server("--postgres", uri)
    user, token = active_user(srv)
    must_charge(srv, user, token, 100000)
    # another client holds the user's balance row for longer than any statement may take
    blocker = subprocess.Popen(
        ["psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(own_postgres.pg_port), "-U", "postgres", "-d",
         database_of(uri), "-c",
         f"BEGIN; SELECT 1 FROM balances WHERE user_id = '{user}' FOR UPDATE; SELECT pg_sleep(14); COMMIT;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: own_postgres.psql(
            "postgres", "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(14)%' "
                        "AND pid <> pg_backend_pid()") == [["1"]], 5, "the blocking session")
        started = time.monotonic()
        expect(charge(srv, user, token, 50000), 503, "SERVICE_UNAVAILABLE")
        took = time.monotonic() - started
        assert 5 < took < 12, f"the stuck charge was answered after {took:.1f}s"
    finally:
        blocker.wait(30)
    assert balance_of(srv, user) == 100000
    expect(srv.get("/readyz"), 200)
    must_charge(srv, user, token, 50000)
    assert balance_of(srv, user) == 150000
