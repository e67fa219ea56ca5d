"""Shared by the boot-test scripts: the command-line convention (EMU64 TESTGUEST_DIR [MMU args...]) and a
tally of named checks that ends with the plain 'N passed, N failed' line."""
import sys

EMU64, GUESTS = sys.argv[1], sys.argv[2]
MMU = sys.argv[3:]  # e.g. ["-mmu", "walk"]: every run uses this MMU mode

_failures = []
_passed = 0


def check(name, condition, detail=""):
    global _passed
    if condition:
        _passed += 1
    else:
        _failures.append(name)
        print(f"FAIL {name}: {detail}")


def finish():
    print(f"{_passed} passed, {len(_failures)} failed")
    sys.exit(1 if _failures else 0)
