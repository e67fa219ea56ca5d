#!/usr/bin/env python3
"""Runs our own small test guests through `emu64 -bare` and judges them by serial output, exit status and the
-dump-state JSON. Expected values come from the guests' semantics (computed here independently), not from
the emulator. Every check runs on each backend, whose runs must agree (harness.py).

usage: bare_test.py EMU64 TESTGUEST_DIR [-mmu MODE]
"""
import os
import tempfile

from harness import GUESTS, check, emu64, finish, for_each_backend


def run(guest, *args):
    proc = emu64(["-bare", os.path.join(GUESTS, guest + ".bin"), "-timeout", "30", *args], dump_state=True)
    return proc, proc.state


def ror64(v, n):
    return ((v >> n) | (v << (64 - n))) & (2**64 - 1)


def checks():
    # 64-bit CPL 0: serial output through the 16550 at 0x3F8, then HLT.
    proc, state = run("hello64")
    check("hello64 exit", proc.returncode == 0, f"status {proc.returncode} {proc.stderr!r}")
    check("hello64 serial", b"Hello from emu64" in proc.stdout, repr(proc.stdout))
    hlt_at = open(os.path.join(GUESTS, "hello64.bin"), "rb").read().index(b"\xf4Hello")
    check("hello64 rip after hlt", state and state["rip"] == 0x10000 + hlt_at + 1, state and hex(state["rip"]))
    check("hello64 rcx counted down", state and state["rcx"] == 0)

    # A loop whose checksum is recomputed here from the instruction semantics.
    n = 5000
    rax, rdx = 0, 1
    for _ in range(n):
        rax = (rax + rdx) & (2**64 - 1)
        rdx = (rdx * 3) & (2**64 - 1)
        rdx ^= rax
        rax = ror64(rax, 7)
    proc, state = run("loop64", "-reg", f"rcx={n}")
    check("loop64 exit", proc.returncode == 0, proc.stderr)
    check("loop64 checksum", state and state["rax"] == rax and state["rdx"] == rdx,
          state and f"rax {state['rax']:#x} want {rax:#x}")

    # An exception with no IDT ends the run with a clear message and the exception status (4).
    proc, state = run("ud64")
    check("ud64 exit status", proc.returncode == 4, proc.returncode)
    check("ud64 message", b"#UD" in proc.stderr, proc.stderr)
    check("ud64 rip at faulting insn", state and state["rip"] == 0x10005, state and hex(state["rip"]))
    check("ud64 eax before fault", state and state["rax"] == 0x1234)

    # CPL 3 start: Linux user selectors; HLT at ring 3 ends the run too.
    proc, state = run("user64", "-cpl", "3", "-reg", "rsp=0x80000")
    check("user64 exit", proc.returncode == 0, proc.stderr)
    check("user64 cs", state and state["rbx"] == 0x33, state and hex(state["rbx"]))
    check("user64 ss", state and state["rcx"] == 0x2B, state and hex(state["rcx"]))
    check("user64 rflags", state and state["rdx"] & 0x202 == 0x202, state and hex(state["rdx"]))

    # isa-debug-exit: status (0x21 << 1) | 1.
    proc, state = run("exit64")
    check("exit64 status", proc.returncode == (0x21 << 1) | 1, proc.returncode)

    # Real mode at 1000:0000.
    proc, state = run("real16", "-start-mode", "real")
    check("real16 exit", proc.returncode == 0, proc.stderr)
    check("real16 serial", b"real mode" in proc.stdout, proc.stdout)
    check("real16 sum", state and state["rax"] & 0xFFFF == sum(range(1, 101)), state and hex(state["rax"]))

    # IP wraps from FFFF to 0000 in 16-bit code (it used to run on at linear 0x20000).
    proc, state = run("real16_wrap", "-start-mode", "real", "-max-insns", "100000")
    check("real16 IP wrap exit", proc.returncode == 0, f"{proc.returncode} {proc.stderr!r}")
    check("real16 IP wrap ran the second pass", state and state["rax"] & 0xFFFF == 0x5A and state["rip"] < 0x100,
          state and f"ax {state['rax']:#x} ip {state['rip']:#x}")

    # Flat 32-bit protected mode.
    proc, state = run("prot32", "-start-mode", "prot32")
    check("prot32 exit", proc.returncode == 0, proc.stderr)
    check("prot32 serial", b"protected mode" in proc.stdout, proc.stdout)
    check("prot32 factorial", state and state["rbx"] == 3628800, state and state["rbx"])

    # -max-insns stops a run that would not end by itself.
    proc, state = run("loop64", "-reg", "rcx=100000000", "-max-insns", "1000")
    check("max-insns status", proc.returncode == 8, proc.returncode)

    # -d in_asm -D FILE: each translated instruction, as Capstone disassembles it (lower-case Intel syntax).
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "in_asm.log")
        proc, state = run("hello64", "-d", "in_asm", "-D", log)
        text = open(log).read() if os.path.exists(log) else ""
        check("in_asm log", "0x10007: mov ecx, 0x43" in text and "out dx, al" in text, text[:300])
        # -d op: the IR of each block, which both backends run.
        log = os.path.join(tmp, "op.log")
        proc, state = run("hello64", "-d", "op", "-D", log)
        text = open(log).read() if os.path.exists(log) else ""
        check("op log", "block 0x10000" in text and "GuestInsn" in text, text[:300])

    # A missing binary is a configuration error.
    proc = emu64(["-bare", "/nonexistent.bin"])
    check("missing binary", proc.returncode == 2 and proc.stderr.startswith(b"emu64: "), proc.stderr)


for_each_backend(checks)
finish()
