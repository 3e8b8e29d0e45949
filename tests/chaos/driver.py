"""A crowd of fans doing full flows (token, charge, hold, pay or cancel) against one or more
concertd instances while the test breaks things underneath them.

Each fan is one user in one thread and runs its flows one request at a time, so its acknowledged
balance is known exactly. A request that fails without an answer (connection reset, timeout)
has an unknown outcome: the fan finds out before moving on, and only an answer from the server
goes into the ledger (support.Ledger records every 2xx it sees; replays are deduplicated):
- charge / payment: retried with the same Idempotency-Key until a definite answer (200, or a 4xx
  that says it did not happen); a 503 changed nothing by contract, so after a clean 503 the next
  try uses a fresh key: a 503 that moved money anyway shows up as money without an
  acknowledgement;
- hold: the same seat is asked again; 409 SEAT_ALREADY_ASSIGNED with the fan's own reservationId
  means the first one went through (after a clean 503 that would be a written 503: a problem);
- cancel: asked again; 409 RESERVATION_NOT_CANCELLABLE is then checked with GET.

Every hold answered 201 is in the ledger with the server's `expiresAt`. Holds last far longer than
a flow (hold-ttl 30 s, paid at once), so a payment answered INVALID_RESERVATION before that
`expiresAt` means an acknowledged hold was lost: a problem, not "expired meanwhile". A hold whose
payment or cancel has been sent is `let_go` (its state depends on that request's outcome); the
others, of parked fans, are checked by invariants.hold_problems.

A `Gate` lets the test park every fan between two requests (with no unknown outcome pending) to
compare the ledger with the API and the store exactly.
"""
from __future__ import annotations

import http.client
import random
import threading
import time
import traceback
import uuid
from collections import Counter
from urllib.parse import quote

from support import Server, check_shape, create_concert, parse_ts, uid, user_path

PRICES = [10_000 * i for i in range(1, 16)]  # 10,000 .. 150,000
RETRY_DEADLINE = 40.0  # longest a fan tries to learn one outcome (idempotency claims lapse after 15 s)


class Gate:
    """Parks fans at their next clean point while the test checks; `pause` returns who parked."""

    def __init__(self):
        self.cond = threading.Condition()
        self.paused = False
        self.parked: set[int] = set()
        self.running: set[int] = set()

    def checkpoint(self, fan_id: int, stop: threading.Event):
        with self.cond:
            if not self.paused:
                return
            self.parked.add(fan_id)
            self.cond.notify_all()
            while self.paused and not stop.is_set():
                self.cond.wait(0.2)
            self.parked.discard(fan_id)

    def enter(self, fan_id):
        with self.cond:
            self.running.add(fan_id)

    def leave(self, fan_id):
        with self.cond:
            self.running.discard(fan_id)
            self.cond.notify_all()

    def pause(self, timeout: float) -> tuple[set[int], bool]:
        """Asks every fan to park; waits up to `timeout` (a fan stuck learning an outcome does
        not park). Returns the parked fans and whether that is every running one."""
        deadline = time.monotonic() + timeout
        with self.cond:
            self.paused = True
            while not self.running <= self.parked:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
            return set(self.parked), self.running <= self.parked

    def resume(self):
        with self.cond:
            self.paused = False
            self.cond.notify_all()


class FanFailed(Exception):
    pass


class Load:
    """`clients` fans on `nodes` (requests spread at random over the live ones)."""

    def __init__(self, nodes: list[Server], concerts: dict[int, dict[int, int]], clients=16, seed=None,
                 max_flows=400, duration=240.0, allow_token_loss=False):
        self.nodes = nodes
        self.concerts = concerts  # concertId -> {seat: price}
        self.seed = seed if seed is not None else random.randrange(1 << 30)
        self.max_flows = max_flows
        self.duration = duration
        self.allow_token_loss = allow_token_loss  # after a Redis loss a token may be gone: re-issue
        self.gate = Gate()
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.phase = "load"
        self.answers: Counter = Counter()  # (phase, "HTTP 503 SERVICE_UNAVAILABLE") -> count
        self.served: Counter = Counter()  # port -> answers from the instance there
        self.stats: Counter = Counter()
        self.problems: list[str] = []
        self.let_go: set[str] = set()  # reservationIds whose payment or cancel was sent
        self.fans = [Fan(self, i) for i in range(clients)]
        self.threads: list[threading.Thread] = []

    # -- control -------------------------------------------------------------------------------
    def start(self):
        for fan in self.fans:
            self.gate.enter(fan.idx)
            t = threading.Thread(target=fan.run, name=f"fan-{fan.idx}", daemon=True)
            t.start()
            self.threads.append(t)

    def stop(self, timeout=60.0):
        self.stop_event.set()
        self.gate.resume()
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.1, deadline - time.monotonic()))
        stuck = [t.name for t in self.threads if t.is_alive()]
        if stuck:
            self.problem(f"fans still running {timeout}s after stop: {stuck}")

    def set_phase(self, phase: str):
        with self.lock:
            self.phase = phase

    def users(self, fan_ids=None) -> set[str]:
        return {f.user for f in self.fans if fan_ids is None or f.idx in fan_ids}

    def count(self, what: str, n=1):
        with self.lock:
            self.stats[what] += n

    def problem(self, text: str):
        with self.lock:
            self.problems.append(text)

    def letting_go(self, rid: str):
        with self.lock:
            self.let_go.add(rid)

    def acked(self) -> tuple[int, int]:
        led = self.nodes[0].ledger
        with led.lock:
            return len(led.charges), len(led.payments)

    def outage_answers(self, phase: str) -> str:
        with self.lock:
            got = sorted((k[1], v) for k, v in self.answers.items() if k[0] == phase)
        return ", ".join(f"{what} x{n}" for what, n in got) or "none"

    def count_answers(self, pred) -> int:
        with self.lock:
            return sum(v for k, v in self.answers.items() if pred(k[0], k[1]))

    def pick_node(self, rnd: random.Random) -> Server:
        live = [n for n in self.nodes if n.alive()]
        return rnd.choice(live or self.nodes)


class Unknown:
    """No answer: `sent` False when the connection was refused (nothing reached the server)."""

    def __init__(self, sent: bool, error: BaseException):
        self.sent = sent
        self.error = error


class Fan:
    def __init__(self, load: Load, idx: int):
        self.load = load
        self.idx = idx
        self.user = uid(f"fan{idx}")
        self.rnd = random.Random(load.seed * 1000 + idx)
        self.token: str | None = None
        self.balance = 0  # acknowledged
        # reservationId -> (concert, seat, price, expiresAt as POSIX seconds; None when the hold was
        # learnt from a 409 with the fan's own reservationId, its 201 lost)
        self.holds: dict[str, tuple[int, int, int, float | None]] = {}

    # -- plumbing ------------------------------------------------------------------------------
    def send(self, method, path, body=None, key=None, auth=True):
        node = self.load.pick_node(self.rnd)
        headers = {"Idempotency-Key": key} if key else None
        try:
            r = node.request(method, path, body, token=self.token if auth else None, headers=headers,
                             timeout=20, check=False)
        except ConnectionRefusedError as e:
            self.note("conn-refused")
            return Unknown(False, e)
        except (OSError, http.client.HTTPException) as e:
            self.note("conn-error")
            return Unknown(True, e)
        try:
            check_shape(r)
        except AssertionError as e:
            self.load.problem(f"fan {self.user}: {e}")
        self.note(f"HTTP {r.status}" + (f" {r.code}" if r.code else ""))
        with self.load.lock:
            self.load.served[node.port] += 1
        if r.status >= 500 and r.status != 503:
            self.load.problem(f"fan {self.user}: {method} {path} answered {r!r}")
        if r.status == 503 and r.code != "SERVICE_UNAVAILABLE":
            self.load.problem(f"fan {self.user}: 503 without SERVICE_UNAVAILABLE: {r!r}")
        return r

    def note(self, what):
        with self.load.lock:
            self.load.answers[(self.load.phase, what)] += 1

    def pause_point(self):
        self.load.gate.checkpoint(self.idx, self.load.stop_event)

    def backoff(self):
        time.sleep(self.rnd.uniform(0.03, 0.12))  # a client's retry backoff, not a race cover

    def fail(self, text):
        raise FanFailed(f"fan {self.user}: {text}")

    def retry_deadline(self):
        return time.monotonic() + RETRY_DEADLINE

    def token_lost(self, r, doing) -> bool:
        """401 INVALID_TOKEN: after a Redis loss the fan takes a new token; otherwise a bug."""
        if r.status == 401 and r.code == "INVALID_TOKEN" and self.load.allow_token_loss:
            self.load.count("tokens lost (re-issued)")
            self.token = None
            self.ensure_token()
            return True
        self.fail(f"{doing}: {r!r}")

    # -- steps ---------------------------------------------------------------------------------
    def ensure_token(self):
        deadline = self.retry_deadline()
        while time.monotonic() < deadline and not self.load.stop_event.is_set():
            r = self.send("POST", "/api/queue/token", {"userId": self.user}, auth=False)
            if isinstance(r, Unknown) or r.status == 503:
                self.pause_point()  # a token is no money: nothing to resolve
                self.backoff()
                continue
            if r.status not in (200, 201):
                self.fail(f"token issue answered {r!r}")
            self.token = r.json["token"]
            if r.json["status"] == "active":
                return
            # waiting: poll until admitted (max-active is far above the crowd: rare)
            while time.monotonic() < deadline and not self.load.stop_event.is_set():
                s = self.send("GET", "/api/queue/status")
                if isinstance(s, Unknown) or s.status == 503:
                    self.backoff()
                    continue
                if s.status == 200 and s.json.get("status") == "active":
                    return
                if s.status == 401 and self.load.allow_token_loss:
                    break  # issue again
                if s.status != 200:
                    self.fail(f"queue status answered {s!r}")
                time.sleep(0.2)
        if not self.load.stop_event.is_set():
            self.fail("no active token within the retry deadline")

    def charge(self, amount: int) -> bool:
        key = uuid.uuid4().hex
        unknown = False
        deadline = self.retry_deadline()
        path = f"/api/users/{user_path(self.user)}/balance"
        while time.monotonic() < deadline:
            r = self.send("POST", path, {"amount": amount}, key=key)
            if isinstance(r, Unknown):
                unknown |= r.sent
                self.backoff()
                continue
            if r.status == 200:
                if unknown:
                    self.load.count("unknown charges resolved by replay: done")
                expected = self.balance + amount
                if r.json.get("currentBalance") != expected or r.json.get("chargedAmount") != amount:
                    self.load.problem(f"fan {self.user}: charge of {amount} on {self.balance} answered {r!r}")
                    expected = r.json.get("currentBalance", expected)  # report a drift once, not per flow
                self.balance = expected
                return True
            if r.status == 503:
                if not unknown:
                    key = uuid.uuid4().hex  # that one changed nothing: a fresh key
                    self.pause_point()
                self.backoff()
                continue
            if r.status == 409 and r.code == "IDEMPOTENCY_KEY_IN_USE":
                self.backoff()
                continue
            if r.status == 400 and r.code == "BALANCE_LIMIT_EXCEEDED":
                return False
            if self.token_lost(r, f"charge of {amount}"):
                continue
        if unknown:
            self.load.problem(f"fan {self.user}: outcome of a charge (key {key}) still unknown after "
                              f"{RETRY_DEADLINE}s")
            raise FanFailed("unresolved charge")
        return False

    def pick_seat(self):
        cid = self.rnd.choice(list(self.load.concerts))
        seats = self.load.concerts[cid]
        return cid, self.rnd.randint(1, len(seats))

    def hold(self):
        """Holds a free seat: (reservationId, concert, seat, price), or None."""
        for _ in range(10):
            cid, seat = self.pick_seat()
            if any((c, s) == (cid, seat) for c, s, _, _ in self.holds.values()):
                continue
            got = self.hold_seat(cid, seat)
            if got == "limit":
                self.cancel_all()
                continue
            if got:
                return got
        self.load.count("no free seat found in 10 tries")
        return None

    def hold_seat(self, cid, seat):
        unknown = clean503 = False
        deadline = self.retry_deadline()
        body = {"concertId": cid, "seatNumber": seat}
        price = self.load.concerts[cid][seat]
        while time.monotonic() < deadline:
            r = self.send("POST", "/api/reservations", body)
            if isinstance(r, Unknown):
                unknown |= r.sent
                self.backoff()
                continue
            if r.status == 201:
                if r.json.get("price") != price:
                    self.load.problem(f"hold answered price {r.json.get('price')} for a {price} seat: {r!r}")
                self.holds[r.json["reservationId"]] = (cid, seat, price, parse_ts(r.json["expiresAt"]))
                if unknown:
                    self.load.count("unknown holds resolved: not done")
                return r.json["reservationId"], cid, seat, price
            if r.status == 409 and r.code == "SEAT_ALREADY_ASSIGNED":
                rid = r.json.get("reservationId")
                if rid:  # the fan's own hold: an earlier try went through
                    if clean503 and not unknown:
                        self.load.problem(f"fan {self.user}: a hold answered 503 was written "
                                          f"(seat {cid}/{seat}, reservation {rid})")
                    self.load.count("unknown holds resolved: done")
                    self.holds[rid] = (cid, seat, price, None)
                    return rid, cid, seat, price
                return None
            if r.status == 409 and r.code == "SEAT_LOCKED":
                if unknown:  # maybe our own lock left by a killed request: wait for its TTL
                    self.backoff()
                    continue
                return None
            if r.status == 409 and r.code == "HOLD_LIMIT_EXCEEDED":
                return "limit"
            if r.status == 503:
                clean503 |= not unknown
                self.pause_point()
                self.backoff()
                continue
            if self.token_lost(r, f"hold of {cid}/{seat}"):
                continue
        self.load.count("holds left unresolved (expire by themselves)")
        return None

    def pay(self, rid) -> bool:
        cid, seat, price, expires_at = self.holds[rid]
        key = uuid.uuid4().hex
        unknown = False
        deadline = self.retry_deadline()
        self.load.letting_go(rid)
        while time.monotonic() < deadline:
            r = self.send("POST", "/api/payments", {"reservationId": rid}, key=key)
            answered = time.time()  # the server decided before this
            if isinstance(r, Unknown):
                unknown |= r.sent
                self.backoff()
                continue
            if r.status == 200:
                j = r.json
                if unknown:
                    self.load.count("unknown payments resolved by replay: done")
                if (j.get("amount"), j.get("balanceAfter"), j.get("concertId"), j.get("seatNumber")) != \
                        (price, self.balance - price, cid, seat):
                    self.load.problem(f"fan {self.user}: payment of {rid} ({cid}/{seat} at {price}) on "
                                      f"{self.balance} answered {r!r}")
                    self.balance = j.get("balanceAfter", self.balance) + price  # report a drift once
                self.balance -= price
                del self.holds[rid]
                return True
            if r.status == 400 and r.code in ("INSUFFICIENT_BALANCE", "INVALID_RESERVATION"):
                if unknown:
                    self.load.count("unknown payments resolved by replay: not done")
                if r.code == "INVALID_RESERVATION":
                    if expires_at is not None and answered < expires_at:
                        self.load.problem(
                            f"fan {self.user}: payment of the acknowledged hold {rid} ({cid}/{seat}) answered "
                            f"INVALID_RESERVATION {expires_at - answered:.1f}s before its expiresAt: the hold "
                            f"was lost: {r!r}")
                    elif expires_at is None:
                        self.load.count("payments of holds learnt from a 409 refused INVALID_RESERVATION")
                    else:
                        self.load.count("holds expired before their payment")
                    self.holds.pop(rid, None)
                elif r.json.get("currentBalance") != self.balance:
                    self.load.problem(f"fan {self.user}: INSUFFICIENT_BALANCE with {self.balance} acknowledged: {r!r}")
                    self.balance = r.json.get("currentBalance", self.balance)
                return False
            if r.status == 503:
                if not unknown:
                    key = uuid.uuid4().hex
                    self.pause_point()
                self.backoff()
                continue
            if r.status == 409 and r.code == "IDEMPOTENCY_KEY_IN_USE":
                self.backoff()
                continue
            if self.token_lost(r, f"payment of {rid}"):
                continue
        if unknown:
            self.load.problem(f"fan {self.user}: outcome of payment of {rid} (key {key}) still unknown "
                              f"after {RETRY_DEADLINE}s")
            raise FanFailed("unresolved payment")
        return False

    def cancel(self, rid):
        unknown = False
        deadline = self.retry_deadline()
        path = f"/api/reservations/{quote(rid, safe='')}"
        self.load.letting_go(rid)
        while time.monotonic() < deadline:
            r = self.send("DELETE", path)
            if isinstance(r, Unknown) or r.status == 503:
                unknown |= isinstance(r, Unknown) and r.sent
                self.pause_point()  # a hold is no money: the fan may park with this open
                self.backoff()
                continue
            if r.status == 200:
                self.holds.pop(rid, None)
                return
            if r.status == 409 and r.code == "RESERVATION_NOT_CANCELLABLE":
                g = self.send("GET", path)
                if isinstance(g, Unknown) or g.status == 503:
                    self.backoff()
                    continue
                status = g.get("status")
                if status == "EXPIRED" or (status == "CANCELLED" and unknown):
                    self.holds.pop(rid, None)
                    return
                self.load.problem(f"fan {self.user}: cancel of an unpaid hold {rid} refused, it reads {g!r}")
                self.holds.pop(rid, None)
                return
            if self.token_lost(r, f"cancel of {rid}"):
                continue
        self.load.count("cancels left unresolved")

    def cancel_all(self):
        for rid in list(self.holds):
            self.cancel(rid)

    def flow(self):
        """token, charge when short, hold one or two seats, pay them (or cancel one in four)."""
        if self.token is None:
            self.ensure_token()
        if self.load.stop_event.is_set():
            return
        if self.balance < 300_000:
            self.charge(self.rnd.choice([100_000, 200_000, 300_000, 500_000]))
            self.pause_point()
        held = []
        for _ in range(2 if self.rnd.random() < 0.3 else 1):
            got = self.hold()
            if got:
                held.append(got[0])
                self.pause_point()
        paid = False
        for rid in held:
            if self.rnd.random() < 0.25:
                self.cancel(rid)
            elif self.pay(rid):
                paid = True  # the token is spent, and still serves the second seat for its grace
            else:
                if rid in self.holds:
                    self.cancel(rid)
            self.pause_point()
        if paid:
            self.token = None

    def run(self):
        end = time.monotonic() + self.load.duration
        try:
            for _ in range(self.load.max_flows):
                if self.load.stop_event.is_set() or time.monotonic() > end:
                    break
                self.pause_point()
                self.flow()
                self.load.count("flows")
        except FanFailed as e:
            self.load.problem(str(e))
        except Exception:  # noqa: BLE001 - reported, never silent
            self.load.problem(f"fan {self.user} crashed:\n{traceback.format_exc()}")
        finally:
            self.load.gate.leave(self.idx)


def make_concerts(srv: Server, count=3, seats=200, seed=0) -> dict[int, dict[int, int]]:
    """Concerts with random seat prices: {concertId: {seat: price}}."""
    rnd = random.Random(seed)
    out = {}
    for _ in range(count):
        prices = [rnd.choice(PRICES) for _ in range(seats)]
        cid = create_concert(srv, prices=prices)
        out[cid] = {i + 1: p for i, p in enumerate(prices)}
    return out
