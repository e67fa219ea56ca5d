#!/usr/bin/env python3
"""Boots Debian's kernel (fetched by guest-images/linux/fetch-kernel) with a test initramfs that runs commands
and powers off, and judges the run by the console: command output checked against the host, the exit
status, and a kernel log free of BUG/WARNING/Oops/panic/timed out. Then an interactive check through a pty:
the shell answers typed input.

usage: linux_test.py EMU64 ROOT FLAVOUR [MMU args...]
"""
import hashlib
import os
import pty
import re
import select
import subprocess
import sys
import tempfile
import time

EMU64, ROOT, FLAVOUR = sys.argv[1], sys.argv[2], sys.argv[3]
MMU = sys.argv[4:]
# The soft-lockup watchdog fires on a CPU this slow (an interpreter): it is switched off, nothing else is.
APPEND = "console=ttyS0 nowatchdog"
failures, passed = [], 0


def check(name, condition, detail=""):
    global passed
    if condition:
        passed += 1
    else:
        failures.append(name)
        print(f"FAIL {name}: {detail}")


kernel = subprocess.run([os.path.join(ROOT, "guest-images/linux/fetch-kernel"), FLAVOUR], check=True,
                        capture_output=True, text=True).stdout.strip()
script = "; ".join([
    "uname -a", "cat /proc/cpuinfo", "cat /proc/interrupts", "date", 'echo "answer=$((6 * 7))"',
    "dd if=/dev/zero bs=1M count=4 2>/dev/null | sha256sum",
])
with tempfile.TemporaryDirectory() as tmp:
    initrd = os.path.join(tmp, "test.cpio.gz")
    subprocess.run([os.path.join(ROOT, "guest-images/linux/mkinitramfs"), "-o", initrd, "--run", script],
                   check=True, capture_output=True)
    start = time.monotonic()
    proc = subprocess.run([EMU64, "-kernel", kernel, "-initrd", initrd, "-append", APPEND, "-nographic",
                           "-timeout", "600", *MMU], capture_output=True, stdin=subprocess.DEVNULL, timeout=700)
    seconds = time.monotonic() - start
    out = proc.stdout.decode(errors="replace")
    print(f"{FLAVOUR} kernel {' '.join(MMU)}: {seconds:.1f} s to power-off, emu64 status {proc.returncode}")
    check("power-off ends emu64 with status 0", proc.returncode == 0, proc.stderr[-500:])
    check("the script ran to the end", "emu64-exit-status: 0" in out, out[-2000:])
    check("uname", re.search(r"Linux \S+ \S+-amd64 #1 SMP", out) is not None, out[-2000:])
    check("arithmetic in the shell", "answer=42" in out)
    check("/proc/cpuinfo lists the CPU", "GenuineIntel" in out and "flags" in out)
    check("/proc/interrupts lists the timer and the serial port", "timer" in out and "ttyS0" in out)
    zeros = hashlib.sha256(bytes(4 << 20)).hexdigest()
    check("dd | sha256sum matches the host", zeros in out, zeros)
    bad = [line for line in out.splitlines() if re.search(r"\bBUG\b|WARNING|Oops|panic|timed out", line)]
    check("kernel log has no BUG/WARNING/Oops/panic/timed out", not bad, bad[:5])

    # Interactive: the default initramfs's shell answers typed input.
    shell_initrd = os.path.join(tmp, "shell.cpio.gz")
    subprocess.run([os.path.join(ROOT, "guest-images/linux/mkinitramfs"), "-o", shell_initrd], check=True,
                   capture_output=True)
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(EMU64, [EMU64, "-kernel", kernel, "-initrd", shell_initrd, "-append", APPEND, "-nographic",
                         "-timeout", "600", *MMU])
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
                    return re.search(pattern, seen) is not None
        return False

    check("interactive shell prompt", wait_for(rb"/ # ", 500), seen[-500:])
    os.write(fd, b"echo typed-$((7 * 6))\r")
    check("the shell answers typed input", wait_for(rb"typed-42", 60), seen[-500:])
    os.write(fd, b"poweroff -f\r")
    _, status = os.waitpid(pid, 0)
    check("poweroff -f ends the emulator with status 0", os.WEXITSTATUS(status) == 0, status)

print(f"{passed} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
