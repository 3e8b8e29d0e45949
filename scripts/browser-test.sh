#!/usr/bin/env bash
# The booking page in a real browser (tests/browser): Playwright, installed from the lockfile,
# drives Debian's chromium against the binary of build dir $1, which serves the pages itself.
# Screenshots go to build/screenshots/.
set -euo pipefail
build_dir=$(cd "${1:-build}" && pwd)
cd "$(dirname "$0")/../tests/browser"
npm ci --no-audit --no-fund --prefer-offline --loglevel=error
CONCERTD_BIN="$build_dir/concertd" npm test
