"""What the emu64-vs-QEMU benchmarks in tools/bench share: the emulators each run is measured on (QEMU TCG, emu64's
default backend, emu64's interpreter when the build accepts `-accel tcg,jit=off`), running one process with the
arrival time of each console line and its peak RSS, and the ratio columns.

Every figure is wall-clock time of one process on a shared machine, so the scripts repeat runs and keep the best.
"""
import dataclasses
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QEMU = "qemu-system-x86_64"
# mkinitramfs's busybox, the guest's /bin/busybox: the workloads' data is this binary repeated (busybox_data).
BUSYBOX = os.path.join(ROOT, "build/guest/busybox/bin/busybox")
# emu64's IR interpreter (the JIT is the default backend). Builds from before the JIT reject the option: then the
# default backend, the interpreter, runs alone.
INTERP_ACCEL = ["-accel", "tcg,jit=off"]


def fail(message):
    sys.exit(f"{os.path.basename(sys.argv[0])}: {message}")


def add_common_arguments(parser, mem):
    parser.add_argument("--build", default=os.path.join(ROOT, "build"), help="meson build directory (default build/)")
    parser.add_argument("--qemu", choices=["install", "auto", "no"], default="install",
                        help="install: apt-get install qemu-system-x86 if missing (default); auto: compare with "
                             "QEMU only if it is installed (the test suite's tiny runs); no: emu64 alone")
    parser.add_argument("--runs", type=int, default=1, help="runs per emulator; the best one counts")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds before a run is killed and fails")
    parser.add_argument("--mem", default=mem, help=f"guest RAM, the same for every emulator (default {mem})")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=ARGS",
                        help="also run emu64's default backend with these extra options, shell-split, as engine NAME "
                             "(e.g. 'nopcid=-cpu max,-pcid,-invpcid'); repeatable")


def qemu_available(mode):
    if mode == "no":
        return False
    if shutil.which(QEMU):
        return True
    if mode == "auto":
        print(f"note: {QEMU} is not installed (tools/setup installs it): no QEMU comparison in this run")
        return False
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "qemu-system-x86"], check=True)
    return True


@dataclasses.dataclass
class Engine:
    name: str
    command: object  # (kernel, append, initrd) -> argv


def busybox_data_script(nbytes, path):
    """Guest shell lines that write `nbytes` of busybox's own binary repeated to `path`: deterministic, the same bytes
    on the host (busybox_data), and compressible like real code rather than trivially."""
    return [f"copies=$(( ({nbytes} - 1) / $(wc -c < /bin/busybox) + 1 ))",
            f"i=0; while [ $i -lt $copies ]; do cat /bin/busybox; i=$((i + 1)); done | head -c {nbytes} > {path}"]


def busybox_data(nbytes):
    """The bytes busybox_data_script writes (call after mkinitramfs, which fetches BUSYBOX)."""
    with open(BUSYBOX, "rb") as f:
        seed = f.read()
    return (seed * (-(-nbytes // len(seed))))[:nbytes]


def engines(args, kernel, interp=True, qemu_accel="tcg"):
    """The emulators to compare, QEMU first (every ratio is relative to it), QEMU with `-accel qemu_accel`. emu64's
    interpreter is in the list when `interp` is set and the build accepts -accel tcg,jit=off (asked of emu64 itself
    through -print-config, which parses the whole command line and exits)."""
    emu64 = os.path.join(args.build, "emu/app/emu64")
    if not os.path.exists(emu64):
        fail(f"missing {emu64}: build first (tools/setup, or ninja -C {args.build})")
    has_interp = subprocess.run([emu64, *INTERP_ACCEL, "-kernel", kernel, "-print-config"], capture_output=True,
                                stdin=subprocess.DEVNULL).returncode == 0
    result = []
    if qemu_available(args.qemu):
        result.append(Engine("qemu-tcg", lambda k, append, initrd=None: [
            QEMU, "-accel", qemu_accel, "-kernel", k, *(["-initrd", initrd] if initrd else []), "-append", append,
            "-nographic", "-no-reboot", "-m", args.mem, "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]))

    def emu64_command(accel, extra=()):
        return lambda k, append, initrd=None: [
            emu64, *accel, *extra, "-kernel", k, *(["-initrd", initrd] if initrd else []), "-append", append, "-nographic",
            "-no-reboot", "-m", args.mem]

    result.append(Engine("emu64-jit" if has_interp else "emu64", emu64_command([])))
    for variant in args.variant:
        name, sep, options = variant.partition("=")
        if not sep or not name:
            fail(f"--variant {variant!r}: expected NAME=OPTIONS")
        result.append(Engine(f"emu64-{name}", emu64_command([], shlex.split(options))))
    if interp and has_interp:
        result.append(Engine("emu64-interp", emu64_command(INTERP_ACCEL)))
    elif not has_interp:
        print("note: this emu64 does not accept -accel tcg,jit=off yet: 'emu64' is its default backend alone")
    return result


@dataclasses.dataclass
class Run:
    seconds: float         # start to exit
    status: int            # exit status (negative: killed by that signal)
    lines: list            # (seconds since start, decoded line) for each line of stdout
    max_rss_mib: float     # peak resident set size of the process
    stderr: str
    timed_out: bool        # killed after the timeout

    def describe_status(self):
        return f"exit status {self.status}" + (" (killed: --timeout)" if self.timed_out else "")

    @property
    def output(self):
        return "".join(line for _, line in self.lines)

    def time_of(self, marker):
        """Seconds from start to the first line that contains `marker` (None if none does)."""
        return next((t for t, line in self.lines if marker in line), None)


def run(cmd, timeout, on_line=None):
    """Runs `cmd` with stdin closed, timestamping its stdout line by line as it arrives (emu64 and QEMU write their
    serial port unbuffered); on_line(text), if given, sees each line as it arrives (to drive the host side of a
    workload). Its peak RSS comes from wait4's resource usage, so only that process counts."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    timed_out = threading.Event()
    killer = threading.Timer(timeout, lambda: (timed_out.set(), proc.kill()))
    killer.start()
    stderr = []
    drain = threading.Thread(target=lambda: stderr.append(proc.stderr.read()))  # a full stderr pipe would block it
    drain.start()
    lines = []
    for line in proc.stdout:
        lines.append((time.perf_counter() - start, line.decode(errors="replace")))
        if on_line:
            on_line(lines[-1][1])
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
    killer.cancel()
    drain.join()
    return Run(seconds, proc.returncode, lines, usage.ru_maxrss / 1024, stderr[0].decode(errors="replace"),
               timed_out.is_set())


def best(runs, key):
    """The run with the smallest `key`: on a shared machine the fastest run is the one least disturbed."""
    return min(runs, key=key)


def ratio(numerator, denominator):
    """A ratio column: `numerator / denominator`, or '-' when either is missing (no QEMU in this run)."""
    return f"{numerator / denominator:.2f}x" if numerator and denominator else "-"
