# One command each: `make run` and `make test` set up everything on a fresh Debian 12 machine.
BUILD_DIR ?= build
JOBS ?= 2
PYTHON := /usr/bin/python3

.PHONY: all deps build run test unit integration chaos fuzz-build fuzz-smoke fuzz clean

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


test: unit integration chaos fuzz-smoke

clean:
	rm -rf $(BUILD_DIR) $(FUZZ_BUILD_DIR)
