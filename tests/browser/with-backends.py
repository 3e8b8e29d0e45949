#!/usr/bin/env python3
"""Runs a command (the browser tests) with a real PostgreSQL 15 and Redis on free loopback ports,
started here in temporary directories and stopped afterwards (tests/integration/backends.py).
The command gets CONCERTD_BROWSER_ENGINE=distributed and the two ports; harness.mjs makes a fresh
database of each for every server it starts.

    tests/browser/with-backends.py npm run test:distributed
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import backends  # noqa: E402  (the path above first)


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    servers = backends.Backends().start()
    try:
        env = dict(os.environ, CONCERTD_BROWSER_ENGINE="distributed",
                   CONCERTD_BROWSER_PG_PORT=str(servers.pg_port), CONCERTD_BROWSER_REDIS_PORT=str(servers.redis_port))
        return subprocess.run(argv, env=env).returncode
    finally:
        servers.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
