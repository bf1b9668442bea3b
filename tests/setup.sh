#!/bin/sh
# Install what PKS needs to build, test and run its demo on Debian 12.
# Run as root.  Safe to run again.
set -eu

PKGS=$(grep -v '^#' "$(dirname "$0")/packages.txt")

if [ "$(id -u)" -ne 0 ]; then
	echo "tests/setup.sh: run as root (it installs Debian packages)" >&2
	exit 1
fi
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing
fi
# the unprivileged user of the children
if ! id -u _pks >/dev/null 2>&1; then
	useradd --system --no-create-home --home-dir /nonexistent \
	    --shell /usr/sbin/nologin _pks
fi
