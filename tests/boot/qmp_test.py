#!/usr/bin/env python3
"""QMP (-qmp unix:PATH,server,wait=off) driven over its socket while a test guest runs (gdb32.elf, which ends
spinning in `spin`): the greeting and capabilities negotiation, stop/cont with their STOP and RESUME events,
registers, memory by physical and virtual address, memslot MOVE/DELETE/CREATE/FLAGS under the running guest with the
monitor's page-track client counting the region removals, errors (bad JSON, unknown commands, wrong argument types,
missing arguments, commands before negotiation, a screendump without a display device), a client that disconnects in the middle of a command, the human
monitor through human-monitor-command, query-cpus-fast and info cpus at -smp 2 (a host thread per vCPU or one for all), on -monitor stdio and on the -nographic terminal's Ctrl-A c, quit with its SHUTDOWN event, and the trace events of the memslot changes. On both backends.

usage: qmp_test.py EMU64 TESTGUEST_DIR [-mmu MODE]
"""
import json
import os
import socket
import subprocess
import tempfile
import time

from harness import ARGS, BACKENDS, EMU64, MMU, check, finish
from qmplib import Qmp


def symbols(elf):
    out = subprocess.run(["nm", elf], check=True, capture_output=True, text=True).stdout
    return {p[2]: int(p[0], 16) for p in (line.split() for line in out.splitlines()) if len(p) == 3}


def reap(emu):
    """Waits for emu64 to end after quit; kills it if it does not."""
    try:
        emu.wait(timeout=20)
    except subprocess.TimeoutExpired:
        emu.kill()
        emu.wait()


def run(backend, guests):
    tag = f"[{backend}] "
    elf = os.path.join(guests, "gdb32.elf")
    sym = symbols(elf)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "qmp.sock")
        trace = os.path.join(tmp, "trace.log")
        emu = subprocess.Popen([EMU64, "-kernel", elf, "-nographic", "-m", "64M", "-qmp",
                                f"unix:{path},server,wait=off", "-trace", "memslot_change",
                                "-trace", "page_track_remove_region", "-trace", "page_track_add", "-D", trace,
                                *MMU, *BACKENDS[backend]],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        try:
            body(tag, sym, path, emu)
        finally:
            reap(emu)
        out, err = emu.communicate()
        check(tag + "quit ends emu64 with status 0", emu.returncode == 0, f"{emu.returncode} {err[-500:]!r}")
        check(tag + "the socket file is removed", not os.path.exists(path))
        # Trace events (-trace): one line each, with the gfn and the client.
        lines = open(trace).read().splitlines() if os.path.exists(trace) else []
        check(tag + "trace: the move", any(l.startswith("memslot_change slot=1 kind=move gfn=0x40000 npages=0x40")
                                           for l in lines), "\n".join(lines[-20:]))
        check(tag + "trace: region removed for the monitor's client",
              "page_track_remove_region gfn=0xc0 npages=0x40 client=monitor (move)" in lines, "\n".join(lines[-20:]))
        check(tag + "trace: code page tracked", "page_track_add gfn=0x100 client=code count=1" in lines,
              "\n".join(lines[:20]))


def body(tag, sym, path, emu):
    q = Qmp(path)
    check(tag + "greeting", "QMP" in q.greeting and "version" in q.greeting["QMP"], str(q.greeting))
    r = q.cmd("query-status")
    check(tag + "commands wait for qmp_capabilities", r.get("error", {}).get("class") == "CommandNotFound", str(r))
    check(tag + "the id comes back", r.get("id") == "query-status", str(r))
    check(tag + "qmp_capabilities", q.cmd("qmp_capabilities").get("return") == {})
    time.sleep(0.5)  # the guest reaches its spin loop
    r = q.cmd("query-status")
    check(tag + "running", r.get("return", {}).get("running") is True and r["return"]["status"] == "running", str(r))

    check(tag + "stop", q.cmd("stop").get("return") == {})
    check(tag + "STOP event", q.wait_event("STOP") is not None, str(q.events))
    r = q.cmd("query-status")
    check(tag + "paused", r.get("return", {}).get("status") == "paused", str(r))
    regs = q.cmd("query-registers").get("return", {})
    check(tag + "registers: rip in the spin loop", regs.get("rip") == sym["spin"], str(regs.get("rip")))
    check(tag + "registers: cr0.PE", regs.get("cr0", 0) & 1 == 1, str(regs.get("cr0")))
    r = q.cmd("xp", addr=0x100000, size=12)
    check(tag + "xp reads the Multiboot header", r.get("return", {}).get("bytes", "").startswith("02b0ad1b"), str(r))
    r = q.cmd("x", addr=sym["message"], size=8)
    check(tag + "x reads by virtual address", bytes.fromhex(r.get("return", {}).get("bytes", "")) == b"original",
          str(r))
    r = q.cmd("human-monitor-command", **{"command-line": "x/4xb 0x100000"})
    check(tag + "HMP x/4xb through QMP", "0x100000: 02 b0 ad 1b" in r.get("return", ""), str(r))
    r = q.cmd("human-monitor-command", **{"command-line": "info registers"})
    check(tag + "HMP info registers", "rip" in r.get("return", "") and f"{sym['spin']:016x}" in r["return"], str(r))
    check(tag + "cont", q.cmd("cont").get("return") == {})
    check(tag + "RESUME event", q.wait_event("RESUME") is not None, str(q.events))

    # Memslots under the running guest: slot 1 is the BIOS area 0xC0000-0xFFFFF, which the guest does not use.
    slots = q.cmd("query-memslots").get("return", [])
    bios = next((s for s in slots if s["base"] == 0xC0000), None)
    check(tag + "memslots listed", bios is not None and bios["size"] == 0x40000, str(slots))
    before = q.cmd("query-page-track")["return"]["monitor"]["regions-removed"]
    check(tag + "memslot-move", q.cmd("memslot-move", id=bios["id"], base=0x40000000).get("return") == {})
    pt = q.cmd("query-page-track")["return"]
    check(tag + "page-track: the move removed the old region",
          pt["monitor"]["regions-removed"] == before + 1 and pt["monitor"]["last-region-gfn"] == 0xC0 and
          pt["monitor"]["last-region-pages"] == 0x40, str(pt))
    moved = [s for s in q.cmd("query-memslots")["return"] if s["id"] == bios["id"]]
    check(tag + "slot at its new base", moved and moved[0]["base"] == 0x40000000, str(moved))
    r = q.cmd("xp", addr=0xC0000, size=4)
    check(tag + "the old range is no RAM now", r.get("return", {}).get("bytes") == "" and "error" in r["return"],
          str(r))
    check(tag + "memslot-delete", q.cmd("memslot-delete", id=bios["id"]).get("return") == {})
    check(tag + "memslot-create brings it back",
          q.cmd("memslot-create", id=bios["id"], base=0xC0000).get("return") == {})
    check(tag + "memslot-set-flags", q.cmd("memslot-set-flags", id=bios["id"], **{"dirty-log": True}).get("return") == {})
    slots = {s["id"]: s for s in q.cmd("query-memslots")["return"]}
    check(tag + "dirty logging on", slots[bios["id"]]["dirty-log"] is True and slots[bios["id"]]["base"] == 0xC0000,
          str(slots))
    pt = q.cmd("query-page-track")["return"]
    check(tag + "page-track counted move and delete", pt["monitor"]["regions-removed"] == before + 2, str(pt))
    check(tag + "a refused change is an error", "error" in q.cmd("memslot-move", id=bios["id"], base=0x100000))
    clients = {c["name"]: c for c in pt.get("clients", [])}
    check(tag + "page-track per client: the code client added gfns", clients.get("code", {}).get("adds", 0) > 0,
          str(pt))
    check(tag + "page-track per client: the monitor saw the regions removed",
          clients.get("monitor", {}).get("regions-removed") == pt["monitor"]["regions-removed"], str(pt))
    r = q.cmd("human-monitor-command", **{"command-line": "info page-track"})
    check(tag + "HMP info page-track", "regions removed 2" in r.get("return", ""), str(r))
    r = q.cmd("query-status")
    check(tag + "still running after the memslot changes", r.get("return", {}).get("running") is True, str(r))
    q.cmd("stop")
    regs = q.cmd("query-registers").get("return", {})
    check(tag + "the guest still spins", regs.get("rip") == sym["spin"], str(regs.get("rip")))
    q.cmd("cont")

    # Errors.
    r = q.raw('{"execute": "query-status"')
    check(tag + "bad JSON: GenericError", r.get("error", {}).get("class") == "GenericError", str(r))
    r = q.raw('[1, 2]')
    check(tag + "not an object: GenericError", r.get("error", {}).get("class") == "GenericError", str(r))
    r = q.cmd("no-such-command")
    check(tag + "unknown command: CommandNotFound", r.get("error", {}).get("class") == "CommandNotFound", str(r))
    r = q.cmd("memslot-move", id="one", base=0)
    check(tag + "wrong argument type", r.get("error", {}).get("class") == "GenericError" and
          "Invalid parameter type for 'id'" in r["error"]["desc"], str(r))
    r = q.cmd("memslot-move", id=1)
    check(tag + "missing argument", "missing" in r.get("error", {}).get("desc", ""), str(r))
    r = q.cmd("x", addr=0, size=1, extra=1)
    check(tag + "unexpected argument", "unexpected" in r.get("error", {}).get("desc", ""), str(r))
    r = q.cmd("screendump", filename="/nonexistent/shot.png")
    check(tag + "screendump without a display device: GenericError",
          r.get("error", {}).get("class") == "GenericError" and "no display device" in r["error"]["desc"], str(r))

    # A client that leaves in the middle of a command (and one that leaves in the middle of a line).
    q.sock.sendall(b'{"execute": "query-registers"}\n')
    q.sock.close()
    q2 = Qmp(path)
    q2.sock.sendall(b'{"execute": "qmp_capa')
    q2.sock.close()
    q3 = Qmp(path)
    check(tag + "a new client after two left", "QMP" in q3.greeting)
    q3.cmd("qmp_capabilities")
    r = q3.cmd("query-status")
    check(tag + "the machine survived", r.get("return", {}).get("running") is True, str(r))
    check(tag + "quit", q3.cmd("quit").get("return") == {})
    e = q3.wait_event("SHUTDOWN")
    check(tag + "SHUTDOWN event", e is not None and e["data"]["reason"] == "host-qmp-quit" and
          e["data"]["guest"] is False and "timestamp" in e, str(e))


def smp_cpus(guests):
    """query-cpus-fast and info cpus at -smp 2 (sockets=2): a vCPU per host thread by default, both on one with
    thread=single; each with its place in the topology."""
    elf = os.path.join(guests, "gdb32.elf")
    for threads in ["multi", "single"]:
        tag = f"[smp 2, thread={threads}] "
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "qmp.sock")
            emu = subprocess.Popen([EMU64, "-kernel", elf, "-display", "none", "-serial", "null", "-m", "64M",
                                    "-smp", "2,sockets=2", "-accel", f"tcg,thread={threads}", "-qmp",
                                    f"unix:{path},server,wait=off", *MMU],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
            try:
                q = Qmp(path)
                q.cmd("qmp_capabilities")
                cpus = []
                for _ in range(100):  # the vCPU threads start after the monitor
                    cpus = q.cmd("query-cpus-fast").get("return", [])
                    if len(cpus) == 2 and all(c["thread-id"] > 0 for c in cpus):
                        break
                    time.sleep(0.02)
                check(tag + "query-cpus-fast lists both vCPUs", [c.get("cpu-index") for c in cpus] == [0, 1], str(cpus))
                check(tag + "each in its own socket", [c.get("props") for c in cpus] == [
                    {"socket-id": 0, "core-id": 0, "thread-id": 0}, {"socket-id": 1, "core-id": 0, "thread-id": 0}],
                    str(cpus))
                tids = [c.get("thread-id", 0) for c in cpus]
                own = emu.pid
                if threads == "multi":
                    check(tag + "two host threads, neither the main one", len(set(tids)) == 2 and own not in tids and
                          all(os.path.exists(f"/proc/{own}/task/{t}") for t in tids), f"{tids} pid {own}")
                else:
                    check(tag + "one host thread runs both", len(tids) == 2 and tids[0] == tids[1] and
                          os.path.exists(f"/proc/{own}/task/{tids[0]}"), f"{tids} pid {own}")
                text = q.cmd("human-monitor-command", **{"command-line": "info cpus"}).get("return", "")
                check(tag + "info cpus", f"* CPU #0: thread_id={tids[0]}" in text and
                      f"  CPU #1: thread_id={tids[1]}" in text, text)
                q.cmd("quit")
            finally:
                reap(emu)


def human_monitor(guests):
    """-monitor stdio: the prompt, commands, and quit."""
    elf = os.path.join(guests, "gdb32.elf")
    proc = subprocess.run([EMU64, "-kernel", elf, "-m", "64M", "-display", "none", "-serial", "null", "-monitor",
                           "stdio", "-S", *MMU], input=b"info status\ninfo memslots\nxp/4xb 0x100000\ninfo mem\nbogus\nquit\n",
                          capture_output=True, timeout=60)
    out = proc.stdout.decode(errors="replace")
    check("-monitor stdio: prompt", "(emu64) " in out, out)
    check("-monitor stdio: -S starts paused", "VM status: paused" in out, out)
    check("-monitor stdio: info memslots", "slot 2: 0x100000-" in out, out)
    check("-monitor stdio: xp", "0x100000: 02 b0 ad 1b" in out, out)
    check("-monitor stdio: info mem without paging", "paging is off" in out, out)
    check("-monitor stdio: unknown command", "unknown command: 'bogus'" in out, out)
    check("-monitor stdio: quit", proc.returncode == 0, f"{proc.returncode} {proc.stderr[-500:]!r}")


def serial_mux_monitor(guests):
    """-nographic: Ctrl-A c gives the terminal to the monitor and back, as QEMU's mux."""
    from guestlib import Terminal
    elf = os.path.join(guests, "gdb32.elf")
    term = Terminal([EMU64, "-kernel", elf, "-m", "64M", "-nographic", *MMU])
    # The whole sum line: after it the guest only spins (stopped earlier, it would not be at `spin` yet).
    check("mux: guest output", term.wait_for(rb"sum=[0-9a-f]{8}\r?\n", 30), term.seen[-300:])
    term.type(b"\x01c")
    check("mux: Ctrl-A c shows the monitor", term.wait_for(rb"\(emu64\) ", 10), term.seen[-300:])
    term.type(b"info status\r")
    check("mux: a command runs", term.wait_for(rb"VM status: running", 10), term.seen[-300:])
    term.type(b"stop\r")
    term.type(b"info registers\r")
    check("mux: registers of the stopped guest", term.wait_for(rb"rip\s*=%016x" % symbols(elf)["spin"], 10),
          term.seen[-1500:])
    term.type(b"\x01c")
    term.type(b"\x01x")
    check("mux: Ctrl-A x still quits", term.exit_status() == 0, term.seen[-300:])


if __name__ == "__main__":
    for backend in BACKENDS:
        run(backend, ARGS[0])
    human_monitor(ARGS[0])
    serial_mux_monitor(ARGS[0])
    smp_cpus(ARGS[0])
    finish()
