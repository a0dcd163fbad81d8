#!/usr/bin/env bash
# Builds Traefik, the reverse proxy the Traefik end-to-end tests run
# (cmd/mcpguard/internal/e2e/traefik_test.go), from the Go module proxy, and prints the binary's
# path. The binary lives in a cache outside the repository and is built once: later runs
# only print the path. About 12 minutes cold on 2 CPUs, under a minute with a warm Go build
# cache.
#
#   TRAEFIK_BIN  where the binary goes (default:
#                $XDG_CACHE_HOME/mcpguard/traefik-v3.7.12/traefik, $XDG_CACHE_HOME
#                defaulting to ~/.cache); the test reads the same variable.
#
# `go install github.com/traefik/traefik/v3/cmd/traefik@...` is refused because Traefik's
# go.mod has replace directives, so the build happens inside a throwaway wrapper module
# that requires Traefik and re-declares them:
#   - github.com/traefik/traefik/dynamic/ext points at a directory of Traefik's tree that
#     has its own go.mod, which the module zip leaves out; the wrapper provides the same
#     package (two empty extension structs embedded by pkg/config/dynamic) locally.
#   - github.com/abbot/go-http-auth: the containous fork commit v3.7 pins is refused by the
#     module proxy, so the wrapper uses the one Traefik v3.6 pinned. It only serves the
#     basicAuth and digestAuth middlewares, which mcpguard's recipes and tests do not use:
#     this binary is a test peer, not one to deploy.
# v3.7.13 needs a lego version the module proxy refuses; v3.7.12 is the newest that builds.
set -euo pipefail

readonly traefik_version=v3.7.12
readonly traefik_module=github.com/traefik/traefik/v3
readonly http_auth_fork="github.com/containous/go-http-auth v0.4.1-0.20200324110947-a37a7636d23e"
readonly mux_fork="github.com/containous/mux v0.0.0-20250523120546-41b6ec3aed59"

bin="${TRAEFIK_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/mcpguard/traefik-${traefik_version}/traefik}"
if [ -x "$bin" ]; then
    echo "$bin"
    exit 0
fi

command -v go >/dev/null 2>&1 || { echo "build-traefik.sh: go is not on the PATH" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/mcpguard-traefik-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
log="$work/build.log"

fail() {
    echo "build-traefik.sh: $1 failed:" >&2
    cat "$log" >&2
    exit 1
}

cd "$work"
# A clean module: no workspace, no vendoring, no flags inherited from a caller's GOFLAGS
# that could change what resolves (-mod=vendor, -modfile). Traefik's release builds are
# static (CGO off).
export GOWORK=off GOFLAGS=-buildvcs=false CGO_ENABLED=0

mkdir ext
cat >ext/go.mod <<EOF
module github.com/traefik/traefik/dynamic/ext

go 1.24
EOF
cat >ext/ext.go <<'EOF'
// Package ext stands in for Traefik's in-tree extension module, the same empty types.
package ext

// HTTP is a dynamic.HTTPConfiguration extension.
type HTTP struct{}

// Router is a dynamic.Router extension.
type Router struct{}

// RouterIng is a Router extension for ingress provider annotations.
type RouterIng struct{}

// ToRouter converts RouterIng to a Router.
func (r RouterIng) ToRouter() Router { return Router{} }
EOF

cat >go.mod <<EOF
module mcpguard.invalid/traefikbuild

go 1.26.0

require ${traefik_module} ${traefik_version}

replace (
	github.com/traefik/traefik/dynamic/ext => ./ext
	github.com/abbot/go-http-auth => ${http_auth_fork}
	github.com/gorilla/mux => ${mux_fork}
)

// As in Traefik's go.mod: the monorepo's root module would make imports ambiguous.
exclude github.com/tencentcloud/tencentcloud-sdk-go v3.0.83+incompatible
EOF

go mod download "${traefik_module}@${traefik_version}" >"$log" 2>&1 ||
    fail "go mod download ${traefik_module}@${traefik_version}"
traefik_dir="$(go list -m -f '{{.Dir}}' "${traefik_module}@${traefik_version}" 2>>"$log")" ||
    fail "go list -m ${traefik_module}"
# Traefik's go.sum holds the checksums of every version it pins, which spares the checksum
# database look-ups that fail here; only the go-http-auth fork's is looked up.
cp "$traefik_dir/go.sum" go.sum
chmod u+w go.sum

mkdir -p "$(dirname "$bin")"
# Build next to the destination and rename, so a concurrent or interrupted run never
# leaves a partial binary at $bin.
tmp_bin="$(mktemp "$(dirname "$bin")/.traefik.XXXXXX")"
trap 'rm -rf "$work" "$tmp_bin"' EXIT
# -mod=mod, not `go mod tidy`: the build adds the requirements of the packages it compiles,
# all at the versions Traefik's go.mod selects. Tidy would also want the test dependencies
# of Traefik's dependencies, some in no module Traefik requires, and resolve those to
# whatever is latest on the day.
go build -mod=mod -trimpath -ldflags "-s -w -X ${traefik_module}/pkg/version.Version=${traefik_version}" \
    -o "$tmp_bin" "${traefik_module}/cmd/traefik" >>"$log" 2>&1 ||
    fail "go build ${traefik_module}/cmd/traefik"
"$tmp_bin" version >>"$log" 2>&1 || fail "traefik version"
mv -f "$tmp_bin" "$bin"
echo "$bin"
