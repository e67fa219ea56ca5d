#!/usr/bin/env python3
"""Snapshots (savevm, loadvm, -loadvm) of the CPU-heavy Multiboot guest checksum32.elf, on both backends: a run saved
through QMP in the middle and restored with -loadvm ends with the same checksum as a run that went straight through
(both also match this script's own computation of the first rounds); `loadvm` on a running guest takes it back to the
saved point and it ends with the same checksum too. Refused, with status 1 or a QMP error and a clear message: a
flipped byte in the body or the header, a truncated file, a file that is no snapshot, a missing file, a snapshot of
another machine configuration, and savevm with a writable -drive or the GPU copy engine attached.

usage: snapshot_test.py EMU64 TESTGUEST_DIR [-mmu MODE]
"""
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time

from harness import ARGS, BACKENDS, EMU64, MMU, check, finish
from qmplib import Qmp

# Rounds of about a million guest instructions each: long enough that a save lands in the middle of the run.
ROUNDS = {"interp": 24, "jit": 1200}
MASK = 0xFFFFFFFF


def model(rounds, words=0x40000, steps=0x10000):
    """The sums checksum32.asm prints after each of its first `rounds` rounds."""
    buf, total, lanes, sums = [0] * words, 0, [0, 0, 0, 0], []
    for r in range(rounds):
        for i in range(steps):
            idx = (i * 7919 + r) & (words - 1)
            x = (buf[idx] * 0x9E3779B1 + i + r) & MASK
            x = ((x << 13) | (x >> 19)) & MASK
            buf[idx] = x
            total = (total + x) & MASK
            lanes = [lanes[1], lanes[2], lanes[3], (lanes[0] + x) & MASK]
        sums.append(total ^ lanes[0] ^ lanes[1] ^ lanes[2] ^ lanes[3])
    return sums


def rounds_seen(out):
    return [(int(r, 16), int(s, 16)) for r, s in re.findall(r"^round ([0-9a-f]{8}) sum ([0-9a-f]{8})$", out, re.M)]


def done_sum(out):
    m = re.search(r"^done sum ([0-9a-f]{8})$", out, re.M)
    return int(m.group(1), 16) if m else None


class Running:
    """emu64 in the background with a QMP socket; its console collected line by line."""

    def __init__(self, args, sock):
        self.proc = subprocess.Popen([EMU64, *args, "-qmp", f"unix:{sock},server,wait=off"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.qmp = Qmp(sock)
        self.qmp.cmd("qmp_capabilities")

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.decode(errors="replace").rstrip("\n"))

    def wait_line(self, prefix, seconds=120):
        end = time.time() + seconds
        while time.time() < end:
            if any(line.startswith(prefix) for line in self.lines):
                return True
            time.sleep(0.01)
        return False

    def finish(self, seconds=300):
        try:
            self.proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(10)
        return self.proc.returncode, "\n".join(self.lines), self.proc.stderr.read().decode(errors="replace")


def run_backend(backend, elf, tmp, expected_first):
    tag = f"[{backend}] "
    rounds = ROUNDS[backend]
    common = ["-kernel", elf, "-append", str(rounds), "-nographic", "-m", "64M", "-snapshot-dir", tmp, *MMU,
              *BACKENDS[backend]]
    start = time.monotonic()
    straight = subprocess.run([EMU64, *common, "-timeout", "600"], capture_output=True, timeout=700,
                              stdin=subprocess.DEVNULL)
    out = straight.stdout.decode(errors="replace")
    print(f"{tag}{rounds} rounds straight through: {time.monotonic() - start:.2f} s")
    final = done_sum(out)
    check(tag + "the straight run ends through isa-debug-exit", straight.returncode == 1, straight.stderr[-500:])
    check(tag + "the straight run prints every round", len(rounds_seen(out)) == rounds and final is not None, out[-300:])
    check(tag + "the first rounds' sums are right", [s for _, s in rounds_seen(out)[:len(expected_first)]] ==
          expected_first, out[:400])

    # Saved in the middle through QMP; the saving run goes on undisturbed.
    name = f"mid-{backend}"
    emu = Running(common + ["-timeout", "600"], os.path.join(tmp, "qmp.sock"))
    check(tag + "the guest runs its first round", emu.wait_line("round 00000001"), emu.lines[-3:])
    t0 = time.monotonic()
    reply = emu.qmp.cmd("savevm", name=name)
    save_seconds = time.monotonic() - t0
    check(tag + "QMP savevm succeeds", reply.get("return") == {}, str(reply))
    status, saved_out, err = emu.finish()
    check(tag + "the saving run ends with the straight run's checksum", status == 1 and done_sum(saved_out) == final,
          f"status {status} sum {done_sum(saved_out)} want {final} {err[-300:]}")
    path = os.path.join(tmp, name + ".emu64snap")
    check(tag + "the snapshot file is there", os.path.exists(path))
    if not os.path.exists(path):
        return None
    size = os.path.getsize(path)
    print(f"{tag}savevm: {save_seconds * 1000:.0f} ms over QMP, {size / 1024:.0f} KiB file (64 MiB guest)")

    # Restored by -loadvm: it goes on from the saved round and ends with the same checksum.
    t0 = time.monotonic()
    restored = subprocess.run([EMU64, *common, "-loadvm", name, "-timeout", "600"], capture_output=True, timeout=700,
                              stdin=subprocess.DEVNULL)
    print(f"{tag}restored run: {time.monotonic() - t0:.2f} s")
    rout = restored.stdout.decode(errors="replace")
    seen = rounds_seen(rout)
    check(tag + "-loadvm: the restored run ends through isa-debug-exit", restored.returncode == 1,
          restored.stderr[-500:])
    check(tag + "-loadvm: the restored guest does not boot again", "started" not in rout, rout[:200])
    check(tag + "-loadvm: it goes on from the middle of the run", bool(seen) and 2 <= seen[0][0] < rounds,
          f"first round printed {seen[:1]}")
    check(tag + "-loadvm: same final checksum as the straight run", done_sum(rout) == final,
          f"{done_sum(rout)} != {final}")
    check(tag + "-loadvm: the rounds after the save match the straight run's",
          seen == [(r, s) for r, s in rounds_seen(out) if r >= (seen[0][0] if seen else 0)], "")

    # loadvm under a running guest: back to the saved point, then on to the same end.
    emu = Running(common + ["-timeout", "600"], os.path.join(tmp, "qmp.sock"))
    check(tag + "loadvm: the guest runs", emu.wait_line("round 00000001"))
    bad = os.path.join(tmp, "bad.emu64snap")
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0x40
    open(bad, "wb").write(data)
    reply = emu.qmp.cmd("loadvm", name=bad)
    check(tag + "loadvm of a corrupt file is a QMP error", reply.get("error", {}).get("class") == "GenericError" and
          "corrupt" in reply["error"].get("desc", ""), str(reply))
    reply = emu.qmp.cmd("human-monitor-command", **{"command-line": f"loadvm {name}"})
    check(tag + "loadvm through the human monitor succeeds", reply.get("return") == "", str(reply))
    status, live_out, err = emu.finish()
    check(tag + "loadvm: the guest ends with the straight run's checksum", status == 1 and done_sum(live_out) == final,
          f"status {status} sum {done_sum(live_out)} want {final} {err[-300:]}")
    return path


def refusals(elf, tmp, path):
    common = ["-kernel", elf, "-append", "4", "-nographic", "-m", "64M", *MMU]

    def load(snapshot, *extra, seconds=60):
        proc = subprocess.run([EMU64, *common, *extra, "-loadvm", snapshot, "-timeout", str(seconds)],
                              capture_output=True, timeout=seconds + 60, stdin=subprocess.DEVNULL)
        return proc.returncode, proc.stderr.decode(errors="replace"), proc.stdout.decode(errors="replace")

    good = open(path, "rb").read()
    cases = [("a flipped byte in the body", bytes(good[:len(good) // 2]) + bytes([good[len(good) // 2] ^ 1]) +
              good[len(good) // 2 + 1:], "is corrupt: the checksum of its contents does not match"),
             ("a flipped byte in the header", good[:9] + bytes([good[9] ^ 1]) + good[10:],
              "is corrupt: the header checksum does not match"),
             ("a truncated file", good[:len(good) // 3], "is truncated"),
             ("a file cut inside its header", good[:20], "is truncated"),
             ("a file that is no snapshot", b"hello, world\n" * 10, "is not an emu64 snapshot")]
    for what, data, message in cases:
        bad = os.path.join(tmp, "case.emu64snap")
        open(bad, "wb").write(data)
        status, err, out = load(bad)
        check(f"-loadvm of {what}: status 1 and '{message}'", status == 1 and message in err and
              err.startswith("emu64: -loadvm: snapshot file"), f"{status} {err!r}")
        check(f"-loadvm of {what}: the guest does not run", "started" not in out and "round" not in out, out[:200])
    status, err, _ = load(os.path.join(tmp, "missing.emu64snap"))
    check("-loadvm of a missing file: status 1, cannot be opened", status == 1 and "cannot be opened" in err, err)
    status, err, _ = load(path, "-m", "128M")
    check("-loadvm on another RAM size: status 1, the difference named", status == 1 and
          "different machine configuration" in err and "RAM slot" in err, err)
    status, err, _ = load(path, "-device", "virtio-rng-pci")
    check("-loadvm with another device: status 1, the difference named", status == 1 and
          "different machine configuration" in err and "PCI function" in err, err)

    # Disk contents are not in snapshots: savevm refuses a writable drive and accepts a read-only one.
    disk = os.path.join(tmp, "disk.img")
    open(disk, "wb").write(bytes(1 << 20))
    for readonly in (False, True):
        drive = f"file={disk},format=raw,if=virtio" + (",readonly=on" if readonly else "")
        emu = Running([*common[:2], "-append", "100000", *common[4:], "-drive", drive, "-snapshot-dir", tmp],
                      os.path.join(tmp, "qmp.sock"))
        emu.wait_line("round 00000000")
        reply = emu.qmp.cmd("savevm", name="disk")
        if readonly:
            check("savevm with a read-only -drive succeeds", reply.get("return") == {}, str(reply))
        else:
            check("savevm with a writable -drive is refused, naming the drive",
                  "is writable" in reply.get("error", {}).get("desc", "") and disk in reply["error"]["desc"],
                  str(reply))
        emu.qmp.cmd("quit")
        emu.finish(30)
    # The GPU copy engine's contexts and shadow are not saved: refused too.
    emu = Running([*common[:2], "-append", "100000", *common[4:], "-gpu-engine", "-snapshot-dir", tmp],
                  os.path.join(tmp, "qmp.sock"))
    emu.wait_line("round 00000000")
    reply = emu.qmp.cmd("savevm", name="gpu")
    check("savevm with the GPU copy engine is refused", "GPU copy engine" in reply.get("error", {}).get("desc", ""),
          str(reply))
    emu.qmp.cmd("quit")
    emu.finish(30)
    check("a refused savevm leaves no file", not os.path.exists(os.path.join(tmp, "gpu.emu64snap")))
    status, err, out = load(os.path.join(tmp, "disk.emu64snap"), "-drive",
                            f"file={disk},format=raw,if=virtio,readonly=on", seconds=3)
    check("-loadvm of the snapshot with its read-only drive runs the guest on", status == 8 and
          "emu64: -loadvm" not in err and "round" in out, f"{status} {err[-300:]!r}")


def main():
    elf = os.path.join(ARGS[0], "checksum32.elf")
    expected_first = model(3)
    with tempfile.TemporaryDirectory() as tmp:
        path = None
        for backend in BACKENDS:
            path = run_backend(backend, elf, tmp, expected_first) or path
        if path:
            refusals(elf, tmp, path)
        else:
            check("a snapshot to test refusals with", False)
    finish()


if __name__ == "__main__":
    main()
