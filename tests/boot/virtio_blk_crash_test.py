#!/usr/bin/env python3
"""No acknowledged write is lost: the guest appends numbered records to a file on a virtio-blk ext4 image, fsyncs
after each one and only then prints "ack N"; the host SIGKILLs emu64 in the middle of that loop. Afterwards e2fsck
must recover the image (journal replay) and every acknowledged record must be in the file, in order.

usage: virtio_blk_crash_test.py EMU64 ROOT [emu64 args...]
"""
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from guestlib import debugfs_cat, e2fsck, fetch_kernel, make_ext4, make_initramfs
from harness import check, finish

EMU64, ROOT, EXTRA = sys.argv[1], sys.argv[2], sys.argv[3:]
ACKS_BEFORE_KILL = 60

SCRIPT = "; ".join([
    "mkdir -p /mnt",
    "mount -t ext4 /dev/vda /mnt",
    "i=0",
    # sync FILE is fsync(2): ext4 commits the journal and the block layer sends a FLUSH before it returns.
    'while true; do i=$((i + 1)); echo "record $i" >> /mnt/log; sync /mnt/log; echo "ack $i"; done',
])

with tempfile.TemporaryDirectory() as tmp:
    kernel = fetch_kernel(ROOT)
    disk = make_ext4(ROOT, os.path.join(tmp, "disk.img"), None, "32M")
    initrd = make_initramfs(ROOT, kernel, os.path.join(tmp, "init.gz"), SCRIPT)
    start = time.monotonic()
    proc = subprocess.Popen([EMU64, "-kernel", kernel, "-initrd", initrd, "-append", "console=ttyS0", "-nographic",
                             "-drive", f"file={disk},format=raw,if=virtio", *EXTRA],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    console = b""
    acked = 0
    deadline = time.monotonic() + 300
    while acked < ACKS_BEFORE_KILL and time.monotonic() < deadline and proc.poll() is None:
        ready, _, _ = select.select([proc.stdout], [], [], 1)
        if ready:
            console += os.read(proc.stdout.fileno(), 65536)
            acks = re.findall(rb"^ack (\d+)\r?$", console, re.MULTILINE)
            acked = int(acks[-1]) if acks else 0
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # Whatever the guest printed before the kill counts: those records were acknowledged.
    console += proc.stdout.read()
    proc.stdout.close()
    acks = re.findall(rb"^ack (\d+)\r?$", console, re.MULTILINE)
    acked = int(acks[-1]) if acks else 0
    print(f"virtio-blk crash {' '.join(EXTRA)}: killed after {time.monotonic() - start:.1f} s, {acked} records "
          "acknowledged")
    check(f"the guest acknowledged at least {ACKS_BEFORE_KILL} fsynced records before the kill",
          acked >= ACKS_BEFORE_KILL, console[-2000:])

    recovered = os.path.join(tmp, "recovered.img")
    shutil.copy(disk, recovered)
    status, report = e2fsck(recovered, repair=True)
    check("e2fsck recovers the killed image (exit status 0 or 1: journal replayed)", status in (0, 1), report[-1500:])
    status, report = e2fsck(recovered)
    check("after recovery e2fsck -fn finds it clean", status == 0, report[-1500:])
    log = debugfs_cat(recovered, "/log") or b""
    records = log.decode(errors="replace").splitlines()
    expected = [f"record {i}" for i in range(1, acked + 1)]
    check("every acknowledged record is in the file, in order", records[:acked] == expected,
          f"{len(records)} records in the file, first mismatch near "
          f"{next((i for i, (a, b) in enumerate(zip(records, expected)) if a != b), len(records))}")
finish()
