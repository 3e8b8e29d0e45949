#!/usr/bin/env python3
"""Recompute the drawn order of a waiting-room opening.

Usage:
    scripts/audit-opening.py --url http://127.0.0.1:8080 --admin-key KEY [ids-file | -]
    scripts/audit-opening.py --seed HEX [ids-file | -]

Reads the opening's shuffleSeed from GET /api/admin/queue (or takes --seed) and token ids, or
whole tokens, one per line from the file (or stdin); prints "<place>\\t<token id>" in the drawn
order, place being the 1-based rank among the ids given. Each id ranks by SHA-256 of the ASCII
string "<shuffleSeed>:<token id>", lowest digest first (ties by id).

Why it is fair: the seed is drawn from the server's CSPRNG at the opening, after the pre-queue is
closed, and token ids come from the server's CSPRNG too (behind a time prefix), so no fan or script
can influence their rank; refreshing returns the same token, so it gains nothing.
"""
import argparse
import base64
import hashlib
import json
import sys
import urllib.request


def token_id(line):
    """A token id as given, or the id inside a whole token (payload t1|key|id|ms|user)."""
    if "." not in line:
        return line
    payload = line.split(".", 1)[0]
    return base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode().split("|")[2]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--admin-key")
    ap.add_argument("--seed", help="the shuffleSeed (else read from the server)")
    ap.add_argument("ids", nargs="?", default="-", help="file of token ids or tokens, - for stdin")
    a = ap.parse_args()
    seed = a.seed
    if seed is None:
        req = urllib.request.Request(a.url.rstrip("/") + "/api/admin/queue", headers={"X-Admin-Key": a.admin_key or ""})
        with urllib.request.urlopen(req, timeout=10) as r:
            seed = json.load(r)["shuffleSeed"]
        if seed is None:
            sys.exit("audit-opening: the server shows no shuffleSeed (the opening has not run)")
    f = sys.stdin if a.ids == "-" else open(a.ids, encoding="ascii")
    ids = list(dict.fromkeys(token_id(s.strip()) for s in f if s.strip()))
    ids.sort(key=lambda i: (hashlib.sha256(f"{seed}:{i}".encode("ascii")).digest(), i))
    for place, i in enumerate(ids, 1):
        print(f"{place}\t{i}")


if __name__ == "__main__":
    main()
