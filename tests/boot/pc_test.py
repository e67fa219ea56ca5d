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
    short = bytearray(old[:0x400 + 0x800])  # a 2.15 header whose syssize promises 64 KiB of kernel; 2 KiB follow
    short[0x206:0x208] = (0x020F).to_bytes(2, "little")
    short[0x1F4:0x1F8] = (0x10000 // 16).to_bytes(4, "little")
    return [
        ("kernel shorter than its syssize refused", write(os.path.join(tmp, "short.bzimage"), short), b"truncated"),
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

    # A command line of more than 1,023 characters with a module (it used to overflow the loader's 4 KiB information
    # buffer, and be cut at 1,023 characters): the loader sizes its area to fit, the kernel gets all of it.
    long_append = "x" * 1100 + " END"
    proc = emu("-kernel", kernel, "-initrd", module, "-append", long_append, "-nographic")
    out = proc.stdout.decode(errors="replace")
    check("multiboot long cmdline status", proc.returncode == 33, f"{proc.returncode} {proc.stderr[-500:]!r}")
    check("multiboot long cmdline whole", f"cmdline={kernel} {long_append}\n" in out, out[-300:])
    check("multiboot long cmdline module", "module=hello from the module" in out, out[-300:])

    # A kernel over low memory (0x1000-0xF000 with its BSS, where the loader used to write its GDT and information):
    # it checks its own bytes and that the information, the command line and the module lie outside it.
    low = os.path.join(GUESTS, "mblow32.elf")
    for extra in [[], ["-initrd", module, "-append", long_append]]:
        proc = emu("-kernel", low, "-nographic", *extra)
        out = proc.stdout.decode(errors="replace")
        check(f"multiboot low image untouched {len(extra)}", proc.returncode == 33, f"{proc.returncode} {out[-300:]}")

    # -dump-state with -kernel: the state at the end of the run (the exit value 0x10 is still in AL).
    proc = emu64(["-kernel", kernel, "-nographic", "-timeout", "30"], dump_state=True)
    check("kernel -dump-state written", proc.returncode == 33 and proc.state is not None, proc.stderr)
    check("kernel -dump-state content", proc.state and proc.state["rax"] & 0xFF == 0x10 and proc.state["mode"],
          proc.state and hex(proc.state["rax"]))

    # A guest that resets the machine forever: -timeout and -max-insns hold across the resets (status 8).
    reset = os.path.join(GUESTS, "reset32.elf")
    for limit, value in [("-timeout", "2"), ("-max-insns", "20000")]:
        proc = emu64(["-kernel", reset, "-nographic", limit, value], timeout=60)
        check(f"reset loop ends at {limit}", proc.returncode == 8 and f"({limit})".encode() in proc.stderr,
              f"{proc.returncode} {proc.stderr[-300:]!r}")
        check(f"reset loop rebooted before {limit}", b"booting again" in proc.stderr, proc.stderr[-300:])
    proc = emu64(["-kernel", reset, "-nographic", "-no-reboot", "-timeout", "30"], dump_state=True)
    check("reset with -no-reboot ends the run", proc.returncode == 0 and b"booting again" not in proc.stderr,
          f"{proc.returncode} {proc.stderr[-300:]!r}")
    check("reset with -no-reboot dumps the state", proc.state is not None and proc.state["rcx"] == 0,
          proc.state and hex(proc.state["rcx"]))

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
