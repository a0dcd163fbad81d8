#!/usr/bin/env bash
# Installs the real browser of the browser end-to-end test (TestChromium*): Debian's
# chromium package, with a font for its screenshots, when /usr/bin/chromium (or
# $CHROMIUM_BIN) is not there yet. Quiet and idempotent; runs apt-get update only when the
# packages are not found without it.
set -euo pipefail

bin="${CHROMIUM_BIN:-/usr/bin/chromium}"
[ -x "$bin" ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
apt_install() {
	$sudo apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
}
if ! apt_install 2>/dev/null; then
	$sudo apt-get update -qq >/dev/null
	apt_install
fi
[ -x "$bin" ] || { echo "install-browser: chromium installed but $bin is missing" >&2; exit 1; }
