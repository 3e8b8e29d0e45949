"""The chaos suite reuses the integration harness: `support` and `backends` from
tests/integration, and that directory's fixtures (make_server, module_pool, server) and hooks
(crash guard, server logs on failure, cleanup). It adds a summary table of what was broken and
what the invariant checks found, printed at the end of the run.

    scripts/run-pytest.sh tests/chaos                                   # embedded (SQLite)
    CONCERTD_TEST_ENGINE=distributed scripts/run-pytest.sh tests/chaos  # PostgreSQL + Redis
"""
import importlib.util
import os
import sys
from pathlib import Path

INTEGRATION = Path(__file__).resolve().parents[1] / "integration"
if str(INTEGRATION) not in sys.path:
    sys.path.insert(0, str(INTEGRATION))


def _integration_conftest():
    """tests/integration/conftest.py as a module of its own name (it is `conftest` only when
    pytest collected that directory too; then that very module is reused)."""
    loaded = sys.modules.get("conftest")
    if loaded is not None and Path(getattr(loaded, "__file__", "")).resolve() == INTEGRATION / "conftest.py":
        return loaded, True
    spec = importlib.util.spec_from_file_location("integration_conftest", INTEGRATION / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["integration_conftest"] = module
    spec.loader.exec_module(module)
    return module, False


_ic, _hooks_registered = _integration_conftest()

# fixtures (pytest finds them as attributes of this conftest)
module_pool = _ic.module_pool
server = _ic.server
make_server = _ic.make_server
crash_guard = _ic.crash_guard

if not _hooks_registered:  # the integration conftest's hooks, unless pytest loaded it itself
    pytest_runtest_setup = _ic.pytest_runtest_setup
    pytest_runtest_makereport = _ic.pytest_runtest_makereport
    pytest_sessionfinish = _ic.pytest_sessionfinish

from . import report  # noqa: E402


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    text = report.render()
    if not text:
        return
    terminalreporter.write_sep("=", "chaos summary")
    terminalreporter.write_line(text)
    out = os.environ.get("CONCERTD_CHAOS_REPORT")
    if out:
        with open(out, "a", encoding="utf-8") as f:
            f.write(text + "\n")
