"""Headless Chromium with a fake camera fed from a clip, driven over the DevTools protocol.

For the served page's browser tests, its benchmark and the screenshot in its docs: the
page's real camera path (``getUserMedia``) on a .y4m file, no webcam, no display and no
driver package (the protocol is JSON over a WebSocket, spoken with ``websockets``).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request
from fractions import Fraction
from pathlib import Path

import numpy as np

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", "--mute-audio",
         "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
         "--remote-debugging-port=0")


def find_chromium() -> str | None:
    return next((path for name in NAMES if (path := shutil.which(name))), None)


def write_y4m(frames: list[np.ndarray], path: Path, fps: int = 15) -> Path:
    """RGB frames (H, W, 3 uint8, even sides) -> a yuv420p .y4m clip, Chromium's fake camera format."""
    import av
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w", format="yuv4mpegpipe") as out:
        stream = out.add_stream("rawvideo", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for rgb in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


class Chromium:
    """One headless browser showing ``url``, its camera the clip ``camera``."""

    def __init__(self, url: str, camera: Path, window: tuple[int, int] = (1200, 760), timeout: float = 30):
        from websockets.sync.client import connect
        exe = find_chromium()
        if exe is None:
            raise RuntimeError("no Chromium found (Debian: apt-get install chromium)")
        self._profile = tempfile.TemporaryDirectory(prefix="stylecam-chromium-")
        self._proc = subprocess.Popen(
            [exe, *FLAGS, f"--user-data-dir={self._profile.name}", f"--use-file-for-fake-video-capture={camera}",
             f"--window-size={window[0]},{window[1]}", url],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            start_new_session=True)        # its own process group: close() ends its helper processes too
        self._port = self._devtools_port(timeout)
        page = self._page(url, timeout)
        self._ws = connect(page["webSocketDebuggerUrl"], max_size=64 << 20, open_timeout=timeout).__enter__()
        self._next = 0

    def _devtools_port(self, timeout: float) -> int:
        found: dict = {}

        def read():
            for line in self._proc.stderr:
                m = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
                if m and "port" not in found:
                    found["port"] = int(m[1])
        threading.Thread(target=read, daemon=True).start()   # keeps draining stderr afterwards
        deadline = time.monotonic() + timeout
        while "port" not in found:
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError("Chromium did not start (no DevTools port)")
            time.sleep(0.05)
        return found["port"]

    def _page(self, url: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"http://127.0.0.1:{self._port}/json/list", timeout=5) as r:
                pages = [t for t in json.load(r) if t.get("type") == "page"]
            if pages:
                return pages[0]
            time.sleep(0.1)
        raise RuntimeError(f"Chromium opened no page for {url}")

    def call(self, method: str, **params) -> dict:
        self._next += 1
        self._ws.send(json.dumps({"id": self._next, "method": method, "params": params}))
        while True:
            reply = json.loads(self._ws.recv())
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error'].get('message')}")
                return reply["result"]

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (a promise is awaited)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails'].get('exception', {}).get('description')}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 20, every: float = 0.1):
        """Poll until the expression is truthy; its value (TimeoutError after ``timeout`` s)."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"page: {expression} stayed false for {timeout:g} s")
            time.sleep(every)

    def navigate(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def screenshot(self) -> bytes:
        import base64
        return base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])

    def close(self) -> None:
        if getattr(self, "_ws", None) is not None:
            self._ws.__exit__(None, None, None)
        # the browser's helpers (renderer, GPU, crash handler) outlive its main process and keep
        # writing to the profile: end the whole group, then remove the profile
        self._signal_group(signal.SIGTERM)
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self._proc.wait()
        self._signal_group(signal.SIGKILL)
        for _ in range(20):
            try:
                shutil.rmtree(self._profile.name)
                break
            except FileNotFoundError:
                break
            except OSError:              # a helper still exiting wrote one more file
                time.sleep(0.1)
        self._profile.cleanup()

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self._proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
