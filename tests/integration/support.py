"""Helpers for the concertd black-box integration tests.

Standard library only. Everything talks to the real binary over HTTP:
`Server` starts/stops/kills/restarts `build/concertd serve`, `Server.request` sends one
request over its own connection (http.client) and checks the response shape that the
contract demands of every response, `RawConn` speaks HTTP/1.1 over a plain socket for the
framing tests, and the API helpers (issue, wait_active, create_concert, hold, charge, pay ...)
keep the tests short.

Every `Server` keeps a `Ledger` of what it acknowledged (charges, payments, holds and cancels seen
in 2xx responses, concerts created); `invariant_problems` checks the engineering invariants against it
(balance = charges - payments >= 0, one payment per seat, reserved seats = paid seats,
payment amount = seat price).
"""
from __future__ import annotations

import atexit

import backends  # noqa: E402  (sibling module: PostgreSQL and Redis for distributed runs)
import openapi_contract  # noqa: E402  (sibling module: responses checked against web/openapi.json)
import datetime as _dt
import http.client
import itertools
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[2]
ADMIN_KEY = "test-admin-key"

MSG_HOLD_5MIN = "5분 내에 결제해주세요"
MSG_SEAT_ASSIGNED = "이미 다른 사용자가 선택한 좌석입니다"
MSG_SEAT_LOCKED = "다른 사용자가 처리 중입니다. 잠시 후 재시도해주세요"
MSG_INVALID_AMOUNT = "충전 금액이 올바르지 않습니다"
MSG_INSUFFICIENT = "잔액이 부족합니다"
MSG_INVALID_RESERVATION = "유효하지 않은 예약입니다"

RFC3339_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
WAIT_TIME_RE = re.compile(r"^([1-9][0-9]*)분$")

# How long "within one second" may take as seen from the test, polling included.
WITHIN_1S = 1.5

# Rounding of two of the server's millisecond timestamps compared with each other (or with the
# clock): for checks made on the server's own times (activeUntil, expiresAt, openedAt, lastUpdated)
# instead of the test's polling, which a busy machine slows down.
TS_SLACK = 0.002

# Sanitizer builds (`make test-asan`, `make test-tsan`): the first lines of a report in the
# server's output (ASan, LeakSanitizer, UBSan, TSan). A report fails the test even when the process
# went on or exited 0, e.g. a TSan report with halt_on_error=0 or one printed during a kill -9.
SANITIZER_REPORT = re.compile(
    r"^(==\d+==ERROR: \w*Sanitizer|WARNING: ThreadSanitizer|SUMMARY: \w*Sanitizer|\S+:\d+:\d+: runtime error: )",
    re.M)



def token_id(token: str) -> str:
    """The id the store and the line know a queue token by: field 2 of its signed payload
    (`base64url("t1|<key id>|<token id>|<issued ms>|<user id>").<signature>`)."""
    import base64
    payload = token.split(".", 1)[0]
    return base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode().split("|")[2]

def sanitizer_report(text: str, lines=60) -> str | None:
    """The first sanitizer report in `text` (up to `lines` lines of it), or None."""
    m = SANITIZER_REPORT.search(text)
    if m is None:
        return None
    start = text.rfind("\n", 0, m.start()) + 1
    return "\n".join(text[start:].splitlines()[:lines])


ALL_SERVERS: list["Server"] = []
TOUCHED: set["Server"] = set()  # servers that answered a request during the current test


class BinaryMissing(Exception):
    pass


class ServerError(Exception):
    pass


def binary_path() -> Path:
    return Path(os.environ.get("CONCERTD_BIN") or (REPO / "build" / "concertd"))


def require_binary() -> str:
    b = binary_path()
    if not (b.is_file() and os.access(b, os.X_OK)):
        raise BinaryMissing(
            f"concertd binary not found at {b} (build it with `make build`, or set CONCERTD_BIN)")
    return str(b)


def _die_with_parent():
    """Child side of Popen: get SIGKILL if the test runner dies (Linux), so no server outlives
    an interrupted run."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort only
        pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env() -> dict:
    """The caller's environment without any CONCERTD_* setting (so the shell cannot interfere)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CONCERTD_")}


# ---------------------------------------------------------------------------------------------
# Responses
# ---------------------------------------------------------------------------------------------
_NOJSON = object()


class Resp:
    def __init__(self, status, reason, headers, body: bytes, method="", path=""):
        self.status = status
        self.reason = reason
        self.headers = list(headers)
        self.body = body
        self.method = method
        self.path = path
        try:
            self._json = json.loads(body.decode("utf-8")) if body else _NOJSON
        except (ValueError, UnicodeDecodeError):
            self._json = _NOJSON

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    @property
    def is_json(self):
        return self._json is not _NOJSON

    @property
    def json(self):
        if self._json is _NOJSON:
            raise AssertionError(f"response body is not JSON: {self!r}")
        return self._json

    @property
    def code(self):
        return self._json.get("code") if isinstance(self._json, dict) else None

    def get(self, key, default=None):
        return self._json.get(key, default) if isinstance(self._json, dict) else default

    def __repr__(self):
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError:
            text = repr(self.body)
        if len(text) > 800:
            text = text[:800] + "..."
        return (f"<{self.method} {self.path} -> HTTP {self.status} "
                f"Content-Type={self.header('Content-Type')!r} body={text}>")


def check_shape(resp: Resp):
    """What the contract demands of every response: JSON with Content-Type application/json
    (except the Prometheus text of /metrics and the web pages' files), `error` and `code` on every
    error, no 5xx."""
    path = resp.path.split("?", 1)[0]
    assert resp.status < 500 or resp.status == 503, f"5xx for client input: {resp!r}"
    if path == "/metrics" and resp.status == 200:
        return
    if (path in ("/", "/admin", "/docs", "/openapi.json") or path.startswith("/assets/")) \
            and resp.status in (200, 304):
        return
    ct = resp.header("Content-Type") or ""
    assert ct.split(";")[0].strip().lower() == "application/json", \
        f"Content-Type must be application/json: {resp!r}"
    body = resp.json
    if resp.status >= 400:
        assert isinstance(body, dict), f"error body must be an object: {resp!r}"
        assert isinstance(body.get("code"), str) and body["code"], f"error without `code`: {resp!r}"
        if resp.status != 503:  # readyz's 503 is {"status":"unavailable","code":...}
            assert isinstance(body.get("error"), str) and body["error"], \
                f"error without `error` message: {resp!r}"


def record_for_openapi(resp: Resp):
    """Keeps the response for the check against web/openapi.json when its test module ends
    (conftest.py)."""
    openapi_contract.record(resp.method, resp.path, resp.status, resp.headers, resp._json, resp.is_json)


def expect(resp: Resp, status: int, code: str | None = None, /, **fields):
    """Assert status (and code and exact field values); return the JSON body.
    (positional-only, so that `status=` and `code=` can name response fields)"""
    what = f"HTTP {status}" + (f" {code}" if code else "")
    assert resp.status == status, f"expected {what}, got {resp!r}"
    if code is not None:
        assert resp.code == code, f"expected {what}, got {resp!r}"
    for k, v in fields.items():
        assert isinstance(resp.json, dict) and k in resp.json, f"missing field {k!r} in {resp!r}"
        assert resp.json[k] == v, f"field {k!r}: expected {v!r}, got {resp.json[k]!r} in {resp!r}"
    return resp.json if resp.is_json else None


def expect_bad_request(resp: Resp, field: str | None = None, require_field=True):
    """400 INVALID_REQUEST; with `field` when one field is at fault."""
    expect(resp, 400, "INVALID_REQUEST")
    if field is not None:
        if require_field:
            assert resp.json.get("field") == field, f"expected field={field!r}: {resp!r}"
        elif "field" in resp.json:
            assert resp.json["field"] == field, f"expected field={field!r} if any: {resp!r}"


# ---------------------------------------------------------------------------------------------
# Ledger and invariants
# ---------------------------------------------------------------------------------------------
_BALANCE_PATH = re.compile(r"^/api/users/([^/]+)/balance$")


def _bearer(req_headers) -> str | None:
    auth = next((v for k, v in req_headers.items() if k.lower() == "authorization"), "")
    return auth.split(" ", 1)[1] if " " in auth else None


class Ledger:
    """Acknowledged money and seat changes, as seen in 2xx responses (replays deduplicated)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.token_user: dict[str, str] = {}
        self.charges: dict[str, tuple[str, int]] = {}  # transactionId -> (userId, amount)
        self.payments: dict[str, dict] = {}  # paymentId -> details
        self.holds: dict[str, dict] = {}  # reservationId -> details of its 201 (expiresAt included)
        self.cancelled: set[str] = set()  # reservationIds whose cancel was answered 200
        self.concerts: set[int] = set()

    def observe(self, method, path, req_headers, resp: Resp):
        if not (200 <= resp.status < 300) or not resp.is_json or not isinstance(resp.json, dict):
            return
        p = path.split("?", 1)[0]
        j = resp.json
        try:
            with self.lock:
                if method == "POST" and p == "/api/queue/token":
                    self.token_user[j["token"]] = j["userId"]
                elif method == "POST" and _BALANCE_PATH.match(p):
                    self.charges.setdefault(j["transactionId"], (j["userId"], j["chargedAmount"]))
                elif method == "POST" and p == "/api/payments":
                    self.payments.setdefault(j["paymentId"], {
                        "user": self.token_user.get(_bearer(req_headers)),
                        "reservationId": j["reservationId"],
                        "concertId": j["concertId"],
                        "seatNumber": j["seatNumber"],
                        "amount": j["amount"],
                    })
                elif method == "POST" and p == "/api/reservations" and resp.status == 201:
                    token = _bearer(req_headers)
                    self.holds.setdefault(j["reservationId"], {
                        "user": self.token_user.get(token),
                        "token": token,
                        "concertId": j["concertId"],
                        "seatNumber": j["seatNumber"],
                        "price": j["price"],
                        "expiresAt": j["expiresAt"],
                    })
                elif method == "DELETE" and p.startswith("/api/reservations/"):
                    self.cancelled.add(j["reservationId"])
                elif method == "POST" and p == "/api/admin/concerts":
                    self.concerts.add(j["concertId"])
        except (KeyError, TypeError, IndexError):
            pass  # malformed success bodies are reported by the tests themselves


def user_path(user: str) -> str:
    return quote(user, safe="@")


def invariant_problems(srv: "Server") -> list[str]:
    led = srv.ledger
    with led.lock:
        charges = list(led.charges.values())
        payments = list(led.payments.items())
        concerts = set(led.concerts)
    problems = []
    expected = defaultdict(int)
    for user, amount in charges:
        expected[user] += amount
    by_seat = defaultdict(list)
    for pid, p in payments:
        if p["user"] is None:
            problems.append(f"payment {pid} made with a token the ledger does not know")
        else:
            expected[p["user"]] -= p["amount"]
        by_seat[(p["concertId"], p["seatNumber"])].append(pid)
    for user, exp in sorted(expected.items()):
        if exp < 0:
            problems.append(f"user {user}: payments exceed charges ({exp})")
        r = srv.get(f"/api/users/{user_path(user)}/balance")
        if r.status != 200 or r.get("balance") != exp:
            problems.append(f"user {user}: balance should be charges - payments = {exp}, got {r!r}")
    for seat, pids in sorted(by_seat.items()):
        if len(pids) > 1:
            problems.append(f"seat {seat} was paid {len(pids)} times: {pids}")
    for cid in sorted(concerts | {c for c, _ in by_seat}):
        r = srv.get(f"/api/concerts/{cid}/seats")
        if r.status != 200:
            problems.append(f"concert {cid}: seat map unavailable: {r!r}")
            continue
        seats = {s["number"]: s for s in r.json["seats"]}
        reserved = {n for n, s in seats.items() if s["status"] == "reserved"}
        paid = {n for (c, n) in by_seat if c == cid}
        if reserved != paid:
            problems.append(f"concert {cid}: reserved seats {sorted(reserved)} != paid seats {sorted(paid)}")
        for pid, p in payments:
            if p["concertId"] == cid and p["seatNumber"] in seats \
                    and seats[p["seatNumber"]]["price"] != p["amount"]:
                problems.append(f"payment {pid}: amount {p['amount']} != seat price "
                                f"{seats[p['seatNumber']]['price']}")
    return problems


def assert_invariants(srv: "Server"):
    problems = invariant_problems(srv)
    assert not problems, "invariants violated:\n" + "\n".join(problems)


# ---------------------------------------------------------------------------------------------
# The server under test
# ---------------------------------------------------------------------------------------------
class Server:
    """One concertd process (restartable on the same data dir).

    settings: "flags" passes --host/--port/--data-dir/--admin-key on the command line,
    "port-env" the same but the port as CONCERTD_PORT, "env" all four as CONCERTD_* variables.
    """

    def __init__(self, *args, env=None, settings="flags", subcommand=("serve",),
                 admin_key=ADMIN_KEY, data_dir=None, check_invariants=True):
        self.bin = require_binary()
        self.args = [str(a) for a in args]
        self.env_extra = dict(env or {})
        self.settings = settings
        self.subcommand = list(subcommand)
        self.admin_key = admin_key
        self.tmp = tempfile.mkdtemp(prefix="concertd-it-")
        self.data_dir = data_dir or os.path.join(self.tmp, "data")
        os.makedirs(self.data_dir, exist_ok=True)
        self.host = "127.0.0.1"
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.expected_exit = True
        self.generation = 0
        self.log_paths: list[str] = []
        self._log = None
        self.ledger = Ledger()
        self.check_invariants = check_invariants
        # What process control noticed and the teardown must report: a non-zero exit after
        # SIGTERM, a sanitizer report in the output (see take_problems()).
        self.problems: list[str] = []
        # Distributed runs: a fresh PostgreSQL database and Redis database for this server,
        # kept across its restarts (unless the test chose its own).
        self.engine_args = [] if "--postgres" in self.args else backends.engine_args()
        ALL_SERVERS.append(self)

    # -- process control --------------------------------------------------------------------
    def command(self):
        cmd = [self.bin, *self.subcommand]
        if self.settings in ("flags", "port-env"):
            cmd += ["--host", self.host]
            if self.settings == "flags":
                cmd += ["--port", str(self.port)]
            cmd += ["--data-dir", self.data_dir]
            if self.admin_key is not None:
                cmd += ["--admin-key", self.admin_key]
        return cmd + self.engine_args + self.args

    def environ(self):
        env = clean_env()
        if self.settings == "port-env":
            env["CONCERTD_PORT"] = str(self.port)
        elif self.settings == "env":
            env["CONCERTD_HOST"] = self.host
            env["CONCERTD_PORT"] = str(self.port)
            env["CONCERTD_DATA_DIR"] = self.data_dir
            if self.admin_key is not None:
                env["CONCERTD_ADMIN_KEY"] = self.admin_key
        env.update(self.env_extra)
        return env

    def start(self, timeout=20.0):
        assert not self.alive(), "already running"
        self.generation += 1
        log_path = os.path.join(self.tmp, f"concertd-{self.generation}.log")
        self.log_paths.append(log_path)
        self._log = open(log_path, "wb")
        cmd = self.command()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, env=self.environ(), cwd=self.tmp,
                                     start_new_session=True, preexec_fn=_die_with_parent)
        self.expected_exit = False
        deadline = time.monotonic() + timeout
        last = "no answer"
        while True:
            rc = self.proc.poll()
            if rc is not None:
                self.expected_exit = True
                raise ServerError(f"concertd exited with code {rc} during start-up\n"
                                  f"command: {' '.join(cmd)}\n{self.log_tail()}")
            try:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=1)
                try:
                    conn.request("GET", "/healthz")
                    r = conn.getresponse()
                    r.read()
                finally:
                    conn.close()
                if r.status == 200:
                    return self
                last = f"HTTP {r.status}"
            except OSError as e:
                last = repr(e)
            if time.monotonic() >= deadline:
                self.kill9()
                raise ServerError(f"concertd did not answer GET /healthz 200 within {timeout}s "
                                  f"(last: {last})\ncommand: {' '.join(cmd)}\n{self.log_tail()}")
            time.sleep(0.05)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def crashed(self):
        return self.proc is not None and self.proc.poll() is not None and not self.expected_exit

    def stop(self, timeout=30.0):
        """SIGTERM and wait; a process that does not exit in time is killed and reported. (A
        request left half-sent by a test holds the drain until its header or body timeout.)"""
        if not self.alive():
            return
        self.expected_exit = True
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise ServerError(f"concertd did not exit within {timeout}s of SIGTERM")
        finally:
            self._close_log()
        self._check_exit(graceful=True)

    def kill9(self):
        if not self.alive():
            return
        self.expected_exit = True
        self.proc.kill()
        self.proc.wait()
        self._close_log()
        self._check_exit(graceful=False)

    def restart(self, new_port=False, kill=False, timeout=20.0):
        if kill:
            self.kill9()
        else:
            self.stop()
        if new_port:
            self.port = free_port()
        return self.start(timeout=timeout)

    def _check_exit(self, graceful: bool):
        """After this generation ended: a graceful stop (SIGTERM) must exit 0 (LeakSanitizer
        and TSan report at exit through the exit code), and no generation may have printed a
        sanitizer report."""
        rc = self.proc.returncode
        if graceful and rc != 0:
            self.problems.append(f"concertd (port {self.port}) exited with code {rc} after SIGTERM"
                                 f"\n{self.log_tail()}")
        report = sanitizer_report(self._generation_log())
        if report is not None:
            self.problems.append(f"concertd (port {self.port}) printed a sanitizer report:\n{report}")

    def _generation_log(self) -> str:
        try:
            with open(self.log_paths[-1], "rb") as f:
                return f.read().decode("utf-8", "replace")
        except (OSError, IndexError):
            return ""

    def take_problems(self) -> list[str]:
        out, self.problems = self.problems, []
        return out

    def crash_report(self) -> str:
        """What to say about a process that died on its own: exit code, sanitizer report, log."""
        report = sanitizer_report(self._generation_log())
        return (f"concertd (port {self.port}) exited unexpectedly with code {self.proc.returncode}\n"
                + (f"sanitizer report:\n{report}\n" if report else "") + self.log_tail())

    def _close_log(self):
        if self._log is not None:
            self._log.close()
            self._log = None

    def close(self):
        try:
            if self.alive():
                self.expected_exit = True
                self.proc.terminate()
                try:
                    self.proc.wait(10)
                    self._check_exit(graceful=True)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
                    self.problems.append(f"concertd (port {self.port}) did not exit within 10s of "
                                         f"SIGTERM\n{self.log_tail()}")
        finally:
            self._close_log()
            if self in ALL_SERVERS:
                ALL_SERVERS.remove(self)
            TOUCHED.discard(self)
            if not os.environ.get("CONCERTD_KEEP_TMP"):
                shutil.rmtree(self.tmp, ignore_errors=True)

    def log_text(self):
        out = []
        for p in self.log_paths:
            try:
                with open(p, "rb") as f:
                    out.append(f.read().decode("utf-8", "replace"))
            except OSError:
                pass
        return "\n".join(out)

    def log_tail(self, lines=40):
        text = self.log_text().splitlines()
        return "--- concertd output (last lines) ---\n" + "\n".join(text[-lines:])

    # -- HTTP ---------------------------------------------------------------------------------
    def connection(self, timeout=15.0) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, body=None, *, token=None, headers=None, raw=None,
                timeout=15.0, conn=None, check=True) -> Resp:
        hdrs = {}
        if token is not None:
            hdrs["Authorization"] = "Bearer " + token
        if headers:
            hdrs.update(headers)
        data = None
        if raw is not None:
            data = raw.encode("utf-8") if isinstance(raw, str) else raw
        elif body is not None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            hdrs.setdefault("Content-Type", "application/json")
        own = conn is None
        if own:
            conn = self.connection(timeout)
        TOUCHED.add(self)
        try:
            conn.request(method, path, body=data, headers=hdrs)
            r = conn.getresponse()
            payload = r.read()
            resp = Resp(r.status, r.reason, r.getheaders(), payload, method, path)
        finally:
            if own:
                conn.close()
        if check:
            check_shape(resp)
            record_for_openapi(resp)
        self.ledger.observe(method, path, hdrs, resp)
        return resp

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def admin_headers(self):
        return {"X-Admin-Key": self.admin_key or ADMIN_KEY}


def _cleanup_all():
    for s in list(ALL_SERVERS):
        try:
            s.close()
        except Exception:
            pass


atexit.register(_cleanup_all)


# ---------------------------------------------------------------------------------------------
# Raw HTTP over a socket (framing tests)
# ---------------------------------------------------------------------------------------------
def raw_request(method, path, headers=(), body: bytes | None = None, host="localhost") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    names = {h.split(":", 1)[0].strip().lower() for h in headers}
    lines += list(headers)
    if body is not None and "content-length" not in names and "transfer-encoding" not in names:
        lines.append(f"Content-Length: {len(body)}")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return data + (body or b"")


class RawConn:
    def __init__(self, srv: Server, timeout=5.0):
        self.srv = srv
        self.sock = socket.create_connection((srv.host, srv.port), timeout=timeout)
        self.buf = b""
        TOUCHED.add(srv)

    def send(self, data: bytes):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed by the server")
        self.buf += chunk

    def _read_line(self) -> bytes:
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _read_exact(self, n) -> bytes:
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_response(self, method="GET", path="?", check=True) -> Resp:
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        assert parts[0].startswith("HTTP/1."), f"bad status line {lines[0]!r}"
        status = int(parts[1])
        reason = parts[2] if len(parts) > 2 else ""
        headers = []
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers.append((k.strip(), v.strip()))
        hmap = {k.lower(): v for k, v in headers}
        if method == "HEAD":
            body = b""  # Content-Length says what a GET would carry; no body follows
        elif "chunked" in hmap.get("transfer-encoding", "").lower():
            body = b""
            while True:
                size = int(self._read_line().split(b";")[0].strip(), 16)
                if size == 0:
                    while self._read_line() != b"":
                        pass
                    break
                body += self._read_exact(size)
                self._read_line()
        elif "content-length" in hmap:
            body = self._read_exact(int(hmap["content-length"]))
        elif status in (204, 304) or 100 <= status < 200:
            body = b""
        else:
            try:
                while True:
                    self._fill()
            except EOFError:
                pass
            body, self.buf = self.buf, b""
        resp = Resp(status, reason, headers, body, method, path)
        if check:
            check_shape(resp)
            if path.startswith("/"):  # "?": the caller did not say what it sent
                record_for_openapi(resp)
        return resp

    def closed_by_peer(self, timeout=3.0) -> bool:
        """True if the server closes the connection (FIN or RST) within `timeout`."""
        if self.buf:
            return False
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---------------------------------------------------------------------------------------------
# Time and polling
# ---------------------------------------------------------------------------------------------
def parse_ts(s) -> float:
    """RFC 3339 UTC with milliseconds and Z -> POSIX seconds."""
    assert isinstance(s, str) and RFC3339_MS.match(s), f"not an RFC 3339 UTC ms timestamp: {s!r}"
    d = _dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=_dt.timezone.utc)
    return d.timestamp()


def day(offset=0) -> str:
    return (_dt.datetime.now(_dt.timezone.utc).date() + _dt.timedelta(days=offset)).isoformat()


def wait_until(probe, timeout, what, interval=0.05):
    """Call probe() until it returns something truthy, at most `timeout` seconds; return it."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            desc = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout}s waiting for {desc}")
        time.sleep(interval)


def wait_estimate_consistent(body):
    secs = body["estimatedWaitSeconds"]
    assert isinstance(secs, int) and not isinstance(secs, bool) and secs >= 1, body
    m = WAIT_TIME_RE.match(body["estimatedWaitTime"])
    assert m, f"estimatedWaitTime must look like '15분': {body}"
    assert int(m.group(1)) == max(1, math.ceil(secs / 60)), \
        f"estimatedWaitTime must be estimatedWaitSeconds rounded up to minutes: {body}"


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


# ---------------------------------------------------------------------------------------------
# API helpers
# ---------------------------------------------------------------------------------------------
_counter = itertools.count(1)


def uid(prefix="u") -> str:
    return f"{prefix}-{next(_counter)}-{uuid.uuid4().hex[:10]}"


def issue(srv: Server, user: str) -> dict:
    r = srv.post("/api/queue/token", {"userId": user})
    assert r.status in (200, 201), f"token issue failed: {r!r}"
    return r.json


def status_of(srv: Server, token: str) -> Resp:
    return srv.get("/api/queue/status", token=token)


def wait_active(srv: Server, token: str, timeout=5.0) -> dict:
    def probe():
        r = status_of(srv, token)
        assert r.status == 200, f"queue status failed while waiting for activation: {r!r}"
        return r.json if r.json.get("status") == "active" else None

    return wait_until(probe, timeout, "the token to become active")


def active_user(srv: Server, prefix="u", timeout=5.0) -> tuple[str, str]:
    user = uid(prefix)
    token = issue(srv, user)["token"]
    wait_active(srv, token, timeout)
    return user, token


def create_concert(srv: Server, seat_count=10, price=50000, prices=None, date=None,
                   title=None, venue="Olympic Hall") -> int:
    body = {"title": title or f"Concert {uid('c')}", "venue": venue, "date": date or day(90)}
    if prices is not None:
        body["prices"] = list(prices)
        body["seatCount"] = len(prices)
    else:
        body["price"] = price
        body["seatCount"] = seat_count
    r = srv.post("/api/admin/concerts", body, headers=srv.admin_headers())
    assert r.status == 201, f"concert creation failed: {r!r}"
    cid = r.json.get("concertId")
    assert is_int(cid) and cid >= 1, f"concertId must be a positive integer: {r!r}"
    return cid


def hold(srv: Server, token: str, concert_id, seat) -> Resp:
    return srv.post("/api/reservations", {"concertId": concert_id, "seatNumber": seat}, token=token)


def must_hold(srv: Server, token: str, concert_id, seat) -> dict:
    return expect(hold(srv, token, concert_id, seat), 201)


def charge(srv: Server, user: str, token: str, amount, key=None, headers=None) -> Resp:
    h = dict(headers or {})
    if key is not None:
        h["Idempotency-Key"] = key
    return srv.post(f"/api/users/{user_path(user)}/balance", {"amount": amount}, token=token, headers=h)


def must_charge(srv: Server, user: str, token: str, amount, key=None) -> dict:
    return expect(charge(srv, user, token, amount, key), 200)


def pay(srv: Server, token: str, reservation_id, key=None) -> Resp:
    h = {"Idempotency-Key": key} if key is not None else None
    return srv.post("/api/payments", {"reservationId": reservation_id}, token=token, headers=h)


def must_pay(srv: Server, token: str, reservation_id, key=None) -> dict:
    return expect(pay(srv, token, reservation_id, key), 200)


def get_reservation(srv: Server, token: str, rid: str) -> Resp:
    return srv.get(f"/api/reservations/{quote(rid, safe='')}", token=token)


def cancel_reservation(srv: Server, token: str, rid: str) -> Resp:
    return srv.delete(f"/api/reservations/{quote(rid, safe='')}", token=token)


def balance_of(srv: Server, user: str) -> int:
    b = expect(srv.get(f"/api/users/{user_path(user)}/balance"), 200)
    return b["balance"]


def seat_map(srv: Server, concert_id) -> dict:
    j = expect(srv.get(f"/api/concerts/{concert_id}/seats"), 200)
    return {s["number"]: s for s in j["seats"]}


def seat_status(srv: Server, concert_id, seat) -> str:
    return seat_map(srv, concert_id)[seat]["status"]


def available_dates(srv: Server) -> dict:
    return expect(srv.get("/api/concerts/available-dates"), 200)


def listed(srv: Server, concert_id):
    for c in available_dates(srv)["concerts"]:
        if c["concertId"] == concert_id:
            return c
    return None


def spend_by_paying(srv: Server, user: str, token: str) -> dict:
    """Spend `token` (frees its active slot): buy a 1,000 KRW seat of a fresh concert."""
    cid = create_concert(srv, seat_count=1, price=1000)
    must_charge(srv, user, token, 10000)
    res = must_hold(srv, token, cid, 1)
    return must_pay(srv, token, res["reservationId"])


def admin_queue(srv: Server) -> dict:
    return expect(srv.get("/api/admin/queue", headers=srv.admin_headers()), 200)


def race(srv: Server, specs: list[dict], timeout=30.0, check=True) -> list[Resp]:
    """Send all requests at once: every thread connects first, then all fire after a barrier.
    Each spec: {"method", "path", "body"?, "raw"?, "token"?, "headers"?}. check=False lets a
    test that breaks the server on purpose see its 500s."""
    barrier = threading.Barrier(len(specs))

    def run(spec):
        conn = srv.connection(timeout)
        conn.connect()
        try:
            barrier.wait(timeout=timeout)
            return srv.request(spec["method"], spec["path"], spec.get("body"),
                               token=spec.get("token"), headers=spec.get("headers"),
                               raw=spec.get("raw"), conn=conn, check=check)
        finally:
            conn.close()

    with ThreadPoolExecutor(max_workers=len(specs)) as ex:
        return list(ex.map(run, specs))


def pct_encode_all(s: str) -> str:
    """Percent-encode every byte (so that the server must decode to see the value)."""
    return "".join(f"%{b:02X}" for b in s.encode("utf-8"))
