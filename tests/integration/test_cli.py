"""Command line, environment variables, and the demo concerts."""
import os
import re
import socket
import subprocess
import tempfile

import pytest

import backends

from support import (ADMIN_KEY, ServerError, available_dates, clean_env, create_concert, day, expect, free_port,
                     require_binary, sanitizer_report, seat_map, wait_until)

FLAGS = ["--host", "--port", "--data-dir", "--max-active", "--active-ttl", "--waiting-idle-ttl",
         "--hold-ttl", "--max-holds-per-user", "--max-body", "--admin-key", "--header-timeout",
         "--body-timeout", "--idle-timeout"]


def run_binary(args, env=None, timeout=15):
    binary = require_binary()
    with tempfile.TemporaryDirectory(prefix="concertd-cli-") as tmp:
        e = clean_env()
        e.update(env or {})
        try:
            p = subprocess.run([binary, *args], cwd=tmp, env=e, stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"`concertd {' '.join(args)}` did not exit within {timeout}s")
    report = sanitizer_report((p.stdout + p.stderr).decode("utf-8", "replace"))
    if report is not None:
        pytest.fail(f"`concertd {' '.join(args)}` printed a sanitizer report:\n{report}", pytrace=False)
    return p


def test_serve_help_lists_flags():
    p = run_binary(["serve", "--help"])
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    assert p.returncode == 0, f"exit {p.returncode}: {out}"
    missing = [f for f in FLAGS if f not in out]
    assert not missing, f"--help does not list {missing}:\n{out}"
    assert "--demo" in out or "--no-demo" in out, out


@pytest.mark.parametrize("bad", [
    ["--port", "abc"], ["--port", "70000"], ["--port", "-1"],
    ["--hold-ttl", "0"], ["--hold-ttl", "1.5"], ["--hold-ttl", "abc"], ["--active-ttl", "-5"],
    ["--waiting-idle-ttl", "0"], ["--max-active", "x"], ["--max-active", "0"],
    ["--max-holds-per-user", "-1"], ["--max-body", "big"],
    ["--header-timeout", "0"], ["--body-timeout", "3601"], ["--idle-timeout", "abc"], ["--idle-timeout", "1.5"],
], ids=lambda b: "=".join(b))
def test_bad_flag_value_exits_2(bad):
    with tempfile.TemporaryDirectory(prefix="concertd-cli-data-") as data:
        p = run_binary(["serve", "--host", "127.0.0.1", "--port", str(free_port()),
                        "--data-dir", data, "--admin-key", ADMIN_KEY, *bad])
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    assert p.returncode == 2, f"`{' '.join(bad)}` should stop the start with exit code 2, got " \
                              f"{p.returncode}:\n{out}"
    assert out.strip(), "a bad flag value must be explained by a message"


@pytest.mark.parametrize("flag,value", [
    ("--postgres", "notauri"), ("--postgres", "mysql://h/db"), ("--postgres", "postgresql://h:badport/db"),
    ("--redis", "nope"), ("--redis", "redis://h:1/x"), ("--redis", "http://h:6379"),
    ("--host", "999.1.1.1"), ("--host", "not an address"),
], ids=lambda v: v)
def test_bad_address_flag_exits_2(flag, value):
    # Found only when the start reached them, these stopped it with exit code 1 after the
    # migrations ran; a bad flag value is exit code 2 before anything starts.
    with tempfile.TemporaryDirectory(prefix="concertd-cli-data-") as data:
        args = ["serve", "--port", str(free_port()), "--data-dir", data, "--admin-key", ADMIN_KEY, flag, value]
        if flag != "--host":
            args += ["--host", "127.0.0.1"]
        p = run_binary(args)
        out = (p.stdout + p.stderr).decode("utf-8", "replace")
        assert p.returncode == 2, f"{flag} {value}: exit {p.returncode}:\n{out}"
        assert flag in out, out
        assert os.listdir(data) == [], "nothing may be created before the flags are checked"


def listens(host, port) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
        return True
    except ConnectionRefusedError:
        return False


def test_host_flag_wins_over_the_environment(make_server):
    # CONCERTD_HOST names another loopback address than the flag: the server must listen on the
    # flag's (localhost = 127.0.0.1, where the harness connects) and not on the environment's.
    srv = make_server("--host", "localhost", settings="env", env={"CONCERTD_HOST": "127.0.0.2"}, start=False)
    try:
        srv.start(timeout=10)
    except ServerError as e:
        pytest.fail(f"no answer on 127.0.0.1 (the --host flag's localhost); CONCERTD_HOST=127.0.0.2 may "
                    f"have won: {e}", pytrace=False)
    expect(srv.get("/healthz"), 200, status="ok")
    assert not listens("127.0.0.2", srv.port), "listening on CONCERTD_HOST's 127.0.0.2 although --host said localhost"
    # and without the flag, the environment's address is used
    srv.stop()
    srv.settings, srv.host = "env", "127.0.0.2"
    srv.args = [a for a in srv.args if a not in ("--host", "localhost")]
    srv.start()
    expect(srv.get("/healthz"), 200, status="ok")
    assert not listens("127.0.0.1", srv.port), "CONCERTD_HOST=127.0.0.2, yet listening on 127.0.0.1"


@pytest.mark.parametrize("var,value", [("CONCERTD_HOLD_TTL", "0"), ("CONCERTD_PORT", "abc"),
                                       ("CONCERTD_MAX_ACTIVE", "many"), ("CONCERTD_BODY_TIMEOUT", "0")])
def test_bad_env_value_exits_2(var, value):
    with tempfile.TemporaryDirectory(prefix="concertd-cli-data-") as data:
        port = [] if var == "CONCERTD_PORT" else ["--port", str(free_port())]
        p = run_binary(["serve", "--host", "127.0.0.1", *port, "--data-dir", data],
                       env={var: value})
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    assert p.returncode == 2, f"{var}={value}: exit {p.returncode}:\n{out}"


def test_port_from_environment(make_server):
    srv = make_server(settings="port-env")  # no --port flag, CONCERTD_PORT instead
    expect(srv.get("/healthz"), 200, status="ok")


def test_bare_binary_with_environment_settings(make_server):
    # `build/concertd` alone starts the server; every setting from CONCERTD_* variables
    srv = make_server(settings="env", subcommand=(),
                      env={"CONCERTD_MAX_ACTIVE": "3", "CONCERTD_DEMO": "false"})
    expect(srv.get("/healthz"), 200)
    q = expect(srv.get("/api/admin/queue", headers={"X-Admin-Key": ADMIN_KEY}), 200)
    assert q["maxActive"] == 3, q
    expect(srv.get("/api/admin/queue", headers={"X-Admin-Key": "nope"}), 401, "ADMIN_KEY_REQUIRED")
    assert_empty_listing(srv)
    create_concert(srv, seat_count=1)
    if not backends.uses_postgres():  # with --postgres the data dir holds nothing
        assert os.listdir(srv.data_dir), "the store should live in CONCERTD_DATA_DIR"


def test_random_admin_key_is_printed(make_server):
    srv = make_server(admin_key=None)

    def find_key():
        for cand in sorted(set(re.findall(r"[A-Za-z0-9_\-+/=.]{16,}", srv.log_text())))[:200]:
            r = srv.get("/api/admin/queue", headers={"X-Admin-Key": cand})
            if r.status == 200:
                return cand
        return None

    key = wait_until(find_key, 3, "a working admin key in the server's output", interval=0.2)
    assert key != ADMIN_KEY
    expect(srv.get("/api/admin/queue", headers={"X-Admin-Key": ADMIN_KEY}), 401,
           "ADMIN_KEY_REQUIRED")


# --- demo concerts -------------------------------------------------------------------------------
def assert_empty_listing(srv):
    body = available_dates(srv)
    assert body["dates"] == [] and body["concerts"] == [], body


def check_demo(srv):
    body = available_dates(srv)
    concerts = body["concerts"]
    assert [c["date"] for c in concerts] == [day(7), day(14), day(30)], body
    assert body["dates"] == [day(7), day(14), day(30)], body
    for c in concerts:
        assert c["availableSeats"] == 50, c
        assert 50000 <= c["minPrice"] <= c["maxPrice"] <= 150000, c
        seats = seat_map(srv, c["concertId"])
        assert sorted(seats) == list(range(1, 51))
        assert all(50000 <= s["price"] <= 150000 and s["status"] == "available"
                   for s in seats.values())
    return [c["concertId"] for c in concerts]


def test_demo_concerts_on_an_empty_store(make_server):
    srv = make_server()
    ids = check_demo(srv)
    # a restart finds a store with concerts: no second set
    srv.restart()
    assert check_demo(srv) == ids


def test_no_demo_flag(make_server):
    srv = make_server("--no-demo")
    assert_empty_listing(srv)


def test_demo_env_false(make_server):
    srv = make_server(env={"CONCERTD_DEMO": "false"})
    assert_empty_listing(srv)


def test_no_demo_on_a_store_that_has_concerts(make_server):
    srv = make_server("--no-demo")
    cid = create_concert(srv, seat_count=3, date=day(20))
    srv.args = [a for a in srv.args if a != "--no-demo"]
    srv.restart()
    concerts = available_dates(srv)["concerts"]
    assert [c["concertId"] for c in concerts] == [cid], concerts
