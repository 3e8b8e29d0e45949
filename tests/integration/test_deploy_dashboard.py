"""The monitoring files in deploy/: the Grafana dashboard and the Prometheus configuration and rules.

- Every metric that a PromQL expression of the dashboard (panels and variable queries) or of the
  alert rules asks for is served by a running server's /metrics (or is Prometheus' own `up`), with
  every label that the expression filters or groups by (or a target label: instance, job), rate()
  and increase() only over counters and histogram_quantile() only over histogram buckets.
- promtool accepts deploy/prometheus/prometheus.yml and the rules, and the rules' unit tests pass.
- A real Prometheus scraping the test server loads the rules and answers every dashboard query
  (its Grafana variables filled in) without an error and, where the traffic made one, with data.
- The dashboard JSON is importable: title, uid, schema version, datasource and instance variables,
  every panel with a title and at least one query.

promtool and prometheus come with Debian's `prometheus` package (scripts/install-deps.sh): a
machine without them fails here instead of skipping.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from support import (REPO, active_user, create_concert, expect, free_port, must_charge, must_hold,
                     must_pay)

DASHBOARD = REPO / "deploy" / "grafana" / "concertd.json"
PROM_DIR = REPO / "deploy" / "prometheus"
PROM_CONFIG = PROM_DIR / "prometheus.yml"
RULES = PROM_DIR / "concertd-rules.yml"
RULES_TEST = PROM_DIR / "concertd-rules.test.yml"

# Labels that Prometheus adds to every scraped series.
TARGET_LABELS = {"instance", "job"}
# Names the dashboard may use besides concertd_*: Prometheus' own `up` and the standard process
# metric that concertd serves.
OTHER_NAMES = {"up", "process_resident_memory_bytes"}
SYNTHETIC = {"up": {"type": "gauge", "labels": set()}}

# PromQL words that are not metric names.
KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
            "group_left", "group_right", "inf", "nan", "start", "end"}
AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
                "bottomk", "topk", "quantile"}
FUNCTIONS = AGGREGATIONS | {
    "abs", "absent", "absent_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min",
    "day_of_month", "day_of_week", "day_of_year", "days_in_month", "delta", "deriv", "exp",
    "floor", "histogram_quantile", "holt_winters", "hour", "idelta", "increase", "irate",
    "label_join", "label_replace", "ln", "log2", "log10", "minute", "month", "predict_linear",
    "rate", "resets", "round", "scalar", "sgn", "sort", "sort_desc", "sqrt", "time", "timestamp",
    "vector", "year", "avg_over_time", "min_over_time", "max_over_time", "sum_over_time",
    "count_over_time", "quantile_over_time", "stddev_over_time", "stdvar_over_time",
    "last_over_time", "present_over_time"}
COUNTER_FUNCTIONS = {"rate", "irate", "increase", "resets"}

STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
RANGE_RE = re.compile(r"\[[^\]]*\]")
GROUPING_RE = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
SELECTOR_RE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^}]*)\}")
MATCHER_RE = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*\"\"")
NUMBER_RE = re.compile(r"(?<![a-zA-Z0-9_:])[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?(?![a-zA-Z0-9_:])")
IDENT_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_VALUES_RE = re.compile(r"^\s*label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$")
LEGEND_RE = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")


# ---------------------------------------------------------------------------------------------
# PromQL, taken apart just enough
# ---------------------------------------------------------------------------------------------
class Query:
    """What a PromQL expression asks for: metric names (with the labels each selector matches on),
    the labels it groups by, and the metrics under each function call."""

    def __init__(self, expr: str):
        self.expr = expr
        text = STRING_RE.sub('""', expr)            # label values (they may hold { } [ ])
        text = re.sub(r"\$\{?\w+\}?", "", text)     # Grafana variables left outside strings
        text = RANGE_RE.sub("", text)               # [5m], [$__rate_interval], [1h:1m]
        self.grouping: set[str] = set()
        for m in GROUPING_RE.finditer(text):
            self.grouping |= {x.strip() for x in m.group(2).split(",") if x.strip()}
        text = GROUPING_RE.sub(" ", text)
        self.matchers: dict[str, set[str]] = {}     # metric -> labels its selectors match on
        self.problems: list[str] = []

        def selector(m):
            name = m.group(1)
            labels = {lm.group(1) for lm in MATCHER_RE.finditer(m.group(2))}
            if not name or name in FUNCTIONS | KEYWORDS:
                self.problems.append(f"selector without a metric name: {m.group(0)!r}")
                return f" {name or ''} "
            self.matchers.setdefault(name, set()).update(labels)
            return f" {name} "

        text = SELECTOR_RE.sub(selector, text)
        text = NUMBER_RE.sub(" ", text)
        self.text = text
        self.functions: set[str] = set()
        for m in IDENT_RE.finditer(text):
            word = m.group(0)
            follows = text[m.end():].lstrip()[:1]
            if follows == "(":
                if word not in FUNCTIONS:
                    self.problems.append(f"unknown function {word}()")
                self.functions.add(word)
            elif word.lower() not in KEYWORDS:
                self.matchers.setdefault(word, set())

    @property
    def metrics(self) -> set[str]:
        return set(self.matchers)

    def calls(self, function: str) -> list[set[str]]:
        """The metric names inside each call of `function`."""
        out = []
        for m in re.finditer(rf"\b{function}\s*\(", self.text):
            depth, i = 1, m.end()
            while depth and i < len(self.text):
                depth += {"(": 1, ")": -1}.get(self.text[i], 0)
                i += 1
            inner = self.text[m.end():i - 1]
            out.append({w for w in IDENT_RE.findall(inner)
                        if w not in FUNCTIONS and w.lower() not in KEYWORDS})
        return out


def parse_exposition(text: str) -> dict[str, dict]:
    """{sample name: {"type": ..., "labels": set of label names}} from the Prometheus text format;
    a histogram `x` shows up as `x_bucket` (type "histogram_bucket", with `le`), `x_sum` and
    `x_count` (type "counter")."""
    types: dict[str, str] = {}
    samples: dict[str, dict] = {}
    for line in text.splitlines():
        m = re.match(r"^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)$", line)
        if m:
            types[m.group(1)] = m.group(2)
            continue
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+\S+(\s+\d+)?$", line)
        assert m, f"not a Prometheus sample line: {line!r}"
        name = m.group(1)
        labels = set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"', m.group(3) or ""))
        entry = samples.setdefault(name, {"type": None, "labels": set()})
        entry["labels"] |= labels
    for name, entry in samples.items():
        if name in types:
            entry["type"] = types[name]
            continue
        for suffix, kind in (("_bucket", "histogram_bucket"), ("_sum", "counter"),
                             ("_count", "counter")):
            base = name[:-len(suffix)] if name.endswith(suffix) else None
            if base and types.get(base) in ("histogram", "summary"):
                entry["type"] = kind if types[base] == "histogram" else "counter"
    return samples


def query_problems(expr: str, served: dict[str, dict], where: str, legend: str = "",
                   only_concertd=False) -> list[str]:
    """Everything wrong with `expr` against the series a server serves."""
    q = Query(expr)
    problems = [f"{where}: {p} in {expr!r}" for p in q.problems]
    known = {**SYNTHETIC, **served}
    for name, labels in sorted(q.matchers.items()):
        if only_concertd and not (re.fullmatch(r"concertd_[a-z_]+", name) or name in OTHER_NAMES):
            problems.append(f"{where}: {name} is neither a concertd_* metric nor one of {sorted(OTHER_NAMES)}")
        if name not in known:
            hint = ""
            for suffix in ("_bucket", "_sum", "_count"):
                if name + suffix in served:
                    hint = f" (it is a histogram: query {name}_bucket, _sum or _count)"
            problems.append(f"{where}: metric {name} is not served by /metrics{hint}: {expr!r}")
            continue
        missing = labels - known[name]["labels"] - TARGET_LABELS
        if missing:
            problems.append(f"{where}: {name} has no label {sorted(missing)} "
                            f"(it has {sorted(known[name]['labels'])}): {expr!r}")
    available = set(TARGET_LABELS)
    for name in q.metrics & set(known):
        available |= known[name]["labels"]
    if q.grouping - available:
        problems.append(f"{where}: grouping by {sorted(q.grouping - available)}, which no metric "
                        f"of the expression has: {expr!r}")
    for fn in COUNTER_FUNCTIONS:
        for names in q.calls(fn):
            for name in names & set(known):
                if known[name]["type"] not in ("counter", "histogram_bucket"):
                    problems.append(f"{where}: {fn}() over {name}, a {known[name]['type']}: {expr!r}")
    for names in q.calls("histogram_quantile"):
        for name in names & set(known):
            if known[name]["type"] != "histogram_bucket":
                problems.append(f"{where}: histogram_quantile() over {name}, not a histogram's "
                                f"_bucket series: {expr!r}")
        if "le" not in q.grouping:
            problems.append(f"{where}: histogram_quantile() needs the buckets grouped by le: {expr!r}")
    # A legend can only show labels that the result keeps: the grouping labels when the
    # expression aggregates, else the labels of its metrics.
    shown = q.grouping if (q.functions & AGGREGATIONS) else available
    for label in LEGEND_RE.findall(legend):
        if label not in shown:
            problems.append(f"{where}: legend shows {{{{{label}}}}}, which the result has not "
                            f"(it has {sorted(shown)}): {expr!r}")
    return problems


# ---------------------------------------------------------------------------------------------
# The dashboard
# ---------------------------------------------------------------------------------------------
def load_dashboard() -> dict:
    with open(DASHBOARD, encoding="utf-8") as f:
        return json.load(f)


def all_panels(dashboard: dict) -> list[dict]:
    out = []
    for p in dashboard.get("panels", []):
        out.append(p)
        out += p.get("panels", [])  # panels of a collapsed row
    return out


def panel_queries(dashboard: dict) -> list[tuple[str, str, str]]:
    """(where, expr, legendFormat) of every panel target."""
    out = []
    for p in all_panels(dashboard):
        for t in p.get("targets", []):
            out.append((f"panel {p.get('title')!r} target {t.get('refId')}", t.get("expr", ""),
                        t.get("legendFormat", "")))
    return out


def variable_queries(dashboard: dict) -> list[tuple[str, str, str]]:
    """(variable name, PromQL selector, label) of every label_values() variable."""
    out = []
    for v in dashboard["templating"]["list"]:
        if v.get("type") != "query":
            continue
        q = v.get("query")
        q = q.get("query", "") if isinstance(q, dict) else (q or "")
        m = LABEL_VALUES_RE.match(q)
        assert m, f"variable {v['name']}: expected a label_values(selector, label) query, got {q!r}"
        out.append((v["name"], m.group(1), m.group(2)))
    return out


def fill_variables(expr: str, instance: str) -> str:
    """The expression as Grafana sends it for one selected instance and every route."""
    escaped = re.escape(instance).replace("\\", "\\\\")  # a regex inside a PromQL string
    return (expr.replace("$__rate_interval", "1m").replace("$__range", "1h")
            .replace("$job", "concertd").replace("$instance", escaped).replace("$route", ".*"))


def test_dashboard_is_importable():
    d = load_dashboard()
    assert d.get("title") == "concertd", d.get("title")
    assert isinstance(d.get("uid"), str) and re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", d["uid"]), d.get("uid")
    assert isinstance(d.get("schemaVersion"), int) and d["schemaVersion"] >= 37, d.get("schemaVersion")
    assert "id" not in d or d["id"] is None, "an exported dashboard carries no database id"
    variables = {v["name"]: v for v in d["templating"]["list"]}
    ds_vars = [v for v in variables.values() if v.get("type") == "datasource"]
    assert len(ds_vars) == 1 and ds_vars[0].get("query") == "prometheus", ds_vars
    ds_ref = "${" + ds_vars[0]["name"] + "}"
    inst = variables.get("instance")
    assert inst and inst["type"] == "query" and inst.get("multi") and inst.get("includeAll"), \
        "an `instance` variable, multi-value with All, shows several instances together or one by one"
    for v in variables.values():
        if v.get("type") == "query":
            assert v["datasource"].get("uid") == ds_ref, f"variable {v['name']}: {v['datasource']}"
    panels = all_panels(d)
    ids = [p.get("id") for p in panels]
    assert len(ids) == len(set(ids)) and None not in ids, f"panel ids must be unique: {ids}"
    graphs = [p for p in panels if p.get("type") != "row"]
    assert len(graphs) >= 10, f"only {len(graphs)} panels"
    for p in panels:
        assert isinstance(p.get("title"), str) and p["title"].strip(), f"panel without a title: {p.get('id')}"
        g = p.get("gridPos", {})
        assert all(isinstance(g.get(k), int) for k in "xywh") and g["x"] + g["w"] <= 24, \
            f"panel {p['title']!r}: bad gridPos {g}"
    for p in graphs:
        targets = p.get("targets") or []
        assert targets, f"panel {p['title']!r} has no query"
        assert p.get("datasource", {}).get("uid") == ds_ref, f"panel {p['title']!r}: {p.get('datasource')}"
        for t in targets:
            assert isinstance(t.get("expr"), str) and t["expr"].strip(), f"panel {p['title']!r}: empty query"
            assert t.get("refId"), f"panel {p['title']!r}: target without refId"
            assert t.get("datasource", {}).get("uid") == ds_ref, f"panel {p['title']!r}: {t.get('datasource')}"
    titles = " | ".join(p["title"].lower() for p in graphs)
    for topic in ("queue", "admission", "hold", "payment", "4xx", "5xx", "p50", "p95", "p99"):
        assert topic in titles, f"no panel about {topic}: {titles}"


def test_dashboard_filters_every_query_by_instance():
    """The instance variable acts on every panel: each selector has instance=~"$instance"."""
    bad = []
    for where, expr, _ in panel_queries(load_dashboard()):
        for m in SELECTOR_RE.finditer(expr):
            if not re.search(r'\binstance=~"\$instance"', m.group(2)) or not re.search(r'\bjob=~"\$job"', m.group(2)):
                bad.append(f"{where}: {m.group(0)}")
        if "$__rate_interval" not in expr and re.search(r"\b(rate|increase)\(", expr) and "[5m]" not in expr \
                and "$__range" not in expr:
            bad.append(f"{where}: a rate without $__rate_interval, [5m] or $__range: {expr}")
    assert not bad, "\n".join(bad)


def test_parser_sees_what_a_query_asks_for():
    q = Query('histogram_quantile(0.99, sum by (le, route) (rate(concertd_http_request_duration_seconds_bucket'
              '{job=~"$job", instance=~"$instance", route=~"/api/users/{userId}/[a-z]+"}[$__rate_interval])))')
    assert q.matchers == {"concertd_http_request_duration_seconds_bucket": {"job", "instance", "route"}}
    assert q.grouping == {"le", "route"}
    assert q.functions == {"histogram_quantile", "sum", "rate"}
    q = Query('(sum(rate(a_total{x="1"}[5m])) or vector(0)) / on(instance) group_left b > 1e-3')
    assert q.metrics == {"a_total", "b"} and q.grouping == {"instance"}
    assert q.calls("rate") == [{"a_total"}]
    served = {"concertd_x_bucket": {"type": "histogram_bucket", "labels": {"le", "route"}},
              "concertd_x_count": {"type": "counter", "labels": {"route"}},
              "concertd_g": {"type": "gauge", "labels": set()}}
    assert query_problems("concertd_x_bucket", served, "t") == []
    assert query_problems("rate(concertd_x_count[5m])", served, "t") == []
    assert query_problems("concertd_x", served, "t")  # the histogram's own name has no series
    assert query_problems("rate(concertd_g[5m])", served, "t")  # rate over a gauge
    assert query_problems('concertd_g{route="a"}', served, "t")  # no such label
    assert query_problems('concertd_g{instance="a"}', served, "t") == []  # a target label
    assert query_problems("histogram_quantile(0.5, sum by (route) (rate(concertd_x_bucket[1m])))", served, "t")
    assert query_problems("sum by (route) (rate(concertd_x_count[1m]))", served, "t", "{{status}}")
    assert query_problems("other_metric", served | {"other_metric": {"type": "gauge", "labels": set()}},
                          "t", only_concertd=True)


# ---------------------------------------------------------------------------------------------
# Against a server's /metrics
# ---------------------------------------------------------------------------------------------
def drive_traffic(srv):
    """Some of everything: a token, a concert, a charge, a hold, a payment, a 404 and a 409."""
    user, token = active_user(srv, "dash")
    cid = create_concert(srv, seat_count=3, price=1000)
    must_charge(srv, user, token, 10000)
    res = must_hold(srv, token, cid, 1)
    must_hold(srv, token, cid, 2)
    expect(srv.post("/api/reservations", {"concertId": cid, "seatNumber": 2}, token=token), 409)
    must_pay(srv, token, res["reservationId"])
    expect(srv.get("/api/nope"), 404)
    expect(srv.get("/readyz"), 200)


@pytest.fixture(scope="module")
def served(server) -> dict[str, dict]:
    drive_traffic(server)
    r = server.get("/metrics")
    assert r.status == 200, r
    return parse_exposition(r.body.decode("utf-8"))


def test_dashboard_asks_only_for_served_metrics_and_labels(served):
    d = load_dashboard()
    problems, used = [], set()
    for where, expr, legend in panel_queries(d):
        problems += query_problems(expr, served, where, legend, only_concertd=True)
        used |= Query(expr).metrics
    for name, selector, label in variable_queries(d):
        problems += query_problems(selector, served, f"variable {name}", only_concertd=True)
        for metric in Query(selector).metrics & set(served):
            if label not in served[metric]["labels"] | TARGET_LABELS:
                problems.append(f"variable {name}: {metric} has no label {label}")
    assert not problems, "\n".join(problems)
    for needed in ("concertd_queue_waiting", "concertd_queue_active", "concertd_queue_pre_queue",
                   "concertd_queue_admitted_last_minute", "concertd_holds_total",
                   "concertd_releases_total", "concertd_payments_total",
                   "concertd_http_requests_total", "concertd_http_request_duration_seconds_bucket"):
        assert needed in used, f"the dashboard never shows {needed}"


# ---------------------------------------------------------------------------------------------
# promtool
# ---------------------------------------------------------------------------------------------
def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} not found: it comes with Debian's `prometheus` package "
                    f"(scripts/install-deps.sh, or: apt-get install --no-install-recommends prometheus)",
                    pytrace=False)
    return path


def promtool(*args) -> subprocess.CompletedProcess:
    r = subprocess.run([need("promtool"), *args], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"promtool {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    return r


def test_promtool_checks_the_config_and_its_rules():
    out = promtool("check", "config", str(PROM_CONFIG.relative_to(REPO)))
    assert "1 rule files found" in out.stdout + out.stderr, out.stdout + out.stderr


def test_promtool_checks_the_rules():
    promtool("check", "rules", str(RULES.relative_to(REPO)))
    promtool("test", "rules", str(RULES_TEST.relative_to(REPO)))


def test_scrape_config_names_two_concertd_instances():
    text = PROM_CONFIG.read_text(encoding="utf-8")
    assert re.search(r"^\s*-\s*job_name:\s*['\"]?concertd['\"]?\s*$", text, re.M), text
    assert re.search(r"^\s*scrape_interval:\s*5s\s*$", text, re.M), text
    targets = re.findall(r"^\s*-\s*['\"]?([\w.-]+:\d+)['\"]?\s*$", text, re.M)
    assert len(targets) >= 2, f"expected two concertd targets, got {targets}"


def test_dashboard_queries_are_valid_promql(tmp_path):
    """promtool has no expression check of its own, so every dashboard query (variables filled in)
    goes into a rule file as a recording rule that promtool parses."""
    d = load_dashboard()
    exprs = [fill_variables(e, "127.0.0.1:8080") for _, e, _ in panel_queries(d)]
    exprs += [fill_variables(f"group by ({label}) ({sel})", "127.0.0.1:8080")
              for _, sel, label in variable_queries(d)]
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query{i}", "expr": e} for i, e in enumerate(exprs)]}]}
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(json.dumps(rules, indent=1), encoding="utf-8")  # JSON is YAML
    promtool("check", "rules", str(path))


# ---------------------------------------------------------------------------------------------
# A real Prometheus scraping the test server
# ---------------------------------------------------------------------------------------------
class Prometheus:
    def __init__(self, target_port: int):
        self.dir = tempfile.mkdtemp(prefix="concertd-prom-")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.instance = f"127.0.0.1:{target_port}"
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(RULES)],
            "scrape_configs": [{"job_name": "concertd", "static_configs": [{"targets": [self.instance]}]}],
        }
        self.config = os.path.join(self.dir, "prometheus.yml")
        with open(self.config, "w", encoding="utf-8") as f:
            json.dump(config, f)
        self.log_path = os.path.join(self.dir, "prometheus.log")
        self.proc = None

    def start(self):
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [need("prometheus"), f"--config.file={self.config}",
             f"--storage.tsdb.path={os.path.join(self.dir, 'data')}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    def log_tail(self, n=30) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-n:])

    def api(self, path: str, **params):
        url = f"{self.url}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:
            return json.load(e)

    def query(self, expr: str) -> dict:
        return self.api("query", query=expr)

    def wait_for(self, probe, timeout: float, what: str, interval=0.2):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"prometheus exited with code {self.proc.returncode}:\n{self.log_tail()}",
                            pytrace=False)
            try:
                last = probe()
                if last:
                    return last
            except (OSError, ValueError) as e:  # not listening yet, or "Service Unavailable" in text
                last = e
            time.sleep(interval)
        pytest.fail(f"prometheus: {what} within {timeout}s (last: {last!r})\n{self.log_tail()}", pytrace=False)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_log", None):
            self._log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def prometheus(server, served):
    prom = Prometheus(server.port)
    prom.start()
    try:
        # The first scrape comes a few seconds after the start (target discovery is batched);
        # rate() needs two samples, with traffic between them.
        def scraped_thrice():
            drive_traffic(server)
            r = prom.query('count_over_time(concertd_queue_waiting{job="concertd"}[1m])')
            return r["status"] == "success" and r["data"]["result"] \
                and float(r["data"]["result"][0]["value"][1]) >= 3
        prom.wait_for(scraped_thrice, 30, "three scrapes of the test server", interval=1.0)
        yield prom
    finally:
        prom.stop()


def test_prometheus_answers_every_dashboard_query(prometheus):
    d = load_dashboard()
    problems = []
    for where, expr, _ in panel_queries(d):
        filled = fill_variables(expr, prometheus.instance)
        r = prometheus.query(filled)
        if r.get("status") != "success":
            problems.append(f"{where}: {r.get('error')}: {filled}")
        elif not r["data"]["result"] and 'status=~"5..' not in expr:
            # no 5xx in this traffic: an empty 5xx panel is right; everything else has data
            problems.append(f"{where}: no data: {filled}")
    for name, selector, label in variable_queries(d):
        filled = fill_variables(f"group by ({label}) ({selector})", prometheus.instance)
        r = prometheus.query(filled)
        values = {s["metric"].get(label) for s in r.get("data", {}).get("result", [])}
        if r.get("status") != "success" or not values - {None}:
            problems.append(f"variable {name}: {filled} -> {r}")
        elif name == "instance" and prometheus.instance not in values:
            problems.append(f"variable instance lists {values}, not {prometheus.instance}")
    assert not problems, "\n".join(problems)


def test_prometheus_loads_and_evaluates_the_rules(prometheus, served):
    def evaluated():
        groups = prometheus.api("rules")["data"]["groups"]
        rules = [r for g in groups for r in g["rules"]]
        return rules if rules and all(r.get("health") == "ok" for r in rules) else None
    rules = prometheus.wait_for(evaluated, 15, "every rule evaluated without error")
    names = {r["name"] for r in rules}
    assert {"ConcertdDown", "ConcertdNotReady", "ConcertdHigh5xxRatio", "ConcertdHighP99Latency"} <= names, names
    problems = []
    for r in rules:
        problems += query_problems(r["query"], served, f"rule {r['name']}")
    down = next(r for r in rules if r["name"] == "ConcertdDown")
    if down.get("state") != "inactive":
        problems.append(f"ConcertdDown is {down.get('state')} while the test server is scraped: {down}")
    assert not problems, "\n".join(problems)
