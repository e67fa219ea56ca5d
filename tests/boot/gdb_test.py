#!/usr/bin/env python3
"""Debian's gdb against emu64's gdb stub (-gdb tcp::PORT -S), in batch mode, on both backends.

  gdb_test.py EMU64 TESTGUEST_DIR [-mmu MODE]             the Multiboot guest gdb32.elf: a breakpoint at a symbol,
      single steps, register and memory reads and writes, a breakpoint in code that already ran, a hardware
      watchpoint, Ctrl-C (SIGINT to gdb, which sends 0x03) stopping a spinning guest, and a write into translated code
  gdb_test.py EMU64 linux SOURCE_ROOT [-mmu MODE]          Debian's cloud kernel (nokaslr): a breakpoint at
      start_kernel (its address from /proc/kallsyms of a first boot: Debian's System.map is a placeholder),
      linux_banner read through the kernel's paging, control registers; at -smp 2, a breakpoint at start_secondary
      that the AP hits (gdb's thread 2, listed by `info threads` beside CPU 0's thread 1); then on to the shell,
      which runs a command and powers off (gdb sees the exit)

Each gdb command file prints "CHECK name value" lines that this script compares with values it computes from the
guest's symbols (nm) or the kernel's.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

from harness import ARGS, BACKENDS, EMU64, MMU, any_failed, check, finish

GDB = "/usr/bin/gdb"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def symbols(elf):
    out = subprocess.run(["nm", elf], check=True, capture_output=True, text=True).stdout
    return {name: int(addr, 16) for addr, _, name in (line.split() for line in out.splitlines() if len(line.split()) == 3)}


def kernel_symbols(root, kernel, names):
    """{name: address} of kernel symbols, read from /proc/kallsyms by a first boot (nokaslr: the addresses gdb
    then uses are the same). Debian's package ships only a placeholder System.map (the real one is in the 280 MB
    -dbg package), so the running kernel is asked."""
    from guestlib import make_initramfs
    pattern = "|".join(names)
    with tempfile.TemporaryDirectory() as tmp:
        initrd = make_initramfs(root, kernel, os.path.join(tmp, "initramfs.cpio.gz"),
                                script=f"grep -E ' ({pattern})$' /proc/kallsyms")
        proc = subprocess.run([EMU64, "-kernel", kernel, "-initrd", initrd, "-append", "console=ttyS0 nokaslr",
                               "-nographic", "-m", "512M", "-timeout", "300", *MMU], capture_output=True,
                              stdin=subprocess.DEVNULL, timeout=400)
    table = {}
    for m in re.finditer(rb"^([0-9a-f]{16}) \w (\w+)\r?$", proc.stdout, re.M):
        table.setdefault(m.group(2).decode(), int(m.group(1), 16))
    return table


def checks_of(text):
    """{name: [values]} from 'CHECK name value' lines."""
    found = {}
    for m in re.finditer(r"^CHECK (\S+) (.*)$", text, re.M):
        found.setdefault(m.group(1), []).append(m.group(2).strip())
    return found


class Session:
    """emu64 started stopped with a gdb stub, and gdb running a command file against it."""

    def __init__(self, emu_args, gdb_commands, elf=None, timeout=120):
        self.port = free_port()
        self.tmp = tempfile.TemporaryDirectory()
        script = os.path.join(self.tmp.name, "commands.gdb")
        with open(script, "w") as f:
            # The stub describes an x86-64 CPU whatever mode the guest is in (as QEMU's does): a 32-bit ELF's symbols
            # are loaded under that architecture, as QEMU users do for 32-bit kernels.
            f.write("set pagination off\nset confirm off\nset architecture i386:x86-64\n")
            if elf:
                f.write(f"file {elf}\n")
            f.write(f"target remote 127.0.0.1:{self.port}\n")
            f.write(gdb_commands)
        self.emu = subprocess.Popen([EMU64, *emu_args, "-gdb", f"tcp::{self.port}", "-S", *MMU],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        time.sleep(0.3)  # the stub listens before the vCPU starts; give the process time to get there
        self.gdb = subprocess.Popen([GDB, "-nx", "-batch", "-x", script],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.timeout = timeout
        self.serial = b""

    def serial_until(self, pattern, timeout):
        """Reads the guest's serial output until `pattern` appears (True) or timeout seconds pass."""
        os.set_blocking(self.emu.stdout.fileno(), False)
        end = time.time() + timeout
        while time.time() < end:
            chunk = self.emu.stdout.read()
            if chunk:
                self.serial += chunk
                if pattern in self.serial:
                    return True
            elif self.emu.poll() is not None:
                return pattern in self.serial
            time.sleep(0.05)
        return False

    def finish(self):
        """Waits for gdb and emu64; returns (gdb output, emu64 status, serial output, emu64 stderr)."""
        try:
            gdb_out, _ = self.gdb.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            self.gdb.kill()
            gdb_out, _ = self.gdb.communicate()
            gdb_out += b"\n(gdb killed after the timeout)"
        try:
            rest, err = self.emu.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.emu.kill()
            rest, err = self.emu.communicate()
            err += b"\n(emu64 killed after the timeout)"
        self.serial += rest or b""
        self.tmp.cleanup()
        return gdb_out.decode(errors="replace"), self.emu.returncode, self.serial.decode(errors="replace"), err


def multiboot(backend, guests):
    elf = os.path.join(guests, "gdb32.elf")
    sym = symbols(elf)
    commands = """
break break_here
continue
printf "CHECK bp_pc %lx\\n", $pc
printf "CHECK bp_ebx %lx\\n", $rbx
monitor info status
monitor info page-track
stepi
printf "CHECK step1_pc %lx\\n", $pc
printf "CHECK step1_eax %lx\\n", $rax
set $rbx = 0x100
stepi
printf "CHECK step2_pc %lx\\n", $pc
printf "CHECK step2_eax %lx\\n", $rax
printf "CHECK cr0 %lx\\n", $cr0
printf "CHECK eflags %lx\\n", $eflags
set {int}&message = 0x63746170
set {int}((char*)&message + 4) = 0x21646568
printf "CHECK message %s\\n", (char*)&message
delete
break first_call_done
continue
delete
break inner
continue
printf "CHECK inner_pc %lx\\n", $pc
printf "CHECK inner_calls %d\\n", *(int*)&calls
delete
watch *(int*)&counter
continue
printf "CHECK watch1 %d\\n", *(int*)&counter
continue
printf "CHECK watch2 %d\\n", *(int*)&counter
delete
printf "CHECK running 1\\n"
continue
printf "CHECK interrupted_pc %lx\\n", $pc
set {short}spin = 0x9090
continue
"""
    s = Session(["-kernel", elf, "-nographic", "-m", "64M", *BACKENDS[backend]], commands, elf=elf)
    # The guest prints sum= and spins: gdb's Ctrl-C is SIGINT to gdb, which sends 0x03 to the stub.
    spinning = s.serial_until(b"sum=", 60)
    if spinning:
        time.sleep(0.5)
        s.gdb.send_signal(signal.SIGINT)
    out, status, serial, err = s.finish()
    got = checks_of(out)
    tag = f"[{backend}] "

    def expect(name, want):
        check(tag + name, got.get(name) == [want], f"got {got.get(name)}, want {want}\ngdb:\n{out[-3000:]}")

    check(tag + "guest reached the spin loop", spinning, serial[-500:] + err.decode(errors="replace")[-500:])
    expect("bp_pc", f"{sym['break_here']:x}")
    expect("bp_ebx", "1234")
    expect("step1_pc", f"{sym['break_here'] + 5:x}")  # mov eax, 1 is five bytes
    expect("step1_eax", "1")
    expect("step2_pc", f"{sym['after_add']:x}")
    expect("step2_eax", "101")                         # 1 + the EBX gdb wrote
    expect("message", "patched!")
    expect("inner_pc", f"{sym['inner']:x}")
    expect("inner_calls", "1")                          # the second call stopped before its store
    expect("watch1", "1")
    expect("watch2", "2")
    expect("interrupted_pc", f"{sym['spin']:x}")
    check(tag + "cr0 has PE", "cr0" in got and int(got["cr0"][0], 16) & 1 == 1, str(got.get("cr0")))
    check(tag + "gdb's monitor command reaches the human monitor (qRcmd)", "VM status: paused" in out, out[-2000:])
    check(tag + "monitor info page-track lists the code client",
          re.search(r"^code +\d+ +[1-9]\d* ", out, re.M) is not None, out[-2000:])
    check(tag + "gdb used a hardware watchpoint", "Hardware watchpoint" in out, out[-2000:])
    check(tag + "Ctrl-C reported as SIGINT", "SIGINT" in out, out[-2000:])
    check(tag + "guest printed what gdb wrote", "patched!" in serial and "sum=00000101" in serial, serial[-500:])
    check(tag + "guest left the spin gdb patched", "gdb32: left the spin" in serial, serial[-500:])
    check(tag + "emu64 exit status from isa-debug-exit", status == (0x10 << 1) | 1, f"{status} {err[-500:]!r}")
    check(tag + "gdb saw the exit", "exited with code 041" in out, out[-1000:])


def linux(backend, root):
    from guestlib import fetch_kernel, make_initramfs
    kernel = fetch_kernel(root)
    table = kernel_symbols(root, kernel, ["start_kernel", "linux_banner", "start_secondary"])
    check("[jit] linux symbols from /proc/kallsyms", all(n in table for n in ["start_kernel", "linux_banner", "start_secondary"]),
          str(table))
    if any_failed():
        return
    with tempfile.TemporaryDirectory() as tmp:
        initrd = make_initramfs(root, kernel, os.path.join(tmp, "initramfs.cpio.gz"), script="echo gdb-shell-ran")
        commands = f"""
break *0x{table['start_kernel']:x}
continue
printf "CHECK kbp_pc %lx\\n", $pc
printf "CHECK banner %s\\n", (char*)0x{table['linux_banner']:x}
printf "CHECK cr4_pae %lx\\n", ($cr4 >> 5) & 1
printf "CHECK efer_lma %lx\\n", ($efer >> 10) & 1
printf "CHECK pkru %lx\\n", $pkru
printf "CHECK bsp_thread %d\\n", $_thread
delete
break *0x{table['start_secondary']:x}
continue
printf "CHECK ap_pc %lx\\n", $pc
printf "CHECK ap_thread %d\\n", $_thread
info threads
thread 1
printf "CHECK bsp_elsewhere %d\\n", $pc != 0x{table['start_secondary']:x}
set $bsp_pc = $pc
thread 2
stepi
printf "CHECK ap_stepped %d\\n", $_thread == 2 && $pc != 0x{table['start_secondary']:x}
thread 1
printf "CHECK bsp_stayed %d\\n", $pc == $bsp_pc
delete
continue
"""
        s = Session(["-kernel", kernel, "-initrd", initrd, "-append", "console=ttyS0 nokaslr", "-nographic",
                     "-m", "512M", "-smp", "2", *BACKENDS[backend]], commands, timeout=900)
        out, status, serial, err = s.finish()
    got = checks_of(out)
    tag = f"[{backend}] linux "
    check(tag + "break at start_kernel", got.get("kbp_pc") == [f"{table['start_kernel']:x}"],
          f"{got.get('kbp_pc')}\n{out[-3000:]}")
    banner = got.get("banner", [""])[0]
    check(tag + "linux_banner read by gdb", banner.startswith("Linux version 6."), f"{banner!r}\n{out[-2000:]}")
    check(tag + "banner matches the console", banner[:40] in serial, banner[:40])
    check(tag + "4-level paging on", got.get("cr4_pae") == ["1"] and got.get("efer_lma") == ["1"], str(got))
    check(tag + "PKRU readable, 0 before the kernel sets up protection keys", got.get("pkru") == ["0"], str(got))
    # Each vCPU is a gdb thread (QEMU's numbering: thread N is CPU N-1); breakpoints are armed on every vCPU.
    check(tag + "start_kernel stopped thread 1 (the BSP)", got.get("bsp_thread") == ["1"], str(got))
    check(tag + "the AP hit the breakpoint at start_secondary", got.get("ap_pc") == [f"{table['start_secondary']:x}"],
          f"{got.get('ap_pc')}\n{out[-3000:]}")
    check(tag + "as thread 2", got.get("ap_thread") == ["2"], str(got))
    check(tag + "info threads lists both vCPUs", re.search(r"Thread 1 .*CPU#0", out) is not None and
          re.search(r"Thread 2 .*CPU#1", out) is not None, out[-2000:])
    check(tag + "thread 1's registers are the BSP's", got.get("bsp_elsewhere") == ["1"], str(got))
    check(tag + "stepi on thread 2 steps the AP", got.get("ap_stepped") == ["1"], str(got))
    check(tag + "... alone: the BSP did not move", got.get("bsp_stayed") == ["1"], str(got))
    check(tag + "shell ran the command", "gdb-shell-ran" in serial and "emu64-exit-status: 0" in serial,
          serial[-1500:])
    check(tag + "powered off, gdb saw it", status == 0 and "exited normally" in out,
          f"{status} {err[-500:]!r}\n{out[-1000:]}")


if __name__ == "__main__":
    if ARGS[0] == "linux":
        linux("jit", ARGS[1])  # the interpreter boots Linux in about a minute: the JIT only, as most Linux tests
    else:
        for backend in BACKENDS:
            multiboot(backend, ARGS[0])
    finish()
