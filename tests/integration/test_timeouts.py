"""Connection timeouts (API.md "Conventions": 10 s to send the headers, 30 s for the body, 60 s idle
between keep-alive requests), shortened with --header-timeout, --body-timeout and --idle-timeout.

Each server shortens one timeout and keeps the others at their defaults, so that a close near the
short one can only be that one's doing. What the server does when a stage runs out
(src/http/server.cpp: its watchdog closes the socket): no answer at all, not even a 408; the
connection is closed. A stage's clock is set once when the stage begins (the header's at its
first byte, the body's at the end of the header, the idle one when the previous answer has been
written) and a slow trickle of bytes does not push it back.

Timings: a close is never seen before its timeout, measured from a moment before the server could
have started that clock (less EARLY for the two clocks' rounding), and must come within LATE
seconds after it, generous for sanitizer builds on two busy cores yet well before any default.
"""
import socket
import time

import pytest

from support import RawConn, expect, raw_request

TIMEOUT = 2  # seconds, the shortened timeout of each server
EARLY = 0.1  # seconds a close may seem early: rounding of the server's clock against the test's
LATE = 8.0  # seconds a close may come after its timeout on a slow machine (every default is >= 10)
PACE = 0.25  # seconds between the bytes of a trickle


@pytest.fixture(scope="module")
def header_server(module_pool):
    return module_pool("--header-timeout", str(TIMEOUT))


@pytest.fixture(scope="module")
def body_server(module_pool):
    return module_pool("--body-timeout", str(TIMEOUT))


@pytest.fixture(scope="module")
def idle_server(module_pool):
    return module_pool("--idle-timeout", str(TIMEOUT))


def wait_for_close(conn: RawConn, since: float, trickle: bytes = b"") -> tuple[float, bytes]:
    """Waits until the server closes `conn` (FIN or reset), sending one byte of `trickle` every
    PACE seconds meanwhile. Returns (seconds from `since` to the close, bytes received before it);
    fails when the connection is still open TIMEOUT + LATE seconds after `since`."""
    deadline = since + TIMEOUT + LATE
    received = b""
    pending = trickle
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"the connection was still open {TIMEOUT + LATE:.0f} s after the stall began "
                                 f"(timeout {TIMEOUT} s; received {received!r})")
        conn.sock.settimeout(min(remaining, PACE) if pending else remaining)
        try:
            chunk = conn.sock.recv(4096)
        except socket.timeout:
            try:
                conn.send(pending[:1])
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - since, received
            pending = pending[1:]
            continue
        except ConnectionResetError:
            return time.monotonic() - since, received
        if not chunk:
            return time.monotonic() - since, received
        received += chunk


def assert_closed_silently_after_timeout(elapsed: float, received: bytes, what: str):
    assert received == b"", f"{what}: the server must close without an answer, sent {received!r}"
    assert elapsed >= TIMEOUT - EARLY, f"{what}: closed after {elapsed:.2f} s, before the {TIMEOUT} s timeout"
    assert elapsed <= TIMEOUT + LATE, f"{what}: closed after {elapsed:.2f} s"


# --- header --------------------------------------------------------------------------------------
@pytest.mark.parametrize("trickle", [b"", b"X-Slow: " + b"a" * 64], ids=["stalled", "trickled"])
def test_a_header_that_never_ends_is_closed_after_the_header_timeout(header_server, trickle):
    with RawConn(header_server) as c:
        since = time.monotonic()  # the header's clock starts with its first byte, sent below
        c.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # the blank line never comes
        elapsed, received = wait_for_close(c, since, trickle)
    assert_closed_silently_after_timeout(elapsed, received, "a stalled header")
    expect(header_server.get("/healthz"), 200, status="ok")


# --- body ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("trickle", [b"", b"a" * 64], ids=["stalled", "trickled"])
def test_a_body_that_never_ends_is_closed_after_the_body_timeout(body_server, trickle):
    with RawConn(body_server) as c:
        since = time.monotonic()  # the body's clock starts when the header has arrived: after this
        c.send(b"POST /api/queue/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: 1000\r\n\r\n{\"userId\": \"")  # 988 bytes short
        elapsed, received = wait_for_close(c, since, trickle)
    assert_closed_silently_after_timeout(elapsed, received, "a stalled body")
    expect(body_server.get("/healthz"), 200, status="ok")


def test_a_body_sent_within_the_body_timeout_is_answered(body_server):
    body = b'{"userId": "slow-but-in-time"}'
    with RawConn(body_server, timeout=TIMEOUT + LATE) as c:
        c.send(raw_request("POST", "/api/queue/token", ["Content-Type: application/json",
                                                         f"Content-Length: {len(body)}"]))
        assert not c.closed_by_peer(TIMEOUT / 4), "closed while the body was on its way"
        c.send(body)
        expect(c.read_response("POST", "/api/queue/token"), 201, userId="slow-but-in-time")


# --- idle ----------------------------------------------------------------------------------------
def test_a_connection_that_never_sends_is_closed_after_the_idle_timeout(idle_server):
    since = time.monotonic()  # before the connection exists
    with RawConn(idle_server) as c:
        elapsed, received = wait_for_close(c, since)
    assert_closed_silently_after_timeout(elapsed, received, "a connection that never sent a request")


def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout(idle_server):
    with RawConn(idle_server, timeout=TIMEOUT + LATE) as c:
        c.send(raw_request("GET", "/healthz"))
        expect(c.read_response(), 200, status="ok")
        since = time.monotonic()  # before the next request, whose answer restarts the idle clock
        c.send(raw_request("GET", "/healthz"))
        expect(c.read_response(), 200, status="ok")
        elapsed, received = wait_for_close(c, since)
    assert_closed_silently_after_timeout(elapsed, received, "an idle keep-alive connection")


def test_a_keep_alive_connection_in_use_outlives_the_idle_timeout(idle_server):
    """Requests less than the idle timeout apart keep a connection open for several times it."""
    with RawConn(idle_server, timeout=TIMEOUT + LATE) as c:
        opened = time.monotonic()
        answered = 0
        while time.monotonic() - opened < 3 * TIMEOUT:
            last_sent = time.monotonic()  # the idle clock restarts after this request's answer
            c.send(raw_request("GET", "/healthz"))
            expect(c.read_response(), 200, status="ok")
            answered += 1
            # a pause well inside the idle timeout, watching for a close meanwhile
            assert not c.closed_by_peer(TIMEOUT / 4), \
                f"closed {time.monotonic() - opened:.2f} s after opening, after {answered} answers"
        # and once it stops, the idle timeout ends it
        elapsed, received = wait_for_close(c, last_sent)
    assert_closed_silently_after_timeout(elapsed, received, "a keep-alive connection once left idle")
