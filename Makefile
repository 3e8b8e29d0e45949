# One command each: `make run` and `make test` set up everything on a fresh Debian 12 machine.
BUILD_DIR ?= build
JOBS ?= 2
PYTHON := /usr/bin/python3

.PHONY: all deps build run test unit integration chaos clean

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

# kill -9 under load (both engines), PostgreSQL/Redis outages and a lost instance (distributed);
# bounded: a few minutes for both runs on 2 cores. Each run ends with a table of what was broken.
chaos: build
	scripts/run-pytest.sh tests/chaos
	CONCERTD_TEST_ENGINE=distributed scripts/run-pytest.sh tests/chaos

test: unit integration chaos

clean:
	rm -rf $(BUILD_DIR)
