"""Logs: one JSON object per line when the output is not a terminal (the default here: the
suite writes it to a file), text on request; an access line per request with its request id,
route, status, latency and user; X-Request-Id taken when safe, made when not, always returned;
--no-access-log and --log-level."""
import json
import re

import pytest

from support import active_user, expect, uid, wait_until

DEADLINE = 10  # access lines reach the file within a second (flushed in blocks)


def lines(srv):
    return [line for line in srv.log_text().splitlines() if line.strip()]


def json_lines(srv):
    out = []
    for line in lines(srv):
        if line.startswith("admin key: "):
            continue  # printed for the operator, not logged
        out.append(json.loads(line))
    return out


def access_lines(srv, request_id):
    def found():
        hits = [e for e in json_lines(srv) if e.get("event") == "access" and e.get("requestId") == request_id]
        return hits or None
    return wait_until(found, DEADLINE, f"the access line of request {request_id}")


def test_every_line_is_a_json_object_with_time_and_level(make_server):
    srv = make_server()
    expect(srv.get("/healthz"), 200)
    srv.stop()
    events = json_lines(srv)
    assert events, "nothing logged"
    for e in events:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e["time"]), e
        assert e["level"] in ("trace", "debug", "info", "warning", "error", "critical"), e
        assert ("msg" in e) != (e.get("event") == "access"), e
    assert any("listening on" in e.get("msg", "") for e in events)
    assert any(e.get("msg") == "stopped" for e in events), "the last line is flushed at exit"


def test_access_line_names_request_route_status_latency_and_user(make_server):
    srv = make_server("--max-active", "100")
    user, token = active_user(srv, "logged")
    r = srv.get("/api/queue/status", token=token, headers={"X-Request-Id": "trace-42:a/b+c=d"})
    expect(r, 200)
    assert r.header("X-Request-Id") == "trace-42:a/b+c=d"
    (line,) = access_lines(srv, "trace-42:a/b+c=d")
    assert line["method"] == "GET" and line["path"] == "/api/queue/status" and line["route"] == "/api/queue/status"
    assert line["status"] == 200 and line["userId"] == user and line["peer"] == "127.0.0.1"
    assert isinstance(line["latencyMs"], float) and 0 <= line["latencyMs"] < 10_000


@pytest.mark.parametrize("sent", [None, "", "has space", "x" * 129, "quote\"d", "ünicode"],
                         ids=["none", "empty", "space", "too-long", "quote", "non-ascii"])
def test_a_request_id_is_made_when_none_or_an_unsafe_one_is_sent(make_server, sent):
    srv = make_server()
    headers = {} if sent is None else {"X-Request-Id": sent}
    r = srv.get(f"/api/concerts/{uid('x')}/seats", headers=headers)  # an error is logged too
    made = r.header("X-Request-Id")
    assert made and made != sent and re.fullmatch(r"[0-9a-f]{6}-[0-9a-f]+", made), made
    (line,) = access_lines(srv, made)
    assert line["status"] == r.status and line["route"] == "/api/concerts/{concertId}/seats"


def test_request_ids_differ_between_requests_and_instances(make_server):
    a, b = make_server(), make_server()
    ids = [s.get("/healthz").header("X-Request-Id") for s in (a, a, b)]
    assert len(set(ids)) == 3, ids


def test_no_access_log_and_text_format(make_server):
    srv = make_server("--no-access-log", "--log-format", "text")
    r = srv.get("/healthz")
    srv.stop()
    text = srv.log_text()
    assert r.header("X-Request-Id") not in text, "no access line"
    assert "listening on" in text and not text.lstrip().startswith("{")


def test_text_access_line(make_server):
    srv = make_server("--log-format", "text")
    rid = srv.get("/healthz").header("X-Request-Id")
    wait_until(lambda: f"rid={rid}" in srv.log_text() or None, DEADLINE, "the text access line")
    line = next(ln for ln in srv.log_text().splitlines() if f"rid={rid}" in ln)
    assert "[access]" in line and "GET /healthz 200 /healthz" in line, line


def test_log_level_warn_keeps_info_out(make_server):
    srv = make_server("--log-level", "warn")
    expect(srv.get("/healthz"), 200)
    srv.stop()
    assert json_lines(srv) == [], lines(srv)


@pytest.mark.parametrize("flag,value", [("--log-format", "xml"), ("--log-level", "loud")])
def test_bad_log_flags_exit_2(make_server, flag, value):
    srv = make_server(flag, value, start=False)
    with pytest.raises(Exception):
        srv.start(timeout=10)
    assert srv.proc.returncode == 2
