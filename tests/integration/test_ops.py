"""/healthz, /readyz and /metrics."""
import re

from support import (active_user, admin_queue, create_concert, expect, issue, must_charge,
                     must_hold, must_pay, uid)

METRICS = [
    "concertd_http_requests_total",
    "concertd_http_request_duration_seconds",
    "concertd_queue_waiting",
    "concertd_queue_active",
    "concertd_holds_total",
    "concertd_releases_total",
    "concertd_payments_total",
]


def parse_metrics(text):
    """{(name, frozenset(labels.items())): value} for every sample line."""
    samples = {}
    line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$')
    label_re = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = line_re.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        labels = frozenset(label_re.findall(m.group(3) or ""))
        samples[(m.group(1), labels)] = float(m.group(4))
    return samples


def values(samples, name):
    return [(dict(labels), v) for (n, labels), v in samples.items() if n == name]


def test_healthz(server):
    expect(server.get("/healthz"), 200, status="ok")


def test_readyz(server):
    expect(server.get("/readyz"), 200, status="ready")


def test_metrics_names_and_types(server):
    user, token = active_user(server, "met")
    cid = create_concert(server, seat_count=2, price=1000)
    must_charge(server, user, token, 10000)
    res = must_hold(server, token, cid, 1)
    must_pay(server, token, res["reservationId"])
    server.get("/api/nope")
    r = server.get("/metrics")
    assert r.status == 200, r
    ct = (r.header("Content-Type") or "").lower()
    assert ct.startswith("text/plain"), f"Prometheus text format expected, got {ct!r}"
    text = r.body.decode("utf-8")
    for name in METRICS:
        assert re.search(rf"^{name}(_bucket|_sum|_count)?[{{ ]", text, re.M), \
            f"metric {name} missing from /metrics"
    assert re.search(r"^# TYPE concertd_http_request_duration_seconds histogram$", text, re.M), \
        "concertd_http_request_duration_seconds must be a histogram"
    samples = parse_metrics(text)
    reqs = values(samples, "concertd_http_requests_total")
    assert reqs and all({"route", "method", "status"} <= set(lbl) for lbl, _ in reqs), reqs
    assert any(lbl["method"] == "POST" and lbl["status"] == "200" for lbl, _ in reqs), reqs
    buckets = values(samples, "concertd_http_request_duration_seconds_bucket")
    assert buckets and all("le" in lbl and "route" in lbl for lbl, _ in buckets), buckets[:5]
    assert values(samples, "concertd_http_request_duration_seconds_count")
    assert values(samples, "concertd_http_request_duration_seconds_sum")
    assert sum(v for _, v in values(samples, "concertd_holds_total")) >= 1
    assert sum(v for _, v in values(samples, "concertd_payments_total")) >= 1
    assert values(samples, "concertd_releases_total")


def test_metrics_track_the_queue(make_server):
    srv = make_server("--max-active", "1")
    issue(srv, uid("a"))
    issue(srv, uid("b"))
    issue(srv, uid("c"))
    q = admin_queue(srv)
    assert (q["active"], q["waiting"]) == (1, 2), q
    samples = parse_metrics(srv.get("/metrics").body.decode("utf-8"))
    assert sum(v for _, v in values(samples, "concertd_queue_active")) == 1
    assert sum(v for _, v in values(samples, "concertd_queue_waiting")) == 2
