#!/usr/bin/env python3
"""Test tool: drive headless Chromium through the DevTools protocol, with the standard library
only, to watch a page change while it stays open (what --dump-dom cannot: it dumps at once).

Usage: browser.py CHROMIUM URL OUTDIR READY_JS DONE_JS [SECONDS]
  Opens URL; once READY_JS is true in the page, writes its DOM to OUTDIR/ready.html and creates
  OUTDIR/ready; then waits for OUTDIR/go (made by the caller once it changed something); then
  waits until DONE_JS is true and writes the DOM to OUTDIR/done.html. Every wait is bounded by
  SECONDS (default 30). Exits 0 when DONE_JS came true, 1 otherwise (the last DOM is written
  all the same). Chromium talks only to 127.0.0.1.
"""
import base64
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

CHROMIUM, URL, OUT, READY_JS, DONE_JS = sys.argv[1:6]
SECONDS = float(sys.argv[6]) if len(sys.argv) > 6 else 30.0


class WebSocket:
    """A client WebSocket (RFC 6455) for text frames, enough for DevTools."""

    def __init__(self, url):
        m = re.match(r"ws://([^/:]+):(\d+)(/.*)", url)
        if not m:
            raise RuntimeError(f"not a ws:// address: {url}")
        self.sock = socket.create_connection((m.group(1), int(m.group(2))), timeout=SECONDS)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {m.group(3)} HTTP/1.1\r\nHost: {m.group(1)}:{m.group(2)}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
                          .encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.recv_some()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError(f"no WebSocket upgrade: {head[:200]!r}")
        self.next_id = 0

    def recv_some(self):
        data = self.sock.recv(65536)
        if not data:
            raise RuntimeError("DevTools closed the connection")
        return data

    def need(self, n):
        while len(self.buf) < n:
            self.buf += self.recv_some()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, text):
        data = text.encode()
        mask = os.urandom(4)
        head = bytes([0x81])
        if len(data) < 126:
            head += bytes([0x80 | len(data)])
        elif len(data) < 65536:
            head += bytes([0x80 | 126]) + len(data).to_bytes(2, "big")
        else:
            head += bytes([0x80 | 127]) + len(data).to_bytes(8, "big")
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def recv(self):
        message = b""
        while True:
            b0, b1 = self.need(2)
            n = b1 & 0x7F
            if n == 126:
                n = int.from_bytes(self.need(2), "big")
            elif n == 127:
                n = int.from_bytes(self.need(8), "big")
            payload = self.need(n)
            message += payload
            if b0 & 0x80:
                return message.decode()

    def call(self, method, **params):
        self.next_id += 1
        self.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.recv())
            if reply.get("id") == self.next_id:
                return reply.get("result", {})


def devtools_get(port, path):
    """GET one of the DevTools HTTP endpoints (it answers HTTP/1.1 with a Content-Length)."""
    with socket.create_connection(("127.0.0.1", port), timeout=SECONDS) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            data += s.recv(65536) or b"\r\n\r\n"
        head, body = data.split(b"\r\n\r\n", 1)
        m = re.search(rb"(?i)content-length:\s*(\d+)", head)
        while m and len(body) < int(m.group(1)):
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
        return body


def evaluate(ws, expr):
    r = ws.call("Runtime.evaluate", expression=expr, returnByValue=True)
    return r.get("result", {}).get("value")


def wait_js(ws, expr):
    deadline = time.monotonic() + SECONDS
    while time.monotonic() < deadline:
        if evaluate(ws, f"!!({expr})"):
            return True
        time.sleep(0.1)
    return False


def dump(ws, name):
    with open(os.path.join(OUT, name), "w") as f:
        f.write(evaluate(ws, "document.documentElement.outerHTML") or "")


def main():
    profile = tempfile.mkdtemp(prefix="browser-profile-")
    proc = subprocess.Popen([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                             "--disable-quic", "--no-first-run", "--disable-background-networking",
                             "--disable-component-update", "--disable-sync",
                             "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
                             f"--user-data-dir={profile}", URL],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        ws_url = None
        deadline = time.monotonic() + SECONDS
        while ws_url is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            m = re.search(r"DevTools listening on (ws://\S+)", line)
            if m:
                ws_url = m.group(1)
        if ws_url is None:
            print("browser.py: Chromium gave no DevTools address", file=sys.stderr)
            return 1
        port = re.match(r"ws://[^:]+:(\d+)/", ws_url).group(1)
        page = None
        while page is None and time.monotonic() < deadline:
            targets = json.loads(devtools_get(int(port), "/json/list"))
            page = next((t for t in targets if t.get("type") == "page"), None)
            if page is None:
                time.sleep(0.1)
        ws = WebSocket(page["webSocketDebuggerUrl"])
        ok = wait_js(ws, READY_JS)
        dump(ws, "ready.html")
        if not ok:
            print(f"browser.py: never ready: {READY_JS}", file=sys.stderr)
            return 1
        open(os.path.join(OUT, "ready"), "w").close()
        go_deadline = time.monotonic() + SECONDS
        while not os.path.exists(os.path.join(OUT, "go")) and time.monotonic() < go_deadline:
            time.sleep(0.05)
        ok = wait_js(ws, DONE_JS)
        dump(ws, "done.html")
        return 0 if ok else 1
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        subprocess.run(["rm", "-rf", profile], check=False)


sys.exit(main())
