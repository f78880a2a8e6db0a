"""Camera (or video file, or URL) capture in a thread that holds only the newest frame.

Inference is slower than the camera, so the loop must never work through a
queue of old frames: the reader overwrites one slot, and the loop takes
whatever is newest. Latency stays about one frame; stale frames are dropped.

A video file standing in for the camera is played at its own rate, like a
camera; with ``fast_file`` (benchmarks) it is read on demand instead: the next
frame is decoded ahead and handed over the moment the loop asks, so the loop,
not the clip's rate, sets the pace, and no decoding is spent on dropped frames.
"""
from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import UserError
from ..safeio import check_input_file

os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")    # see _quiet_opencv

LOST_AFTER_S = 2.0        # a camera silent this long is considered gone (no reconnect attempts)
FIRST_FRAME_S = 10.0      # some webcams take seconds to deliver their first frame


@dataclass(frozen=True)
class Frame:
    image: np.ndarray      # (H, W, 3) uint8 BGR, as the camera delivers it
    index: int             # 0, 1, 2 ... in capture order (frames dropped by the loop leave gaps)
    captured_at: float     # time.perf_counter() when read() returned


@dataclass(frozen=True)
class SourceInfo:
    label: str             # 'camera 0', a file name or a URL
    is_file: bool          # files are paced at their own fps (or read on demand) and loop (or end with --once)
    width: int
    height: int
    fps: float             # as OpenCV reports it (0 when unknown)

    def describe(self) -> str:
        fps = f"{self.fps:.2f} fps" if self.fps > 0 else "fps unknown"
        return f"{self.label}: {self.width}×{self.height}, {fps} (as OpenCV reports them)"


@contextlib.contextmanager
def _quiet_opencv():
    """OpenCV logs its own warnings for a missing camera, and its FFmpeg logs its own errors for a
    broken file ("moov atom not found"); our one-line error says it better. FFmpeg's level is read
    once, when OpenCV first uses it: set on import (-8: quiet; a user's own setting wins)."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)


def open_source(spec: str, size: tuple[int, int] | None = None) -> tuple[cv2.VideoCapture, SourceInfo]:
    """``--camera`` value (device index, video file or URL) -> an opened capture and what it reports."""
    is_url = "://" in spec
    if spec.isdigit():
        target, label, is_file = int(spec), f"camera {spec}", False
    elif is_url:
        target, label, is_file = spec, spec, False
    else:
        target, label, is_file = str(check_input_file(spec, "camera video file")), Path(spec).name, True
    with _quiet_opencv():
        cap = cv2.VideoCapture(target)
        if not cap.isOpened():
            if spec.isdigit():
                raise UserError(f"no camera at index {spec} (OpenCV could not open it); "
                                "try another --camera index, or a video file to stand in for the camera")
            raise UserError(f"cannot open {label} as a video source")
        if size and not is_file:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])
        if not is_file:
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)      # ask the driver not to queue old frames
    info = SourceInfo(label, is_file, int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                      int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)), float(cap.get(cv2.CAP_PROP_FPS) or 0.0))
    return cap, info


def pacing_period(info: SourceInfo, fast_file: bool = False) -> float:
    """Seconds between delivered frames: a file at its own fps, unless read on demand; 0: no pacing."""
    return 1.0 / info.fps if info.is_file and info.fps > 0 and not fast_file else 0.0


class Capture:
    """Reads ``cap`` on a daemon thread; ``newest(after)`` waits for a frame newer than ``after``."""

    def __init__(self, cap: cv2.VideoCapture, info: SourceInfo, loop_file: bool = True, fast_file: bool = False):
        self._cap = cap
        self.info = info
        self._loop_file = loop_file
        self._on_demand = info.is_file and fast_file
        self._period = pacing_period(info, fast_file)
        self._asking = False       # the loop waits in newest() (what an on-demand file waits for)
        self._cond = threading.Condition()
        self._latest: Frame | None = None
        self._stop = threading.Event()
        self.ended = False         # a file reached its end with --once
        self.lost = False          # a camera stopped delivering frames
        self.captured = 0
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)

    def start(self) -> "Capture":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._cap.release()

    def newest(self, after: int) -> Frame | None:
        """The newest frame with index > after; None when the source ended or was lost."""
        deadline = time.perf_counter() + (FIRST_FRAME_S if after < 0 else LOST_AFTER_S + 1)
        with self._cond:
            while self._latest is None or self._latest.index <= after:
                if self.ended or self.lost:
                    return None
                left = deadline - time.perf_counter()
                if left <= 0:
                    self.lost = True
                    return None
                self._asking = True
                self._cond.notify_all()
                self._cond.wait(left)
            return self._latest

    def _run(self) -> None:
        period = self._period
        start, n_since_start, last_ok = time.perf_counter(), 0, time.perf_counter()
        while not self._stop.is_set():
            ok, image = self._cap.read()
            now = time.perf_counter()
            if not ok:
                if self.info.is_file and self._loop_file and n_since_start > 0:
                    self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                    start, n_since_start = now, 0
                    continue
                if self.info.is_file or now - last_ok > LOST_AFTER_S:
                    self._finish(ended=self.info.is_file)
                    return
                time.sleep(0.01)
                continue
            last_ok = now
            if period:   # a file stands in for a camera: deliver frames at its own rate
                wait = start + n_since_start * period - now
                if wait > 0 and self._stop.wait(wait):
                    return
            elif self._on_demand and not self._wait_for_ask():
                return
            n_since_start += 1
            with self._cond:
                self._asking = False
                self._latest = Frame(image, self.captured, time.perf_counter())
                self.captured += 1
                self._cond.notify_all()

    def _wait_for_ask(self) -> bool:
        """Hold the decoded frame until the loop asks for the next one; False when stopped."""
        with self._cond:
            while not self._asking:
                if self._stop.is_set():
                    return False
                self._cond.wait(0.1)
        return True

    def _finish(self, ended: bool) -> None:
        with self._cond:
            if ended:
                self.ended = True
            else:
                self.lost = True
            self._cond.notify_all()
