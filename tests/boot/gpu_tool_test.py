#!/usr/bin/env python3
"""The GPU engine's guest tool (guest-images/gpu-tool/gpu_tool.c) inside Debian's cloud kernel with -gpu-engine: it
maps BAR4 through sysfs, finds its pages through /proc/self/pagemap, builds GPU page tables, and checks FILL, COPY, a
live table edit and a fault (`check`), then 200 rounds of entry edits between batches (`edit 200`).

usage: gpu_tool_test.py EMU64 ROOT GPU_TOOL [emu64 args...]
"""
import os
import re
import subprocess
import sys
import tempfile

from guestlib import fetch_kernel, make_initramfs
from harness import check, finish

EMU64, ROOT, TOOL, EXTRA = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]

with tempfile.TemporaryDirectory() as tmp:
    kernel = fetch_kernel(ROOT)
    initrd = make_initramfs(ROOT, kernel, os.path.join(tmp, "gpu.gz"), "gpu_tool check && gpu_tool edit 200",
                            adds=[f"{TOOL}:/bin/gpu_tool"])
    proc = subprocess.run([EMU64, "-kernel", kernel, "-initrd", initrd, "-append", "console=ttyS0 quiet",
                           "-nographic", "-gpu-engine", "-timeout", "500", *EXTRA],
                          capture_output=True, timeout=600, stdin=subprocess.DEVNULL)
    out = proc.stdout.decode(errors="replace")
    status = re.findall(r"emu64-exit-status: (\d+)", out)
    check("gpu_tool found the engine through sysfs", "engine BAR4 of" in out, out[-3000:])
    oks = re.findall(r"^ok ", out, re.M)
    check("gpu_tool checks passed", "FAIL" not in out and len(oks) == 9, out[-3000:])
    check("gpu_tool edit rounds: 200 trapped writes", "writes seen 201" in out, out[-3000:])
    check("gpu_tool exit status 0", status == ["0"], f"{status} {proc.stderr[-2000:]!r}")
finish()
