#!/usr/bin/env python3
"""Boots Debian's kernel with -smp N (issue #12: a host thread per vCPU, unless the extra options ask for
thread=single) and checks that Linux brings every CPU up and uses it: nproc and /proc/cpuinfo show N CPUs,
/proc/interrupts has local APIC timer interrupts on each, two sha256sum processes pinned with taskset to different
CPUs hash correctly, each process saw the CPU it was pinned to, and the kernel log is free of soft lockups, RCU
stalls, Call Traces and an unstable TSC.

usage: linux_smp_test.py EMU64 ROOT FLAVOUR N [emu64 args...]
"""
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import time

from harness import any_failed, check, finish

EMU64, ROOT, FLAVOUR, N = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
EXTRA = sys.argv[5:]
MIB = 4  # per hash: small enough to keep the boot test short on a shared 2-core host


def tools(name):
    return os.path.join(ROOT, "guest-images/linux", name)


kernel = subprocess.run([tools("fetch-kernel"), FLAVOUR], check=True, capture_output=True, text=True).stdout.strip()
last = N - 1
# job.sh CPU: prints the CPU its `cat` ran on (field 39 of /proc/self/stat; taskset's affinity is inherited) and the
# hash of MIB MiB of text that depends on CPU.
JOB = f"""cpu=$1
set -- $(cat /proc/self/stat)
echo "job$cpu on cpu ${{39}}"
yes "${{cpu}}0123456789abcdef" | dd bs=1M count={MIB} iflag=fullblock 2>/dev/null | sha256sum | sed "s/^/job$cpu /"
"""
script = "; ".join([
    'echo "nproc=$(nproc)"', "cat /proc/cpuinfo", "cat /proc/interrupts",
    f"taskset -c 0 sh /job.sh 0 & taskset -c {last} sh /job.sh {last} & wait",
    "sleep 1", "cat /proc/interrupts",
])
with tempfile.TemporaryDirectory() as tmp:
    initrd = os.path.join(tmp, "test.cpio.gz")
    job = os.path.join(tmp, "job.sh")
    with open(job, "w") as f:
        f.write(JOB)
    subprocess.run([tools("mkinitramfs"), "-o", initrd, "--add", f"{job}:/job.sh", "--run", script], check=True,
                   capture_output=True)
    start = time.monotonic()
    proc = subprocess.run([EMU64, "-kernel", kernel, "-initrd", initrd, "-append", "console=ttyS0", "-nographic",
                           "-smp", str(N), "-timeout", "600", *EXTRA],
                          capture_output=True, stdin=subprocess.DEVNULL, timeout=700)
    seconds = time.monotonic() - start
    out = proc.stdout.decode(errors="replace")
    print(f"{FLAVOUR} kernel -smp {N} {' '.join(EXTRA)}: {seconds:.1f} s to power-off, emu64 status {proc.returncode}")
    check("power-off ends emu64 with status 0", proc.returncode == 0, proc.stderr[-500:])
    check("the script ran to the end", "emu64-exit-status: 0" in out, out[-2000:])
    check(f"the kernel brought up {N} CPUs", re.search(rf"smp: Brought up 1 node, {N} CPUs", out) is not None,
          "\n".join(line for line in out.splitlines() if "smp:" in line or "CPU" in line[:40])[:2000])
    check(f"nproc = {N}", f"nproc={N}" in out, re.findall(r"nproc=\d+", out))
    processors = re.findall(r"^processor\s*: (\d+)", out, re.MULTILINE)
    check(f"/proc/cpuinfo lists {N} processors", processors == [str(i) for i in range(N)], processors)
    apic_ids = re.findall(r"^apicid\s*: (\d+)", out, re.MULTILINE)
    check("/proc/cpuinfo: APIC IDs 0..N-1", apic_ids == [str(i) for i in range(N)], apic_ids)
    # The second /proc/interrupts (after the jobs): every CPU's column of LOC counts timer interrupts.
    loc = re.findall(r"^\s*LOC:\s+((?:\d+\s+)+)", out, re.MULTILINE)
    counts = [int(n) for n in loc[-1].split()][:N] if loc else []
    check("local timer interrupts on every CPU", len(counts) == N and all(c > 0 for c in counts), loc[-1:] or out[-2000:])
    for cpu in (0, last):
        data = ((f"{cpu}0123456789abcdef\n").encode() * ((MIB << 20) // 18 + 1))[:MIB << 20]
        want = hashlib.sha256(data).hexdigest()
        check(f"sha256sum pinned to CPU {cpu} matches the host", f"job{cpu} {want}" in out, want)
        check(f"the job pinned to CPU {cpu} ran on it", f"job{cpu} on cpu {cpu}" in out,
              re.findall(r"job\d on cpu \d+", out))
    bad = [line for line in out.splitlines()
           if re.search(r"soft lockup|rcu.*stall|RCU Stall|Call Trace|[Uu]nstable|\bBUG\b|WARNING|Oops|panic", line)]
    check("no soft lockup, RCU stall, Call Trace, unstable TSC, BUG, WARNING, Oops or panic", not bad, bad[:5])
    check("TSC synchronized across CPUs", "TSC synchronization" not in out or "failed" not in out)

if any_failed():
    print("---- the console ----")
    print(out)
finish()
