#!/usr/bin/env bash
# build-rootfs.sh OUT — the appliance's root file system in OUT/rootfs/ (a complete Debian bookworm tree that
# systemd-nspawn boots and the Packer build turns into a disk).
#
#   [1/5] base rootfs: mmdebstrap minbase + scripts/image/base-packages.txt, cached as a tarball under
#         $WARDEN_STATE_DIR/image (default /var/cache/warden-build/image) keyed by a hash of the package list
#         and the recipe below, so a rebuild skips the slow part (the mirror, dpkg, the initramfs).
#   [2/5] a fresh copy of the base in OUT/rootfs (the cache is never modified)
#   [3/5] the app: dist/ (without tests and benches), production node_modules, package.json in /opt/warden
#   [4/5] node: the build machine's Node 20 binary at /usr/bin/node
#   [5/5] os-overlay/, the system users and directories, exactly our services enabled
#
# Needs root (mmdebstrap --mode=root, and the tree's files owned by their real users). The app must be built
# (`make build`). Progress on stderr; the last line on stdout is the rootfs's path.
set -euo pipefail

die() { echo "build-rootfs: $*" >&2; exit 1; }
stage() { echo "[$1/5] $2" >&2; }

[[ $# -eq 1 ]] || die "usage: build-rootfs.sh OUT"
[[ $(id -u) -eq 0 ]] || die "must run as root (mmdebstrap --mode=root; the tree's files belong to its own users)"
OUT=$(realpath -m "$1")
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
[[ -f $ROOT/dist/daemons/web/main.js && -f $ROOT/dist/cli/orbit/main.js ]] || die "no built app in $ROOT/dist: run make build first"
for tool in mmdebstrap systemd-sysusers systemd-tmpfiles systemctl npm; do
  command -v "$tool" >/dev/null || die "$tool is missing (Debian packages mmdebstrap, systemd; npm)"
done

STATE=${WARDEN_STATE_DIR:-/var/cache/warden-build}/image
MIRROR=${WARDEN_DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES_FILE=$ROOT/scripts/image/base-packages.txt
PACKAGES=$(grep -v '^\s*#' "$PACKAGES_FILE" | grep -v '^\s*$' | tr '\n' ',' | sed 's/,$//')

# The recipe of the base: any change here or in the package list makes a new cache key.
BASE_RECIPE=(
  --mode=root --format=tar --variant=minbase --include="$PACKAGES"
  --aptopt='APT::Install-Recommends "false"' --aptopt='Acquire::Languages "none"'
  # Documentation, manuals and translations are of no use on a console appliance (~60 MB).
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*'
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias'
  --dpkgopt='path-exclude=/usr/share/lintian/*'
  # The kernel's and initramfs-tools' scripts would each build the initramfs (over a minute each): a stub
  # stands in for update-initramfs while packages install, and the real one runs once at the end.
  --essential-hook='chroot "$1" dpkg-divert --quiet --local --rename --divert /usr/sbin/update-initramfs.real --add /usr/sbin/update-initramfs && printf "#!/bin/sh\nexit 0\n" >"$1"/usr/sbin/update-initramfs && chmod 0755 "$1"/usr/sbin/update-initramfs'
  --customize-hook='rm "$1"/usr/sbin/update-initramfs && chroot "$1" dpkg-divert --quiet --local --rename --remove /usr/sbin/update-initramfs && chroot "$1" update-initramfs -c -k all'
  --customize-hook='rm -f "$1"/var/cache/apt/*.bin "$1"/etc/machine-id "$1"/var/lib/dbus/machine-id'
  # An empty machine-id file: each booted copy makes its own at first boot.
  --customize-hook='touch "$1"/etc/machine-id'
  bookworm
)
KEY=$( { cat "$PACKAGES_FILE"; printf '%s\n' "${BASE_RECIPE[@]}" "$MIRROR"; } | sha256sum | cut -c1-16)
BASE=$STATE/base-$KEY.tar

mkdir -p "$STATE"
# One builder at a time per cache (the boot test and `make image` may run together).
exec 9>"$STATE/.lock"
flock 9

t0=$SECONDS
if [[ -f $BASE ]]; then
  stage 1 "base rootfs (cached: $BASE)"
  touch "$BASE"
else
  stage 1 "base rootfs: mmdebstrap bookworm ($PACKAGES) ..."
  rm -rf "$STATE"/base-*.tar.tmp
  mmdebstrap --quiet "${BASE_RECIPE[@]}" "$BASE.tmp" "deb $MIRROR bookworm main" "deb $MIRROR bookworm-updates main" >&2
  mv "$BASE.tmp" "$BASE"
  # The three most recently used bases are kept (branches with other package lists alternate), no more.
  ls -1t "$STATE"/base-*.tar | tail -n +4 | xargs -r rm -f
  echo "      built in $((SECONDS - t0)) s, $(du -h "$BASE" | cut -f1)" >&2
fi

stage 2 "fresh copy in $OUT/rootfs"
R=$OUT/rootfs
rm -rf "$R"
mkdir -p "$R"
tar -C "$R" --numeric-owner -xpf "$BASE"
# The cache is not read any more: other builders may go on.
flock -u 9

stage 3 "app in /opt/warden (production node_modules)"
APP=$R/opt/warden
mkdir -p "$APP"
cp "$ROOT/package.json" "$ROOT/package-lock.json" "$APP/"
tar -C "$ROOT" --exclude=dist/tests --exclude=dist/bench -cf - dist | tar -C "$APP" -xf -
# The build's node_modules (a symlink in a worktree: copy what it points at), native addons as built for
# this Node; then the dev dependencies pruned, offline, nothing rebuilt.
cp -a "$(readlink -f "$ROOT/node_modules")" "$APP/node_modules"
rm -f "$APP/node_modules/.warden-installed"
(cd "$APP" && npm prune --omit=dev --offline --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
# Compiler leftovers of the native addons (object files, makefiles) are not needed to load them.
find "$APP/node_modules" -type d -path '*/build/Release/obj.target' -prune -exec rm -rf {} +
find "$APP/node_modules" -type d \( -name '.deps' -o -name 'obj' \) -path '*/build/*' -prune -exec rm -rf {} +
chown -R root:root "$APP"
chmod -R u=rwX,go=rX "$APP"

stage 4 "node at /usr/bin/node"
# Debian bookworm's nodejs is 18.20 (end of life, below our engines >=20.10, and our native addons are
# built for Node 20's ABI), so the image carries the build machine's Node 20 — the same binary `make test`
# runs; it links only libc, libstdc++, libgcc and libm, all in the base.
install -m 0755 -o root -g root "$(readlink -f "$(command -v node)")" "$R/usr/bin/node"

stage 5 "os-overlay, users, directories, services"
cp -a --no-preserve=ownership "$ROOT/os-overlay/." "$R/"
chmod 0755 "$R/usr/local/bin/orbit"
echo warden >"$R/etc/hostname"
# resolved's stub listener is off (nothing listens that is not Warden's): programs read resolved's list of
# the real servers instead of the stub's 127.0.0.53.
ln -sfn ../run/systemd/resolve/resolv.conf "$R/etc/resolv.conf"
systemd-sysusers --root="$R" >&2
# Ours only (Debian's own entries are for a running system: they are applied at every boot anyway).
systemd-tmpfiles --root="$R" --create "$R/usr/lib/tmpfiles.d/warden.conf" >&2
# Exactly our services, and the system's own few: the firewall, network, DNS, time.
systemctl --root="$R" enable nftables.service systemd-networkd.service systemd-resolved.service systemd-timesyncd.service warden.target warden-firstboot.service >&2 2>/dev/null
# An appliance is updated as a whole image: no unattended apt runs (they would reach for the Debian mirror)
# nor dpkg database backups, and there is no LVM to scrub.
systemctl --root="$R" disable apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer e2scrub_reap.service >&2 2>/dev/null
# The database server runs only on a cluster node: `orbit cluster init` or `join` enables it. (Debian's
# postinst enabled it, with its mysql/mysqld aliases; its datadir is initialized for the first node.)
# Its socket units too: mariadb.socket would have systemd itself listen on 3306 for everyone.
systemctl --root="$R" disable mariadb.service mariadb.socket mariadb-extra.socket >&2 2>/dev/null
echo "      rootfs $(du -sh "$R" | cut -f1) in $((SECONDS - t0)) s" >&2
echo "$R"
