#!/usr/bin/env bash
# Install the Debian packages Warden needs to build, run and test — in one apt-get call, and only when
# something is missing (a second run costs one dpkg-query).
set -euo pipefail
missing=()
for pkg in "$@"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then missing+=("$pkg"); fi
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
echo "installing Debian packages: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then echo "error: installing packages needs root (run as root or install: ${missing[*]})" >&2; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
echo "installed ${#missing[@]} packages"
