#!/usr/bin/env python3
"""Helpers of bench/run.sh: parse wrk, pgbench and `concertd bench --json` output, and turn the
raw measurements into the ratio table (markdown) and a JSON file.

  report.py wrk FILE                  -> "rps p50_ms p99_ms requests non2xx socket_errors"
  report.py pgbench FILE              -> "tps latency_avg_ms"
  report.py benchjson FILE STEP       -> "rate_per_s p99_ms errors invariants_ok"
  report.py rss FILE                  -> server RSS bytes named in a bench JSON (or "")
  report.py table RAW META OUT_BASE   -> writes OUT_BASE.md and OUT_BASE.json, prints the markdown

RAW holds one measurement a line, tab-separated: metric, repeat, value. A line
`note<TAB>key<TAB>text` is a note (a skip reason, a reply size, a setting).
"""
import json
import re
import statistics
import sys

UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(m.group(1)) * UNITS_MS[m.group(2)]


def parse_wrk(path):
    out = open(path, encoding="utf-8", errors="replace").read()
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    if not rps:
        raise SystemExit(f"report.py: no Requests/sec in wrk output {path}")
    pct = dict(re.findall(r"^\s+(50|99)(?:\.000)?%\s+(\S+)", out, re.M))
    reqs = re.search(r"^\s+(\d+) requests in", out, re.M)
    non2xx = re.search(r"^\s+Non-2xx or 3xx responses:\s+(\d+)", out, re.M)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    p50 = _ms(pct["50"]) if "50" in pct else float("nan")
    p99 = _ms(pct["99"]) if "99" in pct else float("nan")
    errors = sum(int(x) for x in sock.groups()) if sock else 0
    return (float(rps.group(1)), p50, p99, int(reqs.group(1)) if reqs else 0,
            int(non2xx.group(1)) if non2xx else 0, errors)


def parse_pgbench(path):
    out = open(path, encoding="utf-8", errors="replace").read()
    tps = re.search(r"^tps = ([\d.]+) \(without initial connection time\)", out, re.M)
    lat = re.search(r"^latency average = ([\d.]+) ms", out, re.M)
    if not tps:
        raise SystemExit(f"report.py: no tps in pgbench output {path}")
    return float(tps.group(1)), float(lat.group(1)) if lat else float("nan")


def parse_benchjson(path, step):
    doc = json.load(open(path, encoding="utf-8"))
    s = doc.get("steps", {}).get(step)
    if s is None:
        raise SystemExit(f"report.py: no step {step!r} in {path} (steps: {list(doc.get('steps', {}))})")
    inv = doc.get("invariants", {}).get("ok", True)
    return s["rate_per_s"], s["latency_ms"]["p99"], s.get("errors", 0), 1 if inv else 0


def find_rss(path):
    """The first number under a key that mentions rss (the waiting scenario's contract names
    /metrics `process_resident_memory_bytes` but not the JSON key)."""
    doc = json.load(open(path, encoding="utf-8"))
    found = []

    def walk(node, key=""):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, k)
        elif isinstance(node, (int, float)) and not isinstance(node, bool) and "rss" in key.lower():
            found.append((key, node))
    walk(doc)
    return found


# ---- the table -------------------------------------------------------------------------------

# (label, subject metric, reference metric, reference label, target ratio or None)
RATIO_ROWS = [
    ("`GET /api/queue/status` (waiting token), wrk -t1 -c64", "concertd.status.rps", "nginx.status.rps",
     "nginx", 0.80),
    ("`GET /api/concerts/{id}/seats` (50 seats), wrk -t1 -c64", "concertd.seats.rps", "nginx.seats.rps",
     "nginx", 0.50),
    ("`POST /api/queue/token` (new user each), wrk -t1 -c64", "concertd.token.rps", "nginx.token.rps",
     "nginx", 0.40),
    ("`GET /api/queue/status`, PostgreSQL + Redis, one instance (for comparison)", "concertd.status_pg.rps",
     "nginx.status.rps", "nginx", None),
    ("holds/s, embedded, `synchronous=FULL`", "concertd.holds_embedded.rps", "nginx.status.rps",
     "nginx (status size)", 0.25),
    ("holds/s, embedded (for comparison)", "concertd.holds_embedded.rps", "pgbench.update1.tps",
     "pgbench 1-row UPDATE", None),
    ("holds/s, PostgreSQL + Redis, one instance", "concertd.holds_pg.rps", "pgbench.update1.tps",
     "pgbench 1-row UPDATE", 0.80),
    ("payments/s, PostgreSQL + Redis, one instance", "concertd.payments_pg.rps", "pgbench.tx3.tps",
     "pgbench 3-statement tx", 0.80),
]
HALF_STEPS = ["status", "seats", "token", "hold"]
# (label, metric) of the closed-loop runs whose CPU run.sh samples (cpu_watch / cpu_record).
CPU_ROWS = [
    ("hold (and a quarter of a token), embedded", "concertd.holds_embedded"),
    ("hold (and a quarter of a token), PostgreSQL + Redis", "concertd.holds_pg"),
    ("pgbench 1-row UPDATE", "pgbench.update1"),
    ("payment (its hold, a tenth of a token and a charge), PostgreSQL + Redis", "concertd.payments_pg"),
    ("pgbench 3-statement tx", "pgbench.tx3"),
]
CPU_PARTS = ["machine_us", "server_us", "postgres_us", "redis_us", "idle_pct"]


def load_raw(path):
    values, notes = {}, {}
    for line in open(path, encoding="utf-8"):
        parts = line.rstrip("\n").split("\t")
        if len(parts) < 3:
            continue
        if parts[0] == "note":
            notes[parts[1]] = parts[2]
        else:
            values.setdefault(parts[0], []).append(float(parts[2]))
    return values, notes


def med(values, key):
    v = values.get(key)
    return statistics.median(v) if v else None


def fmt(x, digits=0):
    if x is None:
        return "n/a"
    if digits == 0:
        return f"{x:,.0f}"
    return f"{x:,.{digits}f}"


def why_missing(notes, *keys):
    for k in keys:
        for name in (k, k.rsplit(".", 1)[0]):  # "concertd.holds_pg.rps" is skipped as "concertd.holds_pg"
            if f"skip.{name}" in notes:
                return notes[f"skip.{name}"]
    return "not measured"


def table(raw_path, meta_path, out_base):
    values, notes = load_raw(raw_path)
    meta = json.load(open(meta_path, encoding="utf-8"))
    lines = [f"# concertd bench, {meta['date']}", "",
             f"{meta['date']} | {meta['machine']} | commit {meta['commit']} | `{meta['command']}`", "",
             f"Medians of {meta['repeat']} run(s) of {meta['duration']} s each, reference and subject "
             "interleaved, load generator on the same machine.", "",
             "| path | concertd (median) | reference (median) | ratio (median of per-run ratios) | target | met? |",
             "| --- | --- | --- | --- | --- | --- |"]
    rows_json = []
    for label, subj, ref, ref_label, target in RATIO_ROWS:
        s, r = med(values, subj), med(values, ref)
        # Reference and subject ran back to back in each repeat: the median of those paired
        # ratios is steadier on a shared machine than the ratio of the medians.
        pairs = [a / b for a, b in zip(values.get(subj, []), values.get(ref, [])) if b]
        ratio = statistics.median(pairs) if pairs else None
        met = "" if target is None else ("n/a" if ratio is None else ("yes" if ratio >= target else "**no**"))
        tgt = "" if target is None else f">= {target:.2f} x"
        src = notes.get(f"source.{subj}", "")
        subj_text = fmt(s) if s is not None else f"n/a ({why_missing(notes, subj)})"
        if src and s is not None:
            subj_text += f" ({src})"
        lines.append(f"| {label} | {subj_text} | {fmt(r)} {ref_label} | "
                     f"{fmt(ratio, 2) if ratio is not None else 'n/a'} | {tgt} | {met} |")
        rows_json.append({"path": label, "subject": s, "reference": r, "reference_name": ref_label,
                          "ratio": ratio, "target": target, "source": src or None,
                          "subject_runs": values.get(subj, []), "reference_runs": values.get(ref, [])})
    lines += ["", "| p99 at half of peak (embedded) | offered rate | achieved rate | p99 | target | met? |",
              "| --- | --- | --- | --- | --- | --- |"]
    for step in HALF_STEPS:
        rate, got, p99 = (med(values, f"half.{step}.{k}") for k in ("rate", "achieved", "p99_ms"))
        src = notes.get(f"source.half.{step}", "")
        met = "n/a" if p99 is None else ("yes" if p99 <= 5.0 else "**no**")
        p99_text = f"{p99:.2f} ms" if p99 is not None else f"n/a ({why_missing(notes, f'half.{step}')})"
        if src and p99 is not None:
            p99_text += f" ({src})"
        lines.append(f"| {step} | {fmt(rate)}/s | {fmt(got)}/s | {p99_text} | <= 5 ms | {met} |")
        rows_json.append({"path": f"p99 at half peak: {step}", "rate": rate, "achieved": got, "p99_ms": p99,
                          "target_ms": 5.0, "source": src or None})
    growth = med(values, "waiting.rss_growth_mb")
    p99_before, p99_after = med(values, "waiting.status_p99_before_ms"), med(values, "waiting.status_p99_after_ms")
    fans = notes.get("waiting.fans", "")
    lines += ["", "| waiting tokens (embedded) | RSS growth | status p99 before / after | target | met? |",
              "| --- | --- | --- | --- | --- |"]
    if growth is None:
        lines.append(f"| {fans or 'n/a'} | n/a ({why_missing(notes, 'waiting')}) | | <= 300 MB, p99 unchanged | n/a |")
    else:
        same = (p99_before is not None and p99_after is not None and p99_after <= max(2 * p99_before, p99_before + 1.0))
        lines.append(f"| {fans} | {growth:,.0f} MB | {fmt(p99_before, 2)} / {fmt(p99_after, 2)} ms | "
                     f"<= 300 MB, p99 unchanged | {'yes' if growth <= 300 and same else '**no**'} |")
    rows_json.append({"path": "waiting tokens", "fans": fans, "rss_growth_mb": growth,
                      "status_p99_before_ms": p99_before, "status_p99_after_ms": p99_after})
    cpu_lines = []
    for label, metric in CPU_ROWS:
        machine, server, pg, redis, idle = (med(values, f"{metric}.cpu.{k}") for k in CPU_PARTS)
        if machine is None:
            continue
        # The rest per run, then its median: medians of the parts taken apart need not add up.
        parts = [values.get(f"{metric}.cpu.{k}", []) for k in CPU_PARTS[:4]]
        rest = statistics.median(m - s - p - r for m, s, p, r in zip(*parts))
        rate = med(values, metric + (".tps" if metric.startswith("pgbench") else ".rps"))
        cpu_lines.append(f"| {label} | {fmt(rate)}/s | {fmt(machine)} | "
                         f"{fmt(server) if metric.startswith('concertd') else ''} | "
                         f"{fmt(pg) if 'embedded' not in label else ''} | {fmt(redis) if 'Redis' in label else ''} | "
                         f"{fmt(rest)} | {idle:.0f}% |")
        rows_json.append({"path": f"cpu per operation: {label}", "rate": rate, "machine_us": machine,
                          "server_us": server, "postgres_us": pg, "redis_us": redis, "rest_us": rest,
                          "idle_pct": idle})
    if cpu_lines:
        lines += ["", "CPU per operation, us of one core (medians of the runs; sampled from /proc over the middle "
                  "of each closed-loop run; rest = load generator and kernel threads; idle includes iowait):", "",
                  "| run | operations | machine | concertd server | PostgreSQL | Redis | rest | machine idle |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |"] + cpu_lines
    extra = [f"- {k[5:]}: {v}" for k, v in sorted(notes.items()) if k.startswith("info.")]
    if extra:
        lines += ["", "Notes:"] + extra
    md = "\n".join(lines) + "\n"
    open(out_base + ".md", "w", encoding="utf-8").write(md)
    json.dump({"meta": meta, "rows": rows_json, "medians": {k: statistics.median(v) for k, v in values.items()},
               "runs": values, "notes": notes},
              open(out_base + ".json", "w", encoding="utf-8"), indent=1, sort_keys=True)
    sys.stdout.write(md)


def main(argv):
    if len(argv) < 3:
        raise SystemExit(__doc__)
    cmd = argv[1]
    if cmd == "wrk":
        print(" ".join(f"{x:.3f}" if isinstance(x, float) else str(x) for x in parse_wrk(argv[2])))
    elif cmd == "pgbench":
        print(" ".join(f"{x:.3f}" for x in parse_pgbench(argv[2])))
    elif cmd == "benchjson":
        print(" ".join(str(x) for x in parse_benchjson(argv[2], argv[3])))
    elif cmd == "rss":
        found = find_rss(argv[2])
        print(found[-1][1] if found else "")
    elif cmd == "table":
        table(argv[2], argv[3], argv[4])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
