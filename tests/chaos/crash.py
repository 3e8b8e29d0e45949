"""The crash driver: fans run full flows while the server is killed with SIGKILL at random
moments and restarted on the same data; after each restart the invariants are checked through
the API, in the store and against the ledger of acknowledged charges, payments and holds (every
acknowledged hold of an idle fan, unpaid and unexpired, is still held)."""
import os
import random
import time

from support import Server, wait_until

from . import report
from .driver import Load, make_concerts
from .invariants import check_everything, hold_problems

KILLS = int(os.environ.get("CONCERTD_CHAOS_KILLS", "20"))
FANS = 16
PARK_TIMEOUT = 2.0  # a fan still learning an outcome (a lapsing idempotency claim) is checked later


def run_crash(srv: Server, view, test_name: str, kills=KILLS, seed=None):
    seed = seed if seed is not None else random.randrange(1 << 30)
    rnd = random.Random(seed)
    concerts = make_concerts(srv, count=5, seats=1600, seed=seed)
    load = Load([srv], concerts, clients=FANS, seed=seed, max_flows=10_000, duration=300)
    problems: list[str] = []
    exact_checks = partial_checks = 0
    hit = 0  # kills that left at least one request without an answer
    done = 0
    started = time.monotonic()
    load.start()
    try:
        wait_until(lambda: load.acked()[1] >= 5 or load.problems or None, 30, "the first payments")
        for k in range(kills):
            if not load.gate.running:  # every fan has failed: nothing left to break
                break
            time.sleep(rnd.uniform(0.2, 1.5))  # load until a random moment
            before = load.count_answers(lambda ph, what: what == "conn-error")
            srv.kill9()
            srv.start()  # same data dir, same port
            done += 1
            parked, all_idle = load.gate.pause(PARK_TIMEOUT)
            try:
                found = check_everything(srv, view, load, parked, all_idle)
                found += hold_problems(srv, view, load, parked)
            finally:
                load.gate.resume()
            problems += [f"after kill {k + 1}: {p}" for p in found]
            if all_idle:
                exact_checks += 1
            else:
                partial_checks += 1
            if load.count_answers(lambda ph, what: what == "conn-error") > before:
                hit += 1
    finally:
        load.stop()
    problems += load.problems
    # everyone stopped: every fan is idle, the ledger is final
    problems += check_everything(srv, view, load, None, True)
    problems += hold_problems(srv, view, load, None)
    charges, payments = load.acked()
    unknown = sum(v for what, v in load.stats.items() if "resolved" in what)
    report.fault(test_name, "kill -9 + restart on the same data", done, charges=charges, payments=payments,
                 unknown=unknown, bad5xx=load.count_answers(lambda ph, what: what.startswith("HTTP 5")
                                                            and not what.startswith("HTTP 503")),
                 outage_answers=f"{load.count_answers(lambda ph, what: what.startswith('conn-'))} "
                                f"connection errors", problems=len(problems))
    summary = (f"seed {seed}: {done} kills ({hit} with requests in flight) in {time.monotonic() - started:.0f}s, "
               f"{charges} charges and {payments} payments acknowledged, stats {dict(load.stats)}, "
               f"checks after restart: {exact_checks} with every fan idle, {partial_checks} partial")
    print(summary)
    assert done >= kills, f"only {done} of {kills} kills ran: {summary}\n" + "\n".join(problems[:40])
    assert not problems, f"{len(problems)} problems ({summary}):\n" + "\n".join(problems[:40])
    assert payments >= kills, f"too little load to mean anything: {summary}"
    return load
