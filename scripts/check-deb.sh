#!/usr/bin/env bash
# Installs dist/station_<version>_<arch>.deb (make deb) into a fresh Debian bookworm minbase root (the base root
# fresh-root-check.sh caches), with systemd and udev as on Raspberry Pi OS, and checks what an administrator
# relies on: `station --version`; `station config check` on the shipped configuration (which names the missing
# escrow key, then passes once `station pins keygen` made one); `systemd-analyze verify` of the units; udev
# reads the rule without complaint; the station user and directories; no file of the package (nor the
# byte-code postinst compiles) writable by a user other than root; `station install-system` from the
# package's virtualenv writes the very files the package ships; installing again (an upgrade) keeps an edited
# station.toml; `dpkg -r` keeps /etc/station and the store,
# `dpkg -P` removes them and leaves nothing of the package; then lintian finds no error in the .deb. Prints
# the time of each step.
#
#   scripts/check-deb.sh [ARCH]      (make check-deb; needs root, the Debian mirror, and the .deb built)
set -euo pipefail
# shellcheck source=scripts/deb-root.sh
source "$(dirname "$0")/deb-root.sh"

arch=${1:-$(dpkg --print-architecture)}
version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$src/station/__init__.py")
deb="$src/dist/station_${version}_${arch}.deb"
[[ -f "$deb" ]] || fail "no $deb: make deb first"
start=$(now)

work=$(mktemp -d /var/tmp/station-check-deb-"$arch".XXXXXX)
trap 'rm -rf --one-file-system "$work"' EXIT
root="$work/root"
unpack_root "$arch" "$root" base
cp "$deb" "$root/root/station.deb"
echo "$(since "$start") s  fresh root unpacked"

step() {  # step NAME COMMAND: runs COMMAND in the root, prints its output on failure
  local out
  if ! out=$(in_root "$root" "set -eu; $2"); then
    printf '%s\n' "$out" >&2
    fail "$1"
  fi
  [[ -z "$out" ]] || printf '%s\n' "$out" | sed 's/^/    /'
  echo "$(since "$start") s  ok: $1"
}

# Every path named *station* in the root, before the package and after its purge (systemd's own
# 80-wifi-station.network.example comes with systemd, hence installed first).
named_station="find / -xdev \\( -path /proc -o -path /sys -o -path /dev -o -path /root -o -path /tmp \\) -prune \\
  -o -name '*station*' -print | sort"
step "apt-get install systemd udev, then ./station.deb" "
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends systemd udev >/tmp/apt.log 2>&1 || { cat /tmp/apt.log; exit 1; }
  $named_station >/root/before
  apt-get install -y -qq --no-install-recommends /root/station.deb >/tmp/apt.log 2>&1 \
    || { cat /tmp/apt.log; exit 1; }"

step "station --version" "
  test \"\$(station --version)\" = 'station $version'"

step "no test doubles: the emulators are not in the package, and station demo says how to get them" "
  ! find /opt/station/lib -path '*site-packages/station_emulator*' -print -quit | grep -q .
  ! find /opt/station/lib -path '*site-packages/station/emulator*' -print -quit | grep -q .
  set +e; out=\$(station demo 2>&1); rc=\$?; set -e
  test \$rc = 1
  echo \"\$out\" | grep -q 'needs Station.s emulators'"

step "the station user and its directories" "
  getent passwd station | grep -q '^station:x:[0-9]*:[0-9]*:Station enrolment daemon:/var/lib/station:'
  getent group station >/dev/null
  test \"\$(stat -c '%U:%G %a' /etc/station)\" = 'root:station 750'
  test \"\$(stat -c '%U:%G %a' /etc/station/station.toml)\" = 'root:station 640'
  test \"\$(stat -c '%U:%G %a' /var/lib/station)\" = 'station:station 700'
  test \"\$(readlink /usr/bin/station)\" = /opt/station/bin/station"

step "no file of the package writable by a user other than root" "
  bad=\$( { dpkg -L station; find /opt/station; } | sort -u | xargs -d '\\n' sh -c \\
    'find \"\$@\" -maxdepth 0 ! -type l \\( ! -user root -o -perm -002 -o \\( -perm -020 ! -group root \\) \\)' sh)
  [ -z \"\$bad\" ] || { echo \"writable by others: \$bad\"; exit 1; }
  test -n \"\$(find /opt/station/lib -name '*.pyc' -print -quit)\"  # postinst compiled the byte-code"

step "station config check: the shipped configuration lacks only the escrow key, then passes" "
  set +e; out=\$(station config check 2>&1); rc=\$?; set -e
  [ \$rc -eq 2 ] || { echo \"exit \$rc: \$out\"; exit 1; }
  echo \"\$out\" | grep -q 'enrolment.escrow_public_key: /etc/station/escrow-public.pem does not exist'
  [ \"\$(echo \"\$out\" | grep -c '^  [a-z_]*\\.')\" -eq 1 ] || { echo \"\$out\"; exit 1; }
  mkdir -m 0700 /root/escrow
  station pins keygen --out /root/escrow >/dev/null
  install -m 0644 /root/escrow/escrow-public.pem /etc/station/escrow-public.pem
  station config check"

step "systemd-analyze verify of the units" "
  out=\$(systemd-analyze verify /usr/lib/systemd/system/station.service \
    /usr/lib/systemd/system/station-kiosk.service 2>&1) || { echo \"\$out\"; exit 1; }
  [ -z \"\$out\" ] || { echo \"\$out\"; exit 1; }"

step "udev reads the rule without complaint" "
  out=\$(SYSTEMD_LOG_LEVEL=debug udevadm test /class/mem/null 2>&1 || true)
  echo \"\$out\" | grep -q 'Reading rules file: /usr/lib/udev/rules.d/70-station-fido.rules' \
    || { echo \"udev did not read the rule: \$out\" | tail -20; exit 1; }
  ! echo \"\$out\" | grep '70-station-fido.rules:' | grep -iE 'invalid|error|unknown|ignor|fail'"

step "station install-system (from the package's virtualenv) writes the files the package ships" "
  station install-system --apply --root /root/staged >/dev/null
  cmp /root/staged/etc/systemd/system/station.service /usr/lib/systemd/system/station.service
  cmp /root/staged/etc/systemd/system/station-kiosk.service /usr/lib/systemd/system/station-kiosk.service
  cmp /root/staged/etc/udev/rules.d/70-station-fido.rules /usr/lib/udev/rules.d/70-station-fido.rules
  cmp /root/staged/usr/lib/sysusers.d/station.conf /usr/lib/sysusers.d/station.conf
  cmp /root/staged/usr/lib/tmpfiles.d/station.conf /usr/lib/tmpfiles.d/station.conf"

step "installing it again (as an upgrade does) keeps an edited station.toml" "
  sed -i 's/^name = .*/name = \"Front desk\"/' /etc/station/station.toml
  dpkg -i /root/station.deb >/dev/null
  grep -q '^name = \"Front desk\"' /etc/station/station.toml
  test \"\$(stat -c '%U:%G %a' /etc/station/station.toml)\" = 'root:station 640'
  test -n \"\$(find /opt/station/lib -name '*.pyc' -print -quit)\"
  station config check >/dev/null"

step "dpkg -r keeps /etc/station and the store, removes the rest" "
  install -m 0600 -o station -g station /dev/null /var/lib/station/station.db
  dpkg -r station >/dev/null
  dpkg -l station | grep -q '^rc'
  test -f /etc/station/station.toml -a -f /etc/station/escrow-public.pem -a -f /var/lib/station/station.db
  test ! -e /opt/station -a ! -e /usr/bin/station -a ! -e /usr/lib/systemd/system/station.service"

step "dpkg -P removes /etc/station and the store, and leaves nothing of the package" "
  dpkg -P station >/dev/null
  ! dpkg -l station 2>/dev/null | grep -E '^[a-z]{2} ' | grep -qv '^un '
  $named_station >/root/after
  diff -u /root/before /root/after"

need_host_tools lintian
lint=$(lintian --fail-on error "$deb" 2>&1) || { printf '%s\n' "$lint" >&2; fail "lintian reports errors in $deb"; }
printf '%s\n' "$lint" | grep -v '^running with root privileges' | sed 's/^/    /' || true
echo "$(since "$start") s  ok: lintian reports no errors (the warnings above are known: README, Install on Debian)"

echo "check-deb $arch: OK ($(basename "$deb"), $(since "$start") s)"
