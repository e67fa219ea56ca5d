#!/usr/bin/env python3
"""virtio-net with -netdev user (libslirp) under Debian's kernel: the guest gets 10.0.2.15 from busybox udhcpc,
downloads a file from an HTTP server this script runs on the host's loopback (reached as 10.0.2.2) and checks its
sha256; then busybox httpd serves a page in the guest and the host fetches it through a hostfwd port. The same
boot reads /dev/hwrng (virtio-rng) and writes to hvc0 (virtconsole, whose output goes to a file).

usage: virtio_net_test.py EMU64 ROOT [emu64 args...]
"""
import hashlib
import http.server
import os
import re
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from guestlib import fetch_kernel, kernel_problems, make_initramfs
from harness import check, finish

EMU64, ROOT, EXTRA = sys.argv[1], sys.argv[2], sys.argv[3:]
BLOB = os.urandom(3 << 20)
TOKEN = hashlib.sha256(BLOB).hexdigest()[:16]
done = threading.Event()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/blob.bin":
            self.send_response(200)
            self.send_header("Content-Length", str(len(BLOB)))
            self.end_headers()
            self.wfile.write(BLOB)
        elif self.path == "/done" and done.is_set():
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        else:
            self.send_error(404)

    def log_message(self, *args):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
port = server.server_address[1]
fwd_port = free_port()

SCRIPT = "; ".join([
    "ifconfig lo up",
    "udhcpc -i eth0 -n -q -t 10 >/dev/null 2>&1",
    'echo "address $(ifconfig eth0 | sed -n "s/.*inet addr:\\([0-9.]*\\).*/\\1/p")"',
    f"wget -q -O /tmp/blob http://10.0.2.2:{port}/blob.bin",
    'echo "blob $(sha256sum < /tmp/blob)"',
    'echo "hwrng $(head -c 64 /dev/hwrng | wc -c) $(cat /sys/class/misc/hw_random/rng_current)"',
    'echo "hvc0 says hello" > /dev/hvc0 && echo "hvc0-written"',
    f"mkdir /www; echo 'guest page {TOKEN}' > /www/index.html; httpd -p 8080 -h /www",
    "echo httpd-ready",
    f"i=0; while [ $i -lt 240 ] && ! wget -q -O /dev/null http://10.0.2.2:{port}/done; do sleep 0.25; i=$((i+1)); done",
    "echo guest-done",
])

with tempfile.TemporaryDirectory() as tmp:
    kernel = fetch_kernel(ROOT)
    initrd = make_initramfs(ROOT, kernel, os.path.join(tmp, "init.gz"), SCRIPT)
    hvc_log = os.path.join(tmp, "hvc0.txt")
    start = time.monotonic()
    proc = subprocess.Popen([EMU64, "-kernel", kernel, "-initrd", initrd, "-append", "console=ttyS0", "-nographic",
                             "-timeout", "600", "-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{fwd_port}-:8080",
                             "-device", "virtio-net-pci,netdev=n0", "-device", "virtio-rng-pci",
                             "-device", "virtio-serial-pci", "-chardev", f"file,id=con,path={hvc_log}",
                             "-device", "virtconsole,chardev=con", *EXTRA],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    console = b""
    page = None
    deadline = time.monotonic() + 600
    while proc.poll() is None and time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 1)
        if ready:
            console += os.read(proc.stdout.fileno(), 65536)
        if page is None and re.search(rb"^httpd-ready", console, re.MULTILINE):
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{fwd_port}/index.html", timeout=60).read()
            except OSError as e:
                page = f"error: {e}".encode()
            done.set()
    if proc.poll() is None:
        proc.kill()
    rest, errors = proc.communicate()
    out = (console + rest).decode(errors="replace")
    server.shutdown()
    print(f"virtio-net boot {' '.join(EXTRA)}: {time.monotonic() - start:.1f} s to power-off, status {proc.returncode}")
    check("power-off ends emu64 with status 0", proc.returncode == 0, errors[-500:])
    check("the script ran to the end", "guest-done" in out and "emu64-exit-status: 0" in out, out[-3000:])
    check("udhcpc obtained 10.0.2.15", "address 10.0.2.15" in out, out[-3000:])
    check("the file fetched from the host's loopback (10.0.2.2) has the right sha256",
          f"blob {hashlib.sha256(BLOB).hexdigest()}" in out)
    check("the host fetched the guest's httpd page through hostfwd", page == f"guest page {TOKEN}\n".encode(), page)
    check("virtio-rng is the guest's hw_random source", "hwrng 64 virtio_rng" in out, out[-2000:])
    check("hvc0 (virtconsole) output reaches its chardev file", "hvc0-written" in out and os.path.exists(hvc_log) and
          open(hvc_log, "rb").read().count(b"hvc0 says hello") == 1)
    check("kernel log has no BUG/WARNING/Oops/panic/timed out", not kernel_problems(out), kernel_problems(out)[:5])
finish()
