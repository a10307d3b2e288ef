#!/usr/bin/env bash
# Builds dist/station_<version>_<arch>.deb (make deb) with Debian's own dpkg-deb:
#   /opt/station            a root-owned virtualenv made at that very path in a fresh bookworm root (so its
#                           scripts' #! lines and pyvenv.cfg are right on the target), holding the hash-locked
#                           dependencies of requirements/service.txt and the wheel of this checkout (its other
#                           scripts removed, shared objects stripped; postinst byte-compiles, prerm removes that)
#   /usr/bin/station        a link to /opt/station/bin/station
#   /usr/lib/systemd/system station.service, station-kiosk.service (systemd/)
#   /usr/lib/udev/rules.d   70-station-fido.rules (udev/)
#   /usr/lib/sysusers.d, /usr/lib/tmpfiles.d   station.conf (systemd/)
#   /etc/station/station.toml   the configuration skeleton (`station config init`'s), a conffile
# and the maintainer scripts of packaging/debian/. Python is bookworm's 3.11, so the package depends on it;
# procps gives station.service's ExecReload= its /bin/kill (minbase lacks it).
# Building pyscard needs gcc, python3-dev, swig and libpcsclite-dev in the build root (scripts/system-deps.sh),
# not on the target. Needs root and network access to the Debian mirror and PyPI.
#
#   scripts/build-deb.sh [ARCH]      (only the host's architecture)
set -euo pipefail
# shellcheck source=scripts/deb-root.sh
source "$(dirname "$0")/deb-root.sh"

arch=${1:-$(dpkg --print-architecture)}
version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$src/station/__init__.py")
[[ -n "$version" ]] || fail "no __version__ in station/__init__.py"
out="$src/dist/station_${version}_${arch}.deb"
start=$(now)

work=$(mktemp -d /var/tmp/station-deb-"$arch".XXXXXX)
trap 'rm -rf --one-file-system "$work"' EXIT
root="$work/root"
unpack_root "$arch" "$root" sysdeps

# The wheel is built in the root from a copy of the checkout (tracked and untracked-but-not-ignored files);
# pip fetches its build backend (setuptools, pyproject.toml's build-system) from PyPI, as `pip wheel` does.
mkdir -p "$root/tmp-wheel/src"
git -C "$src" ls-files -z --cached --others --exclude-standard \
  | (cd "$src" && tar --null --ignore-failed-read -T - -cf -) | tar -xf - -C "$root/tmp-wheel/src"
cp "$src/requirements/service.txt" "$root/tmp-wheel/"
in_root "$root" "set -e
  umask 022
  python3 -m venv /opt/station
  /opt/station/bin/pip wheel -q --disable-pip-version-check --no-cache-dir --no-deps -w /tmp-wheel /tmp-wheel/src
  /opt/station/bin/pip install -q --disable-pip-version-check --no-cache-dir --require-hashes -r /tmp-wheel/service.txt
  /opt/station/bin/pip install -q --disable-pip-version-check --no-cache-dir --no-deps /tmp-wheel/station-*.whl
  /opt/station/bin/pip check
  /opt/station/bin/station config init --config /tmp-wheel/station.toml >/dev/null
  /opt/station/bin/pip uninstall -q -y pip setuptools
  find /opt/station/bin -mindepth 1 ! -name station ! -name 'python*' -delete
  find /opt/station/lib -name __pycache__ -prune -exec rm -rf {} +
  find /opt/station/lib -name '*.so*' -type f -exec strip --strip-unneeded --remove-section=.comment {} +
  find /opt/station/lib -type f -exec chmod 0644 {} +"

pkg="$work/pkg"
install -d -m 0755 "$pkg/opt" "$pkg/usr/bin" "$pkg/usr/lib/systemd/system" "$pkg/usr/lib/udev/rules.d" \
  "$pkg/usr/lib/sysusers.d" "$pkg/usr/lib/tmpfiles.d" "$pkg/usr/share/doc/station" "$pkg/etc/station" \
  "$pkg/usr/share/lintian/overrides" "$pkg/DEBIAN"
cp -a "$root/opt/station" "$pkg/opt/station"
ln -s /opt/station/bin/station "$pkg/usr/bin/station"
install -m 0644 "$src/systemd/station.service" "$src/systemd/station-kiosk.service" "$pkg/usr/lib/systemd/system/"
install -m 0644 "$src/udev/70-station-fido.rules" "$pkg/usr/lib/udev/rules.d/"
install -m 0644 "$src/systemd/station.sysusers.conf" "$pkg/usr/lib/sysusers.d/station.conf"
install -m 0644 "$src/systemd/station.tmpfiles.conf" "$pkg/usr/lib/tmpfiles.d/station.conf"
install -m 0640 "$root/tmp-wheel/station.toml" "$pkg/etc/station/station.toml"
install -m 0644 "$src/packaging/debian/copyright" "$pkg/usr/share/doc/station/copyright"
install -m 0644 "$src/packaging/debian/lintian-overrides" "$pkg/usr/share/lintian/overrides/station"
sed "s/@VERSION@/$version/" "$src/packaging/debian/changelog" | gzip -9n >"$pkg/usr/share/doc/station/changelog.gz"
chmod 0644 "$pkg/usr/share/doc/station/changelog.gz"
for script in postinst prerm postrm; do
  install -m 0755 "$src/packaging/debian/$script" "$pkg/DEBIAN/$script"
done
echo /etc/station/station.toml >"$pkg/DEBIAN/conffiles"

# Nothing a user other than root could change; every file root's.
chown -R root:root "$pkg"
chmod -R go-w "$pkg"
python_version=$(in_root "$root" "python3 -c 'import sys; print(f\"{sys.version_info[0]}.{sys.version_info[1]}\")'")
next_minor="${python_version%.*}.$((${python_version#*.} + 1))"
size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
  -e "s/@PYTHON@/$python_version/" -e "s/@PYTHON_NEXT@/$next_minor/" \
  "$src/packaging/debian/control" >"$pkg/DEBIAN/control"
(cd "$pkg" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) \
  >"$pkg/DEBIAN/md5sums"
chmod 0644 "$pkg/DEBIAN/control" "$pkg/DEBIAN/conffiles" "$pkg/DEBIAN/md5sums"

mkdir -p "$src/dist"
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$out.part" >/dev/null
mv "$out.part" "$out"
echo "built $out ($(du -h "$out" | cut -f1), installed size ${size} KiB) in $(since "$start") s"
