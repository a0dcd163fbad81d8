#!/usr/bin/env bash
# Usage: install-npm-testdata.sh NAME PACKAGE
# Installs the npm packages of cmd/mcpguard/internal/e2e/testdata/NAME from the npm
# registry, at the versions its committed package-lock.json pins, into a cache outside the
# repository: $XDG_CACHE_HOME/mcpguard/NAME-<lock hash>/node_modules (XDG_CACHE_HOME
# defaulting to ~/.cache), the directory the end-to-end tests read (npmModules in
# tssdk_test.go). PACKAGE is the one whose presence means the install is done. Installs
# nodejs and npm from Debian when npm is missing. Quiet and idempotent: instant when cached.
set -euo pipefail
cd "$(dirname "$0")/.."

name=${1:?usage: install-npm-testdata.sh NAME PACKAGE}
probe=${2:?usage: install-npm-testdata.sh NAME PACKAGE}
src=cmd/mcpguard/internal/e2e/testdata/$name
if ! command -v npm >/dev/null 2>&1; then
	sudo=""
	[ "$(id -u)" -ne 0 ] && sudo="sudo"
	export DEBIAN_FRONTEND=noninteractive
	apt_install() { $sudo apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null; }
	apt_install 2>/dev/null || { $sudo apt-get update -qq >/dev/null; apt_install; }
fi
hash=$(sha256sum "$src/package-lock.json" | cut -c1-12)
dir="${XDG_CACHE_HOME:-$HOME/.cache}/mcpguard/$name-$hash"
[ -f "$dir/node_modules/$probe/package.json" ] && exit 0
mkdir -p "$dir"
cp "$src/package.json" "$src/package-lock.json" "$dir/"
# A package whose engines want a newer Node than Debian's only warns (engine-strict off).
npm ci --prefix "$dir" --no-audit --no-fund --silent --engine-strict=false >/dev/null
