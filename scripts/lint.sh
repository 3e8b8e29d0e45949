#!/usr/bin/env bash
# make lint: clang-format 14 and clang-tidy 14 (Debian 12) over the tree; any finding fails.
#   scripts/lint.sh          check formatting, then run clang-tidy on every translation unit
#   scripts/lint.sh --fix    rewrite formatting in place (make format), no clang-tidy
# clang-tidy reads its own compile database in build-lint/: the same targets configured without
# precompiled headers (GCC's PCH flags mean nothing to clang, and each file should be read with
# only what it includes). Configured only, never built. The fuzz targets are left out: they are
# configured only in the clang fuzz build, and their code is the library's, linted here.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${JOBS:-2}
mapfile -t sources < <(git ls-files '*.cpp' '*.hpp')

if [ "${1:-}" = "--fix" ]; then
  clang-format-14 -i "${sources[@]}"
  exit 0
fi

started=$(date +%s)
if ! clang-format-14 --dry-run -Werror "${sources[@]}"; then
  echo "lint: formatting differs from .clang-format (make format rewrites it)" >&2
  exit 1
fi

cmake -S . -B build-lint -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_DISABLE_PRECOMPILE_HEADERS=ON \
  -DCMAKE_CXX_COMPILER_LAUNCHER= >/dev/null
# -Wno-error: GCC's -Werror is in the compile commands, and clang's own warnings are not this
# step's business (the checks are listed in .clang-tidy; GCC's warnings fail the build itself).
if ! run-clang-tidy-14 -p build-lint -j "$jobs" -quiet -extra-arg=-Wno-error \
  "$PWD/(src|tests)/.*\.cpp$" >build-lint/clang-tidy.log 2>&1; then
  grep -E "(warning|error): " build-lint/clang-tidy.log | sort -u >&2 || cat build-lint/clang-tidy.log >&2
  echo "lint: clang-tidy found the above (full output: build-lint/clang-tidy.log)" >&2
  exit 1
fi
echo "lint: clean ($(($(date +%s) - started)) s)"
