#!/usr/bin/env python3
"""Runs the self-modifying-code guests (guest-images/testguests/smc/*.asm) through `emu64 -bare`.

emu64 caches translations per guest-physical page; a store to a page that code was fetched from must drop them, and
a store into a later instruction of the running block must take effect before that instruction runs (SDM Vol. 3
11.6). The guests store into code that was translated (and, on the JIT, chained and entered through the jump
cache) and run it again: in the same block, in other blocks and pages, across a page boundary, by REP string
instructions, in real mode; they remap code pages under a linear address and change a memslot under code. Each prints
"ok <name>" / "FAIL <name> got ... want ..." on COM1 (a stale translation shows the old bytes' marker) and exits
through isa-debug-exit with the failure count (status 1 when clean). This script checks the status, that no FAIL
line appeared and that every check ran, on each backend (harness.py). meson runs it once per MMU mode.

usage: smc_test.py EMU64 TESTGUEST_DIR [-mmu MODE]
"""
import os

from harness import GUESTS, check, emu64, finish, for_each_backend, self_checking


def slot_gone():
    """The slot the guest runs from is deleted by an OUT in the middle of a block: the next instruction is fetched
    from unbacked memory (all ones: #UD at that instruction), and the rest of the translated block does not run."""
    proc = emu64(["-bare", os.path.join(GUESTS, "smc_slot_gone.bin"), "-map", "0x10000000:64K", "-test-memslot-port",
                  "-timeout", "30"], dump_state=True)
    check("slot_gone #UD at the next instruction", proc.returncode == 4 and b"#UD" in proc.stderr,
          f"{proc.returncode} {proc.stderr!r}")
    check("slot_gone stopped before the rest of the block",
          proc.state and proc.state["rip"] == 0x10000014 and proc.state["rax"] == 2,
          proc.state and f"rip {proc.state['rip']:#x} rax {proc.state['rax']:#x}")


def checks():
    self_checking("smc_next", 94)     # stores into a later instruction of the same block (every store kind)
    self_checking("smc_blocks", 7)    # stores into blocks that ran: other pages, an alias mapping, chained loops
    self_checking("smc_cross", 10)    # an instruction and a block crossing a page boundary: stores, remaps
    self_checking("smc_string", 9)    # code written by REP MOVS/STOS, forwards, backwards, two pages
    self_checking("smc_remap", 9)     # a linear code page switched between physical pages (INVLPG, CR3)
    # RAM replaced under code by memslot changes (no device of the PC machine writes guest RAM: fw_cfg has no DMA).
    self_checking("smc_memslot", 7, "-map", "0x10000000:64K", "-map", "0x20000000:64K", "-test-memslot-port")
    self_checking("smc_real16", 8, "-start-mode", "real")  # real mode: CS:IP pairs sharing bytes, segment aliases
    # The two that need no privileged instruction once more at CPL 3 (the JIT's inline stores use the user TLB
    # table; IOPL 3 lets them print).
    self_checking("smc_next", 94, "-cpl", "3", "-reg", "rflags=0x3202")
    self_checking("smc_string", 9, "-cpl", "3", "-reg", "rflags=0x3202")
    slot_gone()


for_each_backend(checks)
finish()
