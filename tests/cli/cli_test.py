#!/usr/bin/env python3
"""Runs the real emu64 binary with good and bad command lines.

Usage: cli_test.py PATH/TO/emu64

The oracle is QEMU's documented command-line behaviour (-m in MiB unless suffixed, the value in the next
argument) and the contract of emu64's front end: every error is exactly one "emu64: ..." line on stderr
with exit status 2, information requests exit 0, and an option the machine cannot honour yet is refused
("not implemented yet"), never ignored. Expected values are computed here, not copied from the binary.
"""
import json
import os
import re
import shutil
import fcntl
import struct
import subprocess
import sys
import tempfile
import unittest

EMU64 = ""
MIB = 1 << 20

# Every option the front end must offer, as a user types it.
ALL_OPTIONS = [
    "-m", "-smp", "-kernel", "-initrd", "-append", "-nographic", "-display", "-serial", "-drive", "-netdev",
    "-device", "-s", "-S", "-gdb", "-d", "-D", "-no-reboot", "-mmu", "-bare", "-load-addr", "-start-mode",
    "-cpl", "-reg", "-map", "-dump-state", "-max-insns", "-timeout", "-help", "-h", "-version", "-print-config",
    "-accel", "-perfmap", "-nic", "-chardev", "-vga", "-screendump-on-exit", "-cpu", "-gpu-engine", "-loadvm",
    "-snapshot-dir",
]


def run(*args, timeout=30):
    proc = subprocess.run([EMU64, *args], capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


class Files:
    """Scratch files: a kernel and a flat binary that exist, a folder, paths that do not exist."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="emu64_cli_test_")
        self.kernel = self._file("bzImage", b"\x00" * 512)
        self.initrd = self._file("initrd.img", b"\x00" * 512)
        self.bare = self._file("flat.bin", b"\xf4")  # hlt
        self.missing = os.path.join(self.dir, "no_such_file")
        self.missing_dir_file = os.path.join(self.dir, "no_such_dir", "file")

    def _file(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


F = None


def setUpModule():
    global F
    F = Files()


def tearDownModule():
    F.cleanup()


class CliTestCase(unittest.TestCase):
    def assert_usage_error(self, args, mentions):
        rc, out, err = run(*args)
        what = f"emu64 {' '.join(args)!s} -> rc={rc} stdout={out!r} stderr={err!r}"
        self.assertEqual(rc, 2, what)
        self.assertEqual(out, "", what)
        lines = err.splitlines()
        self.assertEqual(len(lines), 1, what)
        self.assertTrue(lines[0].startswith("emu64: "), what)
        self.assertIn(mentions, lines[0], what)
        return lines[0]

    def config(self, *args):
        rc, out, err = run(*args, "-print-config")
        self.assertEqual(rc, 0, f"emu64 {' '.join(args)} -print-config: rc={rc} stderr={err!r}")
        self.assertEqual(err, "")
        return json.loads(out)

    def kernel_config(self, *args):
        return self.config("-kernel", F.kernel, "-nographic", *args)

    def bare_config(self, *args):
        return self.config("-bare", F.bare, *args)


class BadCommandLines(CliTestCase):
    def test_bad_ram_sizes(self):
        for value in ["0", "12X", "", "-5", "0M", "1.5.5G", "99999999999999999999", "16777216T", "2T", "512,slots=2",
                      "size=", "M", "0x"]:
            with self.subTest(value=value):
                self.assert_usage_error(["-kernel", F.kernel, "-m", value], "-m")

    def test_bad_vcpu_counts(self):
        # 0 and above 64 vCPUs, unknown keys, a product that is not the count, maxcpus above cpus (no hotplug).
        for value in ["0", "x", "-1", "65", "256", "", "4,sockets=3", "2,sockets=2,cores=2", "2,maxcpus=4",
                      "2,dies=2", "cpus=2,cpus=x", "4,threads=0", "2,", "sockets=8,cores=8,threads=2"]:
            with self.subTest(value=value):
                self.assert_usage_error(["-kernel", F.kernel, "-smp", value], "-smp")

    def test_missing_files(self):
        cases = [
            (["-kernel", F.missing], "-kernel"),
            (["-kernel", F.dir], "-kernel"),
            (["-kernel", F.kernel, "-initrd", F.missing], "-initrd"),
            (["-bare", F.missing], "-bare"),
            (["-bare", ""], "-bare"),
        ]
        for args, mentions in cases:
            with self.subTest(args=args):
                line = self.assert_usage_error(args, mentions)
                self.assertIn(os.path.basename(args[-1]) or "''", line)

    def test_unknown_options_and_stray_arguments(self):
        for args, mentions in [(["-foo"], "-foo"), (["--bogus=1"], "--bogus"), (["-kernel", F.kernel, "-xyz"], "-xyz"),
                               (["disk.img"], "disk.img"), (["-"], "'-'"), (["-smpx", "2"], "-smpx"),
                               (["-sS"], "-sS")]:
            with self.subTest(args=args):
                self.assert_usage_error(args, mentions)

    def test_option_without_its_value(self):
        for option in ["-m", "-kernel", "-append", "-d", "-D", "-reg", "-map", "-timeout"]:
            with self.subTest(option=option):
                self.assert_usage_error(["-kernel", F.kernel, option], option)

    def test_flag_given_a_value(self):
        self.assert_usage_error(["-kernel", F.kernel, "-nographic=1"], "-nographic")

    def test_bad_map_syntax(self):
        for value in ["0x200000", "0x200000:0", "0x200001:4K", "0x200000:4097", "x:4K", "0x200000:4Q", ":4K",
                      "0x200000:", "0xFFFFFFFFFFFFF000:8K", "16777216G:4K"]:
            with self.subTest(value=value):
                self.assert_usage_error(["-bare", F.bare, "-map", value], "-map")

    def test_unknown_log_category(self):
        for value in ["bogus", "in_asm,bogus", "help,int"]:
            with self.subTest(value=value):
                self.assert_usage_error(["-kernel", F.kernel, "-d", value], "-d")

    def test_bad_enumerated_values(self):
        cases = [
            (["-kernel", F.kernel, "-mmu", "fast"], "-mmu"),
            (["-kernel", F.kernel, "-display", "gtkx"], "-display"),
            (["-kernel", F.kernel, "-serial", "foo"], "-serial"),
            (["-kernel", F.kernel, "-serial", "file:"], "-serial"),
            (["-bare", F.bare, "-start-mode", "v86"], "-start-mode"),
            (["-bare", F.bare, "-cpl", "1"], "-cpl"),
            (["-bare", F.bare, "-cpl", "3", "-start-mode", "real"], "-cpl"),
            (["-bare", F.bare, "-load-addr", "somewhere"], "-load-addr"),
            (["-bare", F.bare, "-timeout", "-1"], "-timeout"),
            (["-bare", F.bare, "-timeout", "abc"], "-timeout"),
            (["-bare", F.bare, "-timeout", "inf"], "-timeout"),
            (["-bare", F.bare, "-max-insns", "-1"], "-max-insns"),
            (["-bare", F.bare, "-max-insns", "10x"], "-max-insns"),
            (["-kernel", F.kernel, "-drive", ""], "-drive"),
            (["-kernel", F.kernel, "-gdb", ""], "-gdb"),
            (["-kernel", F.kernel, "-gdb", "tcp::0"], "-gdb"),
            (["-kernel", F.kernel, "-gdb", "tcp::99999"], "-gdb"),
            (["-kernel", F.kernel, "-gdb", "udp::1234"], "-gdb"),
            (["-kernel", F.kernel, "-gdb", "tcp:nowhere.example:1234"], "-gdb"),
            (["-kernel", F.kernel, "-qmp", "unix:/tmp/emu64-cli-test.sock"], "-qmp"),  # no server,wait=off
            (["-kernel", F.kernel, "-qmp", "tcp::4444,server,wait=off"], "-qmp"),
            (["-kernel", F.kernel, "-qmp", "unix:,server,wait=off"], "-qmp"),
            (["-kernel", F.kernel, "-monitor", "vc"], "-monitor"),
            (["-bare", F.bare, "-loadvm", "snap"], "-loadvm"),
            (["-kernel", F.kernel, "-loadvm", ""], "-loadvm"),
            (["-kernel", F.kernel, "-snapshot-dir", ""], "-snapshot-dir"),
        ]
        for args, mentions in cases:
            with self.subTest(args=args):
                self.assert_usage_error(args, mentions)

    def test_snapshot_options(self):
        c = self.kernel_config("-loadvm", "shell", "-snapshot-dir", F.dir)
        self.assertEqual(c["loadvm"], "shell")
        self.assertEqual(c["snapshot_dir"], F.dir)
        self.assertEqual(self.kernel_config()["loadvm"], "")

    def test_bad_accelerators(self):
        # Other QEMU accelerators name hardware virtualisation, which emu64 does not have; one bad -accel among
        # several is still an error.
        for value in ["kvm", "hvf", "xen", "whpx", "tcg2", "", ",jit=off", "accel=kvm", "kvm,tb-size=8"]:
            with self.subTest(value=value):
                line = self.assert_usage_error(["-kernel", F.kernel, "-accel", value], "-accel")
                self.assertIn("only the tcg accelerator", line)
        line = self.assert_usage_error(["-kernel", F.kernel, "-accel", "tcg", "-accel", "kvm"], "-accel 'kvm'")
        self.assertIn("only the tcg accelerator", line)

    def test_bad_tcg_properties(self):
        cases = [
            ("tcg,tb-size=0", "tb-size= expects the JIT code-cache size in MiB, from 1 to 2048"),
            ("tcg,tb-size=", "tb-size="),
            ("tcg,tb-size=x", "tb-size="),
            ("tcg,tb-size=-1", "tb-size="),
            ("tcg,tb-size=8M", "tb-size="),  # QEMU's tb-size is a plain number of MiB
            ("tcg,tb-size=2049", "tb-size="),
            ("tcg,tb-size=99999999999999999999", "tb-size="),
            ("tcg,jit=maybe", "jit= expects on or off"),
            ("tcg,jit", "jit= expects on or off"),
            ("tcg,thread=many", "thread= expects single or multi"),  # QEMU's thread= is single or multi
            ("tcg,", "unknown tcg property ''"),
            ("tcg,jit=off,bogus=1", "unknown tcg property 'bogus'"),
        ]
        for value, mentions in cases:
            with self.subTest(value=value):
                line = self.assert_usage_error(["-kernel", F.kernel, "-accel", value], "-accel")
                self.assertIn(mentions, line)

    def test_perfmap_needs_the_jit(self):
        self.assert_usage_error(["-bare", F.bare, "-perfmap", "-accel", "tcg,jit=off"], "-perfmap")
        self.assert_usage_error(["-bare", F.bare, "-perfmap=1"], "-perfmap")

    def test_bad_register_assignments(self):
        for value in ["rzz=1", "rax", "rax=", "rax=zz", "eax=1", "=5", "rax=0x1g"]:
            with self.subTest(value=value):
                self.assert_usage_error(["-bare", F.bare, "-reg", value], "-reg")

    def test_options_that_need_or_exclude_another(self):
        cases = [
            (["-bare", F.bare, "-initrd", F.initrd], "-initrd needs -kernel"),
            (["-bare", F.bare, "-append", "quiet"], "-append needs -kernel"),
            (["-kernel", F.kernel, "-reg", "rax=1"], "-reg needs -bare"),
            (["-bare", F.bare, "-gpu-engine"], "-gpu-engine needs the PC machine"),
            (["-kernel", F.kernel, "-cpl", "3"], "-cpl needs -bare"),
            (["-kernel", F.kernel, "-bare", F.bare], "-kernel and -bare"),
            (["-kernel", F.kernel, "-nographic", "-display", "sdl"], "-nographic"),
            ([], "nothing to run"),
            (["-m", "1G"], "nothing to run"),
        ]
        for args, mentions in cases:
            with self.subTest(args=args):
                self.assert_usage_error(args, mentions)

    def test_display_options(self):
        self.assert_usage_error(["-kernel", F.kernel, "-nographic", "-vga", "std", "-device", "bochs-display"],
                                "only one display device")
        self.assert_usage_error(["-kernel", F.kernel, "-nographic", "-screendump-on-exit", F.dir + "/s.png"],
                                "needs a display device")
        self.assert_usage_error(["-bare", F.bare, "-screendump-on-exit", F.dir + "/s.png"], "needs -kernel")
        self.assert_usage_error(["-kernel", F.kernel, "-vga", "std", "-screendump-on-exit", F.missing_dir_file],
                                "-screendump-on-exit")
        self.assert_usage_error(["-kernel", F.kernel, "-nographic", "-device", "bochs-display,vgamem=64"],
                                "unknown option 'vgamem'")

    def test_unwritable_output_files(self):
        self.assert_usage_error(["-bare", F.bare, "-dump-state", F.missing_dir_file], "-dump-state")
        self.assert_usage_error(["-bare", F.bare, "-dump-state", F.dir], "-dump-state")
        self.assert_usage_error(["-bare", F.bare, "-D", F.missing_dir_file], "-D")
        # The folder exists but no file can be created in it: found when the log is opened.
        if os.path.isdir("/proc/self"):
            self.assert_usage_error(["-bare", F.bare, "-D", "/proc/self/emu64.log"], "-D")

    def test_control_characters_in_values_stay_on_one_line(self):
        self.assert_usage_error(["-kernel", F.kernel, "-m", "1\n2"], "-m")


class InformationRequests(CliTestCase):
    def test_help_lists_every_option(self):
        for flag in ["--help", "-help", "-h"]:
            with self.subTest(flag=flag):
                rc, out, err = run(flag)
                self.assertEqual((rc, err), (0, ""))
                for option in ALL_OPTIONS:
                    self.assertRegex(out, r"(^|[\s,])" + re.escape(option) + r"([\s,]|$)", f"{option} missing")

    def test_help_wins_over_other_options(self):
        rc, out, _ = run("-m", "0", "-help")
        self.assertEqual(rc, 0)
        self.assertIn("-kernel", out)

    def test_version(self):
        for flag in ["--version", "-version"]:
            with self.subTest(flag=flag):
                rc, out, err = run(flag)
                self.assertEqual((rc, err), (0, ""))
                self.assertRegex(out, r"^emu64 \d+\.\d+\.\d+\n")
                self.assertRegex(out, r"capstone \d+\.\d+")

    def test_log_help_lists_categories_that_the_parser_accepts(self):
        rc, out, err = run("-d", "help")
        self.assertEqual((rc, err), (0, ""))
        keywords = [line.split()[0] for line in out.splitlines()[1:] if line.strip()]
        for expected in ["in_asm", "out_asm", "op", "int", "mmu", "page_track", "guest_errors", "unimp"]:
            self.assertIn(expected, keywords)
        # Each listed category is accepted and sets its own bit; "all" is their union.
        masks = [self.kernel_config("-d", k)["log_mask"] for k in keywords]
        for mask in masks:
            self.assertEqual(bin(mask).count("1"), 1)
        self.assertEqual(len(set(masks)), len(masks))
        union = 0
        for mask in masks:
            union |= mask
        self.assertEqual(self.kernel_config("-d", "all")["log_mask"], union)
        self.assertEqual(self.kernel_config("-d", ",".join(keywords[:2]))["log_mask"], masks[0] | masks[1])


class ParsedValues(CliTestCase):
    def test_ram_size_follows_qemu(self):
        cases = {
            "512": 512 * MIB,  # no suffix: MiB
            "512M": 512 * MIB,
            "512m": 512 * MIB,
            "2G": 2 << 30,
            "size=1G": 1 << 30,
            "65536K": 64 * MIB,
            "0x10": 16 * MIB,
            "1T": 1 << 40,
            "1k": 4096,  # rounded up to a whole page
            "4097K": 4100 * 1024,
        }
        for value, expected in cases.items():
            with self.subTest(value=value):
                self.assertEqual(self.kernel_config("-m", value)["ram_bytes"], expected)
        self.assertEqual(self.kernel_config()["ram_bytes"], 128 * MIB)  # QEMU's default
        self.assertEqual(self.kernel_config("-m", "1G", "-m", "2G")["ram_bytes"], 2 << 30)  # last one wins

    def test_smp_topology(self):
        # QEMU (>= 6.2) derives omitted counts from the others, preferring cores over sockets.
        cases = {"2": (2, 1, 2, 1), "cpus=4": (4, 1, 4, 1), "4,sockets=2": (4, 2, 2, 1), "4,cores=1": (4, 4, 1, 1),
                 "8,sockets=2,cores=2": (8, 2, 2, 2), "sockets=2,cores=3": (6, 2, 3, 1),
                 "6,threads=3": (6, 1, 2, 3), "4,maxcpus=4": (4, 1, 4, 1), "64": (64, 1, 64, 1)}
        for value, (cpus, sockets, cores, threads) in cases.items():
            with self.subTest(value=value):
                c = self.kernel_config("-smp", value)
                self.assertEqual((c["smp"], c["sockets"], c["cores"], c["threads"]), (cpus, sockets, cores, threads))

    def test_kernel_options(self):
        c = self.kernel_config("-initrd", F.initrd, "-append", "-v console=ttyS0 quiet", "-smp", "cpus=4",
                               "-mmu", "walk", "-no-reboot", "-serial", "file:" + F.missing, "-serial", "null")
        self.assertEqual(c["kernel"], F.kernel)
        self.assertEqual(c["initrd"], F.initrd)
        self.assertEqual(c["append"], "-v console=ttyS0 quiet")  # a value may start with '-'
        self.assertEqual(c["smp"], 4)
        self.assertEqual(c["mmu"], "walk")
        self.assertTrue(c["no_reboot"])
        self.assertTrue(c["nographic"])
        self.assertEqual(c["effective_display"], "none")
        self.assertEqual([(s["kind"], s["path"]) for s in c["serials"]], [("file", F.missing), ("null", "")])
        self.assertIsNone(c["bare"])
        self.assertEqual(self.kernel_config("-append", "")["append"], "")
        self.assertEqual(self.kernel_config()["mmu"], "shadow")

    def test_debugger_options(self):
        self.assertEqual(self.kernel_config("-s")["gdb"], "tcp::1234")
        self.assertEqual(self.kernel_config("-gdb", "tcp::4321")["gdb"], "tcp::4321")
        self.assertIsNone(self.kernel_config()["gdb"])
        self.assertTrue(self.kernel_config("-S")["start_stopped"])
        self.assertEqual(self.kernel_config("-D", os.path.join(F.dir, "log.txt"))["log_file"],
                         os.path.join(F.dir, "log.txt"))

    def test_accelerator(self):
        def want(backend="jit", tb_size_mib=64, perf_map=False):  # QEMU's tb-size is in MiB
            return {"backend": backend, "jit": {"code_cache_bytes": tb_size_mib * MIB, "perf_map": perf_map}}

        cases = [
            ([], want()),
            (["-accel", "tcg"], want()),
            (["-accel", "accel=tcg"], want()),  # QEMU's implied key
            (["-accel", "tcg,jit=on"], want()),
            (["-accel", "tcg,jit=off"], want("interpreter")),
            (["-accel", "tcg,tb-size=8"], want(tb_size_mib=8)),
            (["-accel", "tcg,tb-size=1"], want(tb_size_mib=1)),
            (["-accel", "tcg,tb-size=2048"], want(tb_size_mib=2048)),
            (["-accel", "tcg,jit=off,tb-size=8"], want("interpreter", 8)),
            (["-accel", "tcg,tb-size=8,jit=off,jit=on"], want(tb_size_mib=8)),  # a repeated property: the last
            # Several -accel: QEMU's fallback list, of which the first that works (tcg always does) is used.
            (["-accel", "tcg,jit=off", "-accel", "tcg,tb-size=4"], want("interpreter")),
            (["-perfmap"], want(perf_map=True)),
            (["-perfmap", "-accel", "tcg,tb-size=16"], want(tb_size_mib=16, perf_map=True)),
        ]
        for args, expected in cases:
            for config in [self.kernel_config, self.bare_config]:
                with self.subTest(args=args, machine=config.__name__):
                    c = config(*args)
                    self.assertEqual({"backend": c["backend"], "jit": c["jit"]}, expected)

    def test_vcpu_threads(self):
        # A host thread per vCPU by default (QEMU's MTTCG for an x86 guest on an x86 host); thread=single: round-robin.
        for args, threads in [([], "multi"), (["-accel", "tcg,thread=single"], "single"),
                              (["-accel", "tcg,thread=multi"], "multi"),
                              (["-accel", "tcg,thread=single,jit=off"], "single"),
                              (["-accel", "tcg,thread=single", "-accel", "tcg"], "single")]:
            with self.subTest(args=args):
                self.assertEqual(self.kernel_config("-smp", "2", *args)["vcpu_threads"], threads)
        self.assert_usage_error(["-kernel", F.kernel, "-accel", "tcg,thread=many"], "thread=")

    def test_cpu_models(self):
        # -cpu MODEL[,vendor=...][,+feat][,-feat] (issue #17): the model's name reaches the configuration.
        for args, name in [([], "max"), (["-cpu", "max"], "max"), (["-cpu", "host"], "host"),
                           (["-cpu", "qemu64"], "qemu64"), (["-cpu", "EPYC,vendor=intel,-popcnt"], "EPYC"),
                           (["-cpu", "Skylake-Client,+sse3,adx=off"], "Skylake-Client"),
                           (["-cpu", "Opteron_G5"], "Opteron_G5")]:
            with self.subTest(args=args):
                self.assertEqual(self.bare_config(*args)["cpu"], name)

    def test_cpu_help_lists_models_and_features(self):
        rc, out, err = run("-cpu", "help")
        self.assertEqual((rc, err), (0, ""))
        for model in ["max", "host", "qemu64", "Opteron_G1", "Opteron_G2", "Opteron_G3", "Opteron_G4", "Opteron_G5",
                      "EPYC", "Skylake-Client"]:
            self.assertIn(f"  {model} (", out)
        self.assertIn("AuthenticAMD", out)
        self.assertIn("advertises:", out)
        self.assertIn("not implemented by emu64", out)

    def test_bad_cpu_specs(self):
        # Unknown models, vendors and features, and features emu64 does not implement: status 2, one clear line.
        for spec, message in [("Pentium9", "unknown CPU model"), ("qemu64,vendor=via", "unknown vendor"),
                              ("max,+frobnicate", "unknown CPU feature"), ("max,-frobnicate", "unknown CPU feature"),
                              ("max,+bmi2", "not implemented by emu64"), ("max,popcnt", "expected vendor="),
                              ("", "unknown CPU model")]:
            with self.subTest(spec=spec):
                rc, _, err = run("-bare", F.bare, "-cpu", spec)
                self.assertEqual(rc, 2, err)
                self.assertIn(message, err)
                self.assertEqual(err.count("\n"), 1, err)

    def test_accelerator_runs_a_guest(self):
        # Both backends run the one-byte HLT binary to completion.
        for accel in ["tcg", "tcg,jit=off", "tcg,tb-size=1"]:
            with self.subTest(accel=accel):
                rc, _, err = run("-bare", F.bare, "-accel", accel, "-timeout", "10")
                self.assertEqual((rc, err), (0, ""))

    def test_long_options_also_take_two_dashes(self):
        c = self.config("--kernel", F.kernel, "--nographic", "--smp", "2", "--m", "64")
        self.assertEqual((c["smp"], c["ram_bytes"]), (2, 64 * MIB))

    def test_bare_defaults(self):
        b = self.bare_config()["bare"]
        self.assertEqual(b["binary"], F.bare)
        self.assertEqual(b["load_address"], 0x10000)
        self.assertEqual(b["start_mode"], "long64")
        self.assertEqual(b["cpl"], 0)
        self.assertEqual(b["regs"], {})
        self.assertEqual(b["maps"], [])

    def test_bare_options(self):
        c = self.bare_config("-load-addr", "0x7c00", "-start-mode", "prot32", "-cpl", "3",
                             "-reg", "rax=0x1234", "-reg", "RSP=4096", "-reg", "r15=0xffffffffffffffff",
                             "-reg", "rip=0x7c00", "-reg", "rflags=0x202", "-reg", "rax=7",
                             "-map", "0x200000:2M", "-map", "1G:4K", "-map", "0x1000:0x3000",
                             "-dump-state", os.path.join(F.dir, "state.json"), "-max-insns", "1000",
                             "-timeout", "2.5")
        b = c["bare"]
        self.assertEqual(b["load_address"], 0x7C00)
        self.assertEqual(b["start_mode"], "prot32")
        self.assertEqual(b["cpl"], 3)
        self.assertEqual(b["regs"], {"rax": 7, "rsp": 4096, "r15": 2**64 - 1, "rip": 0x7C00, "rflags": 0x202})
        self.assertEqual(b["maps"], [{"base": 0x200000, "size": 2 * MIB}, {"base": 1 << 30, "size": 4096},
                                     {"base": 0x1000, "size": 0x3000}])
        self.assertEqual(c["dump_state"], os.path.join(F.dir, "state.json"))
        self.assertEqual(c["max_insns"], 1000)
        self.assertEqual(c["timeout_seconds"], 2.5)
        self.assertEqual(c["effective_display"], "none")
        for mode in ["real", "prot32", "long64"]:
            self.assertEqual(self.bare_config("-start-mode", mode)["bare"]["start_mode"], mode)


class UnimplementedFeatures(CliTestCase):
    def test_refused_not_ignored(self):
        cases = [
            (["-drive", f"file={F.kernel},if=ide"], "if=ide"),
            (["-drive", f"file={F.kernel},format=qcow2"], "format=qcow2"),
            (["-netdev", "tap,id=net0"], "-netdev tap"),
            (["-device", "e1000,netdev=n0"], "-device e1000"),
            (["-nic", "user,model=e1000"], "model=e1000"),
            (["-chardev", "socket,id=c0,path=/tmp/s"], "socket"),
            (["-S"], "-S without -gdb, -qmp or -monitor"),
            (["-serial", "tcp::4444,server"], "-serial"),
            (["-serial", "null", "-serial", "null", "-serial", "null"], "third -serial"),  # COM1 and COM2 only
        ]
        for args, mentions in cases:
            with self.subTest(args=args):
                line = self.assert_usage_error(["-kernel", F.kernel, "-nographic", *args], mentions)
                self.assertIn("is not implemented yet", line)
        self.assert_usage_error(["-kernel", F.kernel, "-nographic", "-vga", "cirrus"], "-vga 'cirrus'")

    def test_second_serial_port_is_com2(self):
        # Two -serial options configure COM1 and COM2 (QEMU's order): the machine opens both backends before it
        # looks at the kernel, so the COM2 file exists even though this kernel is not bootable.
        com2 = os.path.join(F.dir, "com2.txt")
        line = self.assert_usage_error(["-kernel", F.kernel, "-nographic", "-serial", "null", "-serial",
                                        "file:" + com2], "-kernel")
        self.assertNotIn("not implemented", line)
        self.assertTrue(os.path.exists(com2))
        # One terminal cannot serve two ports (QEMU refuses stdio on two character devices too).
        self.assert_usage_error(["-kernel", F.kernel, "-nographic", "-serial", "stdio", "-serial", "stdio"],
                                "-serial stdio")

    def test_default_display_is_refused_when_it_is_graphical(self):
        # Without -nographic QEMU opens a window; if the default display is graphical and there is nothing to show
        # in it (no -vga std or display -device), emu64 must say so rather than run headless.
        display = self.config("-kernel", F.kernel)["effective_display"]
        if display != "none":
            line = self.assert_usage_error(["-kernel", F.kernel], "-display " + display)
            self.assertTrue("no display device" in line or "is not implemented yet" in line, line)

    def test_sdl_window_without_an_x_server(self):
        # The window cannot open: SDL's reason on one line, status 2, before the (unbootable) kernel is read.
        if self.config("-kernel", F.kernel)["effective_display"] != "sdl":
            self.skipTest("built without SDL2")
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        proc = subprocess.run([EMU64, "-kernel", F.kernel, "-display", "sdl", "-vga", "std"], capture_output=True,
                              text=True, timeout=30, env=env)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertEqual(len(proc.stderr.splitlines()), 1, proc.stderr)
        self.assertTrue(proc.stderr.startswith("emu64: -display sdl: "), proc.stderr)


class DisplayConfig(CliTestCase):
    def test_vga_std_is_a_bochs_display_first_on_the_bus(self):
        c = self.kernel_config("-device", "virtio-rng-pci", "-vga", "std")
        self.assertEqual([d["driver"] for d in c["devices"]], ["bochs-display", "virtio-rng-pci"])
        c = self.kernel_config("-device", "virtio-rng-pci", "-device", "bochs-display", "-vga", "none")
        self.assertEqual([d["driver"] for d in c["devices"]], ["virtio-rng-pci", "bochs-display"])

    def test_gpu_engine_is_an_emu64_gpu_with_1mib_of_vram(self):
        c = self.kernel_config("-device", "virtio-rng-pci", "-gpu-engine")
        self.assertEqual([(d["driver"], d["vram_bytes"]) for d in c["devices"]],
                         [("virtio-rng-pci", 0), ("emu64-gpu", 1 << 20)])
        self.assert_usage_error(["-kernel", F.kernel, "-nographic", "-gpu-engine", "-vga", "std"],
                                "only one display device")
        c = self.kernel_config("-gpu-engine", "-screendump-on-exit", os.path.join(F.dir, "shot.png"))
        self.assertTrue(c["screendump_on_exit"].endswith("shot.png"))

    def test_screendump_path(self):
        path = os.path.join(F.dir, "shot.png")
        c = self.kernel_config("-vga", "std", "-screendump-on-exit", path)
        self.assertEqual(c["screendump_on_exit"], path)
        self.assertFalse(os.path.exists(path))  # the writability check leaves nothing behind


class DeviceOptions(CliTestCase):
    """-drive, -netdev, -nic, -device, -chardev: QEMU's key=value specs, checked at parse time (the machine opens the
    images before it reads the kernel, so image errors come before the test kernel is refused)."""

    def test_specs_are_parsed(self):
        c = self.kernel_config("-drive", f"file={F.kernel},format=raw,if=virtio,readonly=on,cache=unsafe",
                               "-drive", f"file={F.initrd},if=none,id=d1",
                               "-device", "virtio-blk-pci,drive=d1,serial=s1",
                               "-netdev", "user,id=n0,hostfwd=tcp::5555-:22,hostfwd=udp:127.0.0.1:6000-10.0.2.15:60",
                               "-device", "virtio-net-pci,netdev=n0", "-device", "virtio-rng-pci",
                               "-device", "virtio-serial-pci", "-chardev", "null,id=c0",
                               "-device", "virtconsole,chardev=c0")
        self.assertEqual([d["read_only"] for d in c["drives"]], [True, False])
        self.assertEqual(c["drives"][0]["cache"], "unsafe")
        self.assertEqual(c["drives"][1]["if"], "none")
        # if=virtio drives come first, then the -device list in order.
        self.assertEqual([d["driver"] for d in c["devices"]],
                         ["virtio-blk-pci", "virtio-blk-pci", "virtio-net-pci", "virtio-rng-pci", "virtio-serial-pci",
                          "virtconsole"])
        self.assertEqual(c["devices"][1]["serial"], "s1")
        fwd = c["netdevs"][0]["hostfwd"]
        self.assertEqual([(f["udp"], f["host_addr"], f["host_port"], f["guest_addr"], f["guest_port"]) for f in fwd],
                         [(False, "", 5555, "", 22), (True, "127.0.0.1", 6000, "10.0.2.15", 60)])

    def test_nic_is_a_netdev_and_its_device(self):
        c = self.kernel_config("-nic", "user,hostfwd=tcp::8080-:80")
        self.assertEqual(c["netdevs"][0]["id"], "nic0")
        self.assertEqual(c["netdevs"][0]["hostfwd"][0]["host_port"], 8080)
        self.assertEqual([(d["driver"], d["netdev"]) for d in c["devices"]], [("virtio-net-pci", "nic0")])

    def test_bad_specs(self):
        cases = [
            (["-drive", f"file={F.kernel},bogus=1"], "unknown option 'bogus'"),
            (["-drive", f"file={F.kernel},readonly=maybe"], "readonly="),
            (["-drive", f"file={F.kernel},cache=fast"], "cache="),
            (["-drive", "if=virtio"], "file="),
            (["-drive", f"file={F.kernel},if=none"], "id="),
            (["-drive", f"file={F.kernel},id=a,if=none", "-drive", f"file={F.kernel},id=a,if=none"], "duplicate id"),
            (["-netdev", "user"], "id="),
            (["-netdev", "user,id=n0,hostfwd=tcp::99999-:22"], "hostfwd="),
            (["-netdev", "user,id=n0,hostfwd=icmp::22-:22"], "hostfwd="),
            (["-netdev", "user,id=n0,smb=/tmp"], "unknown option 'smb'"),
            (["-netdev", "socks,id=n0"], "unknown network backend"),
            (["-device", "virtio-blk-pci"], "drive="),
            (["-device", "virtio-blk-pci,drive=nope"], "no -drive with id 'nope'"),
            (["-device", "virtio-net-pci,netdev=nope"], "no -netdev with id 'nope'"),
            (["-device", "virtio-rng-pci,speed=9"], "unknown option 'speed'"),
            (["-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0", "-device", "virtio-net-pci,netdev=n0"],
             "already in use"),
            (["-chardev", "null,id=c0", "-device", "virtconsole,chardev=c0"], "virtio-serial-pci"),
            (["-chardev", "file,id=c0"], "path="),
        ]
        for args, mentions in cases:
            with self.subTest(args=args):
                self.assert_usage_error(["-kernel", F.kernel, "-nographic", *args], mentions)

    def test_missing_or_locked_image(self):
        self.assert_usage_error(["-kernel", F.kernel, "-nographic", "-drive", f"file={F.missing},if=virtio"],
                                "cannot open the disk image")
        # Another process holding a write lock on the image (as a running emu64 does): POSIX record locks and
        # emu64's open-file-description locks conflict.
        with open(F.initrd, "r+b") as f:
            fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            for readonly in ["off", "on"]:
                with self.subTest(readonly=readonly):
                    self.assert_usage_error(["-kernel", F.kernel, "-nographic", "-drive",
                                             f"file={F.initrd},if=virtio,readonly={readonly}"], "in use by another")
        # Unlocked, the image opens and the run goes on to the (unbootable) test kernel.
        self.assert_usage_error(["-kernel", F.kernel, "-nographic", "-drive", f"file={F.initrd},if=virtio"], "-kernel")

class HostileInputs(CliTestCase):
    """Inputs a hostile user would try (issue #16): each refused with one line and status 2, before the guest runs."""

    def test_files_whose_read_fails(self):
        # /proc/self/mem passes every check made when the command line is parsed (it exists, it is a regular file,
        # it opens) but reading it fails: the machine must say so, not die of an exception.
        if not os.path.exists("/proc/self/mem"):
            self.skipTest("no /proc")
        for args, option in [(["-kernel", "/proc/self/mem"], "-kernel"),
                             (["-kernel", F.kernel, "-initrd", "/proc/self/mem"], "-initrd"),
                             (["-bare", "/proc/self/mem"], "-bare")]:
            with self.subTest(args=args):
                line = self.assert_usage_error([*args, "-nographic", "-timeout", "10"], option)
                self.assertIn("cannot read /proc/self/mem", line)

    def test_empty_bare_binary(self):
        empty = os.path.join(F.dir, "empty.bin")
        open(empty, "wb").close()
        line = self.assert_usage_error(["-bare", empty, "-timeout", "10"], "-bare")
        self.assertIn("is empty", line)

    def test_timeout_beyond_the_clock(self):
        # 9.3e9 s overflows a nanosecond clock: it used to stop at once.
        for value in ["9.3e9", "1e10", "1e300"]:
            with self.subTest(value=value):
                self.assert_usage_error(["-bare", F.bare, "-timeout", value], "-timeout")
        self.assertEqual(self.bare_config("-timeout", "1e9")["timeout_seconds"], 1e9)

    def test_map_beyond_the_physical_address_width(self):
        # CPUID reports 40 physical address bits; a -map above them used to alias onto the runner's own identity map.
        for value in ["0x10000000000:4K", "0xFFFFFFF000:8K", "0x1000000000000:2M"]:
            with self.subTest(value=value):
                line = self.assert_usage_error(["-bare", F.bare, "-map", value], "-map")
                self.assertIn("2^40", line)
        self.assertEqual(self.bare_config("-map", "0xFFFFFFF000:4K")["bare"]["maps"],
                         [{"base": 0xFFFFFFF000, "size": 4096}])
        self.assert_usage_error(["-bare", F.bare, "-load-addr", "0x10000000000"], "-load-addr")

    def test_entry_the_start_mode_cannot_execute(self):
        cases = [
            (["-reg", "rip=0x800000000000"], "-reg rip 0x800000000000: not a canonical address"),
            (["-reg", "rip=0x7fffffffffffffff"], "not a canonical address"),
            (["-start-mode", "prot32", "-reg", "rip=0x100000000"], "starts below 4 GiB"),
            (["-start-mode", "real", "-load-addr", "0x110000"], "-load-addr 0x110000: real mode"),
            (["-start-mode", "real", "-reg", "rip=0x10fff0"], "FFFF:FFFF"),
        ]
        for args, mentions in cases:
            with self.subTest(args=args):
                self.assert_usage_error(["-bare", F.bare, *args], mentions)
        self.assertEqual(self.bare_config("-reg", "rip=0xffff800000000000")["bare"]["regs"]["rip"], 0xFFFF800000000000)

    def test_real_mode_start_above_1mib_uses_segment_ffff(self):
        # 0x100000 is FFFF:0010 (the high memory area); the start state used to truncate the paragraph to 0000:0000.
        dump = os.path.join(F.dir, "hma.json")
        rc, _, err = run("-bare", F.bare, "-start-mode", "real", "-load-addr", "0x100000", "-dump-state", dump,
                         "-timeout", "10", "-max-insns", "1000")
        self.assertEqual((rc, err), (0, ""))
        state = json.load(open(dump))
        self.assertEqual((state["cs"]["selector"], state["cs"]["base"], state["rip"]), (0xFFFF, 0xFFFF0, 0x11))

    def test_unwritable_dump_file_is_found_before_the_run(self):
        if not os.path.isdir("/proc/self"):
            self.skipTest("no /proc")
        # The folder exists but nothing can be created in it (even as root); the run would take the whole -timeout.
        loop = os.path.join(F.dir, "loop.bin")
        with open(loop, "wb") as f:
            f.write(b"\xeb\xfe")  # jmp $
        self.assert_usage_error(["-bare", loop, "-timeout", "20", "-dump-state", "/proc/self/state.json"],
                                "-dump-state")
        # The check leaves no file behind when the run does not happen.
        fresh = os.path.join(F.dir, "not_written.json")
        self.bare_config("-dump-state", fresh)
        self.assertFalse(os.path.exists(fresh))


def multiboot_elf(code, bss_bytes, paddr=0x100000):
    """A Multiboot v1 ELF32 kernel: one PT_LOAD segment at paddr holding the Multiboot header and `code` (entered
    right after the header), then bss_bytes of BSS."""
    flags = 0x3
    payload = struct.pack("<III", 0x1BADB002, flags, (-(0x1BADB002 + flags)) & 0xFFFFFFFF) + code
    ehdr = struct.pack("<16sHHIIIIIHHHHHH", b"\x7fELF\x01\x01\x01" + bytes(9), 2, 3, 1, paddr + 12, 52, 0, 0, 52,
                       32, 1, 0, 0, 0)
    phdr = struct.pack("<IIIIIIII", 1, 0x100, paddr, paddr, len(payload), len(payload) + bss_bytes, 7, 0x1000)
    return ehdr + phdr + bytes(0x100 - len(ehdr) - len(phdr)) + payload


class HostileImages(CliTestCase):
    def test_multiboot_huge_bss_costs_no_host_memory(self):
        # A 2 GiB BSS in a 3 GiB guest used to cost a 2 GiB host buffer plus 2 GiB of touched guest RAM. The kernel
        # only leaves through isa-debug-exit (mov al, 0x10; out 0xF4, al): status 33.
        kernel = os.path.join(F.dir, "bss.elf")
        with open(kernel, "wb") as f:
            f.write(multiboot_elf(b"\xb0\x10\xe6\xf4\xf4", 2 << 30))
        proc = subprocess.Popen([EMU64, "-kernel", kernel, "-m", "3G", "-nographic", "-timeout", "20"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        err = proc.stderr.read().decode()
        proc.stderr.close()
        self.assertEqual(os.waitstatus_to_exitcode(status), 33, err)
        self.assertLess(usage.ru_maxrss * 1024, 512 * MIB)  # ru_maxrss is in KiB

    def test_ram_beyond_the_host_memory(self):
        # -m 1T (the largest size accepted) is far beyond this host's memory: guest RAM is reserved, not committed,
        # so the run costs host memory only for what the guest touches (a one-byte hlt binary: nothing). The
        # memslots' write-track counters (2 bytes a guest page, 512 MiB here) are calloc'd and stay untouched too;
        # meson's MALLOC_PERTURB_ would fill them, so the child runs without it.
        with open("/proc/meminfo") as f:
            host_bytes = int(f.readline().split()[1]) * 1024
        self.assertGreater(1 << 40, host_bytes)
        env = {k: v for k, v in os.environ.items() if k != "MALLOC_PERTURB_"}
        proc = subprocess.Popen([EMU64, "-m", "1T", "-bare", F.bare, "-timeout", "20"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        err = proc.stderr.read().decode()
        proc.stderr.close()
        self.assertEqual(os.waitstatus_to_exitcode(status), 0, err)  # the bare runner's halted
        self.assertLess(usage.ru_maxrss * 1024, 256 * MIB)
        self.assert_usage_error(["-m", "1025G", "-bare", F.bare], "-m")

    def test_multiboot_images_that_cannot_load(self):
        code = b"\xb0\x10\xe6\xf4\xf4"
        no_load = bytearray(multiboot_elf(code, 0))
        no_load[52:56] = struct.pack("<I", 4)  # PT_NOTE: no loadable segment is left
        cases = [
            ("outside.elf", multiboot_elf(code, 2 << 30), "outside guest RAM"),  # -m 128M: the BSS does not fit
            ("noload.elf", bytes(no_load), "no loadable segment"),
        ]
        for name, data, message in cases:
            with self.subTest(name=name):
                path = os.path.join(F.dir, name)
                with open(path, "wb") as f:
                    f.write(data)
                line = self.assert_usage_error(["-kernel", path, "-nographic", "-timeout", "10"], "-kernel")
                self.assertIn(message, line)


class Logging(CliTestCase):
    def test_log_file_is_created(self):
        log = os.path.join(F.dir, "emu64.log")
        # Bounded by -max-insns and -timeout whatever the machine does with the one-byte hlt binary.
        run("-bare", F.bare, "-D", log, "-d", "int", "-max-insns", "1000", "-timeout", "5")
        self.assertTrue(os.path.exists(log))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: cli_test.py PATH/TO/emu64")
    EMU64 = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=1)
