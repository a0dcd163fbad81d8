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

# test installs the real proxies the end-to-end tests use, then runs every test.
test: test-deps vet
	go test -count=1 ./...

test-deps:
	./scripts/install-test-deps.sh

vet:
	@test -z "$$(gofmt -l .)" || { echo "gofmt would change:"; gofmt -l .; exit 1; }
	go vet ./...

# build is the one way the binary is built, here, in CI and in the Dockerfile.
build:
	CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X $(VERSION_VAR)=$(VERSION)" -o $(BIN) ./cmd/mcpguard

bench:
	go test -run=NONE -bench=. -benchmem ./...

# fuzz runs each fuzz target for a short while (FUZZTIME per target).
FUZZTIME ?= 20s
fuzz:
	go test -run=NONE -fuzz=FuzzNormalizePath -fuzztime=$(FUZZTIME) ./cmd/mcpguard
	go test -run=NONE -fuzz=FuzzParseOriginal -fuzztime=$(FUZZTIME) ./cmd/mcpguard
