#!/usr/bin/env python3
"""Instruction tests: hand-written snippets (tests/insn/*.asm) for the cases random testing rarely reaches.
Each snippet states what the SDM says must happen in `; EXPECT:` (register=value, exit=status,
stderr=text) and optional emu64 options in `; ARGS:`; it is assembled with nasm and run with `emu64 -bare` on each
backend, whose runs must agree (tests/boot/harness.py).

usage: insn_test.py EMU64 NASM SNIPPET_DIR [-mmu MODE]
"""
import glob
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "boot"))
from harness import ARGS, check, emu64, finish, for_each_backend  # noqa: E402 (after the path it needs)

NASM, SNIPPETS = ARGS


def directives(path, key):
    out = []
    for line in open(path):
        if line.startswith(f"; {key}:"):
            out += line.split(":", 1)[1].split()
    return out


def problems(snippet, proc):
    """What the run got wrong against the snippet's EXPECT line (empty when nothing)."""
    state = proc.state or {}
    found = []
    expect_exit = 0
    for item in directives(snippet, "EXPECT"):
        key, value = item.split("=", 1)
        if key == "exit":
            expect_exit = int(value, 0)
        elif key == "stderr":
            if value.encode() not in proc.stderr:
                found.append(f"stderr lacks {value!r}: {proc.stderr!r}")
        elif state.get(key) != int(value, 0):
            got = state.get(key)
            found.append(f"{key} = {got:#x}, want {value}" if isinstance(got, int) else f"{key} missing")
    if proc.returncode != expect_exit:
        found.append(f"exit status {proc.returncode}, want {expect_exit}: {proc.stderr!r}")
    return found


def checks(binaries):
    for snippet, binary in binaries:
        proc = emu64(["-bare", binary, "-timeout", "20", *directives(snippet, "ARGS")], dump_state=True)
        found = problems(snippet, proc)
        check(os.path.basename(snippet), not found, "; ".join(found))


snippets = sorted(glob.glob(os.path.join(SNIPPETS, "*.asm")))
check("snippets found", snippets, SNIPPETS)
with tempfile.TemporaryDirectory() as tmp:
    binaries = []
    for snippet in snippets:
        binary = os.path.join(tmp, os.path.basename(snippet)[:-4] + ".bin")
        subprocess.run([NASM, "-f", "bin", "-o", binary, snippet], check=True)
        binaries.append((snippet, binary))
    for_each_backend(lambda: checks(binaries))
finish()
