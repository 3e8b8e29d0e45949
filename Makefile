# One command each: `make run` and `make test` set up everything on a fresh Debian 12 machine.
BUILD_DIR ?= build
JOBS ?= 2
PYTHON := /usr/bin/python3

.PHONY: all deps build run test lint format unit integration browser chaos bench-smoke bench fuzz-build fuzz-smoke fuzz test-asan test-tsan clean package package-test

all: build

deps:
	@scripts/install-deps.sh

$(BUILD_DIR)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j$(JOBS)

run: build
	./$(BUILD_DIR)/concertd serve

# clang-format and clang-tidy (.clang-format, .clang-tidy); `make format` rewrites formatting.
lint: deps
	JOBS=$(JOBS) scripts/lint.sh

format: deps
	scripts/lint.sh --fix

unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS)
	$(PYTHON) -m pytest -q -p no:cacheprovider bench/test_run.py

# The same suite on the embedded engines, then on real PostgreSQL and Redis servers that the
# tests start themselves (plus the multi-instance tests, which need both).
integration: build
	scripts/run-pytest.sh tests/integration
	CONCERTD_TEST_ENGINE=distributed scripts/run-pytest.sh tests/integration

# The booking page in headless chromium (Playwright from tests/browser's lockfile), axe-core on
# every screen; screenshots at phone and desktop widths in build/screenshots/.
browser: build
	scripts/browser-test.sh $(BUILD_DIR)

# kill -9 under load (both engines), PostgreSQL/Redis outages and a lost instance (distributed);
# bounded: a few minutes for both runs on 2 cores. Each run ends with a table of what was broken.
chaos: build
	scripts/run-pytest.sh tests/chaos
	CONCERTD_TEST_ENGINE=distributed scripts/run-pytest.sh tests/chaos

# A 200-fan ticket-opening rush (`concertd bench rush`) against a fresh server: exit code 0,
# invariants ok, 50 seats bought and the other fans sold out. Under a minute.
bench-smoke: build
	scripts/bench-smoke.sh $(BUILD_DIR)

# libFuzzer targets (fuzz/), built with clang 14 + ASan/UBSan in their own build directory.
# fuzz-smoke: a fixed number of runs of every target from its seed corpus (part of `make test`);
# fuzz: a long run per target, the grown corpus kept in $(FUZZ_WORK) (the seeds stay as they are).
FUZZ_BUILD_DIR ?= build-fuzz
FUZZ_TARGETS := http_request_fuzzer json_body_fuzzer
FUZZ_SMOKE_RUNS_HTTP ?= 30000
FUZZ_SMOKE_RUNS_JSON ?= 300000
FUZZ_TIME ?= 600
FUZZ_WORK ?= $(FUZZ_BUILD_DIR)/work
FUZZ_FLAGS := -dict=fuzz/http.dict -timeout=25 -print_final_stats=1

$(FUZZ_BUILD_DIR)/CMakeCache.txt: | deps
	cmake -S . -B $(FUZZ_BUILD_DIR) -DCONCERTD_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo

fuzz-build: deps $(FUZZ_BUILD_DIR)/CMakeCache.txt
	cmake --build $(FUZZ_BUILD_DIR) -j$(JOBS)

fuzz-smoke: fuzz-build
	@mkdir -p $(FUZZ_BUILD_DIR)/smoke
	@set -e; for t in $(FUZZ_TARGETS); do \
	  case $$t in json_body_fuzzer) runs=$(FUZZ_SMOKE_RUNS_JSON);; *) runs=$(FUZZ_SMOKE_RUNS_HTTP);; esac; \
	  echo "fuzz-smoke: $$t, $$runs runs"; \
	  rm -rf $(FUZZ_BUILD_DIR)/smoke/$$t && mkdir -p $(FUZZ_BUILD_DIR)/smoke/$$t; \
	  ./$(FUZZ_BUILD_DIR)/$$t $(FUZZ_FLAGS) -max_len=20000 -runs=$$runs -seed=1 \
	    -artifact_prefix=$(FUZZ_BUILD_DIR)/smoke/$$t- $(FUZZ_BUILD_DIR)/smoke/$$t fuzz/corpus/$$t \
	    > $(FUZZ_BUILD_DIR)/smoke/$$t.log 2>&1 \
	    || { tail -n 60 $(FUZZ_BUILD_DIR)/smoke/$$t.log; echo "fuzz-smoke: $$t failed (log: $(FUZZ_BUILD_DIR)/smoke/$$t.log)"; exit 1; }; \
	  grep -E '^#[0-9]+[[:space:]]+DONE' $(FUZZ_BUILD_DIR)/smoke/$$t.log; \
	done

fuzz: fuzz-build
	@set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_WORK)/$$t; \
	  echo "fuzz: $$t for $(FUZZ_TIME) s, corpus in $(FUZZ_WORK)/$$t"; \
	  ./$(FUZZ_BUILD_DIR)/$$t $(FUZZ_FLAGS) -max_total_time=$(FUZZ_TIME) -max_len=70000 -rss_limit_mb=4096 \
	    -artifact_prefix=$(FUZZ_WORK)/$$t- $(FUZZ_WORK)/$$t fuzz/corpus/$$t; \
	done


# `make package`: the Debian package (CPack's DEB generator; the unit, maintainer scripts and
# copyright in deploy/debian/) from a build of its own in $(PACKAGE_BUILD_DIR): Release at -O2 (the
# level every tested build uses; -O3 is untried under -Werror) with dpkg-buildflags' hardening
# flags plus -z now, only the concertd target. It prints the .deb's path. ccache caches the
# precompiled-header compilations (nearly all of them) only with this sloppiness (ccache(1),
# PRECOMPILED HEADERS), set here for this build alone; the base dir lets a clone elsewhere hit.
# `make package-test`: the package's contents, lintian, and the packaged binary and config run
# from an unpacked tree (tests/package).
PACKAGE_BUILD_DIR ?= build-package
PACKAGE_CMAKE := -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG" \
  "-DCMAKE_CXX_FLAGS=-fstack-protector-strong -D_FORTIFY_SOURCE=2 -Wformat -Werror=format-security" \
  "-DCMAKE_EXE_LINKER_FLAGS=-Wl,-z,relro,-z,now" -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON
PACKAGE_CCACHE := CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime CCACHE_BASEDIR=$(CURDIR)

$(PACKAGE_BUILD_DIR)/CMakeCache.txt: | deps
	cmake -S . -B $(PACKAGE_BUILD_DIR) $(PACKAGE_CMAKE)

package: deps $(PACKAGE_BUILD_DIR)/CMakeCache.txt
	$(PACKAGE_CCACHE) cmake --build $(PACKAGE_BUILD_DIR) -j$(JOBS) --target concertd
	rm -f $(PACKAGE_BUILD_DIR)/concertd_*.deb
	cd $(PACKAGE_BUILD_DIR) && cpack -G DEB
	@echo "package: $$(ls $(abspath $(PACKAGE_BUILD_DIR))/concertd_*.deb)"

package-test: package
	CONCERTD_DEB="$$(ls $(abspath $(PACKAGE_BUILD_DIR))/concertd_*.deb)" scripts/run-pytest.sh tests/package

# Sanitizer builds, each in its own directory: -O1 with debug info (quicker to build and run than
# -O2, readable stacks) and assertions on (no NDEBUG).
SAN_CMAKE := -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g"
# Any finding fails the run: a process aborts at the first report (a test sees its server die),
# LeakSanitizer at exit turns a clean SIGTERM exit into a failure, and the suite also fails on a
# report it finds in a server's output (tests/integration/support.py). tsan.supp holds only
# documented false positives in libraries, never our own code.
ASAN_ENV := ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1 \
            UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
TSAN_ENV := TSAN_OPTIONS=halt_on_error=1:abort_on_error=1:second_deadlock_stack=1:suppressions=$(CURDIR)/tests/sanitizers/tsan.supp
# Under TSan: the whole embedded suite (about 40 s), whose racing requests, kill -9 and restarts
# and expiry jobs drive the SQLite writer and reader threads against the I/O thread. The
# distributed engines add no thread of their own. Narrow it with TSAN_TESTS=... when iterating.
TSAN_TESTS ?= tests/integration

build-asan/CMakeCache.txt: | deps
	cmake -S . -B build-asan $(SAN_CMAKE) -DCONCERTD_SANITIZE=address,undefined

build-tsan/CMakeCache.txt: | deps
	cmake -S . -B build-tsan $(SAN_CMAKE) -DCONCERTD_SANITIZE=thread

# ASan + UBSan (+ LeakSanitizer): the unit tests, then the whole integration suite on the embedded
# engines and on PostgreSQL + Redis.
test-asan: deps build-asan/CMakeCache.txt
	cmake --build build-asan -j$(JOBS)
	cd build-asan && $(ASAN_ENV) ctest --output-on-failure -j$(JOBS)
	$(ASAN_ENV) CONCERTD_BIN=$(CURDIR)/build-asan/concertd scripts/run-pytest.sh tests/integration
	$(ASAN_ENV) CONCERTD_BIN=$(CURDIR)/build-asan/concertd CONCERTD_TEST_ENGINE=distributed \
	  scripts/run-pytest.sh tests/integration

# TSan: the unit tests (the SQLite worker's threads among them), then $(TSAN_TESTS).
test-tsan: deps build-tsan/CMakeCache.txt
	cmake --build build-tsan -j$(JOBS)
	cd build-tsan && $(TSAN_ENV) ctest --output-on-failure -j$(JOBS)
	$(TSAN_ENV) CONCERTD_BIN=$(CURDIR)/build-tsan/concertd scripts/run-pytest.sh $(TSAN_TESTS)


# A token's signature check (Google Benchmark, bench/token_verify_bench.cpp), then the ratios
# against nginx and pgbench measured in the same run (bench/run.py, docs/scaling.md);
# BENCH_DURATION, BENCH_REPEAT, BENCH_WAITING, BENCH_DISTRIBUTED and CONCERTD as described there.
bench: build
	./$(BUILD_DIR)/token_verify_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
	CONCERTD=$${CONCERTD:-$(CURDIR)/$(BUILD_DIR)/concertd} $(PYTHON) bench/run.py

clean:
	rm -rf $(BUILD_DIR) $(FUZZ_BUILD_DIR) build-asan build-tsan build-lint build-package

# Everything, one step after the other (the timing tests need both cores): the plain suites
# first for fast feedback, then the fuzzers and the sanitizer builds.
test: lint unit integration browser chaos bench-smoke package-test fuzz-smoke test-asan test-tsan
