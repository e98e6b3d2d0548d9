# cserve — the two commands of the quick start, and a few more.
#   make run    installs what is missing, builds, and serves the seed's Counter on :8000
#   make test   installs what is missing, builds, and runs the test suite
PRESET ?= release
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: deps configure build run test test-asan test-tsan check-thread-safety bench install clean

deps:
	@./scripts/install_deps.sh

configure: deps
	@cmake --preset $(PRESET) >/dev/null

build: configure
	@cmake --build --preset $(PRESET)

run: configure
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

bench:
	@./scripts/install_deps.sh --bench
	@cmake --preset release >/dev/null
	@cmake --build --preset release
	./bench/http_counter.sh

install: build
	cmake --install build/$(PRESET) --prefix $(or $(PREFIX),/usr/local)

clean:
	rm -rf build
