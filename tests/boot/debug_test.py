#!/usr/bin/env python3
"""Runs the debug-feature guests (guest-images/testguests/debug/*.asm) through `emu64 -bare`.

Each guest checks its results against the SDM values stated beside each check, prints "ok <name>" or
"FAIL <name> ..." lines on COM1 and leaves through isa-debug-exit with the failure count v (status (v << 1) | 1),
so a clean run ends with status 1. This script checks the status, that no FAIL line appeared and that every
expected check ran (a guest that stops early cannot pass), on each backend (harness.py).

usage: debug_test.py EMU64 TESTGUEST_DIR [-mmu MODE]
"""
from harness import finish, for_each_backend, self_checking


def checks():
    # Long mode: DR6/DR7 values, DR4/DR5, single-step (POPF, MOV SS), instruction breakpoint with RF, data
    # breakpoints, DR7.GD, far JMP/CALL m16:32, RDTSC after WRMSR(TSC), MOV DR / INT3 / INT 1 / INT1 from CPL 3.
    self_checking("debug_debug64", 44)
    # 32-bit protected mode: segment limits (expand-up, expand-down), read-only and null segments; #GP(0) / #SS(0).
    self_checking("debug_seg32", 11, "-start-mode", "prot32")


for_each_backend(checks)
finish()
