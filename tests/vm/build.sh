#!/bin/sh
# Builds the VM test's initramfs: busybox (static), mediasan and the shared libraries it needs,
# the kernel's NVMe/AHCI/virtio-scsi modules in load order, and tests/vm/init.
# usage: build.sh KERNEL_ROOT MEDIASAN OUT_DIR   (KERNEL_ROOT: an extracted linux-image .deb)
set -eu
KROOT=$1 BIN=$2 OUT=$3
HERE=$(cd "$(dirname "$0")" && pwd)
V=$(ls "$KROOT/lib/modules" | head -1)
M=$KROOT/lib/modules/$V
[ -f "$M/modules.dep" ] || /sbin/depmod -b "$KROOT" "$V"
R=$OUT/initramfs
rm -rf "$R"
mkdir -p "$R/bin" "$R/dev" "$R/proc" "$R/sys" "$R/tmp" "$R/mod"
cp "$(command -v busybox)" "$R/bin/busybox"
for a in sh mount mkdir sleep cat insmod poweroff ls echo readlink wc sync mkswap swapon; do ln -s busybox "$R/bin/$a"; done
cp "$BIN" "$R/bin/mediasan"
for lib in $(ldd "$BIN" | grep -o '/[^ ]*'); do
  mkdir -p "$R$(dirname "$lib")"
  cp -L "$lib" "$R$lib"
done
: > "$R/mod/order"
for m in nvme ahci sd_mod virtio_scsi virtio_pci; do
  line=$(grep -E "/$m\.ko(\.xz)?:" "$M/modules.dep")
  { echo "$line" | cut -d: -f2 | tr ' ' '\n' | grep -v '^$' | tac; echo "$line" | cut -d: -f1; }
done | awk '!seen[$0]++' | while read -r ko; do
  base=$(basename "$ko")
  cp "$M/$ko" "$R/mod/$base"
  echo "$base" >> "$R/mod/order"
done
cp "$HERE/init" "$R/init"
chmod +x "$R/init"
command -v cpio >/dev/null || { echo "cpio is not installed" >&2; exit 1; }
(cd "$R" && find . | cpio -o -H newc --quiet | gzip -1) > "$OUT/initramfs.gz"
ls "$KROOT"/boot/vmlinuz-* | head -1
