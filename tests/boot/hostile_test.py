#!/usr/bin/env python3
"""Hostile guests on the PC machine (issue #16): guest-images/testguests/hostile32.asm writes random values to every
I/O port and to random MMIO addresses, then loads random bytes as its GDT and IDT and jumps into random bytes. The
emulator must survive all of it, and the garbage must end the architecture's way: a triple fault, which resets the
machine. With -no-reboot the reset ends the run (status 0); without it the kernel boots again and again, and the run
ends at -max-insns (status 8), counted over all the boots. Every check runs on both backends, which must agree
(harness.py: same status, serial output and final state).

hostile_ptflood (guest-images/testguests/hostile/ptflood.asm, the bare runner) builds 100,000 page tables and reads
through each, then rewrites every one and reads again: page-track and the shadow MMU's cap (16,384 shadow pages, the
oldest zapped) under a flood of tracked gfns; the guest checks every read.

usage: hostile_test.py EMU64 TESTGUEST_DIR [-mmu MODE]
"""
import os

from harness import GUESTS, check, emu64, finish, for_each_backend, self_checking

KERNEL = os.path.join(GUESTS, "hostile32.elf")
PHASES = ["hostile: start", "hostile: ports done", "hostile: mmio done", "hostile: into garbage"]


def checks():
    proc = emu64(["-kernel", KERNEL, "-nographic", "-m", "64M", "-no-reboot", "-timeout", "120"], timeout=180,
                 dump_state=True)
    lines = proc.stdout.decode(errors="replace").splitlines()
    check("hostile survives ports and MMIO", lines == PHASES, lines)
    check("hostile garbage resets (-no-reboot: status 0)", proc.returncode == 0,
          f"{proc.returncode} {proc.stderr[-500:]!r}")
    check("hostile -dump-state after the reset", proc.state is not None, proc.stderr[-300:])

    # Without -no-reboot: the same boot again after every triple fault, until the instruction limit (a boot retires
    # about 6 million instructions, so 14 million see the second boot and end inside it or a later one).
    proc = emu64(["-kernel", KERNEL, "-nographic", "-m", "64M", "-max-insns", "14000000", "-timeout", "240"],
                 timeout=300)
    lines = proc.stdout.decode(errors="replace").splitlines()
    boots = lines.count(PHASES[0])
    check("hostile reset loop ends at -max-insns", proc.returncode == 8 and b"(-max-insns)" in proc.stderr,
          f"{proc.returncode} {proc.stderr[-500:]!r}")
    check("hostile reset loop booted again", boots >= 2 and b"booting again" in proc.stderr, f"{boots} boots")
    check("hostile reset loop: each boot the same", lines[:len(PHASES) * (boots - 1)] == PHASES * (boots - 1), lines)

    self_checking("hostile_ptflood", 2, "-m", "512M", timeout_s=240)


for_each_backend(checks)
finish()
