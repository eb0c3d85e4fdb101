# Tongxin: the human entry point. The real build is CMake; see README.md.
#   make demo   - install what is missing, build, run a local district
#   make test   - install what is missing, build, run the whole suite (CTest)
#   make asan   - the suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   make fuzz   - libFuzzer targets, longer runs (clang)
#   make bench  - benchmarks; figures go into docs/performance.md
#   make soak   - long crash/convergence/simulation runs
#   make format - clang-format every C file in place

BUILD   ?= build
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
FUZZ_SECONDS ?= 60

.PHONY: all deps build test asan clang fuzz bench soak demo format clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	@ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTX_SANITIZE=ON -DTX_BENCH=OFF >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 TX_SOAK_SCALE=0.2 \
	  ctest --test-dir build-asan --output-on-failure -j $(JOBS)

# gcc and clang must both build warning-clean.
clang: deps
	@scripts/install-deps.sh clang
	@cmake -S . -B build-clang -DCMAKE_C_COMPILER=clang >/dev/null
	@cmake --build build-clang -j $(JOBS)

fuzz: deps
	@scripts/install-deps.sh clang
	@cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DTX_FUZZ=ON -DTX_TESTS=OFF -DTX_BENCH=OFF >/dev/null
	@cmake --build build-fuzz -j $(JOBS)
	@scripts/fuzz.sh build-fuzz $(FUZZ_SECONDS)

bench: build
	@scripts/bench.sh $(BUILD)

soak: build
	@TX_SOAK=1 scripts/soak.sh $(BUILD)

demo: build
	@scripts/demo.sh $(BUILD)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-clang build-fuzz
