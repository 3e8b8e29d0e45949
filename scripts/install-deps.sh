#!/usr/bin/env bash
# Installs the Debian 12 packages the build and the tests need, when missing. As root it runs
# apt-get; otherwise it prints the exact command and stops.
set -euo pipefail
packages=(
  cmake make g++ ccache pkg-config
  libboost1.81-dev libboost-json1.81-dev
  libsqlite3-dev libssl-dev libspdlog-dev libfmt-dev libcli11-dev zlib1g-dev libtomlplusplus-dev
  libpq-dev libhiredis-dev postgresql redis-server
  libgtest-dev libgmock-dev libbenchmark-dev
  # libFuzzer (make fuzz-smoke): clang's -fsanitize=fuzzer,address,undefined runtimes are in
  # libclang-rt-14-dev, only recommended by clang-14 (libfuzzer-14-dev is not needed).
  clang-14 libclang-rt-14-dev
  # make lint
  clang-format-14 clang-tidy-14
  lintian dpkg-dev  # make package: dpkg-shlibdeps computes the .deb's Depends; tests/package runs lintian
  python3 python3-pytest python3-requests
  python3-jsonschema  # tests/integration/test_openapi.py: responses against web/openapi.json's schemas
  prometheus  # promtool + prometheus: tests/integration/test_deploy_dashboard.py checks deploy/prometheus
  # make bench: the nginx reference and wrk (pgbench comes with postgresql-15), curl for setup
  nginx wrk curl
  # make browser: Playwright (from npm, tests/browser) drives Debian's chromium; without a Korean
  # font Hangul shows as boxes in the screenshots
  chromium fonts-nanum nodejs
)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
# Debian's nodejs comes without npm, which is its own package; a Node.js from elsewhere (such as
# NodeSource's nodejs) carries npm itself and conflicts with Debian's npm package.
if ! command -v npm >/dev/null 2>&1; then
  missing+=(npm)
fi
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "Missing packages. Install them with:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "Installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
