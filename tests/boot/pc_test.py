#!/usr/bin/env python3
"""Boots kernels on the PC machine (`emu64 -kernel`) headless and judges them by serial output and exit status.
Expected values follow the Multiboot specification and the Linux boot protocol, computed here. Every check runs
on each backend, whose runs must agree (harness.py).

usage: pc_test.py EMU64 TESTGUEST_DIR [-mmu MODE]
"""
import os
import tempfile

from harness import GUESTS, check, emu64, finish, for_each_backend


def emu(*args):
    return emu64([*args, "-timeout", "30"])


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


def bad_images(tmp):
    """Kernel files the loader must refuse, by the message that says why."""
    old = bytearray(8192)  # a bzImage header with an old protocol version (2.05)
    old[0x1F1] = 1
    old[0x1FE:0x200] = b"\x55\xaa"
    old[0x200:0x202] = b"\xeb\x66"
    old[0x202:0x206] = b"HdrS"
    old[0x206:0x208] = (0x0205).to_bytes(2, "little")
    trunc = bytearray(old[:0x400])  # a valid header whose setup sectors run past the end of the file
    trunc[0x1F1] = 30
    trunc[0x206:0x208] = (0x020F).to_bytes(2, "little")
    return [
        ("junk kernel refused", write(os.path.join(tmp, "junk.bin"), os.urandom(4096)), b"not a Linux bzImage"),
        ("old protocol refused", write(os.path.join(tmp, "old.bzimage"), old), b"older than 2.06"),
        ("truncated kernel refused", write(os.path.join(tmp, "trunc.bzimage"), trunc), b"truncated"),
    ]


def checks(tmp, module, refused):
    kernel = os.path.join(GUESTS, "multiboot32.elf")

    # Multiboot: cmdline is "<kernel path> <append>", the initrd is the single module, mem_upper is the RAM
    # above 1 MiB in KiB (64 MiB machine: 63 MiB = 0xfc00 KiB).
    proc = emu("-kernel", kernel, "-initrd", module, "-append", "console=ttyS0 quiet", "-m", "64M", "-nographic")
    out = proc.stdout.decode(errors="replace")
    check("multiboot exit status", proc.returncode == (0x10 << 1) | 1, f"{proc.returncode} {proc.stderr!r}")
    check("multiboot cmdline", f"cmdline={kernel} console=ttyS0 quiet" in out, out)
    check("multiboot module", "module=hello from the module" in out, out)
    check("multiboot mem_upper", f"mem_upper={(64 * 1024 - 1024):08x}" in out, out)

    # The same kernel with COM1 in a file.
    serial = os.path.join(tmp, "serial.txt")
    if os.path.exists(serial):
        os.remove(serial)  # left by the previous backend
    proc = emu("-kernel", kernel, "-serial", f"file:{serial}", "-display", "none")
    check("serial file status", proc.returncode == 33, proc.stderr)
    check("serial file content", os.path.exists(serial) and "cmdline=" in open(serial).read())

    # An unmasked x87 error: FERR# -> IRQ13 (cleared at port 0xF0) with CR0.NE = 0, #MF with NE = 1; the guest
    # checks both and exits with its failure count.
    proc = emu("-kernel", os.path.join(GUESTS, "ferr32.elf"), "-nographic")
    lines = proc.stdout.decode(errors="replace").splitlines()
    check("ferr32 status", proc.returncode == 1, f"{proc.returncode} {proc.stderr!r}")
    check("ferr32 ran its four checks", len([line for line in lines if line.startswith("ok ferr:")]) == 4, lines)

    # Bad images are refused before the guest starts, with one clear line and status 2.
    for name, path, message in refused:
        proc = emu("-kernel", path, "-nographic")
        check(name, proc.returncode == 2 and message in proc.stderr, proc.stderr)


with tempfile.TemporaryDirectory() as scratch:
    # The same files for every backend: the guests print what they were given, and the backends must agree.
    module_txt = write(os.path.join(scratch, "module.txt"), b"hello from the module\nsecond line\n")
    bad = bad_images(scratch)
    for_each_backend(lambda: checks(scratch, module_txt, bad))
finish()
