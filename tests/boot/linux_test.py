#!/usr/bin/env python3
"""Boots Debian's kernel (fetched by guest-images/linux/fetch-kernel) with a test initramfs that runs commands
and powers off, and judges the run by the console: command output checked against the host, the exit
status, a kernel log free of BUG/WARNING/Call Trace/Oops/panic/timed out, and the platform the kernel chose (ACPI, the
I/O APIC, the local APIC timer, HPET). With --interactive it also boots the default initramfs on a pty and
checks that the shell answers typed input. The emu64 args select the MMU mode and the backend (-accel).

With --cpu-flags it checks that /proc/cpuinfo's flags include every feature the -cpu model (max by default)
advertises, as `emu64 -cpu help` lists them.

usage: linux_test.py EMU64 ROOT FLAVOUR [--interactive] [--cpu-flags] [emu64 args...]
"""
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import time

from guestlib import Terminal
from harness import any_failed, check, finish

EMU64, ROOT, FLAVOUR = sys.argv[1], sys.argv[2], sys.argv[3]
INTERACTIVE = "--interactive" in sys.argv[4:]
CPU_FLAGS = "--cpu-flags" in sys.argv[4:]
EXTRA = [a for a in sys.argv[4:] if a not in ("--interactive", "--cpu-flags")]
APPEND = "console=ttyS0"


def interrupt_count(out, label):
    """Sum of the per-CPU counts on the /proc/interrupts line whose name is `label` (e.g. LOC)."""
    match = re.search(rf"^\s*{label}:\s+((?:\d+\s+)+)", out, re.MULTILINE)
    return sum(int(n) for n in match.group(1).split()) if match else -1


# CPUID feature names /proc/cpuinfo spells otherwise (Linux's arch/x86/include/asm/cpufeatures.h).
LINUX_NAMES = {"sse3": "pni", "invtsc": "constant_tsc"}


def advertised_features(model):
    """The features `emu64 -cpu help` lists as advertised by `model` (the model table in the code)."""
    text = subprocess.run([EMU64, "-cpu", "help"], check=True, capture_output=True, text=True).stdout
    match = re.search(rf"^  {re.escape(model)} \(.*\n    advertises: (.*)$", text, re.MULTILINE)
    return match.group(1).split() if match else []


def tools(name):
    return os.path.join(ROOT, "guest-images/linux", name)


kernel = subprocess.run([tools("fetch-kernel"), FLAVOUR], check=True, capture_output=True, text=True).stdout.strip()
script = "; ".join([
    "uname -a", "cat /proc/cpuinfo", "cat /proc/interrupts", "date",
    "cat /sys/devices/system/clocksource/clocksource0/available_clocksource",
    'echo "answer=$((6 * 7))"',
    'echo "clockevent: $(cat /sys/devices/system/clockevents/clockevent0/current_device)"',
    'echo "mem-sleep: $(cat /sys/power/mem_sleep)"',
    'echo "zeros $(dd if=/dev/zero bs=1M count=4 2>/dev/null | sha256sum)"',
    'echo "text $(yes 0123456789abcdef | dd bs=1M count=4 iflag=fullblock 2>/dev/null | sha256sum)"',
])
with tempfile.TemporaryDirectory() as tmp:
    initrd = os.path.join(tmp, "test.cpio.gz")
    subprocess.run([tools("mkinitramfs"), "-o", initrd, "--run", script], check=True, capture_output=True)
    start = time.monotonic()
    proc = subprocess.run([EMU64, "-kernel", kernel, "-initrd", initrd, "-append", APPEND, "-nographic",
                           "-timeout", "1000", *EXTRA], capture_output=True, stdin=subprocess.DEVNULL, timeout=1100)
    seconds = time.monotonic() - start
    raw = proc.stdout
    out = raw.decode(errors="replace")
    print(f"{FLAVOUR} kernel {' '.join(EXTRA)}: {seconds:.1f} s to power-off, emu64 status {proc.returncode}")
    check("power-off ends emu64 with status 0", proc.returncode == 0, proc.stderr[-500:])
    check("the script ran to the end", "emu64-exit-status: 0" in out, out[-2000:])
    check("uname", re.search(r"Linux \S+ \S+-amd64 #1 SMP", out) is not None, out[-2000:])
    check("arithmetic in the shell", "answer=42" in out)
    model = next((EXTRA[i + 1].split(",")[0] for i, a in enumerate(EXTRA[:-1]) if a == "-cpu"), "max")
    amd_model = any(m in a for a in EXTRA for m in ["EPYC", "Opteron", "qemu64", "vendor=amd"])
    vendor = "AuthenticAMD" if amd_model else "GenuineIntel"
    check(f"/proc/cpuinfo lists the CPU ({vendor})", f"vendor_id\t: {vendor}" in out and "flags" in out)
    # SSE4.1/SSE4.2 (issue #17 point 11): advertised by the default model (max), not by qemu64.
    flags = re.search(r"^flags\s*: (.*)$", out, re.MULTILINE)
    sse4 = flags is not None and {"sse4_1", "sse4_2"} <= set(flags.group(1).split())
    check("/proc/cpuinfo flags: sse4_1 sse4_2 as the model says", sse4 == ("qemu64" not in EXTRA),
          flags.group(0) if flags else "no flags line")
    # --cpu-flags: every feature the model advertises (as `emu64 -cpu help` lists them) is in cpuinfo's flags.
    if CPU_FLAGS:
        expected = advertised_features(model)
        flags = re.search(r"^flags\s*: (.*)$", out, re.MULTILINE)
        have = set(flags.group(1).split()) if flags else set()
        missing = [f for f in expected if LINUX_NAMES.get(f, f) not in have]
        check(f"/proc/cpuinfo flags include the {len(expected)} features -cpu {model} advertises",
              flags is not None and expected and not missing, f"missing {missing}; flags {sorted(have)}")
        # Protection keys: with pku advertised (and XSAVE component 9, which Linux requires for it) the kernel sets
        # CR4.PKE, and CPUID's OSPKE, read again, says so.
        if "pku" in expected:
            check("the kernel enabled protection keys (ospke)", "ospke" in have, f"flags {sorted(have)}")
        # With the TSC-deadline timer Linux's tick is the deadline mode of the local APIC timer (lapic-deadline),
        # which the LOC count below then proves ticking.
        if "tsc_deadline_timer" in expected:
            check("the local APIC timer runs in TSC-deadline mode", "clockevent: lapic-deadline" in out)
    # ACPI S3 is not offered (the DSDT has \_S5 only): suspend-to-RAM can only be s2idle, never "deep" (S3), so a
    # guest never suspends to a state the machine cannot wake from.
    states = re.search(r"^mem-sleep: (.*)$", out, re.MULTILINE)
    check("S3 (deep) is not offered", states is not None and "s2idle" in states.group(1) and
          "deep" not in states.group(1), states.group(0) if states else "no mem-sleep line")
    check("/proc/interrupts lists the serial port", "ttyS0" in out)
    check("date prints a year", re.search(r"\b20\d\d\b", out) is not None)

    # dd | sha256sum in the guest, the same bytes hashed here.
    zeros = hashlib.sha256(bytes(4 << 20)).hexdigest()
    check("dd of zeros | sha256sum matches the host", f"zeros {zeros}" in out, zeros)
    pattern = (b"0123456789abcdef\n" * ((4 << 20) // 17 + 1))[:4 << 20]
    text = hashlib.sha256(pattern).hexdigest()
    check("dd of text | sha256sum matches the host", f"text {text}" in out, text)

    console = out
    bad = [line for line in out.splitlines()
           if re.search(r"\bBUG\b|WARNING|Call Trace|Oops|panic|timed out", line)]
    check("kernel log has no BUG/WARNING/Call Trace/Oops/panic/timed out", not bad, bad[:5])
    check("ACPI in use", "ACPI: Interpreter enabled" in out and "ACPI: Using IOAPIC for interrupt routing" in out)
    # available_clocksource prints one line of names, e.g. "tsc hpet acpi_pm".
    clocksources = re.search(r"^(?:[\w-]+ )*hpet(?: [\w-]+)* ?\r?$", out, re.MULTILINE)
    check("HPET in use", "hpet0: at MMIO 0xfed00000" in out and clocksources is not None, "no hpet clocksource")
    check("the local APIC timer ticks", interrupt_count(out, "LOC") > 0, f"LOC {interrupt_count(out, 'LOC')}")
    check("interrupts go through the I/O APIC", re.search(r"IO-APIC.*ttyS0", out) is not None)

if INTERACTIVE:
    with tempfile.TemporaryDirectory() as tmp:
        shell_initrd = os.path.join(tmp, "shell.cpio.gz")
        subprocess.run([tools("mkinitramfs"), "-o", shell_initrd], check=True, capture_output=True)
        term = Terminal([EMU64, "-kernel", kernel, "-initrd", shell_initrd, "-append", APPEND, "-nographic",
                         "-timeout", "1000", *EXTRA])
        check("interactive shell prompt", term.wait_for(rb"/ # ", 900), term.seen[-500:])
        term.type(b"echo typed-$((7 * 6))\r")
        check("the shell answers typed input", term.wait_for(rb"typed-42", 120), term.seen[-500:])
        term.type(b"poweroff -f\r")
        status = term.exit_status()
        check("poweroff -f ends the emulator with status 0", status == 0, status)

if any_failed():
    print("---- the scripted boot's console ----")
    print(console)
finish()
