#!/usr/bin/env bash
# Builds Dex, the OIDC provider the end-to-end Dex suite (cmd/mcpguard/internal/e2e/dex_test.go)
# runs, from the Go module proxy, and prints the binary's path. The binary lives in a cache
# outside the repository and is built once: later runs only print the path.
#
#   DEX_BIN    where the binary goes (default: $XDG_CACHE_HOME/mcpguard/dex-v2.45.1/dex,
#              $XDG_CACHE_HOME defaulting to ~/.cache); the test reads the same variable.
#
# `go install github.com/dexidp/dex/cmd/dex@...` is refused because Dex's go.mod has a
# replace directive (its api/v2 module, a sibling directory that the module zip leaves
# out), so the build happens inside a throwaway wrapper module that requires Dex and
# api/v2 from the proxy and builds Dex's own main package as a `tool`.
set -euo pipefail

readonly dex_release=v2.45.1
# The pseudo-version of the commit tagged v2.45.1 (the tag itself is not a Go module
# version) and the api/v2 module it builds with.
readonly dex_module=github.com/dexidp/dex
readonly dex_version=v0.0.0-20260303133905-11d2eeb52b42
readonly dex_api_version=v2.4.0

bin="${DEX_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/mcpguard/dex-${dex_release}/dex}"
if [ -x "$bin" ]; then
    echo "$bin"
    exit 0
fi

command -v go >/dev/null 2>&1 || { echo "build-dex.sh: go is not on the PATH" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/mcpguard-dex-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
log="$work/build.log"

fail() {
    echo "build-dex.sh: $1 failed:" >&2
    cat "$log" >&2
    exit 1
}

cd "$work"
# A clean module: no workspace, no vendoring, no flags inherited from a caller's GOFLAGS
# that could change what resolves (-mod=vendor, -modfile).
export GOWORK=off GOFLAGS=-buildvcs=false

cat >go.mod <<EOF
module mcpguard.invalid/dexbuild

go 1.25.0

tool ${dex_module}/cmd/dex

require (
	${dex_module} ${dex_version}
	${dex_module}/api/v2 ${dex_api_version}
)
EOF

go mod download "${dex_module}@${dex_version}" >"$log" 2>&1 || fail "go mod download ${dex_module}@${dex_version}"
dex_dir="$(go list -m -f '{{.Dir}}' "${dex_module}@${dex_version}" 2>>"$log")" || fail "go list -m ${dex_module}"
# Dex's go.sum holds the checksums of every version it pins, which spares most checksum
# database look-ups; tidy adds the few the wrapper needs beyond it (api/v2).
cp "$dex_dir/go.sum" go.sum
chmod u+w go.sum
go mod tidy >>"$log" 2>&1 || fail "go mod tidy"

mkdir -p "$(dirname "$bin")"
# Build next to the destination and rename, so a concurrent or interrupted run never
# leaves a partial binary at $bin.
tmp_bin="$(mktemp "$(dirname "$bin")/.dex.XXXXXX")"
trap 'rm -rf "$work" "$tmp_bin"' EXIT
go build -trimpath -ldflags "-s -w -X main.version=${dex_release}" -o "$tmp_bin" "${dex_module}/cmd/dex" >>"$log" 2>&1 ||
    fail "go build ${dex_module}/cmd/dex"
"$tmp_bin" version >>"$log" 2>&1 || fail "dex version"
mv -f "$tmp_bin" "$bin"
echo "$bin"
