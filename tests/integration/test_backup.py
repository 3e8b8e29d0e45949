"""`concertd backup --to FILE`: a consistent copy of the embedded store, taken while the server
writes; a server started on the copy has the same seats, money and reservations."""
import os
import sqlite3
import subprocess
import threading

import pytest

import backends
from support import (active_user, create_concert, expect, must_charge, must_hold, must_pay,
                     require_binary, user_path)

pytestmark = pytest.mark.skipif(backends.uses_postgres(), reason="the PostgreSQL store is backed up with pg_dump")


def backup(data_dir, target, *extra):
    return subprocess.run([require_binary(), "backup", "--data-dir", data_dir, "--to", target, *extra],
                          capture_output=True, text=True, timeout=60)


def test_backup_while_writing_then_restore(make_server, tmp_path):
    srv = make_server("--max-active", "1000")
    cid = create_concert(srv, seat_count=200, price=10_000)
    user, token = active_user(srv, "saved")
    must_charge(srv, user, token, 50_000)
    paid = must_hold(srv, token, cid, 1)
    must_pay(srv, token, paid["reservationId"])

    stop = threading.Event()
    writer_errors = []

    def keep_writing():  # holds by other fans while the copy is taken
        seat = 10
        try:
            while not stop.is_set() and seat < 200:
                _, t = active_user(srv, "busy")
                must_hold(srv, t, cid, seat)
                seat += 1
        except Exception as e:  # reported below
            writer_errors.append(e)

    writer = threading.Thread(target=keep_writing, daemon=True)
    writer.start()
    target = str(tmp_path / "copy.db")
    try:
        done = backup(srv.data_dir, target)
    finally:
        stop.set()
        writer.join(30)
    assert done.returncode == 0, done.stderr
    assert not writer_errors, writer_errors
    with sqlite3.connect(target) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        held_in_copy = {n for (n,) in db.execute(
            "SELECT number FROM seats WHERE concert_id = ? AND status != 'AVAILABLE'", (cid,))}

    restored_dir = tmp_path / "restored"
    restored_dir.mkdir()
    os.replace(target, restored_dir / "concertd.db")
    copy = make_server("--max-active", "1000", data_dir=str(restored_dir), check_invariants=False)
    seats = expect(copy.get(f"/api/concerts/{cid}/seats"), 200)["seats"]
    assert {s["number"] for s in seats if s["status"] != "available"} == held_in_copy
    assert seats[0]["status"] == "reserved"
    assert expect(copy.get(f"/api/users/{user_path(user)}/balance"), 200)["balance"] == 40_000


def test_backup_refuses_a_missing_store(tmp_path):
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    missing = backup(str(empty_dir), str(tmp_path / "new.db"))
    assert missing.returncode == 1 and "no store" in missing.stderr
    assert not (empty_dir / "concertd.db").exists(), "a missing store is not created"


def test_backup_of_a_running_server_refuses_to_overwrite(make_server, tmp_path):
    srv = make_server()
    existing = tmp_path / "there.db"
    existing.write_bytes(b"keep me")
    r = backup(srv.data_dir, str(existing))
    assert r.returncode == 1 and "exists" in r.stderr
    assert existing.read_bytes() == b"keep me"


def test_backup_needs_to(tmp_path):
    r = subprocess.run([require_binary(), "backup", "--data-dir", str(tmp_path)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2 and "--to" in r.stderr
