#!/usr/bin/env python3
"""Runs the GPU engine guest (guest-images/testguests/gpu/engine64.asm) on the PC machine with -gpu-engine.

The guest binds a context of GPU page tables, runs FILL / COPY / BLIT batches and checks them byte for byte, edits live
table entries with stores of every width (and REP STOSQ) and checks the next batch used them, rewrites a table with the
engine itself, provokes each fault, and shares one page between a CPU page directory and a GPU table. It prints
"ok NAME" / "FAIL NAME" and "done" on COM1 and leaves through isa-debug-exit with its failure count (status 1 when
clean). Its output must be the same in both MMU modes; the page-track counts of the shared page, which depend on the
mode (walk mode does not track CPU tables), are left in R12 (GPU bound), R13 (unbound) and R14 (after the CPU stopped
using the page as a table and rewrote it). Then, through the memslot test port, an aborted DELETE, a MOVE and a
DELETE of the slot holding a bound context's tables (the engine is told at commit only). meson runs this script once per MMU mode; each run covers both backends.

usage: gpu_test.py EMU64 TESTGUEST_DIR [-mmu MODE]
"""
import os

from harness import GUESTS, MMU, check, emu64, finish, for_each_backend

CHECKS = 32


def checks():
    proc = emu64(["-kernel", os.path.join(GUESTS, "gpu_engine64.elf"), "-gpu-engine", "-m", "64M", "-nographic",
                  "-map", "0x10000000:64K", "-test-memslot-port",
                  "-timeout", "60"], timeout=120, dump_state=True)
    out = proc.stdout.decode(errors="replace")
    lines = out.splitlines()
    bad = [line for line in lines if line.startswith("FAIL")]
    oks = [line for line in lines if line.startswith("ok ")]
    check("gpu engine guest status", proc.returncode == 1, f"status {proc.returncode}; stderr {proc.stderr[-2000:]!r}")
    check("gpu engine guest no failed checks", not bad, "; ".join(bad))
    check("gpu engine guest ran all checks", len(oks) == CHECKS and "done" in lines, f"{len(oks)} of {CHECKS}:\n{out}")
    state = proc.state or {}
    counts = tuple(state.get(reg) for reg in ("r12", "r13", "r14"))
    # Shadow mode: the shadow MMU tracks the page directory as well (2 -> 1), and drops it once the unused directory
    # has been rewritten several times (write flooding: -> 0). Walk mode tracks no CPU table (1 -> 0 -> 0).
    want = (2, 1, 0) if "walk" not in MMU else (1, 0, 0)
    check("shared page track counts", counts == want, f"got {counts}, want {want}")


for_each_backend(checks)
finish()
