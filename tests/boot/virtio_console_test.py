#!/usr/bin/env python3
"""virtio-console as Linux's console: with the serial port off (-serial null) and the terminal given to a virtconsole
(-chardev stdio), the busybox shell comes up on hvc0 (console=hvc0), answers typed input, and poweroff ends emu64.

usage: virtio_console_test.py EMU64 ROOT [emu64 args...]
"""
import os
import pty
import re
import select
import sys
import tempfile
import time

from guestlib import fetch_kernel, make_initramfs
from harness import check, finish

EMU64, ROOT, EXTRA = sys.argv[1], sys.argv[2], sys.argv[3:]

with tempfile.TemporaryDirectory() as tmp:
    kernel = fetch_kernel(ROOT)
    initrd = make_initramfs(ROOT, kernel, os.path.join(tmp, "shell.gz"))
    start = time.monotonic()
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(EMU64, [EMU64, "-kernel", kernel, "-initrd", initrd, "-append", "console=ttyS0 console=hvc0",
                         "-nographic", "-serial", "null", "-chardev", "stdio,id=con", "-device", "virtio-serial-pci",
                         "-device", "virtconsole,chardev=con", "-timeout", "600", *EXTRA])
    seen = b""

    def wait_for(pattern, seconds):
        global seen
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if re.search(pattern, seen):
                return True
            ready, _, _ = select.select([fd], [], [], 1)
            if ready:
                try:
                    seen += os.read(fd, 4096)
                except OSError:
                    break
        return re.search(pattern, seen) is not None

    check("the shell prompt appears on the virtconsole", wait_for(rb"/ # ", 600), seen[-1000:])
    os.write(fd, b"echo typed-$((6 * 7)) on $(tty)\r")
    check("the shell on hvc0 answers typed input", wait_for(rb"typed-42 on /dev/hvc0", 60), seen[-500:])
    os.write(fd, b"poweroff -f\r")
    _, status = os.waitpid(pid, 0)
    print(f"virtio-console boot {' '.join(EXTRA)}: {time.monotonic() - start:.1f} s, status {os.WEXITSTATUS(status)}")
    check("poweroff -f ends emu64 with status 0", os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status)
finish()
