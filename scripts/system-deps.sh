#!/usr/bin/env bash
# Install the Debian packages Station needs: to build pyscard (always) and, with --test, the real
# PC/SC and umockdev stacks and ALSA's aplay the tests run against. As root on Debian it installs what is missing;
# otherwise it names what to install and fails.
set -euo pipefail

build=(libpcsclite-dev pkg-config swig python3-venv)
realstack=(pcscd vsmartcard-vpcd umockdev gir1.2-umockdev-1.0 libgirepository1.0-dev libcairo2-dev alsa-utils)
want=("${build[@]}")
[[ "${1:-}" == "--test" ]] && want+=("${realstack[@]}")

missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  exit 0
fi
echo "station needs these Debian packages: ${missing[*]}" >&2
echo "install them with: sudo apt-get install ${missing[*]}" >&2
exit 1
