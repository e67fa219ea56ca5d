"""Shared by the guest-test scripts (tests/boot/*_test.py, tests/insn/insn_test.py): the command-line convention,
the backend matrix, and a tally of named checks that ends with the plain 'N passed, N failed' line.

Command line: EMU64 ARG... [EMU64_OPTION...]: the emu64 binary, the script's own positional arguments (for the
boot scripts, the test-guest folder), then options that every run gets (e.g. -mmu walk), from the first argument
that starts with '-'.

Backend matrix: for_each_backend(body) runs the script's checks once on each backend: the JIT (the default) and
the IR interpreter (the reference). Every emu64 run goes through emu64(), which records its exit status, serial
output (stdout) and, with dump_state, its final CPU state; after the last backend the n-th run of each backend
is compared with the n-th run on the interpreter, and they must be identical. (stderr is not compared: -d logs
may legitimately differ, and the scripts check the messages they care about on each backend.)
"""
import json
import os
import subprocess
import sys
import tempfile

EMU64 = sys.argv[1]
_first_option = next((i for i, arg in enumerate(sys.argv) if i >= 2 and arg.startswith("-")), len(sys.argv))
ARGS = sys.argv[2:_first_option]
GUESTS = ARGS[0] if ARGS else ""
MMU = sys.argv[_first_option:]  # e.g. ["-mmu", "walk"]: every run uses this MMU mode

# The reference comes first: a JIT run that disagrees with it is the one reported.
BACKENDS = {"interp": ["-accel", "tcg,jit=off"], "jit": []}
REFERENCE = "interp"

_failures = []
_passed = 0
_backend = None  # the backend for_each_backend is running
_runs = {name: [] for name in BACKENDS}  # per backend: (label, what is compared) of each emu64() run


def check(name, condition, detail=""):
    global _passed
    if _backend:
        name = f"[{_backend}] {name}"
    if condition:
        _passed += 1
    else:
        _failures.append(name)
        print(f"FAIL {name}: {detail}")


def backend_args(accel=""):
    """The emu64 options that select the backend being tested (none outside for_each_backend: the default), with
    `accel`'s -accel tcg properties (e.g. "thread=multi") joined to the backend's own: emu64 reads only the first
    -accel, as QEMU uses the first accelerator that can run."""
    args = BACKENDS[_backend] if _backend else []
    if not accel:
        return args
    if "-accel" in args:
        i = args.index("-accel") + 1
        return [*args[:i], f"{args[i]},{accel}", *args[i + 1:]]
    return [*args, "-accel", f"tcg,{accel}"]


def emu64(args, timeout=60, mmu=None, dump_state=False, accel=""):
    """Runs emu64 with `args`, the MMU options (`mmu` replaces the command line's) and the backend's options
    (with `accel`'s -accel properties, see backend_args), stdin closed. Returns the CompletedProcess, with .state the
    -dump-state JSON (None without dump_state or when none was written). A run that outlives `timeout` (emu64 ignored
    its own -timeout) is a failed run, status -1."""
    cmd = [EMU64, *args, *(MMU if mmu is None else mmu), *backend_args(accel)]
    with tempfile.TemporaryDirectory() as tmp:
        dump = os.path.join(tmp, "state.json")
        if dump_state:
            cmd += ["-dump-state", dump]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as e:
            proc = subprocess.CompletedProcess(cmd, -1, e.stdout or b"", (e.stderr or b"") + b"killed after timeout")
        proc.state = json.load(open(dump)) if os.path.exists(dump) else None
    if _backend:
        extra = [*(mmu or []), *(["-accel", accel] if accel else [])]
        label = " ".join(os.path.basename(arg) for arg in [*args, *extra])
        # isa-debug-exit stops the vCPU right after the OUT on both backends, so the final state is compared too.
        _runs[_backend].append((label, (proc.returncode, proc.stdout, proc.state)))
    return proc


def run_guest(guest, *args, timeout_s=30, mmu=None):
    """Runs GUESTS/<guest>.bin with `emu64 -bare`, limited to timeout_s by emu64's -timeout; see emu64()."""
    return emu64(["-bare", os.path.join(GUESTS, guest + ".bin"), "-timeout", str(timeout_s), *args],
                 timeout=timeout_s + 30, mmu=mmu)


def self_checking(guest, checks, *args, timeout_s=30):
    """Runs a guest that judges itself: it prints "ok NAME" or "FAIL NAME ..." lines and "done" on COM1, then leaves
    through isa-debug-exit with its failure count v (status (v << 1) | 1, so 1 when clean). Checks the status, that
    no FAIL line appeared and that all `checks` ran (a guest that stops early cannot pass). Returns the run."""
    return judge_self_checking(guest, run_guest(guest, *args, timeout_s=timeout_s), checks)


def self_checking_kernel(kernel, checks, *args, timeout_s=30, accel=""):
    """self_checking for a Multiboot kernel GUESTS/<kernel>.elf on the PC machine (`emu64 -kernel`), with `accel`'s
    -accel properties (see backend_args)."""
    proc = emu64(["-kernel", os.path.join(GUESTS, kernel + ".elf"), "-nographic", "-timeout", str(timeout_s), *args],
                 timeout=timeout_s + 30, accel=accel)
    return judge_self_checking(kernel, proc, checks)


def judge_self_checking(guest, proc, checks):
    """The verdict of self_checking on a finished run."""
    out = proc.stdout.decode(errors="replace")
    lines = out.splitlines()
    bad = [line for line in lines if line.startswith("FAIL")]
    oks = [line for line in lines if line.startswith("ok ")]
    check(f"{guest} status", proc.returncode == 1, f"status {proc.returncode}; stderr {proc.stderr[-2000:]!r}")
    check(f"{guest} no failed checks", not bad, "; ".join(bad))
    check(f"{guest} ran all checks", len(oks) == checks and "done" in lines, f"{len(oks)} of {checks}:\n{out}")
    return proc


def for_each_backend(body):
    """Runs body() on every backend, then checks that each backend's runs match the reference's."""
    global _backend
    for name in BACKENDS:
        _backend = name
        body()
    _backend = None
    reference = _runs[REFERENCE]
    for name, runs in _runs.items():
        if name == REFERENCE:
            continue
        check(f"{name} made as many runs as {REFERENCE}", len(runs) == len(reference),
              f"{len(runs)} vs {len(reference)}")
        for (label, got), (_, want) in zip(runs, reference):
            check(f"{label}: {name} exits, prints and ends in the same state as {REFERENCE}", got == want,
                  _difference(got, want))


def _difference(got, want):
    (status, out, state), (ref_status, ref_out, ref_state) = got, want
    if status != ref_status:
        return f"status {status}, {REFERENCE} {ref_status}"
    if out != ref_out:
        return (f"output:\n{out.decode(errors='replace')[-2000:]}\n"
                f"{REFERENCE}:\n{ref_out.decode(errors='replace')[-2000:]}")
    state, ref_state = state or {}, ref_state or {}
    keys = sorted(k for k in set(state) | set(ref_state) if state.get(k) != ref_state.get(k))
    return f"state differs in {', '.join(keys) or 'presence'}"


def any_failed():
    return bool(_failures)


def finish():
    print(f"{_passed} passed, {len(_failures)} failed")
    sys.exit(1 if _failures else 0)
