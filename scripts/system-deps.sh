#!/usr/bin/env bash
# Install the Debian packages Station's set-up needs on a fresh minimal Debian or Raspberry Pi OS:
#   always     what building pyscard needs (PyPI has no Linux wheels of it: a C compiler, the Python
#              headers, swig, PC/SC headers, pkg-config) and python3-venv for .venv;
#   --test     also what building PyGObject and pycairo needs (cairo and gobject-introspection headers),
#              the real PC/SC and umockdev stacks the tests run against, ALSA's aplay, and chromium (the
#              report's HTML is checked in it, headless).
# As root with apt-get it installs what is missing; otherwise it prints the one apt-get line to run and fails.
# --list (after --test, if given) prints the packages wanted, one a line, and does nothing else.
set -euo pipefail

build=(gcc libc6-dev python3-dev python3-venv swig libpcsclite-dev pkg-config)
realstack=(libcairo2-dev libgirepository1.0-dev pcscd vsmartcard-vpcd umockdev gir1.2-umockdev-1.0 alsa-utils
           chromium)
want=("${build[@]}")
[[ "${1:-}" == "--test" ]] && want+=("${realstack[@]}") && shift
if [[ "${1:-}" == "--list" ]]; then
  printf '%s\n' "${want[@]}"
  exit 0
fi

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
echo "station needs these Debian packages; install them with:" >&2
echo "  sudo apt-get install --no-install-recommends ${missing[*]}" >&2
exit 1
