"""Fixtures for the concertd integration suite.

Run from the repository root with Debian's interpreter:

    /usr/bin/python3 -m pytest tests/integration -q

The binary is `<repo>/build/concertd` unless CONCERTD_BIN names another one. Every test
server gets its own temporary data dir and free port, `--host 127.0.0.1 --admin-key
test-admin-key`, and is stopped (and its data dir removed; keep it with CONCERTD_KEEP_TMP=1) at
the end of its scope, even on failure. At teardown each still-running server is checked for an
unexpected exit and for the money/seat invariants of everything it acknowledged, then stopped
with SIGTERM: it must exit 0 and print no sanitizer report (ASan/LSan/UBSan/TSan builds).
When a test module ends, every response its tests received is checked against web/openapi.json
(openapi_contract.py): a status, content type or body the document does not describe fails it.

Fixtures:
  server       module-scoped shared server (`--max-active 10000`), for cheap tests
  module_pool  module-scoped factory: module_pool("--hold-ttl", "1") -> started Server
  make_server  function-scoped factory, same signature, for tests needing special flags
"""
import pytest

import openapi_contract
import support
from support import BinaryMissing, Server, ServerError

openapi_contract.ENABLED = True  # every response is checked against web/openapi.json (see below)


class ServerPool:
    def __init__(self):
        self.servers: list[Server] = []

    def __call__(self, *args, start=True, **kw) -> Server:
        try:
            srv = Server(*args, **kw)
        except BinaryMissing as e:
            pytest.fail(str(e), pytrace=False)
        self.servers.append(srv)
        if start:
            try:
                srv.start()
            except ServerError as e:
                pytest.fail(str(e), pytrace=False)
        return srv

    def finish(self):
        problems = []
        for srv in self.servers:
            try:
                if srv.crashed():
                    problems.append(srv.crash_report())
                elif srv.alive() and srv.check_invariants:
                    problems += [f"[concertd port {srv.port}] {p}"
                                 for p in support.invariant_problems(srv)]
            except Exception as e:  # noqa: BLE001 - report, then still clean up
                problems.append(f"[concertd port {srv.port}] teardown check failed: {e!r}")
            finally:
                srv.close()
                # the exit code after SIGTERM and any sanitizer report (LeakSanitizer runs at exit)
                problems += srv.take_problems()
        if problems:
            pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture(scope="module")
def module_pool():
    pool = ServerPool()
    yield pool
    pool.finish()


@pytest.fixture(scope="module")
def server(module_pool) -> Server:
    return module_pool("--max-active", "10000")


@pytest.fixture
def make_server():
    pool = ServerPool()
    yield pool
    pool.finish()


@pytest.fixture(scope="module", autouse=True)
def openapi_conformance():
    """Checks every response of the module's tests (teardown requests included: this fixture is set
    up first, so it ends last) against web/openapi.json; see openapi_contract.py."""
    yield
    problems = openapi_contract.take_problems()
    if problems:
        pytest.fail("responses that disagree with web/openapi.json (one per method, route and status):\n"
                    + "\n".join(problems), pytrace=False)


@pytest.fixture(autouse=True)
def crash_guard():
    """Blame a server crash on the test during which it happened, and restart a crashed shared
    server (same data dir, same port) so that the rest of its module still runs."""
    yield
    msgs = []
    for srv in list(support.ALL_SERVERS):
        # stops and kills during the test: a non-zero exit after SIGTERM, a sanitizer report
        msgs += srv.take_problems()
        if srv.crashed():
            msgs.append("died during this test: " + srv.crash_report())
            try:
                srv.start()
            except ServerError as e:
                msgs.append(f"restart after the crash failed: {e}")
    if msgs:
        pytest.fail("\n".join(msgs), pytrace=False)


def pytest_runtest_setup(item):
    support.TOUCHED.clear()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and call.when == "call":
        for srv in list(support.TOUCHED):
            rep.sections.append((f"concertd log (port {srv.port})", srv.log_tail(60)))


def pytest_terminal_summary(terminalreporter):
    stats = openapi_contract.STATS
    if stats["responses"]:
        terminalreporter.write_line(f"openapi: {stats['responses']} responses checked against web/openapi.json "
                                    f"in {stats['seconds']:.1f} s")


def pytest_sessionfinish(session, exitstatus):
    for srv in list(support.ALL_SERVERS):
        try:
            srv.close()
        except Exception:  # noqa: BLE001
            pass
