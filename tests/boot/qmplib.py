"""A QMP client for the boot tests (qmp_test.py, snapshot_test.py): connects to emu64's -qmp unix socket, reads the
greeting, sends commands and collects the asynchronous events that arrive between replies."""
import json
import socket
import time


class Qmp:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        for _ in range(100):
            try:
                self.sock.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                time.sleep(0.05)
        self.sock.settimeout(10)
        self.buf = b""
        self.events = []
        self.greeting = self.read()

    def read(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("QMP socket closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def raw(self, text):
        """Sends raw bytes; returns the next reply that is not an event."""
        self.sock.sendall(text.encode() + b"\n")
        while True:
            msg = self.read()
            if "event" in msg:
                self.events.append(msg)
            else:
                return msg

    def cmd(self, command, /, **arguments):
        request = {"execute": command, "id": command}
        if arguments:
            request["arguments"] = arguments
        return self.raw(json.dumps(request))

    def wait_event(self, name, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            for e in self.events:
                if e["event"] == name:
                    self.events.remove(e)
                    return e
            try:
                self.sock.settimeout(max(0.01, end - time.time()))
                msg = self.read()
                self.events.append(msg) if "event" in msg else None
            except (socket.timeout, EOFError):
                break
            finally:
                self.sock.settimeout(10)
        return None
