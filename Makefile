# aspengo — build, test and run.
GO        ?= go
ROOT      ?= example/www
ADDR      ?= 127.0.0.1:8080
FUZZTIME  ?= 30s

.PHONY: all build test fmt vet check run e2e screenshot bench bench-http fuzz clean

all: build

build:
	$(GO) build -o bin/aspengo ./cmd/aspengo

# The packages whose tests take their database from enginetest.DB: they
# run a second time on a FerretDB server on PostgreSQL (Debian's
# postgresql), the stand-in for a MongoDB deployment. Without PostgreSQL
# they skip, except under CI=true. (The other packages' tests, trembling's
# included, start embedded engines of their own: a second run would repeat
# the first.)
STORAGE_PKGS ?= ./database/... ./trembling/auth/... ./trembling/session/mongostore/... ./embedded/enginetest/...

# The race detector's flags for make test. -race also turns on checkptr,
# which checks every unsafe.Pointer conversion at run time; in the SQLite
# engine (C translated to Go, modernc.org/...) that costs a fifth of the
# CPU of the database-heavy tests and checks no line of this repository,
# so it is off there alone. Everything else, aspengo's code and the race
# instrumentation of every package included, is unchanged.
RACE ?= -race -gcflags=modernc.org/...=-d=checkptr=0

# The test command the README gives and CI runs: gofmt, then go vet, every
# test with the race detector (the scale-out suite of cmd/aspengo
# included) and the storage suites on the database server (slower there:
# each test's collections are PostgreSQL tables, made anew), the three at
# once: the tests often wait (on browsers, servers, timeouts), and vet and
# the storage pass fill those waits. The outputs of vet and of the
# storage pass are printed after the main pass's; any failure fails it.
#
# GOGC=400 lets the compiler and the test binaries grow their heaps four
# times before collecting instead of twice: under the race detector the
# collector was a fifth of the CPU, and this machine has memory to spare
# (make test took 18% less time with it: 3 min 18 s to 2 min 42 s).
test: export GOGC ?= 400
test: fmt
	@# Compiled once here, the storage packages' dependencies (FerretDB,
	@# SQLite) are not compiled by both passes at once on a cold cache;
	@# the FerretDB server of internal/dbserver is linked once for all.
	$(GO) build $(RACE) $(STORAGE_PKGS)
	$(GO) build -o bin/ferretdbpg ./internal/dbserver/ferretdbpg
	@export ASPENGO_TEST_FERRETDB=$(CURDIR)/bin/ferretdbpg; \
	vet=$$(mktemp); pg=$$(mktemp); \
	$(GO) vet ./... >$$vet 2>&1 & vetpid=$$!; \
	ASPENGO_TEST_ENGINE=ferretdb-pg $(GO) test $(RACE) -count=1 -timeout 20m $(STORAGE_PKGS) >$$pg 2>&1 & pgpid=$$!; \
	echo "$(GO) test $(RACE) -count=1 ./..."; \
	$(GO) test $(RACE) -count=1 ./...; all=$$?; \
	wait $$vetpid; vetted=$$?; wait $$pgpid; storage=$$?; \
	echo "$(GO) vet ./..."; cat $$vet; \
	echo "ASPENGO_TEST_ENGINE=ferretdb-pg $(GO) test $(RACE) -count=1 -timeout 20m $(STORAGE_PKGS)"; \
	cat $$pg; rm -f $$vet $$pg; \
	test $$all -eq 0 && test $$vetted -eq 0 && test $$storage -eq 0

# gofmt: every Go file formatted.
fmt:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo "gofmt: the files above need formatting"; exit 1; }

vet: fmt
	$(GO) vet ./...

# Compile every simplate and hooks.conf of the example site.
check:
	$(GO) run ./cmd/aspengo check --root $(ROOT)

# Run the example site on the embedded default.
run:
	$(GO) run ./cmd/aspengo serve --root $(ROOT) --addr $(ADDR)

# Real-browser end-to-end tests (needs Debian's chromium).
e2e:
	$(GO) test -count=1 -run E2E -v ./example/...

# Refresh example/screenshot-todo.png, shown in the README.
screenshot:
	ASPENGO_E2E_SCREENSHOT=1 $(GO) test -count=1 -run E2E ./example/...

# Every benchmark; the embedded engine's lookups by _id at 1 k, 100 k and
# 1 M stored documents included (the 1 M prefill takes minutes; -short
# skips it).
bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 60m ./...

# aspengo against a hand-written net/http server, side by side (see
# bench/): requests/s, p50, p99 and the ratio for each page. Uses wrk when
# installed, else a Go client. BENCHFLAGS="-d 10s -sessions memory".
bench-http:
	$(GO) build -o bin/aspengo ./cmd/aspengo
	$(GO) build -o bin/benchpeer ./bench/cmd/benchpeer
	$(GO) run ./bench/cmd/benchhttp $(BENCHFLAGS)

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParseHooksConf -fuzztime $(FUZZTIME) .
	$(GO) test -run '^$$' -fuzz FuzzDispatch -fuzztime $(FUZZTIME) .
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) ./simplate
	$(GO) test -run '^$$' -fuzz FuzzCookieOpen -fuzztime $(FUZZTIME) ./trembling/session/cookiestore
	$(GO) test -run '^$$' -fuzz FuzzSafeNext -fuzztime $(FUZZTIME) ./trembling/auth
	$(GO) test -run '^$$' -fuzz FuzzRewrite -fuzztime $(FUZZTIME) ./internal/budget

clean:
	rm -rf bin
