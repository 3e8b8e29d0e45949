"""The waiting room of a real on-sale: admission settings at run time (GET/POST /api/admin/queue),
pause, the outflow cap, the pre-queue and its drawn opening (checked with
scripts/audit-opening.py), signed tokens and key rotation; and the same on three instances
sharing PostgreSQL and Redis (those run only with CONCERTD_TEST_ENGINE=distributed).
"""
import base64
import datetime as _dt
import hashlib
import hmac
import os
import re
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import backends
from support import (ADMIN_KEY, REPO, TS_SLACK, WITHIN_1S, admin_queue, clean_env, expect, expect_bad_request,
                     free_port, hold, is_int, issue, parse_ts, require_binary, spend_by_paying, status_of, uid,
                     wait_until)

AUDITOR = REPO / "scripts" / "audit-opening.py"
SETTINGS = ("maxActive", "admitPerMinute", "paused", "opensAt")
ROOM_KEYS = {"waiting", "active", "preQueue", "maxActive", "admittedPerMinute", "paused", "admitPerMinute",
             "opensAt", "openedAt", "shuffleSeed"}
SEED_RE = re.compile(r"^[0-9a-fA-F]{64}$")
ACTIVE_TTL = 600  # the default --active-ttl: a token's activation is its activeUntil - ACTIVE_TTL
SECRET_A = "secret-a-0123456789"
SECRET_B = "0123456789abcdef"  # exactly 16 bytes: the shortest secret allowed
KEY_B = "b234567890abcdef"  # 16 characters: the longest key id allowed

distributed_only = pytest.mark.skipif(not (backends.uses_postgres() and backends.uses_redis()),
                                      reason="needs --postgres and --redis (CONCERTD_TEST_ENGINE=distributed)")


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def rfc3339(posix: float) -> str:
    d = _dt.datetime.fromtimestamp(posix, _dt.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"


def post_room(srv, body=None, raw=None, headers=None):
    return srv.post("/api/admin/queue", body, raw=raw, headers=srv.admin_headers() if headers is None else headers)


def set_room(srv, **fields) -> dict:
    state = expect(post_room(srv, fields), 200)
    assert set(state) >= ROOM_KEYS, state
    for k, v in fields.items():
        if k != "opensAt" or v is None or v.endswith(".000Z"):
            assert state[k] == v, (k, v, state)
    return state


def settings_of(state: dict) -> dict:
    return {k: state[k] for k in (*SETTINGS, "openedAt", "shuffleSeed")}


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def claims(token: str) -> list[str]:
    """t1|key id|token id|issued ms|user id"""
    return b64url_decode(token.split(".", 1)[0]).decode().split("|")


def token_id(token: str) -> str:
    return claims(token)[2]


def audit(srv, tokens, *extra) -> list[str]:
    """The ids in the order scripts/audit-opening.py draws them (tokens on stdin)."""
    p = subprocess.run([str(AUDITOR), "--url", f"http://{srv.host}:{srv.port}", "--admin-key", srv.admin_key,
                        *extra], input="\n".join(tokens) + "\n", capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, f"audit-opening.py failed: {p.stderr}"
    rows = [line.split("\t") for line in p.stdout.splitlines()]
    assert [int(place) for place, _ in rows] == list(range(1, len(rows) + 1)), p.stdout[:500]
    return [i for _, i in rows]


def issue_many(nodes, users, workers=16) -> list:
    """POST /api/queue/token for every user, round robin over `nodes`; the Resp of each."""
    def one(i):
        return nodes[i % len(nodes)].post("/api/queue/token", {"userId": users[i]})

    with ThreadPoolExecutor(max_workers=workers) as ex:
        return list(ex.map(one, range(len(users))))


def positions_until(answer, tokens, expected: dict, timeout, workers=16) -> dict:
    """Status of every token (answer(i) is the node that answers token i) until each shows its
    expected position or the deadline passes (a position may lag by up to a second); the last
    answers seen, token -> body."""
    seen = {}
    todo = list(range(len(tokens)))
    deadline = time.monotonic() + timeout

    def one(i):
        return i, expect(status_of(answer(i), tokens[i]), 200)

    with ThreadPoolExecutor(max_workers=workers) as ex:
        for rounds in range(1, 1_000_000):
            for i, body in ex.map(one, todo):
                seen[tokens[i]] = body
            todo = [i for i in todo if seen[tokens[i]].get("position") != expected[tokens[i]]]
            # (a first round slower than the deadline still gets one more look at what it saw early)
            if not todo or (time.monotonic() >= deadline and rounds >= 2):
                return seen
            time.sleep(0.1)


def rank_correlation(tokens, seen) -> float:
    """Spearman's rho between issue time (ties broken by token id) and position: about 1 if
    the line were FIFO, about 0 (+- 1/sqrt(n)) for a uniformly random draw."""
    by_issue = sorted(tokens, key=lambda t: (int(claims(t)[3]), token_id(t)))
    by_pos = sorted(tokens, key=lambda t: seen[t]["position"])
    n = len(tokens)
    r1 = {t: k for k, t in enumerate(by_issue)}
    r2 = {t: k for k, t in enumerate(by_pos)}
    return 1 - 6 * sum((r1[t] - r2[t]) ** 2 for t in tokens) / (n * (n * n - 1))


def check_drawn_positions(seen: dict, tokens, expected: dict):
    wrong = [(token_id(t), seen[t], expected[t]) for t in tokens if seen[t].get("position") != expected[t]]
    assert not wrong, f"{len(wrong)} of {len(tokens)} tokens are not at their drawn place; first: {wrong[:3]}"
    assert all(seen[t]["status"] == "waiting" for t in tokens)


def wait_opened(srv, timeout) -> dict:
    return wait_until(lambda: (lambda q: q if q["openedAt"] is not None else None)(admin_queue(srv)),
                      timeout, "the opening to run")


def run_binary(args, env=None, timeout=15):
    with tempfile.TemporaryDirectory(prefix="concertd-cli-") as tmp:
        e = clean_env()
        e.update(env or {})
        try:
            return subprocess.run([require_binary(), *args], cwd=tmp, env=e, stdin=subprocess.DEVNULL,
                                  capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"`concertd {' '.join(args)}` did not exit within {timeout}s")


def start_cluster(make_server, count, *flags):
    """`count` instances on one fresh database and Redis database (as test_multi_instance)."""
    b = backends.shared()
    shared = ["--postgres", b.new_database(), "--redis", b.new_redis(), *flags]
    nodes = [make_server(*shared) for _ in range(count)]
    for n in nodes[1:]:
        n.ledger = nodes[0].ledger
    return nodes


def wait_everywhere(nodes, pred, what, since=None, within=1.0, timeout=10.0):
    """Polls GET /api/admin/queue on every node until pred(state) holds on all of them. It must
    hold `within` seconds of `since` (time.time() once the change was acknowledged; default: now):
    a node that answers otherwise to a GET sent later than that fails the test, however long the
    polling takes; `timeout` only ends the wait."""
    since = time.time() if since is None else since
    done = set()

    def probe():
        for i, n in enumerate(nodes):
            if i in done:
                continue
            sent = time.time()
            q = admin_queue(n)
            if pred(q):
                done.add(i)
            else:
                assert sent <= since + within + TS_SLACK, \
                    f"{what}: instance {i} still answers {settings_of(q)} {sent - since:.3f} s after the change"
        return len(done) == len(nodes)

    wait_until(probe, timeout, lambda: f"{what}: {[settings_of(admin_queue(n)) for n in nodes]}")


def still_for(seconds, probe, what):
    """probe() must hold at every poll for `seconds` (a state that must not change)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        assert probe(), what
        time.sleep(0.1)


# ---------------------------------------------------------------------------------------------
# settings
# ---------------------------------------------------------------------------------------------
def test_room_state_shape_and_each_setting(make_server):
    srv = make_server("--max-active", "100")
    q = admin_queue(srv)
    assert set(q) >= ROOM_KEYS, q
    assert (q["maxActive"], q["paused"], q["admitPerMinute"], q["opensAt"], q["openedAt"], q["shuffleSeed"]) \
        == (100, False, None, None, None, None), q
    for k in ("waiting", "active", "preQueue", "admittedPerMinute"):
        assert is_int(q[k]) and q[k] == 0, q

    # (null first: with nothing pending it just stays null; clearing a pending opensAt opens
    # the line now, see test_clearing_opens_at_opens_the_line_now)
    for fields in ({"opensAt": None}, {"maxActive": 7}, {"maxActive": 1}, {"maxActive": 1_000_000},
                   {"admitPerMinute": 120}, {"admitPerMinute": 1}, {"admitPerMinute": 1_000_000},
                   {"admitPerMinute": None},
                   {"paused": True}, {"paused": False}, {"opensAt": "2030-01-01T00:00:00.000Z"},
                   {"opensAt": "2030-06-01T12:00:00.000Z"}):
        before = admin_queue(srv)
        state = set_room(srv, **fields)
        assert state == {**before, **fields}, f"POST {fields} must change only that: {before} -> {state}"
        assert admin_queue(srv) == state
    # a numeric offset is converted to UTC
    state = set_room(srv, opensAt="2030-01-01T09:00:00+09:00")
    assert state["opensAt"] == "2030-01-01T00:00:00.000Z", state
    # several at once; the answer is the whole state
    state = set_room(srv, maxActive=42, admitPerMinute=600, paused=True, opensAt="2031-02-03T04:05:06.789Z")
    assert state == admin_queue(srv), state
    assert settings_of(state) == {"maxActive": 42, "admitPerMinute": 600, "paused": True,
                                  "opensAt": "2031-02-03T04:05:06.789Z", "openedAt": None, "shuffleSeed": None}


BAD_SETTINGS = [
    ({"maxActive": -1}, "maxActive"), ({"maxActive": 0}, "maxActive"), ({"maxActive": 1_000_001}, "maxActive"),
    ({"maxActive": 10 ** 20}, "maxActive"), ({"maxActive": 5.0}, "maxActive"), ({"maxActive": "5"}, "maxActive"),
    ({"maxActive": None}, "maxActive"), ({"maxActive": True}, "maxActive"),
    ({"admitPerMinute": 0}, "admitPerMinute"), ({"admitPerMinute": 1_000_001}, "admitPerMinute"),
    ({"admitPerMinute": -60}, "admitPerMinute"), ({"admitPerMinute": 1.5}, "admitPerMinute"),
    ({"admitPerMinute": "60"}, "admitPerMinute"),
    ({"paused": "true"}, "paused"), ({"paused": 1}, "paused"), ({"paused": None}, "paused"),
    ({"opensAt": "tomorrow"}, "opensAt"), ({"opensAt": "2026-13-01T00:00:00Z"}, "opensAt"),
    ({"opensAt": 123}, "opensAt"), ({"opensAt": "2030-01-01"}, "opensAt"),
    ({"opensAt": "2030-01-01T00:00:00"}, "opensAt"), ({"opensAt": True}, "opensAt"),
    ({"maxActive": 5, "paused": "yes"}, "paused"),
]


def test_malformed_settings_are_400_and_change_nothing(make_server):
    srv = make_server()
    before = set_room(srv, maxActive=7, admitPerMinute=99, paused=True, opensAt="2030-01-01T00:00:00.000Z")
    for body, field in BAD_SETTINGS:
        expect_bad_request(post_room(srv, body), field)
        assert admin_queue(srv) == before, f"{body} changed the state"
    for raw in ('{"maxActive":1e5}', '{"maxActive":5.0}', '[]', '"x"', '5', 'null', '{"maxActive":', ''):
        r = post_room(srv, raw=raw)
        expect_bad_request(r, "maxActive" if "maxActive" in raw else None, require_field=False)
        assert admin_queue(srv) == before, f"{raw!r} changed the state"
    for headers in ({}, {"X-Admin-Key": "wrong-key"}):
        expect(post_room(srv, {"paused": False, "maxActive": 3}, headers=headers), 401, "ADMIN_KEY_REQUIRED")
        expect(srv.get("/api/admin/queue", headers=headers), 401, "ADMIN_KEY_REQUIRED")
    assert admin_queue(srv) == before


def test_settings_survive_a_restart_and_an_explicit_flag_overrides(make_server):
    srv = make_server()
    assert admin_queue(srv)["maxActive"] == 100
    set_room(srv, maxActive=7, admitPerMinute=30, paused=True, opensAt="2030-01-01T00:00:00.000Z")
    before = settings_of(admin_queue(srv))
    srv.restart()
    assert settings_of(admin_queue(srv)) == before
    # an explicit --max-active wins at that start, and is what the store keeps afterwards
    srv.args += ["--max-active", "3"]
    srv.restart()
    assert settings_of(admin_queue(srv)) == {**before, "maxActive": 3}
    del srv.args[-2:]
    srv.restart()
    assert settings_of(admin_queue(srv)) == {**before, "maxActive": 3}
    # so does the environment; a later POST changes it again
    srv.env_extra["CONCERTD_MAX_ACTIVE"] = "4"
    srv.restart()
    assert admin_queue(srv)["maxActive"] == 4
    set_room(srv, maxActive=9)
    del srv.env_extra["CONCERTD_MAX_ACTIVE"]
    srv.restart()
    assert settings_of(admin_queue(srv)) == {**before, "maxActive": 9}


# ---------------------------------------------------------------------------------------------
# pause and cap
# ---------------------------------------------------------------------------------------------
def test_pause_keeps_places_and_resume_admits(make_server):
    srv = make_server("--max-active", "1")
    a_user = uid("head")
    a = issue(srv, a_user)
    assert a["status"] == "active"
    b = expect(srv.post("/api/queue/token", {"userId": uid("b")}), 201, status="waiting", queuePosition=1)
    c = expect(srv.post("/api/queue/token", {"userId": uid("c")}), 201, status="waiting", queuePosition=2)
    assert set_room(srv, paused=True)["paused"] is True
    spend_by_paying(srv, a_user, a["token"])  # frees the only slot
    d = expect(srv.post("/api/queue/token", {"userId": uid("d")}), 201, status="waiting", queuePosition=3)

    def unchanged():
        got = [expect(status_of(srv, t["token"]), 200) for t in (b, c, d)]
        q = admin_queue(srv)
        return [(g["status"], g["position"]) for g in got] == [("waiting", 1), ("waiting", 2), ("waiting", 3)] \
            and (q["active"], q["waiting"]) == (0, 3)

    still_for(WITHIN_1S + 0.5, unchanged, "paused: nobody may be admitted and the places must stay")
    resume_sent = time.time()
    set_room(srv, paused=False)
    resumed = time.time()  # the server took the resume between these two

    def b_active():
        st = expect(status_of(srv, b["token"]), 200)
        return st if st["status"] == "active" else None

    body = wait_until(b_active, 10, "b to be admitted")
    # by the server's clock (activeUntil - active-ttl): the setting applies within a second, and the
    # admission of the head of the line follows within another
    admitted = parse_ts(body["activeUntil"]) - ACTIVE_TTL
    assert resume_sent - TS_SLACK <= admitted <= resumed + 2 + TS_SLACK, \
        f"b admitted {admitted - resumed:+.3f} s after the resume was answered"
    assert expect(status_of(srv, c["token"]), 200, status="waiting")["position"] == 1
    assert expect(status_of(srv, d["token"]), 200, status="waiting")["position"] == 2


def count_admissions(nodes, users, seconds):
    """Issues `users` round robin over `nodes`, then follows the active count for `seconds`:
    [(seconds since the first issue, active)]."""
    t0 = time.monotonic()
    for r in issue_many(nodes, users, workers=8):
        assert r.status == 201, r
    samples = []
    while True:
        elapsed = time.monotonic() - t0
        q = admin_queue(nodes[len(samples) % len(nodes)])
        samples.append((elapsed, q["active"], q))
        if elapsed >= seconds:
            return samples
        time.sleep(0.1)


def check_one_per_second(samples, total):
    for elapsed, active, q in samples:
        # at most the bucket's one admission at the start, then one a second (+ slack for polling)
        assert active <= 1 + elapsed + 2, f"{active} admitted after {elapsed:.1f} s at 60 per minute: {q}"
        assert q["active"] + q["waiting"] == total, q
    elapsed, active, q = samples[-1]
    assert active >= 2, f"the line must still move under a cap: {active} admitted after {elapsed:.1f} s: {q}"
    assert q["admittedPerMinute"] == active, q


def test_admit_per_minute_caps_admissions(make_server):
    srv = make_server("--max-active", "1000")
    set_room(srv, admitPerMinute=60)
    users = [uid("cap") for _ in range(20)]
    samples = count_admissions([srv], users, 3.0)
    check_one_per_second(samples, 20)
    # the estimate uses the cap (1/s) when it is lower than the observed rate (< 5 admissions:
    # max-active / active-ttl = 1000/600 per second)
    tok = issue(srv, users[-1])
    st = expect(status_of(srv, tok["token"]), 200)
    if st["status"] == "waiting":
        assert st["estimatedWaitSeconds"] == st["position"], st
    # lifting the cap lets everyone in at once
    set_room(srv, admitPerMinute=None)
    wait_until(lambda: admin_queue(srv)["active"] == 20, 2.5, "everyone to be admitted without a cap")


# ---------------------------------------------------------------------------------------------
# pre-queue and the drawn opening
# ---------------------------------------------------------------------------------------------
def test_opening_places_the_pre_queue_in_the_drawn_order(make_server):
    n = 300
    srv = make_server("--max-active", "1")
    assert issue(srv, uid("head"))["status"] == "active"  # holds the only slot: nobody is admitted
    early = [expect(srv.post("/api/queue/token", {"userId": uid("early")}), 201, queuePosition=i)["token"]
             for i in (1, 2)]
    far = "2030-01-01T00:00:00.000Z"
    set_room(srv, opensAt=far)
    users = [uid("fan") for _ in range(n)]
    tokens = []
    for user, r in zip(users, issue_many([srv], users)):
        body = expect(r, 201, userId=user, status="pre_queue", opensAt=far)
        assert "queuePosition" not in body and is_int(body["pollAfterSeconds"]), body
        parse_ts(body["issuedAt"])
        tokens.append(body["token"])
    assert len({token_id(t) for t in tokens}) == n
    # asking again gives the same token; status and protected endpoints
    for user, token in list(zip(users, tokens))[:3]:
        expect(srv.post("/api/queue/token", {"userId": user}), 200, token=token, status="pre_queue")
        st = expect(status_of(srv, token), 200, status="pre_queue", opensAt=far)
        assert is_int(st["pollAfterSeconds"]) and "position" not in st, st
        expect(hold(srv, token, 1, 1), 403, "TOKEN_NOT_ACTIVE", position=0)
    q = admin_queue(srv)
    assert (q["preQueue"], q["waiting"], q["active"], q["shuffleSeed"], q["openedAt"]) == (n, 2, 1, None, None), q

    opens = rfc3339(time.time() + 1.5)
    set_room(srv, opensAt=opens)
    expect(status_of(srv, tokens[0]), 200, status="pre_queue", opensAt=opens)
    q = wait_opened(srv, 1.5 + 3)
    assert parse_ts(q["openedAt"]) >= parse_ts(opens), q
    assert q["opensAt"] == opens and SEED_RE.match(q["shuffleSeed"] or ""), q
    assert (q["preQueue"], q["waiting"], q["active"]) == (0, n + 2, 1), q
    assert q["shuffleSeed"].lower() in srv.log_text().lower(), "the seed must be logged"

    order = audit(srv, tokens)
    assert sorted(order) == sorted(token_id(t) for t in tokens)
    place = {i: p for p, i in enumerate(order, 1)}
    expected = {t: 2 + place[token_id(t)] for t in tokens}  # behind the two already waiting
    seen = positions_until(lambda i: srv, tokens, expected, WITHIN_1S)
    check_drawn_positions(seen, tokens, expected)
    assert sorted(seen[t]["position"] for t in tokens) == list(range(3, n + 3))
    rho = rank_correlation(tokens, seen)
    assert abs(rho) < 0.3, f"places follow the issue order (Spearman rho {rho:.2f}): not a uniform draw"
    assert [expect(status_of(srv, t), 200)["position"] for t in early] == [1, 2]
    # the auditor gives the same order from bare ids in a file and the seed given by hand
    with tempfile.NamedTemporaryFile("w", suffix=".ids", delete=False) as f:
        f.write("\n".join(token_id(t) for t in reversed(tokens[:50])) + "\n")
    try:
        p = subprocess.run([str(AUDITOR), "--seed", q["shuffleSeed"], f.name], capture_output=True, text=True,
                           timeout=60, check=True)
    finally:
        os.unlink(f.name)
    assert [line.split("\t")[1] for line in p.stdout.splitlines()] == \
        [i for i in order if i in {token_id(t) for t in tokens[:50]}]
    # FIFO after the opening: a late arrival is behind all of them
    late = expect(srv.post("/api/queue/token", {"userId": uid("late")}), 201, status="waiting")
    assert late["queuePosition"] == n + 3, late
    assert expect(status_of(srv, late["token"]), 200)["position"] == n + 3


def test_clearing_opens_at_opens_the_line_now(make_server):
    srv = make_server("--max-active", "100")
    set_room(srv, opensAt="2030-01-01T00:00:00.000Z")
    toks = [expect(srv.post("/api/queue/token", {"userId": uid("pre")}), 201, status="pre_queue")["token"]
            for _ in range(5)]
    clear_sent = time.time()
    expect(post_room(srv, {"opensAt": None}), 200)
    cleared = time.time()  # the server took the clear between these two

    def all_active():
        bodies = [expect(status_of(srv, t), 200) for t in toks]
        return bodies if all(b["status"] == "active" for b in bodies) else None

    bodies = wait_until(all_active, 10, "the pre-queue to be let in once opensAt is cleared")
    q = admin_queue(srv)
    assert q["openedAt"] is not None and SEED_RE.match(q["shuffleSeed"] or ""), q
    # by the server's clock: the opening ran after the clear, and let everyone in within a second
    opened = parse_ts(q["openedAt"])
    assert clear_sent - TS_SLACK <= opened, q
    for b in bodies:
        admitted = parse_ts(b["activeUntil"]) - ACTIVE_TTL
        assert opened - TS_SLACK <= admitted <= cleared + 1 + TS_SLACK, \
            f"admitted {admitted - cleared:+.3f} s after opensAt was cleared (opened {opened - cleared:+.3f} s): " \
            f"must be within a second: {b}"
    assert expect(srv.post("/api/queue/token", {"userId": uid("after")}), 201)["status"] == "active"
    # with nothing pending, null just clears it
    assert set_room(srv, opensAt=None)["opensAt"] is None


# ---------------------------------------------------------------------------------------------
# signed tokens
# ---------------------------------------------------------------------------------------------
def protected_answers(srv, token):
    return [status_of(srv, token), hold(srv, token, 999_999, 1), srv.get("/api/reservations/x", token=token)]


def assert_rejected(nodes, token, what):
    for node in nodes:
        for r in protected_answers(node, token):
            assert r.status == 401 and r.code == "INVALID_TOKEN", f"{what} on port {node.port}: {r!r}"


def assert_accepted(nodes, token):
    for node in nodes:
        st, held, res = protected_answers(node, token)
        expect(st, 200, status="active")
        expect(held, 404, "CONCERT_NOT_FOUND")
        expect(res, 404, "RESERVATION_NOT_FOUND")


def resign(token, secret, mac_over_text):
    payload = token.split(".", 1)[0]
    msg = payload.encode() if mac_over_text else b64url_decode(payload)
    return payload + "." + b64url(hmac.new(secret.encode(), msg, hashlib.sha256).digest())


def forgeries(token, secret):
    """Variants of a live token that no key of the server signed."""
    payload, sig = token.split(".", 1)
    # the MAC covers the payload (its base64url text or its bytes): find which by re-signing
    over_text = resign(token, secret, True) == token
    assert over_text or resign(token, secret, False) == token, "token is not <payload>.<HMAC-SHA256> as documented"
    k = 10
    flipped = sig[:k] + ("A" if sig[k] != "A" else "B") + sig[k + 1:]
    f = claims(token)
    other_user = b64url("|".join([*f[:4], f[4] + "x"]).encode())
    other_key = b64url("|".join([f[0], "zz", *f[2:]]).encode())
    return {
        "one signature character flipped": payload + "." + flipped,
        "signed with another secret under the same key id": resign(token, "another-secret-0123456789", over_text),
        "bare token id (unsigned, legacy-looking)": f[2],
        "payload changed (user), signature kept": other_user + "." + sig,
        "unknown key id": resign(other_key + "." + sig, secret, over_text),
    }


def test_forged_tokens_are_401(make_server):
    srv = make_server("--token-keys", f"k1:{SECRET_A}", "--max-active", "10")
    token = issue(srv, uid("real"))["token"]
    assert claims(token)[0:2] == ["t1", "k1"] and len(token) <= 256
    assert_accepted([srv], token)
    for what, forged in forgeries(token, SECRET_A).items():
        assert forged != token
        assert_rejected([srv], forged, what)
    assert_accepted([srv], token)


def test_tokens_survive_a_restart(make_server):
    srv = make_server("--max-active", "1")
    head_user = uid("head")
    head = issue(srv, head_user)["token"]
    waiting = [(u, issue(srv, u)["token"]) for u in (uid("w1"), uid("w2"))]
    srv.restart()
    expect(status_of(srv, head), 200, status="active")
    for pos, (user, token) in enumerate(waiting, 1):
        expect(status_of(srv, token), 200, status="waiting", position=pos)
        expect(srv.post("/api/queue/token", {"userId": user}), 200, token=token, queuePosition=pos)
    expect(srv.post("/api/queue/token", {"userId": head_user}), 200, token=head, status="active")


def test_key_rotation(make_server):
    srv = make_server("--token-keys", f"a:{SECRET_A}", "--max-active", "1")
    head = issue(srv, uid("head"))["token"]
    w = expect(srv.post("/api/queue/token", {"userId": uid("w")}), 201, queuePosition=1)["token"]
    user = uid("u")
    old = expect(srv.post("/api/queue/token", {"userId": user}), 201, queuePosition=2)["token"]
    assert {claims(t)[1] for t in (head, w, old)} == {"a"}

    srv.args = ["--token-keys", f"{KEY_B}:{SECRET_B},a:{SECRET_A}", "--max-active", "1"]
    srv.restart()
    expect(status_of(srv, head), 200, status="active")
    expect(status_of(srv, w), 200, status="waiting", position=1)
    expect(status_of(srv, old), 200, status="waiting", position=2)
    new = expect(srv.post("/api/queue/token", {"userId": uid("n")}), 201, queuePosition=3)["token"]
    assert claims(new)[1] == KEY_B, claims(new)
    expect(status_of(srv, new), 200, status="waiting", position=3)

    srv.args = ["--token-keys", f"{KEY_B}:{SECRET_B}", "--max-active", "1"]
    srv.restart()
    for t in (head, w, old):
        expect(status_of(srv, t), 401, "INVALID_TOKEN")
        expect(hold(srv, t, 1, 1), 401, "INVALID_TOKEN")
    expect(status_of(srv, new), 200, status="waiting", position=3)
    again = expect(srv.post("/api/queue/token", {"userId": user}), 200, status="waiting", queuePosition=2)
    assert again["token"] != old and claims(again["token"])[1] == KEY_B, again
    expect(status_of(srv, again["token"]), 200, status="waiting", position=2)


@pytest.mark.parametrize("keys", [
    "nocolon", "", "a:", ":0123456789abcdef", "a:0123456789abcde",
    f"a:{SECRET_A},a:{SECRET_B}", "x" * 17 + f":{SECRET_A}", f"a b:{SECRET_A}", f"a:{SECRET_A},",
], ids=lambda k: k or "empty")
def test_malformed_token_keys_exit_2(keys):
    base = ["serve", "--host", "127.0.0.1", "--port", str(free_port()), "--admin-key", ADMIN_KEY]
    with tempfile.TemporaryDirectory(prefix="concertd-cli-data-") as data:
        p = run_binary([*base, "--data-dir", data, "--token-keys", keys])
        out = (p.stdout + p.stderr).decode("utf-8", "replace")
        assert p.returncode == 2, f"--token-keys {keys!r}: exit {p.returncode}:\n{out}"
        assert "token-keys" in out.lower() or "token_keys" in out.lower(), out
    if keys == "":
        return  # an empty environment variable counts as unset, as for every other flag
    with tempfile.TemporaryDirectory(prefix="concertd-cli-data-") as data:
        p = run_binary([*base, "--data-dir", data], env={"CONCERTD_TOKEN_KEYS": keys})
        assert p.returncode == 2, f"CONCERTD_TOKEN_KEYS={keys!r}: exit {p.returncode}:\n{p.stdout + p.stderr}"


# ---------------------------------------------------------------------------------------------
# three instances on one PostgreSQL and one Redis
# ---------------------------------------------------------------------------------------------
@distributed_only
def test_cluster_setting_applies_on_every_instance_within_a_second(make_server):
    nodes = start_cluster(make_server, 3)
    for i, fields in enumerate(({"maxActive": 17}, {"admitPerMinute": 90}, {"paused": True},
                                {"opensAt": "2030-01-01T00:00:00.000Z"}, {"paused": False, "admitPerMinute": None})):
        set_room(nodes[i % 3], **fields)
        wait_everywhere(nodes, lambda q: all(q[k] == v for k, v in fields.items()), f"{fields} everywhere",
                        since=time.time())
    states = [settings_of(admin_queue(n)) for n in nodes]
    assert states[0] == states[1] == states[2] == {"maxActive": 17, "admitPerMinute": None, "paused": False,
                                                   "opensAt": "2030-01-01T00:00:00.000Z", "openedAt": None,
                                                   "shuffleSeed": None}


@distributed_only
def test_cluster_opening_draws_one_order(make_server):
    n = 2000
    nodes = start_cluster(make_server, 3, "--max-active", "1")
    assert issue(nodes[0], uid("head"))["status"] == "active"
    far = "2030-01-01T00:00:00.000Z"
    set_room(nodes[1], opensAt=far)
    wait_everywhere(nodes, lambda q: q["opensAt"] == far, "opensAt everywhere")
    users = [uid("fan") for _ in range(n)]
    tokens = [expect(r, 201, status="pre_queue")["token"] for r in issue_many(nodes, users, workers=24)]
    assert len({token_id(t) for t in tokens}) == n
    for i in range(3):  # asking again, on another instance: the same token
        expect(nodes[(i + 1) % 3].post("/api/queue/token", {"userId": users[i]}), 200, token=tokens[i])
    wait_everywhere(nodes, lambda q: (q["preQueue"], q["waiting"]) == (n, 0), "the pre-queue count", within=WITHIN_1S)

    opens = rfc3339(time.time() + 1.5)
    set_room(nodes[2], opensAt=opens)
    for node in nodes:
        wait_opened(node, 1.5 + 3)
    qs = [admin_queue(node) for node in nodes]
    seed = qs[0]["shuffleSeed"]
    assert SEED_RE.match(seed or "") and all(q["shuffleSeed"] == seed and q["openedAt"] == qs[0]["openedAt"]
                                             for q in qs), [settings_of(q) for q in qs]
    logged = sum(node.log_text().count(seed) for node in nodes)
    assert logged >= 1, "the seed must be logged"

    order = audit(nodes[1], tokens)
    place = {i: p for p, i in enumerate(order, 1)}
    expected = {t: place[token_id(t)] for t in tokens}
    seen = positions_until(lambda i: nodes[(i + 1) % 3], tokens, expected, WITHIN_1S, workers=24)
    check_drawn_positions(seen, tokens, expected)
    assert sorted(b["position"] for b in seen.values()) == list(range(1, n + 1))
    rho = rank_correlation(tokens, seen)
    assert abs(rho) < 0.15, f"places follow the issue order (Spearman rho {rho:.2f}): not a uniform draw"
    # the same place whatever instance answers
    sample = tokens[::10]
    for k in (0, 2):
        again = positions_until(lambda i: nodes[(i + k) % 3], sample, expected, WITHIN_1S, workers=24)
        check_drawn_positions(again, sample, expected)
    # late arrivals, FIFO behind the whole pre-queue
    for k, node in enumerate(nodes, 1):
        late = expect(node.post("/api/queue/token", {"userId": uid("late")}), 201, status="waiting")
        assert late["queuePosition"] == n + k, late
    wait_everywhere(nodes, lambda q: (q["preQueue"], q["waiting"], q["active"]) == (0, n + 3, 1),
                    "every token placed exactly once", within=WITHIN_1S)


@distributed_only
def test_cluster_cap_is_one_budget(make_server):
    nodes = start_cluster(make_server, 3, "--max-active", "1000")
    set_room(nodes[0], admitPerMinute=60)
    wait_everywhere(nodes, lambda q: q["admitPerMinute"] == 60, "the cap everywhere")
    samples = count_admissions(nodes, [uid("cap") for _ in range(20)], 3.0)
    check_one_per_second(samples, 20)


@distributed_only
def test_cluster_pause_on_one_instance_stops_all(make_server):
    nodes = start_cluster(make_server, 3, "--max-active", "1")
    head_user = uid("head")
    head = issue(nodes[0], head_user)["token"]
    waiting = [expect(nodes[i].post("/api/queue/token", {"userId": uid("w")}), 201, queuePosition=i)["token"]
               for i in (1, 2)]
    set_room(nodes[1], paused=True)
    wait_everywhere(nodes, lambda q: q["paused"], "paused everywhere")
    spend_by_paying(nodes[0], head_user, head)

    def unchanged():
        for k, node in enumerate(nodes):
            st = [expect(status_of(node, t), 200) for t in waiting]
            if [(s["status"], s.get("position")) for s in st] != [("waiting", 1), ("waiting", 2)]:
                return False
            q = admin_queue(node)
            if (q["active"], q["waiting"]) != (0, 2):
                return False
        return True

    still_for(WITHIN_1S + 0.5, unchanged, "paused on one instance: no instance may admit, places stay")
    set_room(nodes[2], paused=False)
    wait_until(lambda: expect(status_of(nodes[0], waiting[0]), 200)["status"] == "active", 2.5,
               "the head of the line to be admitted after resume")
    expect(status_of(nodes[1], waiting[1]), 200, status="waiting", position=1)


@distributed_only
def test_cluster_rejects_forged_tokens_everywhere_and_keeps_tokens_over_a_restart(make_server):
    nodes = start_cluster(make_server, 3, "--max-active", "2", "--token-keys", f"k1:{SECRET_A}")
    token = issue(nodes[0], uid("real"))["token"]
    assert_accepted(nodes, token)
    for what, forged in forgeries(token, SECRET_A).items():
        assert_rejected(nodes, forged, what)
    # tokens (active and waiting) survive a restart of the instance that issued them
    issue(nodes[1], uid("second"))
    waiting_user = uid("w")
    waiting = expect(nodes[1].post("/api/queue/token", {"userId": waiting_user}), 201, queuePosition=1)["token"]
    nodes[1].restart()
    for node in nodes:
        expect(status_of(node, waiting), 200, status="waiting", position=1)
    assert_accepted(nodes, token)
    expect(nodes[1].post("/api/queue/token", {"userId": waiting_user}), 200, token=waiting, queuePosition=1)
