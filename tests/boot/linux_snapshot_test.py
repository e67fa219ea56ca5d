#!/usr/bin/env python3
"""Debian's cloud kernel saved at the busybox shell and restored by another emu64: a cold boot on a terminal with a
QMP socket, a shell variable set and the guest's uptime read, `savevm` over QMP, `quit`; two seconds later a new emu64
with -loadvm answers a command that uses the variable at once, its uptime goes on from the saved one (the two seconds
without an emulator are not in it), and `poweroff -f` ends it with status 0 and a kernel log free of problems. The
snapshot restored once more is powered down by QMP's system_powerdown (the ACPI power button; the initramfs's /init
powers off on it): a SHUTDOWN event from the guest and status 0. With -smp N among the arguments, the restored guest
also runs a command pinned to its last CPU (every AP's state, local APIC and timer come back too).
Prints the time from the start of each emu64 to the shell's answer to its first command.

usage: linux_snapshot_test.py EMU64 ROOT [emu64 args...]
"""
import os
import re
import sys
import tempfile
import time

from guestlib import Terminal, fetch_kernel, kernel_problems, make_initramfs
from harness import check, finish
from qmplib import Qmp

EMU64, ROOT, EXTRA = sys.argv[1], sys.argv[2], sys.argv[3:]
CPUS = int(EXTRA[EXTRA.index("-smp") + 1]) if "-smp" in EXTRA else 1


def uptime(term, tag):
    """Asks the shell for /proc/uptime; returns (guest seconds, host time of the answer)."""
    term.type(f"echo {tag} $(cut -d' ' -f1 /proc/uptime)\r".encode())
    if not term.wait_for(rf"{tag} (\d+\.\d+)".encode(), 60):
        return None, time.monotonic()
    return float(re.search(rf"{tag} (\d+\.\d+)".encode(), term.seen).group(1)), time.monotonic()


def main():
    kernel = fetch_kernel(ROOT)
    with tempfile.TemporaryDirectory() as tmp:
        initrd = make_initramfs(ROOT, kernel, os.path.join(tmp, "shell.cpio.gz"))
        sock = os.path.join(tmp, "qmp.sock")
        args = [EMU64, "-kernel", kernel, "-initrd", initrd, "-append", "console=ttyS0", "-nographic",
                "-snapshot-dir", tmp, "-qmp", f"unix:{sock},server,wait=off", "-timeout", "800", *EXTRA]

        start = time.monotonic()
        term = Terminal(args)
        check("cold boot: the shell prompt", term.wait_for(rb"/ # ", 600), term.seen[-500:])
        term.type(b"MARK=kept; echo cold-$((6 * 7))\r")
        check("cold boot: the shell answers", term.wait_for(rb"cold-42", 120), term.seen[-300:])
        cold = time.monotonic() - start
        before, before_host = uptime(term, "up-before")
        check("cold boot: /proc/uptime", before is not None, term.seen[-300:])
        qmp = Qmp(sock)
        qmp.cmd("qmp_capabilities")
        t0 = time.monotonic()
        reply = qmp.cmd("savevm", name="shell")
        save = time.monotonic() - t0
        check("savevm over QMP", reply.get("return") == {}, str(reply))
        qmp.cmd("quit")
        check("quit ends the first emu64 with status 0", term.exit_status() == 0)
        path = os.path.join(tmp, "shell.emu64snap")
        check("the snapshot file", os.path.exists(path))
        size = os.path.getsize(path) if os.path.exists(path) else 0
        time.sleep(2)

        start = time.monotonic()
        term = Terminal(args + ["-loadvm", "shell"])
        term.type(b"echo restored-$MARK-$((6 * 7))\r")
        answered = term.wait_for(rb"restored-kept-42", 120)
        restored = time.monotonic() - start
        check("-loadvm: the restored shell answers with the saved variable", answered, term.seen[-500:])
        # awk prints field 39 of its own /proc/self/stat: the CPU it runs on.
        term.type(b"echo cpus-$(nproc); taskset -c $(( $(nproc) - 1 )) awk '{print \"ran-on-\" $39}' /proc/self/stat\r")
        check(f"-loadvm: a command pinned to CPU {CPUS - 1} of {CPUS} runs there",
              term.wait_for(f"cpus-{CPUS}\r\r\nran-on-{CPUS - 1}".encode(), 60), term.seen[-500:])
        after, after_host = uptime(term, "up-after")
        check("-loadvm: /proc/uptime", after is not None, term.seen[-300:])
        if before is not None and after is not None:
            host = after_host - before_host
            check("-loadvm: guest time goes on from the save (no jump back)", after >= before, f"{before} -> {after}")
            # The emulator was gone for at least the 2 s sleep: that time must not show in the guest.
            check("-loadvm: guest time leaves out the time without an emulator", after - before <= host - 1.5,
                  f"guest {after - before:.2f} s, host {host:.2f} s")
        term.type(b"poweroff -f\r")
        status = term.exit_status()
        check("-loadvm: poweroff -f ends the restored emu64 with status 0", status == 0, status)
        console = term.seen.decode(errors="replace")
        problems = kernel_problems(console)
        check("-loadvm: the kernel log after the restore has no problems", not problems, problems[:5])

        # The same snapshot once more, powered down from QMP: the ACPI power button, which /init's watcher of the
        # button's input device answers with a power-off.
        term = Terminal(args + ["-loadvm", "shell"])
        qmp = Qmp(sock)
        qmp.cmd("qmp_capabilities")
        check("system_powerdown is accepted", qmp.cmd("system_powerdown").get("return") == {})
        check("system_powerdown: the guest sees the power button", term.wait_for(rb"power button pressed", 60),
              term.seen[-300:])
        event = qmp.wait_event("SHUTDOWN", 60)
        check("system_powerdown: a SHUTDOWN event from the guest", event is not None and event["data"]["guest"],
              str(event))
        status = term.exit_status()
        check("system_powerdown: emu64 ends with status 0", status == 0, status)
        print(f"cold boot to the first command's answer {cold:.2f} s; -loadvm to it {restored:.2f} s; savevm "
              f"{save * 1000:.0f} ms, {size / (1 << 20):.1f} MiB file (128 MiB guest)")
    finish()


if __name__ == "__main__":
    main()
