# The two commands a newcomer needs: `make run` and `make test`.
BIN ?= bin/mcpguard
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# The variable -ldflags -X sets to VERSION.
VERSION_VAR := github.com/mcpguard/mcpguard/cmd/mcpguard/internal/app.version

.PHONY: run test test-deps build vet bench fuzz

# run starts mcpguard as the authorization server with local users (demo@example.com,
# password mcpguard-demo) and its state in an embedded bbolt file: no external identity
# provider, no Docker. README.md walks through a login in the browser.
run:
	mkdir -p .mcpguard
	PROVIDER=local LOCAL_USERS_FILE=examples/demo-users.yaml POLICY_FILE=examples/quickstart.yaml \
	STORE=bolt://$(CURDIR)/.mcpguard/mcpguard.db go run ./cmd/mcpguard

# test installs the real peers the end-to-end tests use, then runs every test. Each step
# prints a line with how long it usually takes before it runs: 15 to 25 minutes in all the
# first time on two cores, most of it building Traefik.
test: test-deps vet
	@echo "test: go test -count=1 ./... (about 6 minutes cold on 2 CPUs, most of it compiling; about three minutes when cached)…"
	go test -count=1 ./...

test-deps:
	./scripts/install-test-deps.sh

vet:
	@echo "vet: gofmt and go vet ./... (about 2 minutes cold on 2 CPUs, seconds when cached)…"
	@test -z "$$(gofmt -l .)" || { echo "gofmt would change:"; gofmt -l .; exit 1; }
	go vet ./...

# build is the one way the binary is built, here, in CI and in the Dockerfile.
build:
	CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X $(VERSION_VAR)=$(VERSION)" -o $(BIN) ./cmd/mcpguard

bench:
	go test -run=NONE -bench=. -benchmem ./...

# fuzz runs every fuzz target of the module for FUZZTIME each (16 targets, so about 6
# minutes at the default). The targets are read from the test files, so a new one runs
# without being listed here.
FUZZTIME ?= 20s
fuzz:
	@grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u | while read -r dir; do \
		for target in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$dir/*_test.go); do \
			echo "fuzz: $$target in $$dir for $(FUZZTIME)"; \
			go test -run=NONE -fuzz="^$$target\$$" -fuzztime=$(FUZZTIME) $$dir || exit 1; \
		done; \
	done
