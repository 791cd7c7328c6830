# v6kit — see README.md. `make test` is what CI runs.
GO ?= go
export GOFLAGS ?= -mod=mod

.PHONY: test deps vet unit fuzz bench bench-certs bench-probe fmt site

test: deps vet unit fuzz

deps:
	@bash scripts/deps.sh

vet:
	$(GO) vet ./...
	cd examples/thirdparty && $(GO) vet ./...

# Every test, integration included (real nginx, PostgreSQL, Redis, Pebble, systemd-analyze,
# network namespaces). Under CI=true a missing tool fails instead of skipping.
unit:
	$(GO) test -race -count=1 -timeout 40m ./...

# Each fuzz target for a bounded number of executions (FUZZTIME=100000x; see scripts/fuzz.sh).
fuzz:
	@bash scripts/fuzz.sh

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

bench-certs:
	@bash scripts/deps.sh --bench
	@bash scripts/bench-certs.sh

bench-probe:
	@bash scripts/deps.sh --bench
	@bash scripts/bench-probe.sh

fmt:
	gofmt -w $$(git ls-files '*.go')

# The main job: render the all-in-one IPv6-only site bundle with example defaults.
site:
	$(GO) run ./examples/allinone --out ./site
