# heaptrail: the commands a newcomer types. CMake does the building underneath.
#   make          build (build/bin/heaptrail, build/lib/)
#   make demo     set up, build, record the bundled example and print its report
#   make test     set up, build, run every test (plain, ASan+UBSan, clang, TSan on the
#                 heap's threads, fuzz smoke)
#   make fuzz     run the trace-reader fuzzer until stopped (FUZZ_SECONDS=N to bound it)
#   make bench    the side-by-side benchmarks of bench/
#   make install PREFIX=/usr/local
PREFIX ?= /usr/local
JOBS ?= $(shell nproc)
BUILD := build
ASAN_BUILD := build-asan
CLANG_BUILD := build-clang
TSAN_BUILD := build-tsan
FUZZ_BUILD := build-fuzz
FUZZ_SECONDS ?= 0

.PHONY: all build deps test-deps bench-deps demo test unit-test asan-test fuzz fuzz-smoke \
        install bench clean

all: build

deps:
	@scripts/install-deps.sh build

test-deps:
	@scripts/install-deps.sh test

bench-deps:
	@scripts/install-deps.sh bench

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	@examples/demo.sh $(BUILD)

test: test-deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DHT_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS) -L unit
	@# The whole suite again built by clang: code whose meaning rests on
	@# one compiler's choices (an argument evaluated first) shows here.
	@CC=clang CXX=clang++ cmake -S . -B $(CLANG_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(CLANG_BUILD) -j $(JOBS)
	cd $(CLANG_BUILD) && ctest --output-on-failure -j $(JOBS)
	@# The heap's threads under ThreadSanitizer, which fails the run on a
	@# race it sees (exit status 66). -Wno-error=tsan: it cannot follow the
	@# collector's fences, which the heap's tests do not use.
	@cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS="-fsanitize=thread -Wno-error=tsan" \
	    -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread >/dev/null
	@cmake --build $(TSAN_BUILD) -j $(JOBS) --target test_heap_threads
	$(TSAN_BUILD)/tests/test_heap_threads
	@$(MAKE) --no-print-directory fuzz-smoke

$(FUZZ_BUILD)/bin/fuzz_reader: test-deps
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHT_FUZZ=ON -DHT_TESTS=OFF >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_reader

# About a minute on the corpus kept in the repo; a crash fails the test run.
fuzz-smoke: $(FUZZ_BUILD)/bin/fuzz_reader
	@mkdir -p $(FUZZ_BUILD)/corpus
	$(FUZZ_BUILD)/bin/fuzz_reader -max_total_time=60 -max_len=65536 -rss_limit_mb=1024 \
	    -print_final_stats=1 $(FUZZ_BUILD)/corpus tests/fuzz/corpus

fuzz: $(FUZZ_BUILD)/bin/fuzz_reader
	@mkdir -p $(FUZZ_BUILD)/corpus
	$(FUZZ_BUILD)/bin/fuzz_reader -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	    -rss_limit_mb=1024 $(FUZZ_BUILD)/corpus tests/fuzz/corpus

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

bench: bench-deps build
	bench/run-all.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(CLANG_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD)
