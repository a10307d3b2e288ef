# Sourced by build-deb.sh and check-deb.sh: fresh Debian bookworm roots from the base roots that
# fresh-root-check.sh caches in $STATION_FRESH_CACHE (default /var/cache/station-fresh), and a way to run a
# command in one. Needs root, mmdebstrap and zstd (installed with apt-get when missing); a foreign architecture
# (arm64 on amd64) runs under qemu-user where binfmt_misc has it registered.
#   unpack_root ARCH DIR [base|sysdeps]   the base root (minbase + ca-certificates, git, make, python3), or that
#                                         plus scripts/system-deps.sh's packages (cached beside it, keyed by them)
#   in_root DIR COMMAND                   runs COMMAND with bash as root in DIR, with /proc, /sys, /dev and a
#                                         private /tmp, in a clean environment; nothing stays mounted
suite=bookworm
mirror=http://deb.debian.org
cache=${STATION_FRESH_CACHE:-/var/cache/station-fresh}
max_age_days=${STATION_FRESH_MAX_AGE_DAYS:-7}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

fail() { echo "$(basename "$0"): $*" >&2; exit 1; }
fresh_enough() { [[ -n $(find "$1" -mtime "-$max_age_days" 2>/dev/null) ]]; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }'; }

need_host_tools() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [[ ${#missing[@]} -gt 0 ]]; then
    echo "installing host packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

in_root() {
  unshare --mount --pid --fork --propagation private bash -c '
    root=$1; shift
    mount -t proc proc "$root/proc"
    mount --rbind /sys "$root/sys"
    mount --rbind /dev "$root/dev"
    mount -t tmpfs tmpfs "$root/tmp"
    exec chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      LANG=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive bash -c "$1" 2>&1
  ' in_root "$1" "$2" </dev/null
}

network_in_root() {
  cp -L /etc/resolv.conf "$1/etc/resolv.conf"
  cp -L /usr/local/share/ca-certificates/*.crt "$1/usr/local/share/ca-certificates/" 2>/dev/null || true
  cp -L /etc/ssl/certs/ca-certificates.crt "$1/etc/ssl/certs/ca-certificates.crt"
}

unpack_root() {
  local arch=$1 dir=$2 kind=${3:-base} t
  [[ $(id -u) -eq 0 ]] || fail "run as root (it builds and enters a chroot)"
  if [[ "$arch" != "$(dpkg --print-architecture)" ]]; then
    local qemu
    case "$arch" in arm64) qemu=aarch64 ;; amd64) qemu=x86_64 ;; *) fail "unknown architecture '$arch'" ;; esac
    grep -q '^flags:.*F' "/proc/sys/fs/binfmt_misc/qemu-$qemu" 2>/dev/null \
      || fail "building for $arch on $(dpkg --print-architecture) needs qemu-user-static and binfmt-support" \
              "(make check-fresh ARCH=$arch sets them up), or build on an $arch machine"
  fi
  need_host_tools mmdebstrap zstd
  mkdir -p "$cache"
  local base="$cache/$suite-$arch-base.tar.zst"
  local sysdeps="$cache/$suite-$arch-sysdeps-$("$src/scripts/system-deps.sh" --list | sha1sum | cut -c1-12).tar.zst"
  if ! fresh_enough "$base"; then
    echo "building the $suite $arch base root into $base"
    t=$(now)
    mmdebstrap --quiet --arch="$arch" --variant=minbase --include=ca-certificates,git,make,python3 "$suite" \
      "${base%.tar.zst}.$$.part.tar.zst" "deb $mirror/debian $suite main" "deb $mirror/debian $suite-updates main" \
      "deb $mirror/debian-security $suite-security main"
    mv "${base%.tar.zst}.$$.part.tar.zst" "$base"
    echo "base root built in $(since "$t") s"
  fi
  mkdir -p "$dir"
  if [[ "$kind" == sysdeps ]] && fresh_enough "$sysdeps" && [[ ! "$sysdeps" -ot "$base" ]]; then
    tar --zstd -xpf "$sysdeps" -C "$dir"
    network_in_root "$dir"
    return
  fi
  tar --zstd -xpf "$base" -C "$dir"
  network_in_root "$dir"
  if [[ "$kind" == sysdeps ]]; then
    echo "installing scripts/system-deps.sh's packages into the root, then caching it as $sysdeps"
    t=$(now)
    mkdir -p "$dir/root/station/scripts"
    cp "$src/scripts/system-deps.sh" "$dir/root/station/scripts/"
    in_root "$dir" "bash /root/station/scripts/system-deps.sh"
    rm -rf "$dir/root/station"
    (cd "$dir" && tar --zstd -cpf "$sysdeps.$$.part" .)
    mv "$sysdeps.$$.part" "$sysdeps"
    echo "root with the build packages made in $(since "$t") s"
  fi
}
