#!/usr/bin/env bash
# `make image`: the Warden appliance as a VM image, offline, from Debian packages and the built app.
#   rootfs (scripts/image/build-rootfs.sh) -> a partitioned raw disk with GRUB, made without mounting anything ->
#   one boot of that disk under packer's qemu builder (TCG), finished from inside the guest -> qcow2, raw,
#   streamOptimized VMDK and an OVA, all under build/image/.
# Needs root (the rootfs keeps its owners, chroot runs the image's own grub-mkimage) and a built dist/.
# Progress on stderr; the artifacts with their sizes on stdout at the end.
# Settings: WARDEN_STATE_DIR (cache, default /var/cache/warden-build), WARDEN_IMAGE_DISK_SIZE (default 8G),
# WARDEN_IMAGE_CPUS / WARDEN_IMAGE_MEMORY (the build VM and the OVA's virtual system, default 2 / 2048 MiB).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
out=$repo/build/image
work=$out/work
state=${WARDEN_STATE_DIR:-/var/cache/warden-build}/image
disk_size=${WARDEN_IMAGE_DISK_SIZE:-8G}
cpus=${WARDEN_IMAGE_CPUS:-2}
memory=${WARDEN_IMAGE_MEMORY:-2048}
name=warden
stages=7
started=$SECONDS

stage() { echo "[$1/$stages] $2 ($((SECONDS - started)) s)" >&2; }
note() { echo "      $*" >&2; }
die() { echo "make-image: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (the rootfs keeps its owners; chroot)"
for tool in packer qemu-img qemu-system-x86_64 mkfs.ext4 chroot tar sha256sum node; do
  command -v "$tool" >/dev/null || die "$tool is not installed (make deps installs it)"
done
[ -f "$repo/dist/scripts/image/ovf.js" ] || die "dist/ is not built (make build)"
# packer 1.6.6 would otherwise ask checkpoint.hashicorp.com for news: nothing leaves this machine.
export CHECKPOINT_DISABLE=1 PACKER_CACHE_DIR=$state/packer_cache PACKER_NO_COLOR=1
mkdir -p "$out" "$work" "$state"

# ---------------------------------------------------------------------------------------------------------------
stage 1 "rootfs: scripts/image/build-rootfs.sh"
# Its own stages indented under this one; its stdout (the rootfs's path) is known already.
"$repo/scripts/image/build-rootfs.sh" "$work" 2>&1 >/dev/null | sed -u 's/^/      /' >&2
rootfs=$work/rootfs
[ -d "$rootfs/etc" ] || die "build-rootfs.sh left no rootfs in $rootfs"
kernel=$(readlink "$rootfs/vmlinuz" || true)
[ -n "$kernel" ] && [ -f "$rootfs/$kernel" ] && [ -e "$rootfs/initrd.img" ] ||
  die "the rootfs has no kernel (/vmlinuz, /initrd.img): linux-image-amd64 must be in scripts/image/base-packages.txt"
[ -f "$rootfs/usr/lib/grub/i386-pc/boot.img" ] && [ -x "$rootfs/usr/bin/grub-mkimage" ] ||
  die "the rootfs has no GRUB for BIOS: add grub-pc-bin to scripts/image/base-packages.txt"

# ---------------------------------------------------------------------------------------------------------------
stage 2 "boot loader and image finisher into the rootfs"
# GRUB for BIOS, from the image's own grub-pc-bin, because it boots unchanged in qemu, VirtualBox and VMware
# (all start VMs with BIOS unless told otherwise; an OVA cannot portably ask for UEFI) and because it can be put
# on a disk with dd alone: boot.img in the MBR, core.img in the gap before the first partition, modules and
# grub.cfg inside the root filesystem. extlinux needs its filesystem mounted to install; systemd-boot needs UEFI.
uuid=$(cat /proc/sys/kernel/random/uuid)
# Not `quiet`: systemd's boot status goes to /dev/console, the last console= (the serial port), and the build
# log shows it; tty1 only gets kernel warnings. systemd.firstboot=off: the machine-id is empty on every
# appliance's first boot, and systemd-firstboot would otherwise stop that boot to ask for a locale and a root
# password on a console nobody watches; the deployer's first boot is orbit's wizard on tty1.
cmdline="root=UUID=$uuid ro console=tty0 console=ttyS0,115200n8 loglevel=4 systemd.firstboot=off"
mkdir -p "$rootfs/boot/grub/i386-pc"
cp "$rootfs"/usr/lib/grub/i386-pc/*.mod "$rootfs"/usr/lib/grub/i386-pc/*.lst "$rootfs/boot/grub/i386-pc/"
# /vmlinuz and /initrd.img are the symlinks Debian's kernel packages keep current (and .old the previous
# kernel), so this file stays right across kernel upgrades without update-grub.
cat >"$rootfs/boot/grub/grub.cfg" <<EOF
# Written by make-image.sh; the kernel packages keep /vmlinuz and /initrd.img pointing at the current kernel.
serial --unit=0 --speed=115200
terminal_input console serial
terminal_output console serial
set timeout=2
set default=0
insmod part_msdos
insmod ext2
search --no-floppy --fs-uuid --set=root $uuid
menuentry 'Warden' {
  linux /vmlinuz $cmdline
  initrd /initrd.img
}
menuentry 'Warden (previous kernel)' {
  linux /vmlinuz.old $cmdline
  initrd /initrd.img.old
}
EOF
cat >"$rootfs/etc/fstab" <<EOF
# Written by make-image.sh: the one partition of the appliance's disk.
UUID=$uuid / ext4 errors=remount-ro 0 1
EOF
install -m 0755 "$repo/packer/guest/warden-image-finish" "$rootfs/usr/local/lib/warden-image-finish"
install -m 0644 "$repo/packer/guest/warden-image-finish.service" "$rootfs/etc/systemd/system/warden-image-finish.service"
mkdir -p "$rootfs/etc/systemd/system/multi-user.target.wants"
ln -sf ../warden-image-finish.service "$rootfs/etc/systemd/system/multi-user.target.wants/warden-image-finish.service"
# core.img finds the root filesystem by UUID (whatever the BIOS calls the disk) and loads grub.cfg from it.
cat >"$rootfs/tmp/grub-early.cfg" <<EOF
search.fs_uuid $uuid root
set prefix=(\$root)/boot/grub
EOF
chroot "$rootfs" grub-mkimage -O i386-pc -o /tmp/core.img -c /tmp/grub-early.cfg -p /boot/grub \
  biosdisk part_msdos ext2 search_fs_uuid
mv "$rootfs/tmp/core.img" "$work/core.img"
cp "$rootfs/usr/lib/grub/i386-pc/boot.img" "$work/boot.img"
rm -f "$rootfs/tmp/grub-early.cfg"

# What the packer boot would be given, as one hash: the rootfs (contents, modes, owners; not the times),
# the template, the finisher, this script and the disk size. The same key means the same image: skip to the
# conversions. The UUID is chosen per run, so it is left out of the files hashed.
key=$({
  sed "s/$uuid/UUID/g" "$rootfs/boot/grub/grub.cfg" "$rootfs/etc/fstab"
  tar -C "$rootfs" --sort=name --mtime=@0 --numeric-owner --format=gnu \
    --exclude=./boot/grub/grub.cfg --exclude=./etc/fstab -cf - . | sha256sum
  cat "$repo/packer/warden.pkr.hcl" "$repo/packer/guest/"* "$0"
  echo "$disk_size"
} | sha256sum | cut -c1-16)
cached=$state/warden-$key.qcow2

# ---------------------------------------------------------------------------------------------------------------
stage 3 "disk: MBR + GRUB + ext4 from the rootfs, $disk_size"
disk=$work/disk.raw
if [ -f "$cached" ]; then
  note "cached: $cached (same rootfs, template and finisher)"
else
  rm -f "$disk"
  truncate -s "$disk_size" "$disk"
  disk_bytes=$(stat -c %s "$disk")
  start=2048 # sectors: the partition at 1 MiB, and GRUB's core.img in the gap before it
  sectors=$((disk_bytes / 512 - start))
  core_sectors=$(( ($(stat -c %s "$work/core.img") + 511) / 512 ))
  [ "$core_sectors" -lt "$start" ] || die "core.img ($core_sectors sectors) does not fit before the partition"
  # mkfs.ext4 -d fills the filesystem from the directory, written at the partition's offset: no loop device, no
  # mount. GRUB 2.06 cannot read ext4's metadata_csum_seed/orphan_file, which newer mke2fs may turn on.
  mkfs.ext4 -q -F -L warden-root -U "$uuid" -O ^metadata_csum_seed,^orphan_file \
    -E offset=$((start * 512)) -d "$rootfs" "$disk" "$((sectors / 2))k"
  le32() { local n=$1; printf "$(printf '\\x%02x' $((n & 255)) $((n >> 8 & 255)) $((n >> 16 & 255)) $((n >> 24 & 255)))"; }
  # The MBR as grub-bios-setup would leave it on a hard disk: boot.img's code (first 440 bytes), its jump over
  # the boot drive check replaced by two NOPs (0x66), core.img's sector (0x5c) = 1.
  dd if="$work/boot.img" of="$disk" bs=440 count=1 conv=notrunc status=none
  printf '\x90\x90' | dd of="$disk" bs=1 seek=$((0x66)) conv=notrunc status=none
  printf '\x01\x00\x00\x00\x00\x00\x00\x00' | dd of="$disk" bs=1 seek=$((0x5c)) conv=notrunc status=none
  # Disk signature, then the one partition: active, CHS fields "use LBA", type 0x83 (Linux), LBA start, length.
  { head -c 4 /dev/urandom; printf '\x00\x00'
    printf '\x80\xfe\xff\xff\x83\xfe\xff\xff'; le32 "$start"; le32 "$sectors"
    head -c 48 /dev/zero; printf '\x55\xaa'
  } | dd of="$disk" bs=1 seek=440 conv=notrunc status=none
  # core.img at sector 1: its first sector (diskboot) lists the rest as sectors 2..; grub-mkimage leaves that
  # list as "from sector 2, N-1 sectors" (checked here, as grub-bios-setup would write it).
  dd if="$work/core.img" of="$disk" bs=512 seek=1 conv=notrunc status=none
  list_start=$(od -An -t u8 -j $((512 + 0x1f4)) -N 8 "$disk" | tr -d ' ')
  list_len=$(od -An -t u2 -j $((512 + 0x1fc)) -N 2 "$disk" | tr -d ' ')
  [ "$list_start" = 2 ] && [ "$list_len" = $((core_sectors - 1)) ] ||
    die "core.img's block list is $list_start+$list_len, expected 2+$((core_sectors - 1))"
  note "$disk: partition 1 at sector $start, $sectors sectors, ext4 UUID $uuid; core.img $core_sectors sectors"
fi
if [ "${WARDEN_IMAGE_KEEP_ROOTFS:-0}" != 1 ]; then rm -rf "$rootfs"; fi

# ---------------------------------------------------------------------------------------------------------------
stage 4 "packer build: the disk's first boot under qemu (TCG), finished from inside"
serial=$out/serial.log
if [ -f "$cached" ]; then
  note "cached: $cached"
else
  rm -rf "$work/packer" "$serial"
  : >"$serial"
  # The guest's serial console, shown as it comes (the guest's own lines, indented).
  tail -F -n +1 "$serial" 2>/dev/null | sed -u 's/\r//g; s/^/      guest| /' >&2 &
  tail_pid=$!
  status=0
  packer build -force -color=false \
    -var "source_disk=$disk" -var "output_directory=$work/packer" -var "serial_log=$serial" \
    -var "cpus=$cpus" -var "memory=$memory" "$repo/packer/warden.pkr.hcl" >&2 || status=$?
  sleep 1
  kill "$tail_pid" 2>/dev/null || true
  wait "$tail_pid" 2>/dev/null || true
  [ "$status" = 0 ] || die "packer build failed ($status); the guest's console is in $serial"
  verdict=$(grep -a -o 'WARDEN-IMAGE-FINISH: .*' "$serial" | tail -1 | tr -d '\r' || true)
  [ "$verdict" = "WARDEN-IMAGE-FINISH: ok" ] || die "the image's first boot did not finish cleanly (${verdict:-no verdict}); see $serial"
  rm -f "$state"/warden-*.qcow2 # one cached image is enough
  mv "$work/packer/$name.qcow2" "$cached"
  rm -rf "$work/packer" "$disk"
fi
cp --reflink=auto "$cached" "$out/$name.qcow2"

# ---------------------------------------------------------------------------------------------------------------
stage 5 "boot check: the finished qcow2 booted as a VM in the field (SATA disk, no kernel arguments from outside)"
# A copy-on-write snapshot: the artifact stays as shipped, with an empty machine-id, so this is the first boot
# every appliance will have. Another disk controller than packer's virtio, to show that the root filesystem is
# found by its UUID wherever it sits.
bootlog=$out/boot-check.log
if [ -f "$out/boot-check.$key.ok" ]; then
  note "cached: this image booted to multi-user.target before ($bootlog)"
else
  rm -f "$out"/boot-check.*.ok "$bootlog"
  : >"$bootlog"
  qemu-system-x86_64 -machine q35,accel=tcg -smp "$cpus" -m "$memory" \
    -drive "file=$out/$name.qcow2,if=none,id=disk0,format=qcow2,snapshot=on" -device ide-hd,drive=disk0,bus=ide.0 \
    -netdev user,id=net0,restrict=on -device e1000,netdev=net0 \
    -display none -vga std -monitor none -serial "file:$bootlog" -no-reboot &
  qemu_pid=$!
  reached=0
  for _ in $(seq 1 600); do
    if grep -a -q 'Reached target.*Multi-User System' "$bootlog"; then reached=1; break; fi
    kill -0 "$qemu_pid" 2>/dev/null || break
    sleep 1
  done
  kill "$qemu_pid" 2>/dev/null || true
  wait "$qemu_pid" 2>/dev/null || true
  failed=$(grep -a -c 'FAILED' "$bootlog" || true)
  [ "$reached" = 1 ] || die "the finished image did not reach multi-user.target within 10 minutes; see $bootlog"
  [ "$failed" = 0 ] || die "the finished image reached multi-user.target with failed units; see $bootlog"
  note "reached multi-user.target, no failed unit ($bootlog)"
  touch "$out/boot-check.$key.ok"
fi

# ---------------------------------------------------------------------------------------------------------------
# The conversions of this very image are kept: a stamp names the key they were made from.
stamp=$out/.artifacts-$key
converted=1
for f in "$name.raw" "$name.vmdk" "$name.ova" "$name.ovf"; do [ -f "$out/$f" ] || converted=0; done
[ -f "$stamp" ] || converted=0

stage 6 "conversions: raw, VMDK (streamOptimized)"
if [ "$converted" = 1 ]; then
  note "cached: made from this image before"
else
  rm -f "$out"/.artifacts-* "$out/$name.raw" "$out/$name.vmdk"
  qemu-img convert -O raw "$out/$name.qcow2" "$out/$name.raw"
  # The adapter type matches the OVF's LSI Logic SCSI controller.
  qemu-img convert -O vmdk -o subformat=streamOptimized,adapter_type=lsilogic "$out/$name.qcow2" "$out/$name.vmdk"
fi

# ---------------------------------------------------------------------------------------------------------------
stage 7 "OVA: OVF descriptor + manifest + VMDK"
if [ "$converted" = 1 ]; then
  note "cached: made from this image before"
else
  ova_dir=$work/ova
  rm -rf "$ova_dir" "$out/$name.ova" "$out/$name.ovf"
  mkdir -p "$ova_dir"
  ln "$out/$name.vmdk" "$ova_dir/$name-disk1.vmdk"
  node "$repo/dist/scripts/image/ovf.js" --vmdk "$ova_dir/$name-disk1.vmdk" --href "$name-disk1.vmdk" \
    --name "$name" --cpus "$cpus" --memory "$memory" >"$ova_dir/$name.ovf"
  (cd "$ova_dir" && for f in "$name.ovf" "$name-disk1.vmdk"; do
    echo "SHA256($f)= $(sha256sum "$f" | cut -d' ' -f1)"
  done >"$name.mf")
  # An OVA is a plain ustar archive, the descriptor first, then the manifest, then the files in reference order.
  tar -C "$ova_dir" --format=ustar --owner=0 --group=0 --numeric-owner -cf "$out/$name.ova" \
    "$name.ovf" "$name.mf" "$name-disk1.vmdk"
  cp "$ova_dir/$name.ovf" "$out/$name.ovf"
  rm -rf "$ova_dir"
  touch "$stamp"
fi

# ---------------------------------------------------------------------------------------------------------------
echo "image built in $((SECONDS - started)) s:"
for f in "$name.qcow2" "$name.raw" "$name.vmdk" "$name.ova" "$name.ovf" serial.log boot-check.log; do
  [ -f "$out/$f" ] || continue
  printf '  %-45s %8s  (%s on disk)\n' "build/image/$f" "$(du -h --apparent-size "$out/$f" | cut -f1)" "$(du -h "$out/$f" | cut -f1)"
done
echo "  virtual disk: $(qemu-img info --output=json "$out/$name.qcow2" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)["virtual-size"]/2**30+" GiB"))')"
