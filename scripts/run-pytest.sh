#!/usr/bin/env bash
# Runs pytest with Debian's interpreter (the python3 on PATH may lack pytest); "no tests
# collected" (exit 5) is a failure, not a pass.
set -uo pipefail
/usr/bin/python3 -m pytest -q "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: failing" >&2
  exit 1
fi
exit "$rc"
