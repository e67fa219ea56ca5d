#!/usr/bin/env python3
"""virtio-console as Linux's console: with the serial port off (-serial null) and the terminal given to a virtconsole
(-chardev stdio), the busybox shell comes up on hvc0 (console=hvc0), answers typed input, and poweroff ends emu64.

usage: virtio_console_test.py EMU64 ROOT [emu64 args...]
"""
import os
import sys
import tempfile
import time

from guestlib import Terminal, fetch_kernel, make_initramfs
from harness import check, finish

EMU64, ROOT, EXTRA = sys.argv[1], sys.argv[2], sys.argv[3:]

with tempfile.TemporaryDirectory() as tmp:
    kernel = fetch_kernel(ROOT)
    initrd = make_initramfs(ROOT, kernel, os.path.join(tmp, "shell.gz"))
    start = time.monotonic()
    term = Terminal([EMU64, "-kernel", kernel, "-initrd", initrd, "-append", "console=ttyS0 console=hvc0",
                     "-nographic", "-serial", "null", "-chardev", "stdio,id=con", "-device", "virtio-serial-pci",
                     "-device", "virtconsole,chardev=con", "-timeout", "600", *EXTRA])
    check("the shell prompt appears on the virtconsole", term.wait_for(rb"/ # ", 600), term.seen[-1000:])
    term.type(b"echo typed-$((6 * 7)) on $(tty)\r")
    check("the shell on hvc0 answers typed input", term.wait_for(rb"typed-42 on /dev/hvc0", 60), term.seen[-500:])
    term.type(b"poweroff -f\r")
    status = term.exit_status()
    print(f"virtio-console boot {' '.join(EXTRA)}: {time.monotonic() - start:.1f} s, status {status}")
    check("poweroff -f ends emu64 with status 0", status == 0, status)
finish()
