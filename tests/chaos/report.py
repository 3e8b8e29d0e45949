"""What the chaos tests broke and what the invariant checks found, for the summary table."""
import threading
from collections import OrderedDict

import backends

_lock = threading.Lock()
FAULTS: list[dict] = []  # one row per fault kind per test
CHECKS: "OrderedDict[str, list[int]]" = OrderedDict()  # check name -> [runs, violations]


def mode() -> str:
    return "distributed" if backends.uses_postgres() else "embedded"


def fault(test: str, what: str, times: int, **figures):
    with _lock:
        FAULTS.append({"mode": mode(), "test": test, "fault": what, "times": times, **figures})


def check(name: str, violations: int):
    with _lock:
        row = CHECKS.setdefault(name, [0, 0])
        row[0] += 1
        row[1] += violations


def _table(headers, rows) -> list[str]:
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *(line(r) for r in rows)]


def render() -> str:
    with _lock:
        faults = list(FAULTS)
        checks = [(name, runs, bad) for name, (runs, bad) in CHECKS.items()]
    if not faults and not checks:
        return ""
    out = []
    if faults:
        out.append(f"What was broken ({mode()} mode):")
        out += _table(
            ["test", "fault", "times", "load (acked charges / payments)", "unknown outcomes resolved",
             "answers during outage", "5xx other than 503", "problems"],
            [[f["test"], f["fault"], f["times"], f"{f.get('charges', 0)} / {f.get('payments', 0)}",
              f.get("unknown", 0), f.get("outage_answers", "-"), f.get("bad5xx", 0), f.get("problems", 0)]
             for f in faults])
    if checks:
        out.append("")
        out.append(f"Invariant checks ({mode()} mode):")
        out += _table(["check", "runs", "violations"], checks)
    return "\n".join(out)
