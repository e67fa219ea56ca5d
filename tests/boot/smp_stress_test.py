#!/usr/bin/env python3
"""The SMP guests again and again (issue #12; the slow suite): smp32 and smpslot32 (smp_guests.py) at -smp 4 with a
host thread per vCPU (-accel tcg,thread=multi), ROUNDS times on each backend. A race between vCPU threads may show
only in some runs; any failed run fails the test.

usage: smp_stress_test.py EMU64 TESTGUEST_DIR ROUNDS [-mmu MODE]
"""
from harness import ARGS, finish, for_each_backend
from smp_guests import smp_guests

ROUNDS = int(ARGS[1])


def checks():
    for _ in range(ROUNDS):
        smp_guests(4, "multi")


for_each_backend(checks)
finish()
