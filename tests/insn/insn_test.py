#!/usr/bin/env python3
"""Instruction tests: hand-written snippets (tests/insn/*.asm) for the cases random testing rarely reaches.
Each snippet states what the SDM says must happen in `; EXPECT:` (register=value, exit=status,
stderr=text) and optional emu64 options in `; ARGS:`; it is assembled with nasm and run with `emu64 -bare`.

usage: insn_test.py EMU64 NASM SNIPPET_DIR [MMU args...]
"""
import glob
import json
import os
import subprocess
import sys
import tempfile

EMU64, NASM, SNIPPETS = sys.argv[1], sys.argv[2], sys.argv[3]
MMU = sys.argv[4:]
passed, failed = 0, 0


def directives(path, key):
    out = []
    for line in open(path):
        if line.startswith(f"; {key}:"):
            out += line.split(":", 1)[1].split()
    return out


for snippet in sorted(glob.glob(os.path.join(SNIPPETS, "*.asm"))):
    name = os.path.basename(snippet)
    with tempfile.TemporaryDirectory() as tmp:
        binary, dump = os.path.join(tmp, "snippet.bin"), os.path.join(tmp, "state.json")
        subprocess.run([NASM, "-f", "bin", "-o", binary, snippet], check=True)
        cmd = [EMU64, "-bare", binary, "-dump-state", dump, "-timeout", "20", *MMU, *directives(snippet, "ARGS")]
        proc = subprocess.run(cmd, capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
        state = json.load(open(dump)) if os.path.exists(dump) else {}
    problems = []
    expect_exit = 0
    for item in directives(snippet, "EXPECT"):
        key, value = item.split("=", 1)
        if key == "exit":
            expect_exit = int(value, 0)
        elif key == "stderr":
            if value.encode() not in proc.stderr:
                problems.append(f"stderr lacks {value!r}: {proc.stderr!r}")
        elif state.get(key) != int(value, 0):
            got = state.get(key)
            problems.append(f"{key} = {got:#x}, want {value}" if isinstance(got, int) else f"{key} missing")
    if proc.returncode != expect_exit:
        problems.append(f"exit status {proc.returncode}, want {expect_exit}: {proc.stderr!r}")
    if problems:
        failed += 1
        print(f"FAIL {name}: " + "; ".join(problems))
    else:
        passed += 1
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed or not passed else 0)
