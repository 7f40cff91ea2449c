# fastserve: `make run` builds and starts the demo, `make test` runs every test.
PREFIX ?= /usr/local
VERSION := 0.1.0
CC ?= cc
CFLAGS_EX := -Wall -Wextra -Werror -pedantic -O2 -g -Iinclude
LIBDIR := build/lib
CARGO ?= cargo
PYTHON ?= python3

.PHONY: all lib run deps test test-uring test-rust test-c header test-header test-python test-examples test-asan install clean bench bench-files bench-parse bench-parse-criterion bench-router bench-access-log bench-asgi examples python test-asgi
EXAMPLES := build/hello build/deferred build/pico_compat build/own_loop build/stream build/upgrade build/upload build/files build/observe
VENV := .venv
PYTEST := $(VENV)/bin/pytest

all: lib

# The release library, staged with its SONAME links under build/lib.
lib:
	$(CARGO) build --release
	@mkdir -p $(LIBDIR)
	cp target/release/libfastserve.so $(LIBDIR)/libfastserve.so.$(VERSION)
	ln -sf libfastserve.so.$(VERSION) $(LIBDIR)/libfastserve.so.0
	ln -sf libfastserve.so.0 $(LIBDIR)/libfastserve.so
	cp target/release/libfastserve.a $(LIBDIR)/libfastserve.a

build/%: c-examples/%.c lib
	$(CC) $(CFLAGS_EX) $< -L$(LIBDIR) -lfastserve -Wl,-rpath,'$$ORIGIN/lib' -o $@ -lpthread

examples: $(EXAMPLES)

run: build/hello
	@echo "starting the hello server; try: curl 'http://127.0.0.1:8080/hello?name=you'"
	./build/hello 127.0.0.1 8080

test: deps test-header test-rust test-c test-examples test-python test-asgi test-wsgi test-asan test-uring test-docs test-deploy
	@echo "make test: all suites passed"

# Tools the tests use beyond a compiler, Rust and Python.
deps:
	@command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl >/dev/null; }

# The test venv: pytest, uvloop (the HttpProtocol tests run on both loops),
# wsproto and websockets (the WebSocket example and its client),
# prometheus_client (its parser reads the metrics routes),
# and what `pip install ./python` needs to build without network access.
$(PYTEST):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check pytest uvloop setuptools wheel wsproto websockets prometheus_client

# The Python package installed into the venv the way a user installs it:
# its build runs cargo and bundles the stripped library (the tests import
# the installed copy). An editable install leaves the library at PYLIB.
PYLIB := python/fastserve/libfastserve.so
python: $(PYTEST)
	$(VENV)/bin/pip install -q --disable-pip-version-check pytest uvloop setuptools wheel wsproto websockets prometheus_client
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-build-isolation --no-deps --force-reinstall ./python

test-python: python
	cd tests/python && ../../$(PYTEST) -q

# ASGI apps (raw, FastAPI, Starlette) under python -m fastserve and under
# uvicorn, the same tests against both (tests/asgi).
ASGI_DEPS := fastapi==0.163.2 starlette==1.10.0 httpx==0.28.1 'uvicorn[standard]==0.54.0'
.PHONY: test-asgi
test-asgi: python
	@$(VENV)/bin/python -c 'import fastapi, httpx, uvicorn' 2>/dev/null || $(VENV)/bin/pip install -q --disable-pip-version-check $(ASGI_DEPS)
	cd tests/asgi && ../../$(PYTEST) -q

# WSGI apps (tests/wsgi): a bare conformance app and Flask, each on
# fastserve and on gunicorn (the reference), with httpx as the client.
WSGI_PINS := flask==3.1.3 werkzeug==3.1.9 httpx==0.28.1 gunicorn==27.0.1
.PHONY: test-wsgi bench-wsgi
test-wsgi: python
	@$(VENV)/bin/python -c 'import flask, httpx, gunicorn' 2>/dev/null || $(VENV)/bin/pip install -q --disable-pip-version-check $(WSGI_PINS)
	cd tests/wsgi && timeout 600 ../../$(PYTEST) -q

# WSGI hello and Flask hello, fastserve against granian --interface wsgi:
# server CPU per request, depth 1 and 16. Run it alone:
# flock /tmp/bench.lock make bench-wsgi
bench-wsgi: lib python build/loadgen
	@$(VENV)/bin/python -c 'import flask' 2>/dev/null || $(VENV)/bin/pip install -q --disable-pip-version-check $(WSGI_PINS)
	$(PYTHON) bench/wsgi_bench.py -d $(BENCH_SECONDS) --rounds $(BENCH_ROUNDS) --out build/wsgi_bench.json

# Behind nginx and HAProxy, and a restart on one port (tests/deploy): the
# proxies come from apt-get when missing (as root, or through sudo).
.PHONY: test-deploy
test-deploy: python
	sh tests/deploy/apt_install.sh haproxy nginx
	cd tests/deploy && timeout 600 ../../$(PYTEST) -q

# The C examples over real sockets (pytest only: no Python package needed).
test-examples: $(EXAMPLES) $(PYTEST)
	@$(VENV)/bin/python -c 'import prometheus_client' 2>/dev/null || $(VENV)/bin/pip install -q --disable-pip-version-check prometheus_client
	cd tests/examples && ../../$(PYTEST) -q

# The examples again under AddressSanitizer with LeakSanitizer: a leak or an
# invalid access makes the example exit non-zero, which fails the tests.
build/asan/%: c-examples/%.c lib
	@mkdir -p build/asan
	$(CC) $(CFLAGS_EX) -O1 -fsanitize=address -fno-omit-frame-pointer $< -L$(LIBDIR) -lfastserve -Wl,-rpath,'$$ORIGIN/../lib' -o $@ -lpthread

test-asan: build/asan/hello build/asan/deferred build/asan/own_loop build/asan/stream build/asan/upgrade build/asan/upload build/asan/files build/asan/echo build/asan/observe $(PYTEST)
	ASAN_OPTIONS=detect_leaks=1 ./build/asan/echo
	cd tests/examples && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 FASTSERVE_EXAMPLES=$(CURDIR)/build/asan ../../$(PYTEST) -q $(ASAN_SUITES)

# The server suites again on the io_uring driver (FASTSERVE_DRIVER overrides
# the configured one; tests/driver.rs checks the override is honoured): the
# Rust tests that start servers, the load test, the C examples (also under
# AddressSanitizer) and the Python package. Parser and core suites do not
# depend on the driver and run once.
URING_TESTS := alloc attack batch_server cancel driver edge ffi_errors ffi_exports ffi_refusals \
  graceful_stop head_memo limits linger listeners peer_and_bodies refusals routing
ASAN_SUITES := test_engine.py test_own_loop.py test_stream.py test_upgrade.py test_upload.py test_files.py test_observe.py
test-uring: $(EXAMPLES) build/asan/hello build/asan/deferred build/asan/own_loop build/asan/stream build/asan/upgrade build/asan/upload build/asan/files build/asan/observe python
	FASTSERVE_DRIVER=io_uring $(CARGO) test $(addprefix --test ,$(URING_TESTS))
	FASTSERVE_DRIVER=io_uring $(CARGO) test --profile load-test --test load
	cd tests/examples && FASTSERVE_DRIVER=io_uring ../../$(PYTEST) -q
	cd tests/examples && FASTSERVE_DRIVER=io_uring ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 FASTSERVE_EXAMPLES=$(CURDIR)/build/asan ../../$(PYTEST) -q $(ASAN_SUITES)
	cd tests/python && FASTSERVE_DRIVER=io_uring ../../$(PYTEST) -q

# Every code block of the READMEs: C compiled and linked, Python run, shell
# commands looked up (the rules are at the top of tests/docs/check_docs.py).
.PHONY: test-docs
test-docs: lib python
	$(VENV)/bin/python tests/docs/check_docs.py README.md python/README.md
	$(PYTEST) -q tests/docs

# Copies the header that build.rs generates from src/ffi (into the release
# build's OUT_DIR, which cargo names in its build-script-executed message) to $(1).
define copy_header
	@mkdir -p $(dir $(1))
	@pkg=$$($(CARGO) pkgid) && \
	out=$$($(CARGO) build --release --message-format=json-render-diagnostics | $(PYTHON) -c \
	  'import json, sys; print(*[m["out_dir"] for m in map(json.loads, sys.stdin) if m.get("reason") == "build-script-executed" and m["package_id"] == sys.argv[1]])' \
	  "$$pkg") && \
	test -f "$$out/fastserve.h" && cp "$$out/fastserve.h" $(1)
endef

# Regenerates include/fastserve.h after a change to src/ffi.
header:
	$(call copy_header,include/fastserve.h)

# The checked-in header must equal what build.rs generates from the sources.
test-header:
	$(call copy_header,build/fastserve.h)
	@diff -u include/fastserve.h build/fastserve.h || { echo "include/fastserve.h is stale: run make header and commit it"; exit 1; }

# tests/load.rs asserts latency bounds, so it also runs optimised.
test-rust:
	$(CARGO) test
	$(CARGO) test --profile load-test --test load
	FASTSERVE_LOAD_WORKERS=2 $(CARGO) test --profile load-test --test load

# A test of the C API in strict C99: request bytes into responses without casts,
# fastserve_last_error, the version macros.
CFLAGS_TEST := -std=c99 -Wall -Wextra -Werror -pedantic -O1 -g -Iinclude
build/echo: tests/c/echo.c include/fastserve.h lib
	$(CC) $(CFLAGS_TEST) $< -L$(LIBDIR) -lfastserve -Wl,-rpath,'$$ORIGIN/lib' -o $@

build/asan/echo: tests/c/echo.c include/fastserve.h lib
	@mkdir -p build/asan
	$(CC) $(CFLAGS_TEST) -fsanitize=address -fno-omit-frame-pointer $< -L$(LIBDIR) -lfastserve -Wl,-rpath,'$$ORIGIN/../lib' -o $@

test-c: $(EXAMPLES) build/echo
	./build/echo
	./build/pico_compat > build/pico_compat.out
	diff -u tests/c/pico_compat.expected build/pico_compat.out
	@echo "c-examples: pico_compat OK"
	rm -rf build/prefix
	$(MAKE) -s install PREFIX=$(CURDIR)/build/prefix
	@if command -v pkg-config >/dev/null; then \
	  flags=$$(PKG_CONFIG_PATH=build/prefix/lib/pkgconfig pkg-config --cflags --libs fastserve); \
	else flags="-Ibuild/prefix/include -Lbuild/prefix/lib -lfastserve"; fi; \
	$(CC) -Wall -Wextra -Werror -O2 c-examples/pico_compat.c $$flags -Wl,-rpath,$(CURDIR)/build/prefix/lib -o build/pico_installed
	./build/pico_installed | diff -u tests/c/pico_compat.expected -
	@echo "make install: the installed library and headers build a picohttpparser program"

install: lib
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(LIBDIR)/libfastserve.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libfastserve.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libfastserve.so.0
	ln -sf libfastserve.so.0 $(DESTDIR)$(PREFIX)/lib/libfastserve.so
	install -m 644 $(LIBDIR)/libfastserve.a $(DESTDIR)$(PREFIX)/lib/
	install -m 644 include/fastserve.h include/picohttpparser.h $(DESTDIR)$(PREFIX)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' fastserve.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/fastserve.pc

# Parser speed against httparse and C picohttpparser (-O2 -march=native), one core.
bench-parse:
	CFLAGS="-O2 -march=native" taskset -c 0 $(CARGO) bench --no-default-features --bench parse_ratio

# The same contenders under criterion, with its statistics.
bench-parse-criterion:
	CFLAGS="-O2 -march=native" taskset -c 0 $(CARGO) bench --no-default-features --bench parse

# The load generator and the floor server of the benchmarks (bench/loadgen).
build/loadgen: bench/loadgen/Cargo.toml bench/loadgen/Cargo.lock bench/loadgen/src/main.rs
	$(CARGO) build --release --locked --manifest-path bench/loadgen/Cargo.toml --target-dir build/loadgen-target
	cp build/loadgen-target/release/loadgen $@

build/floor: bench/loadgen/floor.c
	@mkdir -p build
	$(CC) -Wall -Wextra -Werror -O2 $< -o $@

# matplotlib for the chart, in a venv of its own.
BENCH_VENV := build/bench-venv
build/bench-venv/bin/python:
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q --disable-pip-version-check matplotlib

# Hello-world servers under loadgen: each server on core 0, loadgen on core
# 1, the servers alternating for BENCH_ROUNDS rounds at depth 1 and 16 (100
# connections); medians of req/s, server CPU per request and p99, ratios to
# may_minihttp, Japronto and the floor; the chart goes to bench/results/.
# Then BENCH_TARGETS, the other benchmarks (a new one adds itself with
# `BENCH_TARGETS += bench-NAME` beside its rule).
# Run it alone: flock /tmp/bench.lock make bench
BENCH_TARGETS := bench-files bench-parse bench-router bench-access-log
BENCH_SERVERS ?= fastserve_static,fastserve_handler,fastserve_py,fastserve_py_uring,may_minihttp,japronto,uvloop_httptools,granian,floor
BENCH_SECONDS ?= 5
BENCH_ROUNDS ?= 3
bench: lib examples $(PYTEST) build/loadgen build/floor build/bench-venv/bin/python
	bash bench/setup.sh
	$(PYTHON) bench/hello_bench.py --servers $(BENCH_SERVERS) -d $(BENCH_SECONDS) --rounds $(BENCH_ROUNDS) \
	  --out bench/results/hello.json
	$(BENCH_VENV)/bin/python bench/chart.py bench/results/hello.json bench/results/cpu_per_request.png
	@for t in $(BENCH_TARGETS); do echo "== make $$t"; $(MAKE) $$t || exit 1; done

# A router of 50 routes against one route: server CPU per request, server on
# core 0, loadgen (build/loadgen) on core 1.
# Run it alone: flock /tmp/bench.lock make bench-router
bench-router: lib build/loadgen
	$(PYTHON) bench/router_bench.py -d $(BENCH_SECONDS) --rounds $(BENCH_ROUNDS) --out build/router_bench.json

# The access log's cost: server CPU per request with no log, a counting
# callback and an fprintf one, depth 16, server on core 0, loadgen
# (build/loadgen) on core 1.
# Run it alone: flock /tmp/bench.lock make bench-access-log
bench-access-log: lib build/observe build/loadgen
	$(PYTHON) bench/access_log_bench.py -d $(BENCH_SECONDS) --rounds $(BENCH_ROUNDS) --out build/access_log_bench.json

# ASGI servers: a bare hello, Starlette and FastAPI under fastserve, uvicorn
# (uvloop + httptools) and granian, one worker each, depth 1 and 16; server
# CPU per request and the ratios. Makes its venv (bench/.peers/asgi) when
# missing. Run it alone: flock /tmp/bench.lock make bench-asgi
BENCH_TARGETS += bench-asgi bench-wsgi
bench-asgi: lib build/loadgen
	$(PYTHON) bench/asgi_bench.py -d $(BENCH_SECONDS) --rounds $(BENCH_ROUNDS) --out build/asgi_bench.json

# Static files alone: server CPU per MiB sent, fastserve against nginx
# (sendfile on, one worker), for a 1 MiB and a 10 KiB file.
bench-files: build/files
	@command -v wrk >/dev/null && command -v nginx >/dev/null || bash bench/setup.sh
	$(PYTHON) bench/file_bench.py -d $(BENCH_SECONDS) --out build/bench_files.json

# Every fuzz target for FUZZ_SECONDS each, with libFuzzer through cargo-fuzz
# (installed when missing), under AddressSanitizer. Not part of `make test`,
# which replays the corpus instead. A crash stops the run (fuzz/artifacts/).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := parse_request parse_response parse_headers chunked conn framing_diff proxy_header
.PHONY: fuzz
fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	@mkdir -p build
	@for t in $(FUZZ_TARGETS); do \
	  echo "== $$t, $(FUZZ_SECONDS) s"; \
	  RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run $$t -- -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    > build/fuzz-$$t.log 2>&1; rc=$$?; \
	  grep -E "stat::number_of_executed_units|ERROR|panicked" build/fuzz-$$t.log; \
	  test $$rc = 0 || { echo "$$t failed: see build/fuzz-$$t.log"; exit 1; }; \
	done

clean:
	$(CARGO) clean
	rm -rf build python/build python/*.egg-info $(PYLIB)
