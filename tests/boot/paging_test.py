#!/usr/bin/env python3
"""Runs the paging guests (guest-images/testguests/paging/*.asm) through `emu64 -bare`.

Each guest checks its own results against the SDM (Vol. 3 chapter 4, cited in its comments), prints "ok <name>" or
"FAIL <name> ..." lines on COM1 and leaves through isa-debug-exit with the failure count (status 1 when clean).
This script checks the status, that no FAIL line appeared and that the expected number of checks ran. Checks of
an optional feature run only when the guest found it in CPUID and printed "group <feature>"; their count is added
then. A check listed in KNOWN_BUGS may fail (its FAIL line is reported, not counted); once it passes, this
script fails until it is removed from the list. In a mode other than walk (the reference), each guest also runs
with `-mmu walk` and both runs must print the same lines. All of it runs on each backend (harness.py).

usage: paging_test.py EMU64 TESTGUEST_DIR [-mmu MODE]
"""
from harness import MMU, check, finish, for_each_backend, run_guest

# The guests run their CPL 0 code from user pages, so they need a CPU without SMEP and SMAP (lm64 checks that CR4
# refuses them then); conform/smep64 checks both features.
NO_SMEP = ["-cpu", "max,-smep,-smap"]
GUEST_ARGS = {
    # RAM at 4 GiB for the PSE-36 page.
    "paging_pg32": ["-start-mode", "prot32", "-map", "0x100000000:4M", *NO_SMEP],
    "paging_pae": ["-start-mode", "prot32", *NO_SMEP],
    "paging_lm64": NO_SMEP,
    "paging_asid64": NO_SMEP,
    "paging_asid32": ["-start-mode", "prot32", *NO_SMEP],
}
# Checks every run makes, and those of optional groups.
CHECKS = {
    "paging_pg32": 79,
    "paging_pae": 92,
    "paging_lm64": 113,
    "paging_asid64": 5,
    "paging_asid32": 6,
}
GROUP_CHECKS = {"1g": 6}
# Emulator bugs these guests found and that are not fixed yet, by guest and check name (none today: the PAE
# PDPTE loads and stale translated code after a remap were fixed).
KNOWN_BUGS = {}


def run(guest, mmu):
    return run_guest(guest, *GUEST_ARGS[guest], timeout_s=10, mmu=mmu)


def mode_of(mmu):
    return mmu[mmu.index("-mmu") + 1] if "-mmu" in mmu else "default"


def checks():
    for guest in GUEST_ARGS:
        proc = run(guest, MMU)
        out = proc.stdout.decode(errors="replace")
        lines = out.splitlines()
        known = KNOWN_BUGS.get(guest, {})
        fails = [line for line in lines if line.startswith("FAIL")]
        tolerated = [line for line in fails if line[5:].split(" got ")[0] in known]
        bad = [line for line in fails if line not in tolerated]
        oks = [line for line in lines if line.startswith("ok ")]
        fixed = [line for line in oks if line[3:] in known]
        groups = [line.split()[1] for line in lines if line.startswith("group ")]
        want = CHECKS[guest] + sum(GROUP_CHECKS[g] for g in groups)
        for line in tolerated:
            print(f"known bug in {guest}: {line} ({known[line[5:].split(' got ')[0]]})")
        status = 1 + 2 * len(tolerated)
        check(f"{guest} status", proc.returncode == status, f"status {proc.returncode}, want {status}; "
              f"stderr {proc.stderr!r}")
        check(f"{guest} no failed checks", not bad, "\n".join(bad))
        check(f"{guest} known bugs still present", not fixed, "fixed, remove from KNOWN_BUGS: " + "; ".join(fixed))
        check(f"{guest} ran all checks", len(oks) + len(tolerated) == want and "done" in lines,
              f"{len(oks)} + {len(tolerated)} of {want}:\n{out}")
        if mode_of(MMU) != "walk":
            ref = run(guest, ["-mmu", "walk"])
            check(f"{guest} same output as -mmu walk", ref.stdout == proc.stdout and ref.returncode == proc.returncode,
                  f"walk status {ref.returncode}:\n{ref.stdout.decode(errors='replace')}")


for_each_backend(checks)
finish()
