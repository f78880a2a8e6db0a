"""Offline video: decode (thread) -> batches through the backend -> encode + mux (thread).

The three stages overlap: while the backend works on a batch, the reader
decodes the next frames and the writer encodes the previous ones.
"""
from __future__ import annotations

import queue
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..adain import blend_stats
from ..backends import keep_content_colors
from ..errors import UserError
from ..mask import Masker
from ..palette import Palette, PaletteMatcher, blend_palettes
from ..safeio import FULL
from ..temporal.smoothing import TemporalSmoother
from ..styles import Style
from .io import Frame, Threaded, VideoInfo, VideoWriter, read_frames


@dataclass(frozen=True, kw_only=True)
class PipelineSettings:
    size: tuple[int, int]        # output (width, height)
    start: float                 # seconds
    duration: float              # seconds; 0 = to the end
    batch: int
    alpha: float
    preserve_color: bool
    audio: bool
    crf: int
    preset: str


class StyleSchedule:
    """The style of frame i: one style, or a linear morph through several across the clip."""

    def __init__(self, styles: list[Style], total_frames: int):
        self.styles, self.total = styles, max(1, total_frames)

    @property
    def morphing(self) -> bool:
        return len(self.styles) > 1

    def _place(self, index: int) -> tuple[Style, Style, float]:
        """The two styles frame ``index`` lies between, and how far it is from the first."""
        pos = min(1.0, index / max(1, self.total - 1)) * (len(self.styles) - 1)
        k = min(int(pos), len(self.styles) - 2)
        return self.styles[k], self.styles[k + 1], pos - k

    def at(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.morphing:
            return self.styles[0].mean, self.styles[0].std
        a, b, frac = self._place(index)
        return blend_stats([a.mean, b.mean], [a.std, b.std], [1 - frac, frac])

    def palette_at(self, index: int) -> Palette | None:
        """The painting colours of frame ``index``: a morph's mixture moves with it."""
        if not self.morphing:
            return self.styles[0].palette
        a, b, frac = self._place(index)
        if a.palette is None or b.palette is None:
            return None
        return blend_palettes([a.palette, b.palette], [1 - frac, frac])


class Progress:
    """frames done / total, frames/s, ETA on one refreshed line (a line every few s when not a TTY)."""

    def __init__(self, total: int, stream=None):
        self.total, self.stream = total, stream or sys.stderr
        self.t0 = time.perf_counter()
        self.last = 0.0
        self.done = 0                 # frames finished so far (how far an interrupted run got)
        self.tty = self.stream.isatty()

    def update(self, done: int) -> None:
        self.done = done
        now = time.perf_counter()
        if now - self.last < (0.5 if self.tty else 5.0) and done < self.total:
            return
        self.last = now
        fps = done / max(now - self.t0, 1e-9)
        total = max(self.total, done)
        eta = (total - done) / fps if fps > 0 else float("inf")
        line = f"frame {done}/{total}  {100 * done / total:5.1f}%  {fps:.2f} frames/s  ETA {_clock(eta)}"
        print(("\r" + line + "  ") if self.tty else line, end="" if self.tty else "\n",
              file=self.stream, flush=True)

    def close(self) -> None:
        if self.tty:
            print(file=self.stream)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.t0


def _clock(seconds: float) -> str:
    if seconds == float("inf"):
        return "--:--"
    m, s = divmod(int(seconds + 0.5), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m:02d}:{s:02d}"


class _WriterThread:
    """Encodes and muxes in its own thread; ``put`` re-raises the thread's error."""

    def __init__(self, writer: VideoWriter):
        self.writer = writer
        self.q: queue.Queue = queue.Queue(maxsize=16)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            while (item := self.q.get()) is not None:
                if isinstance(item, tuple):
                    self.writer.write_frame(*item)
                else:
                    self.writer.write_audio(item)
        except BaseException as e:
            self.error = e
            while self.q.get() is not None:   # drain so the producer never blocks
                pass

    def put(self, item) -> None:
        if self.error is not None:
            raise self.error
        self.q.put(item)

    def finish(self) -> None:
        self.q.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error


def stylize_video(info: VideoInfo, tmp_out: Path, out_name: str, settings: PipelineSettings,
                  smoother: TemporalSmoother, schedule: StyleSchedule, progress: Progress,
                  on_frame: Callable[[int], None] | None = None, masker: Masker | None = None,
                  palette: PaletteMatcher | None = None) -> int:
    """Write the stylized video to ``tmp_out``; returns the number of frames written. masker: stylize
    only the person or the background (its options say which), frame by frame in order. palette: give
    the frames the schedule's painting colours (``--palette style``), before the mask."""
    writer = VideoWriter(tmp_out, out_name, info, settings.size, settings.crf, settings.preset)
    reader = Threaded(lambda stop: read_frames(info, settings.size, settings.start, settings.duration,
                                               settings.audio, stop), ahead=2 * settings.batch + 8)
    sink = _WriterThread(writer)
    done = 0
    batch: list[Frame] = []

    def flush():
        nonlocal done
        frames = np.stack([f.bgr for f in batch])                        # (N, H, W, 3) BGR
        if schedule.morphing:     # one call per frame: each has its own statistics
            out = np.stack([smoother.process(f.bgr, *schedule.at(f.index), settings.alpha) for f in batch])
        else:
            out = smoother.process_batch(frames, *schedule.at(0), settings.alpha)
        if settings.preserve_color:
            out = keep_content_colors(out, frames)
        if palette is not None:
            out = np.stack([palette(f.bgr, img, schedule.palette_at(f.index), settings.alpha)
                            for f, img in zip(batch, out)])
        if masker is not None and masker.opts.mode:
            out = np.stack([masker.apply(f.bgr, img, masker.opts.mode) for f, img in zip(batch, out)])
        for f, img in zip(batch, out):
            sink.put((img, f.pts))
        done += len(batch)
        batch.clear()
        progress.update(done)
        if on_frame is not None:
            on_frame(done)

    try:
        try:
            for item in reader:
                if isinstance(item, Frame):
                    batch.append(item)
                    if len(batch) >= settings.batch:
                        flush()
                else:
                    sink.put(item)            # an audio packet
            if batch:
                flush()
        finally:
            progress.close()
        sink.finish()
        writer.close()
        reader.close()          # only now: the audio packets refer to the input's streams
    except BaseException as e:
        reader.close()
        if sink.thread.is_alive():
            sink.q.put(None)
            sink.thread.join(timeout=10)
        writer.abort()
        if isinstance(e, (UserError, KeyboardInterrupt)) or (isinstance(e, OSError) and e.errno in FULL):
            raise                 # Ctrl-C, SIGTERM: the caller says how far it got; a full disk: atomic_output
        raise UserError(f"failed after {done} frames: {type(e).__name__}: {e}") from None
    return done
