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

hostile_dma32 (guest-images/testguests/hostile_dma32.asm) points a virtio-net, virtio-blk, virtconsole, virtio-rng
and the GPU copy engine outside RAM (above it, far above it, the I/O APIC, the device's own BAR, across its end,
wrapping 2^64): each virtio device must set DEVICE_NEEDS_RESET for rings and for buffers there and clear it on reset;
the engine must refuse such a root table (CTX_STATUS 2) and batch (BadBatch), fault a FILL through such an entry
(NotRam), skip such a fence, and still work afterwards. Under the sanitizer build (tools/test-sanitize) this also
shows that no device touched host memory outside the memslots.

usage: hostile_test.py EMU64 TESTGUEST_DIR [-mmu MODE]
"""
import os
import tempfile

from harness import GUESTS, check, emu64, finish, for_each_backend, self_checking, self_checking_kernel

DMA_CHECKS = 76

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

    with tempfile.TemporaryDirectory() as tmp:
        disk = os.path.join(tmp, "disk.img")
        with open(disk, "wb") as f:
            f.truncate(1 << 20)
        self_checking_kernel("hostile_dma32", DMA_CHECKS, "-m", "64M", "-gpu-engine",
                             "-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0",
                             "-drive", f"file={disk},if=none,id=d0", "-device", "virtio-blk-pci,drive=d0",
                             "-device", "virtio-serial-pci", "-chardev", "null,id=c0", "-device", "virtconsole,chardev=c0",
                             "-device", "virtio-rng-pci", timeout_s=120)


for_each_backend(checks)
finish()
