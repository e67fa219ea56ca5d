#!/usr/bin/env python3
"""Runs the write-protect-path guests (guest-images/testguests/wp/*.asm) through `emu64 -bare`.

The guests edit live page tables in the ways an OS does (INVLPG after a PTE edit, a page directory mapped twice,
a recursive PML4 entry, byte-wise and REP-string writes to a page table, page tables freed and reused as data,
hundreds of address spaces) and check every mapping against the SDM; the memslot guest moves, deletes, re-creates
its RAM through -test-memslot-port and checks what it then sees. Each prints "ok <name>" / "FAIL <name> ..." on
COM1 and exits through isa-debug-exit with the failure count (status 1 when clean). This script checks the
status, that no FAIL line appeared and that every check ran, on each backend (harness.py). meson runs it once per
MMU mode; both must pass.

usage: wp_test.py EMU64 TESTGUEST_DIR [-mmu MODE]
"""
import json
import os
import subprocess

from harness import EMU64, GUESTS, check, finish, for_each_backend, run_guest, self_checking


def wp_guest(guest, checks, *args):
    # The MMU and page-track logs go to stderr: the shadow MMU and page-track report broken invariants there
    # (unbalanced write-track counts) as "BUG: ..." lines, which the guest cannot see.
    proc = self_checking(guest, checks, "-d", "mmu,page_track", *args, timeout_s=60)
    bugs = [line for line in proc.stderr.decode(errors="replace").splitlines() if "BUG" in line]
    check(f"{guest} no invariant violation logged", not bugs, "; ".join(bugs))


def checks():
    wp_guest("wp_invlpg", 27)     # (a) PTE edit + INVLPG: reads, writes, fetches, rights, A/D, global pages
    wp_guest("wp_alias", 14)      # (b) a page directory mapped twice as data
    wp_guest("wp_recursive", 12)  # (c) a recursive PML4 entry
    wp_guest("wp_bytes", 20)      # (d) a page table written byte-wise, partially, misaligned, by REP MOVSB/STOSB
    wp_guest("wp_reuse", 16)      # (e) page tables freed, reused as (flooded) data, then as page tables again
    wp_guest("wp_spaces", 6)      # (f) 200 address spaces switched round-robin with PTE edits in between
    # Memslot MOVE/DELETE/CREATE and aborted changes under the guest, through the test port; slot 1 is the -map.
    wp_guest("wp_memslot", 50, "-map", "0x10000000:1M", "-test-memslot-port")
    # The port exists only with the option: without it the guest's first command reads the unclaimed port
    # (all-ones).
    proc = run_guest("wp_memslot", "-map", "0x10000000:1M", timeout_s=60)
    check("no test port without -test-memslot-port", b"FAIL aborted move: status got 00000000ffffffff" in proc.stdout,
          proc.stdout[-2000:])


for_each_backend(checks)
# Command-line checks: not guest runs, so once.
proc = subprocess.run([EMU64, "-bare", os.path.join(GUESTS, "wp_memslot.bin"), "-test-memslot-port", "-print-config"],
                      capture_output=True, timeout=60)
check("-print-config shows the test port", proc.returncode == 0 and
      json.loads(proc.stdout)["bare"]["test_memslot_port"] is True, proc.stdout + proc.stderr)
# The PC machine has the port too (issue #13: memslot changes under the GPU engine).
proc = subprocess.run([EMU64, "-kernel", os.path.join(GUESTS, "multiboot32.elf"), "-test-memslot-port",
                       "-print-config"], capture_output=True, timeout=60)
check("-print-config shows the PC machine's test port", proc.returncode == 0 and
      json.loads(proc.stdout)["test_memslot_port"] is True, proc.stdout + proc.stderr)

finish()
