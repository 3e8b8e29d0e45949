# One command each: `make run` and `make test` set up everything on a fresh Debian 12 machine.
BUILD_DIR ?= build
JOBS ?= 2
PYTHON := /usr/bin/python3

.PHONY: all deps build run test unit integration test-asan test-tsan clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD_DIR)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j$(JOBS)

run: build
	./$(BUILD_DIR)/concertd serve

unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS)

# The same suite on the embedded engines, then on real PostgreSQL and Redis servers that the
# tests start themselves (plus the multi-instance tests, which need both).
integration: build
	scripts/run-pytest.sh tests/integration
	CONCERTD_TEST_ENGINE=distributed scripts/run-pytest.sh tests/integration

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

# The sanitizer runs come after the plain ones, one after the other (not in parallel with them:
# the timing tests need the two cores).
test: unit integration
	$(MAKE) test-asan
	$(MAKE) test-tsan

clean:
	rm -rf $(BUILD_DIR) build-asan build-tsan
