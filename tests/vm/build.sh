#!/bin/sh
# Builds the VM test's initramfs: busybox (static), mediasan and the shared libraries it needs,
# the kernel's NVMe/AHCI/virtio-scsi/virtio-blk, LIO (target_core_user, tcm_loop), md, dm and
# bcache modules in load order, tcmu-runner (a SCSI target whose FORMAT UNIT really erases),
# mdadm, dmsetup, make-bcache and tests/vm/init.
# usage: build.sh KERNEL_ROOT MEDIASAN OUT_DIR TCMU_ROOT
#   KERNEL_ROOT: an extracted linux-image .deb; TCMU_ROOT: the tcmu-runner, libtcmu2,
#   libnl-genl-3-200, mdadm and bcache-tools .debs extracted with dpkg -x (.ci/run does both)
set -eu
KROOT=$1 BIN=$2 OUT=$3 TCMU=$(cd "$4" && pwd)
[ -x "$TCMU/usr/bin/tcmu-runner" ] || { echo "no usr/bin/tcmu-runner under $TCMU" >&2; exit 1; }
HERE=$(cd "$(dirname "$0")" && pwd)
V=$(ls "$KROOT/lib/modules" | head -1)
M=$KROOT/lib/modules/$V
[ -f "$M/modules.dep" ] || /sbin/depmod -b "$KROOT" "$V"
R=$OUT/initramfs
rm -rf "$R"
mkdir -p "$R/bin" "$R/dev" "$R/proc" "$R/sys" "$R/tmp" "$R/mod"
cp "$(command -v busybox)" "$R/bin/busybox"
for a in sh mount mkdir sleep cat insmod poweroff ls echo readlink wc sync mkswap swapon dd tr ln seq grep cut yes dmesg; do ln -s busybox "$R/bin/$a"; done
cp "$BIN" "$R/bin/mediasan"
cp "$TCMU/usr/bin/tcmu-runner" "$R/bin/"
# What builds the RAID, device-mapper and bcache stacks that `stop-holders` takes down.
for b in "$TCMU/sbin/mdadm" "$TCMU/usr/sbin/make-bcache"; do
  [ -x "$b" ] || { echo "no $b (.ci/run fetches mdadm and bcache-tools)" >&2; exit 1; }
  cp "$b" "$R/bin/"
done
# The reference tools whose readings the health decoders are checked against.
REF=
for t in nvme smartctl dmsetup blkzone; do
  b=$(command -v "$t" || PATH=$PATH:/usr/sbin:/sbin command -v "$t") || { echo "$t is not installed" >&2; exit 1; }
  cp "$b" "$R/bin/"; REF="$REF $b"
done
for b in "$BIN" "$TCMU/usr/bin/tcmu-runner" "$TCMU/sbin/mdadm" "$TCMU/usr/sbin/make-bcache" $REF; do
  for lib in $(LD_LIBRARY_PATH=$TCMU/usr/lib/x86_64-linux-gnu:$TCMU/lib/x86_64-linux-gnu ldd "$b" | grep -o '/[^ ]*'); do
    case $lib in "$TCMU"/*) dst=/usr/lib/x86_64-linux-gnu/$(basename "$lib") ;; *) dst=$lib ;; esac
    mkdir -p "$R$(dirname "$dst")"
    cp -L "$lib" "$R$dst"
  done
done
mkdir -p "$R/usr/lib/tcmu-runner" "$R/etc/tcmu" "$R/run" "$R/scratch"
cp "$TCMU/usr/lib/x86_64-linux-gnu/tcmu-runner/handler_qcow.so" "$R/usr/lib/tcmu-runner/"
cp "$TCMU/etc/tcmu/tcmu.conf" "$R/etc/tcmu/"
# tcmu-runner exits "couldn't load module" without the kmod index.
mkdir -p "$R/lib/modules/$V" && cp "$M"/modules.* "$R/lib/modules/$V/"
: > "$R/mod/order"
for m in nvme ahci sd_mod virtio_scsi virtio_pci target_core_user tcm_loop virtio_blk raid1 dm-mod bcache; do
  line=$(grep -E "/$m\.ko(\.xz)?:" "$M/modules.dep")
  { echo "$line" | cut -d: -f2 | tr ' ' '\n' | grep -v '^$' | tac; echo "$line" | cut -d: -f1; }
done | awk '!seen[$0]++' | while read -r ko; do
  base=$(basename "$ko")
  cp "$M/$ko" "$R/mod/$base"
  echo "$base" >> "$R/mod/order"
done
# null_blk and configfs, loaded by init (not at boot with the others): a zoned and a regular
# null_blk device are configured through configfs.
mkdir -p "$R/mod/zoned"
for m in configfs null_blk; do
  ko=$(grep -E "/$m\.ko(\.xz|\.zst)?:" "$M/modules.dep" | cut -d: -f1)
  [ -n "$ko" ] || { echo "no $m module in $M" >&2; exit 1; }
  cp "$M/$ko" "$R/mod/zoned/"
done
# scsi_debug as a host-managed ZBC disk, with the modules it needs that are not loaded yet.
mkdir -p "$R/mod/zbc" && : > "$R/mod/zbc/order"
line=$(grep -E "/scsi_debug\.ko(\.xz|\.zst)?:" "$M/modules.dep")
[ -n "$line" ] || { echo "no scsi_debug module in $M" >&2; exit 1; }
{ echo "$line" | cut -d: -f2 | tr ' ' '\n' | grep -v '^$' | tac; echo "$line" | cut -d: -f1; } | while read -r ko; do
  base=$(basename "$ko")
  [ -e "$R/mod/$base" ] && continue
  cp "$M/$ko" "$R/mod/zbc/$base"
  echo "$base" >> "$R/mod/zbc/order"
done
cp "$HERE/init" "$R/init"
chmod +x "$R/init"
command -v cpio >/dev/null || { echo "cpio is not installed" >&2; exit 1; }
(cd "$R" && find . | cpio -o -H newc --quiet | gzip -1) > "$OUT/initramfs.gz"
ls "$KROOT"/boot/vmlinuz-* | head -1
