# cserve — the two commands of the quick start, and a few more.
#   make run    installs what is missing, builds, and serves the seed's Counter on :8000
#   make test   installs what is missing, builds, and runs the test suite
PRESET ?= release
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: deps configure build run test test-asan test-tsan check-thread-safety fuzz-smoke bench install clean

deps:
	@./scripts/install_deps.sh

configure: deps
	@cmake --preset $(PRESET) >/dev/null

build: configure
	@cmake --build --preset $(PRESET)

run:
	@./scripts/install_deps.sh --core
	@cmake --preset $(PRESET) >/dev/null
	@cmake --build --preset $(PRESET) --target counter
	./build/$(PRESET)/examples/counter --host $(HOST) --port $(PORT)

test: build
	ctest --preset $(PRESET) -j2

test-asan:
	@$(MAKE) --no-print-directory test PRESET=asan-ubsan

test-tsan:
	@$(MAKE) --no-print-directory test PRESET=tsan

# The lock contracts, checked by Clang's -Wthread-safety (a build, no tests: its failures are
# compile errors).
check-thread-safety: deps
	@cmake --preset clang-tsa >/dev/null
	@cmake --build --preset clang-tsa

# The wire decoders under libFuzzer: a million inputs grown from the seed corpus (a crash fails).
# The corpus it grows goes to build/, not into the source tree. (-entropic=0: the default power
# schedule spends most of the time on its own bookkeeping for this target.)
fuzz-smoke: check-thread-safety
	@mkdir -p build/fuzz-corpus/frame && cp tests/fuzz/corpus/frame/* build/fuzz-corpus/frame/
	./build/clang-tsa/tests/fuzz/frame_fuzzer -runs=1000000 -max_len=256 -entropic=0 build/fuzz-corpus/frame

bench:
	@./scripts/install_deps.sh --bench
	@cmake --preset release >/dev/null
	@cmake --build --preset release
	./bench/http_counter.sh

install: build
	cmake --install build/$(PRESET) --prefix $(or $(PREFIX),/usr/local)

clean:
	rm -rf build
