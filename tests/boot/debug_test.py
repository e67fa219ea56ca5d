#!/usr/bin/env python3
"""Runs the debug-feature guests (guest-images/testguests/debug/*.asm) through `emu64 -bare`.

Each guest checks its results against the SDM values stated beside each check, prints "ok <name>" or
"FAIL <name> ..." lines on COM1 and leaves through isa-debug-exit with the failure count v (status (v << 1) | 1),
so a clean run ends with status 1. This script checks the status, that no FAIL line appeared and that every
expected check ran (a guest that stops early cannot pass).

usage: debug_test.py EMU64 TESTGUEST_DIR [-mmu MODE]
"""
import os
import subprocess

from harness import EMU64, GUESTS, MMU, check, finish


def self_checking(guest, checks, *args):
    cmd = [EMU64, "-bare", os.path.join(GUESTS, guest + ".bin"), "-timeout", "30", *MMU, *args]
    proc = subprocess.run(cmd, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    out = proc.stdout.decode(errors="replace")
    lines = out.splitlines()
    bad = [line for line in lines if line.startswith("FAIL")]
    oks = [line for line in lines if line.startswith("ok ")]
    check(f"{guest} status", proc.returncode == 1, f"status {proc.returncode}; stderr {proc.stderr!r}")
    check(f"{guest} no failed checks", not bad, "; ".join(bad))
    check(f"{guest} ran all checks", len(oks) == checks and "done" in lines, f"{len(oks)} of {checks}:\n{out}")


# Long mode: DR6/DR7 values, DR4/DR5, single-step (POPF, MOV SS), instruction breakpoint with RF, data breakpoints,
# DR7.GD, far JMP/CALL m16:32, RDTSC after WRMSR(TSC), MOV DR / INT3 / INT 1 / INT1 from CPL 3.
self_checking("debug_debug64", 44)
# 32-bit protected mode: segment limits (expand-up, expand-down), read-only and null segments; #GP(0) / #SS(0).
self_checking("debug_seg32", 11, "-start-mode", "prot32")

finish()
