"""kill -9 at random moments under a crowd of full flows, on the embedded engine (SQLite + the
in-process queue): after every restart nothing acknowledged is lost, nothing is sold or held
twice, and money adds up (see crash.py)."""
import pytest

import backends

from .crash import run_crash
from .invariants import SqliteView

pytestmark = pytest.mark.skipif(backends.ENGINE != "embedded", reason="embedded engine only "
                                "(test_crash_distributed.py is the same driver on PostgreSQL + Redis)")


def test_kill9_under_load_embedded(make_server):
    srv = make_server("--max-active", "1000", "--hold-ttl", "30")
    run_crash(srv, SqliteView(srv.data_dir), "crash (embedded)")
