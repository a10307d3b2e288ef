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

# promtool (Prometheus's rule checker) is taken out of Debian's prometheus package without installing it: the
# package would also install and start a Prometheus server. The tests check the shipped alert rules with it.
provide_promtool() {
  command -v promtool >/dev/null && return 0
  local dir
  dir=$(mktemp -d)
  chmod 0755 "$dir"
  (cd "$dir" && apt-get download -qq prometheus >/dev/null && dpkg -x prometheus_*.deb root)
  install -m 0755 "$dir/root/usr/bin/promtool" /usr/local/bin/promtool
  rm -rf "$dir"
}
testing=false
[[ " ${want[*]} " == *" chromium "* ]] && testing=true

missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [[ ${#missing[@]} -eq 0 ]] && { ! $testing || command -v promtool >/dev/null; }; then
  exit 0
fi

if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  if [[ ${#missing[@]} -gt 0 ]]; then
    echo "installing Debian packages: ${missing[*]}"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  if $testing && ! command -v promtool >/dev/null; then
    echo "installing promtool from Debian's prometheus package (the server is not installed)"
    provide_promtool
  fi
  exit 0
fi
$testing && ! command -v promtool >/dev/null && \
  echo "the tests also need promtool: apt-get download prometheus, then dpkg -x it and copy usr/bin/promtool" >&2
[[ ${#missing[@]} -eq 0 ]] && exit 1
echo "station needs these Debian packages; install them with:" >&2
echo "  sudo apt-get install --no-install-recommends ${missing[*]}" >&2
exit 1
