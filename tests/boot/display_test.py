#!/usr/bin/env python3
"""The GPU's display under Debian's generic kernel (issue #13, acceptance 3 and 4): the bochs DRM driver binds to
emu64's display (dmesg, /sys/class/drm), the framebuffer console is on it, and the picture is checked pixel by pixel:
two lines of text the guest prints on the console, one in the default colours and one bright yellow on blue, must be
in the cells the escape sequences put them in, in exactly the console palette's colours, with the same glyph shapes in
both lines (text_problems in imagelib.py), and the rest of the cleared screen black.

headless: the whole GPU (-device emu64-gpu: display and copy engine) with -nographic. Besides the console text, a
pattern of 16 full lines written to /dev/fb0 must appear pixel for pixel; the picture is taken three ways (QMP
`screendump`, the human monitor's `screendump` through QMP, -screendump-on-exit); then the engine's guest tool
(guest-images/gpu-tool) passes its checks and 200 live table edits inside the same Linux.
sdl: -vga std with -display sdl in a real window on Xvfb; xwd takes a screenshot of the X screen (the window, not the
device's buffer), which must show the console text; xdotool types a command into the window, which the guest's shell
on tty1 runs (its output comes back on the serial console).

usage: display_test.py EMU64 ROOT headless GPU_TOOL | sdl [emu64 args...]
"""
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time

from guestlib import kernel_problems
from qmp_test import Qmp
from harness import check, finish
from imagelib import BLUE, BRIGHT_YELLOW, read_png, read_xwd, text_problems

EMU64, ROOT, MODE = sys.argv[1], sys.argv[2], sys.argv[3]
GPU_TOOL = sys.argv[4] if MODE == "headless" else None
EXTRA = sys.argv[5:] if MODE == "headless" else sys.argv[4:]
APPEND = "console=ttyS0 quiet"
TEXT, TEXT_ROW, TEXT_COL = "ABABAB", 2, 4   # printed at console row 3, column 5 (1-based, as the escape counts)
COLOUR_TEXT, COLOUR_ROW, COLOUR_COL = "BABA", 20, 70  # bright yellow on blue, further down and right


def tools(name):
    return os.path.join(ROOT, "guest-images/linux", name)


# What the guest reports about the display, then the console text (screen cleared, cursor hidden).
PROBE = "; ".join([
    "echo drm-class: $(ls /sys/class/drm)",
    "echo fb-name: $(cat /sys/class/graphics/fb0/name)",
    "echo fb-stride: $(cat /sys/class/graphics/fb0/stride)",
    "echo pci-id: $(cat /sys/class/drm/card0/device/vendor) $(cat /sys/class/drm/card0/device/device)",
    "echo driver: $(basename $(readlink /sys/class/drm/card0/device/driver))",
    "for v in /sys/class/vtconsole/vtcon*; do echo vtcon: $(cat $v/name) bind=$(cat $v/bind); done",
    "dmesg | grep -E 'bochs|frame buffer'",
    f"printf '\\033[H\\033[2J\\033[?25l\\033[{TEXT_ROW + 1};{TEXT_COL + 1}H{TEXT}"
    f"\\033[{COLOUR_ROW + 1};{COLOUR_COL + 1}H\\033[1;33;44m{COLOUR_TEXT}\\033[0m\\n' > /dev/tty1",
])


def console_problems(rows, origin=(0, 0)):
    """What is wrong with the two printed lines in the picture whose console starts at origin (empty: both there)."""
    masks = {}
    problems = text_problems(rows, TEXT_ROW, TEXT_COL, TEXT, origin, masks=masks)
    problems += text_problems(rows, COLOUR_ROW, COLOUR_COL, COLOUR_TEXT, origin, BRIGHT_YELLOW, BLUE, masks)
    return problems


def check_guest_report(out):
    check("the bochs DRM driver found the device", "[drm] Found bochs VGA, ID 0xb0c" in out, out[-3000:])
    check("/sys/class/drm has card0 and its connector",
          re.search(r"drm-class: .*card0 .*card0-Virtual-1", out) is not None, out[-3000:])
    check("card0 is PCI 1234:1111 bound to bochs-drm",
          "pci-id: 0x1234 0x1111" in out and "driver: bochs-drm" in out, out[-3000:])
    check("fb0 is the bochs DRM framebuffer", "fb-name: bochs-drmdrmfb" in out, out[-3000:])
    check("the console switched to the framebuffer",
          "Console: switching to colour frame buffer device 128x48" in out
          and re.search(r"vtcon: \(M\) frame buffer device bind=1", out) is not None, out[-3000:])
    check("no kernel problems", not kernel_problems(out), "\n".join(kernel_problems(out))[:2000])


# The /dev/fb0 pattern: 16 whole lines from PATTERN_LINE (console row 25, below both printed lines), every pixel a
# different colour. It goes in one write() of all 16 lines: Linux 6.1's fbdev emulation turns a write of exactly one
# whole line into an empty damage rectangle (x2 = end % line_length = 0), so its shadow buffer never reaches VRAM.
PATTERN_LINE, PATTERN_LINES = 400, 16


def pattern_pixel(x, y):
    """The colour of pixel x of pattern line y (0-15)."""
    return ((x * 7 + y * 31) & 0xFF, x >> 2, 0x80 | (y << 3))


def write_pattern(path):
    with open(path, "wb") as f:
        for y in range(PATTERN_LINES):
            # XRGB8888 little-endian: B, G, R, X in memory.
            f.write(b"".join(bytes((b, g, r, 0)) for r, g, b in (pattern_pixel(x, y) for x in range(1024))))


def picture_problems(path, what):
    """Checks one screenshot: the 1024x768 mode, both text lines, the pattern, everything else black."""
    if not os.path.exists(path):
        check(f"{what}: the PNG was written", False)
        return
    width, height, rows = read_png(path)
    check(f"{what}: the picture is the 1024x768 console mode", (width, height) == (1024, 768), f"{width}x{height}")
    if (width, height) != (1024, 768):
        return
    problems = console_problems(rows)
    check(f"{what}: both printed lines are where the console put them, in its colours", not problems,
          "; ".join(problems[:6]))
    wrong = [(x, y) for y in range(PATTERN_LINES) for x in range(width)
             if rows[PATTERN_LINE + y][x] != pattern_pixel(x, y)]
    check(f"{what}: the pattern written to /dev/fb0 is there pixel for pixel", not wrong,
          f"{len(wrong)} pixels differ, first {wrong[:3]}: "
          f"{[rows[PATTERN_LINE + y][x] for x, y in wrong[:3]]} vs {[pattern_pixel(x, y) for x, y in wrong[:3]]}")
    cells = {(TEXT_ROW, TEXT_COL + i) for i in range(len(TEXT))}
    cells |= {(COLOUR_ROW, COLOUR_COL + i) for i in range(len(COLOUR_TEXT))}
    stray = [(x, y) for y in range(height) for x in range(width)
             if (y // 16, x // 8) not in cells and not PATTERN_LINE <= y < PATTERN_LINE + PATTERN_LINES
             and rows[y][x] != (0, 0, 0)]
    check(f"{what}: everything else on the cleared screen is black", not stray, f"{len(stray)} pixels, first {stray[:3]}")


def headless(tmp):
    kernel = subprocess.run([tools("fetch-kernel"), "generic"], check=True, capture_output=True, text=True).stdout.strip()
    pattern = os.path.join(tmp, "pattern")
    write_pattern(pattern)
    # After the text and the pattern, the guest waits on its serial console while the host takes screenshots
    # through the monitor, then runs the engine's tool.
    script = "; ".join([
        PROBE, "echo text-printed",
        f"dd if=/pattern of=/dev/fb0 bs={PATTERN_LINES * 4096} seek={PATTERN_LINE // PATTERN_LINES} conv=notrunc",
        "sleep 1", "echo screen-ready", "read answer", "echo host-says-$answer",
        "gpu_tool check && gpu_tool edit 200"])
    initrd = os.path.join(tmp, "initrd.gz")
    subprocess.run([tools("mkinitramfs"), "-o", initrd, "--modules", os.path.join(os.path.dirname(kernel), "modules"),
                    "--add", f"{pattern}:/pattern", "--add", f"{GPU_TOOL}:/bin/gpu_tool", "--run", script],
                   check=True, capture_output=True)
    shots = {name: os.path.join(tmp, name + ".png") for name in ("qmp", "hmp", "exit")}
    qmp_path = os.path.join(tmp, "qmp.sock")
    start = time.monotonic()
    proc = subprocess.Popen([EMU64, "-kernel", kernel, "-initrd", initrd, "-append", APPEND, "-nographic",
                             "-device", "emu64-gpu", "-screendump-on-exit", shots["exit"], "-timeout", "300",
                             "-qmp", f"unix:{qmp_path},server,wait=off", *EXTRA],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.PIPE)
    seen = [""]
    try:
        ready = wait_for(proc, r"screen-ready", seen, 240)
        check("the guest printed its text and pattern", ready, seen[0][-2000:])
        if ready:
            qmp = Qmp(qmp_path)
            qmp.cmd("qmp_capabilities")
            check("QMP screendump answers {}", qmp.cmd("screendump", filename=shots["qmp"]).get("return") == {})
            reply = qmp.cmd("human-monitor-command", **{"command-line": "screendump " + shots["hmp"]})
            check("the human monitor's screendump prints nothing", reply.get("return") == "", json.dumps(reply))
            bad = qmp.cmd("screendump", filename=os.path.join(tmp, "no-such-dir", "x.png"))
            check("a screendump into a missing folder is a GenericError",
                  bad.get("error", {}).get("class") == "GenericError", json.dumps(bad))
            ppm = qmp.cmd("screendump", filename=os.path.join(tmp, "x.ppm"), format="ppm")
            check("a screendump in another format than png is refused", "only png" in json.dumps(ppm), json.dumps(ppm))
            qmp.sock.close()
            proc.stdin.write(b"go\n")
            proc.stdin.flush()
        wait_for(proc, r"emu64-exit-status", seen, 240)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    seen[0] += proc.stdout.read().decode(errors="replace")
    out = seen[0]
    print(f"headless: {time.monotonic() - start:.1f} s to power-off, emu64 status {proc.returncode}")
    check("power-off ends emu64 with status 0", proc.returncode == 0, proc.stderr.read().decode(errors="replace")[-500:])
    check("the script ran to the end", "host-says-go" in out and "emu64-exit-status: 0" in out, out[-2000:])
    check_guest_report(out)
    check("fb0's lines are 4096 bytes (1024 pixels of 32 bits)", "fb-stride: 4096" in out, out[-2000:])
    check("gpu_tool found the engine through sysfs", "engine BAR4 of" in out, out[-3000:])
    oks = re.findall(r"^ok ", out, re.M)
    check("gpu_tool checks passed", "FAIL" not in out and len(oks) == 9, out[-3000:])
    check("gpu_tool edit rounds: 200 trapped writes", "writes seen 201" in out, out[-3000:])
    for name, path in shots.items():
        picture_problems(path, name)


def wait_for(proc, pattern, seen, seconds):
    """Reads proc's stdout until `pattern` appears (True) or `seconds` pass / the process ends (False)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if re.search(pattern, seen[0]):
            return True
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                return re.search(pattern, seen[0]) is not None
            seen[0] += chunk.decode(errors="replace")
    return re.search(pattern, seen[0]) is not None


def sdl(tmp):
    missing = [tool for tool in ("Xvfb", "xwd", "xdotool") if shutil.which(tool) is None]
    if missing:
        check("Xvfb, xwd and xdotool are installed (tools/setup)", False, f"missing: {missing}")
        return
    kernel = subprocess.run([tools("fetch-kernel"), "generic"], check=True, capture_output=True, text=True).stdout.strip()
    # The shell on tty1 reads what is typed into the window; its command answers on the serial console and exits.
    script = PROBE + "; echo ready-for-keys; sh -i </dev/tty1 >/dev/tty1 2>&1; echo tty1-shell-done"
    initrd = os.path.join(tmp, "initrd.gz")
    subprocess.run([tools("mkinitramfs"), "-o", initrd, "--modules", os.path.join(os.path.dirname(kernel), "modules"),
                    "--run", script], check=True, capture_output=True)
    display = f":{100 + os.getpid() % 800}"
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x1024x24", "-br", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = dict(os.environ, DISPLAY=display)
    try:
        time.sleep(1)
        start = time.monotonic()
        proc = subprocess.Popen([EMU64, "-kernel", kernel, "-initrd", initrd, "-append", APPEND, "-display", "sdl",
                                 "-vga", "std", "-serial", "stdio", "-timeout", "300", *EXTRA],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
        seen = [""]
        ready = wait_for(proc, r"ready-for-keys", seen, 240)
        check("the guest reached the point where it waits for keys", ready, seen[0][-2000:])
        if ready:
            time.sleep(1.5)  # the window repaints within a frame; leave it a few
            shot = os.path.join(tmp, "screen.xwd")
            subprocess.run(["xwd", "-root", "-silent", "-out", shot], env=env, check=True)
            if os.environ.get("DISPLAY_TEST_SAVE"):
                shutil.copy(shot, os.environ["DISPLAY_TEST_SAVE"])
            width, height, rows = read_xwd(shot)
            lit = [(x, y) for y in range(height) for x in range(width) if rows[y][x] != (0, 0, 0)]
            check("the X screen shows something", bool(lit))
            if lit:
                # The window is the only thing on the black root and ABABAB the topmost text in it (the shell's
                # banner comes below): the console's origin is within a cell of that line's top-left lit pixel.
                top = min(y for _, y in lit)
                left = min(x for x, y in lit if y < top + 16)
                origins = [(left - TEXT_COL * 8 - dx, top - TEXT_ROW * 16 - dy) for dy in range(16) for dx in range(8)]
                found = next((o for o in origins if min(o) >= 0 and not console_problems(rows, o)), None)
                print(f"sdl: console text found with the window's origin at {found}")
                check("the window shows the console text", found is not None,
                      "; ".join(console_problems(rows, origins[0])[:6]))
            subprocess.run(["xdotool", "search", "--sync", "--name", "emu64", "windowfocus", "--sync"], env=env,
                           capture_output=True, timeout=20)
            subprocess.run(["xdotool", "type", "--delay", "60", "echo typed-$((6*7)) >/dev/ttyS0; exit"], env=env,
                           check=True, timeout=60)
            subprocess.run(["xdotool", "key", "Return"], env=env, check=True, timeout=20)
            typed = wait_for(proc, r"typed-42", seen, 60)
            check("keys typed into the window reach the guest's shell, which runs them", typed, seen[0][-2000:])
            wait_for(proc, r"emu64-exit-status", seen, 60)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        seen[0] += proc.stdout.read().decode(errors="replace")
        print(f"sdl: {time.monotonic() - start:.1f} s to the end, emu64 status {proc.returncode}")
        check("power-off ends emu64 with status 0", proc.returncode == 0, proc.stderr.read().decode(errors="replace"))
        check_guest_report(seen[0])
    finally:
        xvfb.terminate()
        xvfb.wait()


with tempfile.TemporaryDirectory() as tmp:
    {"headless": headless, "sdl": sdl}[MODE](tmp)
finish()
