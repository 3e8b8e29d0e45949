#!/usr/bin/env bash
# The booking page and the dashboard in a real browser (tests/browser): Playwright, installed from
# the lockfile, drives Debian's chromium against the binary of build dir $1, which serves the pages
# itself. Every test on the embedded engine, then the booking and the operator's pause and resume
# against PostgreSQL + Redis (real servers, started by with-backends.py). Screenshots go to
# build/screenshots/ (build/screenshots/distributed/ for the second run).
set -euo pipefail
build_dir=$(cd "${1:-build}" && pwd)
cd "$(dirname "$0")/../tests/browser"
npm ci --no-audit --no-fund --prefer-offline --loglevel=error
export CONCERTD_BIN="$build_dir/concertd"
npm test
./with-backends.py npm run test:distributed
