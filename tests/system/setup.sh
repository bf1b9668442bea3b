#!/bin/sh
# Install what "make check-system" needs on Debian 12 (as root).
set -eu
PKGS=$(grep -v '^#' "$(dirname "$0")/packages.txt")
if [ "$(id -u)" -ne 0 ]; then
	echo "tests/system/setup.sh: run as root (it installs Debian packages)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $PKGS
