"""Shared by the Linux device tests (tests/boot/virtio_*_test.py): Debian's kernel with its virtio modules, a
busybox initramfs that runs a script, ext4 images made from host folders, and an emu64 run with a console log."""
import os
import pty
import re
import select
import subprocess
import time


def tool(root, name):
    return os.path.join(root, "guest-images/linux", name)


def fetch_kernel(root, flavour="cloud"):
    """The vmlinuz path; its modules/ folder (the virtio drivers) sits beside it."""
    return subprocess.run([tool(root, "fetch-kernel"), flavour], check=True, capture_output=True,
                          text=True).stdout.strip()


def make_initramfs(root, kernel, out, script=None, adds=()):
    """An initramfs whose /init loads the kernel's virtio modules, then runs `script` and powers off (without one:
    starts the interactive shell). `adds`: "HOSTFILE:/guest/path" files to put in it."""
    modules = os.path.join(os.path.dirname(kernel), "modules")
    add_args = [arg for spec in adds for arg in ("--add", spec)]
    subprocess.run([tool(root, "mkinitramfs"), "-o", out, "--modules", modules, *add_args,
                    *(["--run", script] if script else [])], check=True, capture_output=True)
    return out


def make_ext4(root, out, folder=None, size="64M"):
    args = [tool(root, "mkext4"), "-o", out, "-s", size] + (["-d", folder] if folder else [])
    subprocess.run(args, check=True, capture_output=True)
    return out


def kernel_problems(console):
    """Kernel log lines that mean something went wrong (the same rule as linux_test.py)."""
    return [line for line in console.splitlines() if re.search(r"\bBUG\b|WARNING|Oops|panic|timed out", line)]


def e2fsck(image, repair=False):
    """(exit status, output) of e2fsck -f on image: -n checks only, -y replays the journal and repairs."""
    proc = subprocess.run(["/sbin/e2fsck", "-f", "-y" if repair else "-n", image], capture_output=True, text=True)
    return proc.returncode, proc.stdout + proc.stderr


def debugfs_cat(image, path):
    """The bytes of `path` inside the ext4 image (None if it is not there)."""
    proc = subprocess.run(["/sbin/debugfs", "-R", f"cat {path}", image], capture_output=True)
    if b"File not found" in proc.stderr:
        return None
    return proc.stdout


class Terminal:
    """A program on a pseudo-terminal, as a user at a terminal runs it: what it printed so far (`seen`), waiting for
    a pattern, typing."""

    def __init__(self, argv):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execv(argv[0], argv)
        self.seen = b""

    def wait_for(self, pattern, seconds):
        """Whether `pattern` (bytes regex) appears in the output within `seconds`."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if re.search(pattern, self.seen):
                return True
            ready, _, _ = select.select([self.fd], [], [], 1)
            if ready:
                try:
                    self.seen += os.read(self.fd, 4096)
                except OSError:  # the program exited and closed the terminal
                    break
        return re.search(pattern, self.seen) is not None

    def type(self, text):
        os.write(self.fd, text)

    def exit_status(self):
        """Waits for the program; its exit status (-1 if a signal ended it)."""
        _, status = os.waitpid(self.pid, 0)
        return os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
