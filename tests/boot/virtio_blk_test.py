#!/usr/bin/env python3
"""virtio-blk under Debian's kernel: the guest mounts an ext4 image made from a host folder (mkext4), checks a host
file, writes files, re-reads them from the device, trims, syncs and powers off; the host then checks the image with
e2fsck -fn and reads the files back with debugfs. A second, read-only drive (the if=none + -device form, with a
serial) must stay byte-for-byte unchanged while the guest tries to write it.

usage: virtio_blk_test.py EMU64 ROOT [emu64 args...]
"""
import hashlib
import os
import subprocess
import sys
import tempfile
import time

from guestlib import debugfs_cat, e2fsck, fetch_kernel, kernel_problems, make_ext4, make_initramfs
from harness import check, finish

EMU64, ROOT, EXTRA = sys.argv[1], sys.argv[2], sys.argv[3:]
BIG = (b"0123456789abcdef\n" * ((8 << 20) // 17 + 1))[:8 << 20]  # what `yes 0123456789abcdef | dd` writes

SCRIPT = "; ".join([
    "mkdir -p /mnt /ro",
    "mount -t ext4 /dev/vda /mnt && echo mounted-rw",
    'echo "host-file $(sha256sum < /mnt/random.bin)"',
    "yes 0123456789abcdef | dd of=/mnt/big.bin bs=1M count=8 iflag=fullblock 2>/dev/null",
    "mkdir /mnt/dir",
    'for i in $(seq 1 50); do echo "file $i" > /mnt/dir/f$i; done',
    "rm /mnt/random.bin",
    "fstrim /mnt && echo trimmed",
    "sync",
    "umount /mnt",
    "echo 3 > /proc/sys/vm/drop_caches",
    "mount -t ext4 /dev/vda /mnt",
    'echo "reread $(sha256sum < /mnt/big.bin)"',
    "umount /mnt && echo unmounted",
    'echo "serial $(cat /sys/block/vdb/serial) ro $(cat /sys/block/vdb/ro)"',
    "dd if=/dev/zero of=/dev/vdb bs=4096 count=1 conv=fsync 2>/dev/null; echo \"raw-write-status $?\"",
    "mount -t ext4 /dev/vdb /ro 2>/dev/null; echo \"ro-mount $?\"",
    'echo "ro-file $(cat /ro/greeting.txt)"',
    "touch /ro/new 2>/dev/null; echo \"ro-touch $?\"",
    "umount /ro",
])

with tempfile.TemporaryDirectory() as tmp:
    kernel = fetch_kernel(ROOT)
    folder = os.path.join(tmp, "folder")
    os.mkdir(folder)
    random_bytes = os.urandom(1 << 20)
    with open(os.path.join(folder, "random.bin"), "wb") as f:
        f.write(random_bytes)
    with open(os.path.join(folder, "greeting.txt"), "w") as f:
        f.write("hello from the host\n")
    disk = make_ext4(ROOT, os.path.join(tmp, "disk.img"), folder, "64M")
    ro_disk = make_ext4(ROOT, os.path.join(tmp, "ro.img"), folder, "16M")
    with open(ro_disk, "rb") as f:
        ro_before = hashlib.sha256(f.read()).hexdigest()
    initrd = make_initramfs(ROOT, kernel, os.path.join(tmp, "init.gz"), SCRIPT)

    start = time.monotonic()
    proc = subprocess.run([EMU64, "-kernel", kernel, "-initrd", initrd, "-append", "console=ttyS0", "-nographic",
                           "-timeout", "600", "-drive", f"file={disk},format=raw,if=virtio",
                           "-drive", f"file={ro_disk},if=none,id=ro,readonly=on",
                           "-device", "virtio-blk-pci,drive=ro,serial=emu64-ro-disk", *EXTRA],
                          capture_output=True, stdin=subprocess.DEVNULL, timeout=700)
    out = proc.stdout.decode(errors="replace")
    print(f"virtio-blk boot {' '.join(EXTRA)}: {time.monotonic() - start:.1f} s to power-off, status {proc.returncode}")
    check("power-off ends emu64 with status 0", proc.returncode == 0, proc.stderr[-500:])
    check("the script ran to the end", "emu64-exit-status: 0" in out, out[-3000:])
    check("the kernel found both disks", "[vda]" in out and "[vdb]" in out, out[-3000:])
    check("the ext4 image mounts read-write", "mounted-rw" in out)
    check("the guest reads the host's file intact",
          f"host-file {hashlib.sha256(random_bytes).hexdigest()}" in out)
    check("fstrim (discard requests) succeeds", "trimmed" in out)
    check("files written, synced and re-read from the device match",
          f"reread {hashlib.sha256(BIG).hexdigest()}" in out)
    check("GET_ID gives the serial; the read-only drive is read-only",
          "serial emu64-ro-disk ro 1" in out)
    check("a raw write to the read-only drive fails", "raw-write-status 0" not in out and "raw-write-status" in out)
    check("the read-only drive mounts and reads", "ro-file hello from the host" in out)
    check("creating a file on the read-only mount fails", "ro-touch 1" in out)
    check("kernel log has no BUG/WARNING/Oops/panic/timed out", not kernel_problems(out), kernel_problems(out)[:5])

    status, report = e2fsck(disk)
    check("e2fsck -fn finds the written image clean", status == 0, report[-1500:])
    check("debugfs reads the 8 MiB file back", debugfs_cat(disk, "/big.bin") == BIG)
    check("debugfs reads the 50 small files back",
          all(debugfs_cat(disk, f"/dir/f{i}") == f"file {i}\n".encode() for i in range(1, 51)))
    check("the deleted file is gone", debugfs_cat(disk, "/random.bin") is None)
    with open(ro_disk, "rb") as f:
        check("the read-only image is unchanged", hashlib.sha256(f.read()).hexdigest() == ro_before)
finish()
