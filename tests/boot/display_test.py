#!/usr/bin/env python3
"""The GPU's display under Debian's generic kernel (issue #13, acceptance 3 and 4): the bochs DRM driver binds to
emu64's bochs-display (dmesg, /sys/class/drm), the framebuffer console is on it, and the picture is checked pixel by
pixel: two lines of text the guest prints on the console, one in the default colours and one bright yellow on blue,
must be in the cells the escape sequences put them in, in exactly the console palette's colours, with the same glyph
shapes in both lines (text_problems in imagelib.py), and the rest of the cleared screen black.

headless: -nographic -vga std -screendump-on-exit, the PNG decoded and checked.
sdl: -display sdl in a real window on Xvfb; xwd takes a screenshot of the X screen (the window, not the device's
buffer), which must show the console text; xdotool types a command into the window, which the guest's shell on tty1
runs (its output comes back on the serial console).

usage: display_test.py EMU64 ROOT headless|sdl [emu64 args...]
"""
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time

from guestlib import kernel_problems
from harness import check, finish
from imagelib import BLUE, BRIGHT_YELLOW, read_png, read_xwd, text_problems

EMU64, ROOT, MODE = sys.argv[1], sys.argv[2], sys.argv[3]
EXTRA = sys.argv[4:]
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


def headless(tmp):
    kernel = subprocess.run([tools("fetch-kernel"), "generic"], check=True, capture_output=True, text=True).stdout.strip()
    initrd = os.path.join(tmp, "initrd.gz")
    subprocess.run([tools("mkinitramfs"), "-o", initrd, "--modules", os.path.join(os.path.dirname(kernel), "modules"),
                    "--run", PROBE + "; echo text-printed"], check=True, capture_output=True)
    shot = os.path.join(tmp, "screen.png")
    start = time.monotonic()
    proc = subprocess.run([EMU64, "-kernel", kernel, "-initrd", initrd, "-append", APPEND, "-nographic", "-vga", "std",
                           "-screendump-on-exit", shot, "-timeout", "300", *EXTRA],
                          capture_output=True, stdin=subprocess.DEVNULL, timeout=400)
    out = proc.stdout.decode(errors="replace")
    print(f"headless: {time.monotonic() - start:.1f} s to power-off, emu64 status {proc.returncode}")
    check("power-off ends emu64 with status 0", proc.returncode == 0, proc.stderr.decode(errors="replace")[-500:])
    check("the script ran to the end", "text-printed" in out and "emu64-exit-status: 0" in out, out[-2000:])
    check_guest_report(out)
    check("fb0's lines are 4096 bytes (1024 pixels of 32 bits)", "fb-stride: 4096" in out, out[-2000:])
    if not os.path.exists(shot):
        check("the screendump was written", False)
        return
    width, height, rows = read_png(shot)
    check("the screendump is the 1024x768 console mode", (width, height) == (1024, 768), f"{width}x{height}")
    if (width, height) != (1024, 768):
        return
    problems = console_problems(rows)
    check("both printed lines are where the console put them, in its colours", not problems, "; ".join(problems[:6]))
    cells = {(TEXT_ROW, TEXT_COL + i) for i in range(len(TEXT))}
    cells |= {(COLOUR_ROW, COLOUR_COL + i) for i in range(len(COLOUR_TEXT))}
    stray = [(x, y) for y in range(height) for x in range(width)
             if (y // 16, x // 8) not in cells and rows[y][x] != (0, 0, 0)]
    check("everything else on the cleared screen is black", not stray, f"{len(stray)} pixels, first {stray[:3]}")


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
