"""The Redis queue scripts run directly on the session's redis-server, without concertd: each one
is EVALed as the coordinator builds it (lib.lua + the script, redis_coordinator.cpp), with the
shared arguments by name as shared_args() sends them, on keys set up as the script finds them.

Runs only with CONCERTD_TEST_ENGINE=distributed; skipped on the other engines.
"""
import socket
from pathlib import Path

import pytest

import backends

pytestmark = pytest.mark.skipif(not (backends.uses_postgres() and backends.uses_redis()),
                                reason="needs --postgres and --redis (CONCERTD_TEST_ENGINE=distributed)")

SCRIPTS = Path(__file__).resolve().parents[2] / "src" / "adapters" / "redis" / "scripts"
OPEN_SCRIPT = (SCRIPTS / "lib.lua").read_text() + (SCRIPTS / "open.lua").read_text()

OPENS_AT = 1_900_000_000_000
NOW = OPENS_AT + 5_000


class RedisError(Exception):
    pass


class Resp:
    """A minimal RESP2 client: one command, one reply; an error reply raises RedisError."""

    def __init__(self, port: int, db: str):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.reader = self.sock.makefile("rb")
        self("SELECT", db)

    def __call__(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))
        return self._reply()

    def _reply(self):
        line = self.reader.readline()
        kind, rest = line[:1], line[1:-2].decode()
        if kind == b"-":
            raise RedisError(rest)
        if kind == b":":
            return int(rest)
        if kind == b"+":
            return rest
        if kind == b"$":
            return None if int(rest) < 0 else self.reader.read(int(rest) + 2)[:-2].decode()
        if kind == b"*":
            return None if int(rest) < 0 else [self._reply() for _ in range(int(rest))]
        raise RedisError(f"unexpected reply {line!r}")

    def close(self):
        self.reader.close()
        self.sock.close()


@pytest.fixture
def r():
    b = backends.shared()
    conn = Resp(b.redis_port, b.new_redis().rsplit("/", 1)[1])  # a fresh database number
    yield conn
    conn.close()


def shared_args(**values):
    """ARGV's head as shared_args() in redis_coordinator.cpp writes it: the count, then name/value pairs."""
    pairs = [x for name_value in values.items() for x in name_value]
    return [len(values), *pairs]


def place(r, first_seq, last, ids):
    shared = shared_args(now=NOW, max_active=10, active_ttl=600_000, idle_ttl=120_000, grace=60_000, paused="0",
                         admit_per_minute=0, opens_at=OPENS_AT, opened_for=-1)
    return r("EVAL", OPEN_SCRIPT, 0, *shared, "place", OPENS_AT, first_seq, "1" if last else "0", *ids)


def claimed_opening(r, ids, first):
    """What a claim leaves: 100 tokens waited already, the closed pre-queue got seqs first.."""
    r("SET", "q:seq", first + len(ids) - 1)
    r("HSET", "q:opening", "for", OPENS_AT, "seed", "42", "first", first, "n", len(ids),
      "unplaced", len(ids), "lease", NOW + 30_000)
    for i, id_ in enumerate(ids):
        r("ZADD", "q:opening_ids", OPENS_AT - 1_000 + i, id_)  # their last polls: the idle clocks
        r("HSET", f"q:tok:{id_}", "user", f"u{i}", "seq", 0, "state", "p", "issued", OPENS_AT - 2_000,
          "poll", OPENS_AT - 1_000 + i)


def scores(r, ids):
    return [r("ZSCORE", "q:waiting", id_) for id_ in ids]


def test_open_place_redo_of_a_slice_changes_nothing_and_the_last_slice_ends_the_opening(r):
    ids = [f"tok{i}" for i in range(5)]
    claimed_opening(r, ids, first=101)
    head, tail = ids[:3], ids[3:]

    assert place(r, 101, False, head) == 3
    assert scores(r, head) == ["101", "102", "103"]
    assert r("HGET", "q:opening", "unplaced") == "2"

    # The same slice again (the redo after a restart mid-opening): placed 0, no HINCRBY by -0.
    assert place(r, 101, False, head) == 0
    assert scores(r, head) == ["101", "102", "103"]
    assert r("HGET", "q:opening", "unplaced") == "2"
    assert r("ZCARD", "q:waiting") == 3

    # The last slice places the rest and ends the opening.
    assert place(r, 104, True, tail) == 2
    assert scores(r, ids) == ["101", "102", "103", "104", "105"]
    assert r("EXISTS", "q:opening") == 0
    assert r("EXISTS", "q:opening_ids") == 0
    assert r("GET", "q:opened_for") == str(OPENS_AT)
    assert r("ZRANGE", "q:idle_placed", 0, -1) == ids  # the idle clocks, for the tick to fold in
    # ... and a redo of the last slice finds the opening done.
    assert place(r, 104, True, tail) == 0
    assert r("ZCARD", "q:waiting") == 5
