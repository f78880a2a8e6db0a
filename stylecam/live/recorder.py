"""Recording the live output: H.264 yuv420p in MP4 with real (wall-clock) timestamps.

The loop's frame rate varies with the load, so frames carry the time they were
shown (millisecond pts), not a nominal rate: playback runs at real speed. The
file is written under a temporary name beside the target and renamed when
the recording is finalized, which the loop guarantees on every way out.
"""
from __future__ import annotations

import contextlib
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..safeio import atomic_output

MS = Fraction(1, 1000)


class Recorder:
    def __init__(self, path: Path, width: int, height: int, fps_hint: float = 30.0):
        self.path = path
        self.frames = 0
        self._size = (width - width % 2, height - height % 2)      # yuv420p needs even sides
        self._files = contextlib.ExitStack()
        tmp = self._files.enter_context(atomic_output(path, overwrite=False))
        try:
            self._container = av.open(str(tmp), "w")
            self._stream = self._container.add_stream("libx264", rate=max(1, round(fps_hint)))
            self._stream.width, self._stream.height = self._size
            self._stream.pix_fmt = "yuv420p"
            self._stream.codec_context.time_base = MS
            self._stream.time_base = MS
        except BaseException:
            self._files.close()       # nothing written yet: the temporary file goes away
            raise
        self._t0: float | None = None
        self._last_pts = -1
        self.started_at = time.perf_counter()

    def write(self, bgr: np.ndarray, shown_at: float) -> None:
        """bgr: (H, W, 3) uint8 of the size given at start; shown_at: time.perf_counter()."""
        if self._t0 is None:
            self._t0 = shown_at
        pts = max(round((shown_at - self._t0) * 1000), self._last_pts + 1)   # strictly increasing
        w, h = self._size
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(bgr[:h, :w]), format="bgr24")
        frame.pts, frame.time_base = pts, MS
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self._last_pts = pts
        self.frames += 1

    def close(self) -> Path:
        """Flush the encoder and give the file its final name; if the file cannot be completed (a
        full disk) the temporary file goes away instead: no unplayable file under the final name."""
        try:
            try:
                for packet in self._stream.encode():
                    self._container.mux(packet)
            finally:
                self._container.close()
        except BaseException as e:
            if not self._files.__exit__(type(e), e, e.__traceback__):
                raise
        self._files.close()
        return self.path

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started_at
