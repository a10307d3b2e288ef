#!/usr/bin/env bash
# The README's set-up on a fresh machine: a Debian bookworm minbase root of the given architecture (arm64 is
# what 64-bit Raspberry Pi OS Lite is built on; it runs under qemu-user) with only ca-certificates, git, make
# and python3 added, a copy of this checkout in it, and `make demo DEMO_ARGS="--headless --users 6 --keys 2"`
# run there as root. Passes when the demo enrols everyone; prints the set-up time and the demo's wall time.
#
#   scripts/fresh-root-check.sh amd64|arm64        (make check-fresh ARCH=arm64)
#
# Needs root and network access to the Debian mirror and PyPI. It installs its host tools (mmdebstrap, zstd,
# and qemu-user-static + binfmt-support for a foreign architecture) with apt-get when they are missing.
# The base root is cached as $STATION_FRESH_CACHE/bookworm-ARCH-base.tar.zst (default /var/cache/station-fresh)
# and rebuilt when older than $STATION_FRESH_MAX_AGE_DAYS (default 7) days; everything else starts fresh.
#
# STATION_FRESH_PREBUILT (make check-fresh PREBUILT=…) starts from a cached root that already holds the Debian
# packages of scripts/system-deps.sh (keyed by that script's contents), so only Python's set-up and the demo
# are timed: "build" makes it (and then checks), "use" requires it, "if-present" skips the check without it.
set -euo pipefail

arch=${1:-$(dpkg --print-architecture)}
demo_args=${DEMO_ARGS:---headless --users 6 --keys 2}
cache=${STATION_FRESH_CACHE:-/var/cache/station-fresh}
max_age_days=${STATION_FRESH_MAX_AGE_DAYS:-7}
suite=bookworm
mirror=http://deb.debian.org
src=$(cd "$(dirname "$0")/.." && pwd)
base="$cache/$suite-$arch-base.tar.zst"
prebuilt_mode=${STATION_FRESH_PREBUILT:-}
# Keyed by the packages `make demo` installs, so a change to them makes a new one.
prebuilt="$cache/$suite-$arch-sysdeps-$("$src/scripts/system-deps.sh" --list | sha1sum | cut -c1-12).tar.zst"

fail() { echo "fresh-root-check: $*" >&2; exit 1; }
fresh_enough() { [[ -n $(find "$1" -mtime "-$max_age_days" 2>/dev/null) ]]; }
case "$prebuilt_mode" in
  "" | build | use) ;;
  if-present)
    if ! fresh_enough "$prebuilt" || [[ "$prebuilt" -ot "$base" ]]; then
      echo "fresh-root-check $arch: skipped, no prebuilt root $prebuilt (make check-fresh ARCH=$arch PREBUILT=build)"
      exit 0
    fi ;;
  *) fail "STATION_FRESH_PREBUILT must be build, use or if-present, not '$prebuilt_mode'" ;;
esac
[[ $(id -u) -eq 0 ]] || fail "run as root (it builds and enters a chroot): sudo $0 $arch"
case "$arch" in
  amd64) qemu=x86_64 ;;
  arm64) qemu=aarch64 ;;
  *) fail "unknown architecture '$arch': use amd64 or arm64" ;;
esac
native=$(dpkg --print-architecture)

host_tools=(mmdebstrap zstd)
[[ "$arch" != "$native" ]] && host_tools+=(qemu-user-static binfmt-support)
missing=()
for pkg in "${host_tools[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "installing host packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [[ "$arch" != "$native" ]]; then
  [[ -e /proc/sys/fs/binfmt_misc/register ]] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  update-binfmts --enable "qemu-$qemu" 2>/dev/null || true
  grep -q '^flags:.*F' "/proc/sys/fs/binfmt_misc/qemu-$qemu" 2>/dev/null \
    || fail "binfmt_misc has no qemu-$qemu entry with the F flag: install qemu-user-static and binfmt-support"
fi

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }'; }

mkdir -p "$cache"
if [[ "$prebuilt_mode" != use && "$prebuilt_mode" != if-present ]] && ! fresh_enough "$base"; then
  echo "building the $suite $arch base root into $base"
  t=$(now)
  mmdebstrap --quiet --arch="$arch" --variant=minbase --include=ca-certificates,git,make,python3 "$suite" \
    "${base%.tar.zst}.$$.part.tar.zst" "deb $mirror/debian $suite main" "deb $mirror/debian $suite-updates main" \
    "deb $mirror/debian-security $suite-security main"
  mv "${base%.tar.zst}.$$.part.tar.zst" "$base"
  echo "base root built in $(since "$t") s"
fi

work=$(mktemp -d /var/tmp/station-fresh-"$arch".XXXXXX)
cleanup() { rm -rf --one-file-system "$work"; }
trap cleanup EXIT
root="$work/root"
mkdir "$root"

# Runs a command as root in the root, with /proc, /sys, /dev and a /tmp of its own in a private mount and
# pid namespace (nothing is left mounted or running afterwards), in a clean environment.
in_root() {
  unshare --mount --pid --fork --propagation private bash -c '
    root=$1; shift
    mount -t proc proc "$root/proc"
    mount --rbind /sys "$root/sys"
    mount --rbind /dev "$root/dev"
    mount -t tmpfs tmpfs "$root/tmp"
    exec chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      LANG=C.UTF-8 TERM=dumb bash -c "$1" 2>&1
  ' in_root "$root" "$1" </dev/null
}

if [[ "$prebuilt_mode" == use || "$prebuilt_mode" == if-present ]]; then
  fresh_enough "$prebuilt" && [[ ! "$prebuilt" -ot "$base" ]] \
    || fail "no prebuilt root $prebuilt: make check-fresh ARCH=$arch PREBUILT=build"
  tar --zstd -xpf "$prebuilt" -C "$root"
else
  tar --zstd -xpf "$base" -C "$root"
fi
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
# Trust what this machine trusts (a site's TLS-inspecting proxy CA, say): its local CAs, and its bundle
# until the root regenerates its own.
cp -L /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
# The checkout as a clone would have it, plus uncommitted edits: tracked and untracked-but-not-ignored files.
mkdir "$root/root/station"
git -C "$src" ls-files -z --cached --others --exclude-standard \
  | (cd "$src" && tar --null --ignore-failed-read -T - -cf -) | tar -xf - -C "$root/root/station"

if [[ "$prebuilt_mode" == build ]]; then
  echo "installing scripts/system-deps.sh's packages into the root, then caching it as $prebuilt"
  t=$(now)
  in_root "bash /root/station/scripts/system-deps.sh"
  (cd "$root" && tar --zstd --exclude=./root/station -cpf "$prebuilt.$$.part" .)
  mv "$prebuilt.$$.part" "$prebuilt"
  echo "prebuilt root made in $(since "$t") s"
elif [[ -z "$prebuilt_mode" ]]; then
  # A user who is not root is told the one apt-get line to run.
  if out=$(chroot --userspec=65534:65534 "$root" bash -s <"$src/scripts/system-deps.sh" 2>&1); then
    fail "scripts/system-deps.sh succeeded for a user who is not root on a fresh root"
  fi
  grep -q "sudo apt-get install --no-install-recommends .*gcc.*python3-dev" <<<"$out" \
    || fail "scripts/system-deps.sh did not name the apt-get line to run: $out"
fi

# Each output line stamped with the seconds since the start; make echoes the demo's command line when the
# set-up is done, which splits set-up time from demo time.
log="$work/make-demo.log"
start=$(now)
set +e
in_root "cd /root/station && make demo DEMO_ARGS='$demo_args'" | while IFS= read -r line; do
  printf '%7.1f  %s\n' "$(awk -v a="$start" -v b="$(now)" 'BEGIN { print b - a }')" "$line"
done | tee "$log"
status=${PIPESTATUS[0]}
set -e
total=$(since "$start")

setup=$(awk '/bin\/station demo/ { print $1; exit }' "$log")
[[ -n "$setup" ]] || fail "the set-up did not finish (exit $status): see the lines above"
demo=$(awk -v s="$setup" -v t="$total" 'BEGIN { printf "%.0f", t - s }')
echo "fresh $suite $arch root${prebuilt_mode:+ (prebuilt system packages)}: set-up $(printf '%.0f' "$setup") s, demo $demo s, total $total s (exit $status)"
[[ $status -eq 0 ]] || fail "make demo exited with $status"
enrolled=$(grep -oE 'enrolled: [0-9]+ of [0-9]+' "$log" | tail -1)
[[ -n "$enrolled" ]] || fail "the demo printed no summary"
read -r _ done_count _ of <<<"$enrolled"
[[ "$done_count" == "$of" ]] || fail "the demo $enrolled"
echo "fresh-root-check $arch: OK ($enrolled)"
