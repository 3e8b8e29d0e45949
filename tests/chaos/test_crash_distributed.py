"""The crash driver of test_crash_embedded.py on PostgreSQL + Redis: one instance killed with
kill -9 at random moments under load and restarted; the store is checked with psql."""
import pytest

import backends

from .crash import run_crash
from .invariants import PostgresView

pytestmark = pytest.mark.skipif(not (backends.uses_postgres() and backends.uses_redis()),
                                reason="needs PostgreSQL and Redis (CONCERTD_TEST_ENGINE=distributed)")


def test_kill9_under_load_distributed(make_server):
    # hold-ttl above the 15 s an idempotency claim of a killed request lingers in Redis, so
    # that a spent token still serves the replay that tells a fan its payment went through
    srv = make_server("--max-active", "1000", "--hold-ttl", "30")
    uri = srv.engine_args[srv.engine_args.index("--postgres") + 1]
    redis = srv.engine_args[srv.engine_args.index("--redis") + 1]
    run_crash(srv, PostgresView(backends.shared(), uri).with_redis(redis), "crash (distributed)")
