"""The live loop: newest camera frame -> stylize -> show / record / virtual camera, keys in between.

Threads: the capture thread (newest frame only), the style-statistics worker,
and this loop on the main thread, which owns the window, the keys and every
output. Whatever ends the loop (q, the window closed, the camera gone,
--max-frames, Ctrl-C, an error), ``close`` finalizes a recording in progress.
"""
from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .. import networks
from ..errors import UserError
from ..images import check_pixels, scaled_size
from ..mask import MaskOptions, Masker, Segmenters
from ..options import RuntimeOptions, StyleOptions
from ..session import open_session
from ..temporal.smoothing import SmoothOptions
from . import keys as K
from .capture import Capture, Frame, open_source
from .hud import HudInfo, draw_help, draw_hud, draw_status, for_display
from .modelslots import ModelSlots
from .outputs import Outputs
from .styleslots import StyleSlots
from .stylist import Stylist
from .window import Window

MESSAGE_S = 4.0          # how long a HUD message stays
PROGRESS_EVERY_S = 2.0   # headless progress lines on stderr
PAUSED_TICK_S = 1 / 30   # loop rate while paused (no new frames to wait for)


@dataclass(frozen=True, kw_only=True)
class LiveOptions:
    camera: str                               # device index, video file or URL
    camera_size: tuple[int, int] | None       # requested capture size (cameras only)
    once: bool                                # a file source stops at its end instead of looping
    size: int                                 # processing size: longer side in pixels (0: camera's)
    window: bool
    max_frames: int | None
    keys: tuple[tuple[int, str], ...]         # scripted (frame, key) presses
    out_dir: Path                             # screenshots and recordings
    smooth: SmoothOptions                     # temporal smoothing, shared with `stylecam video`
    style: StyleOptions
    runtime: RuntimeOptions
    fast_file: bool = False                   # a file is read on demand, not at its own rate (benchmarks)
    mask: MaskOptions = MaskOptions()         # the person mask at the start (the g key cycles it)


@dataclass
class LiveSummary:
    frames: int = 0
    seconds: float = 0.0
    dropped: int = 0                          # camera frames never shown (newer ones replaced them)
    recordings: list[Path] = field(default_factory=list)
    screenshots: list[Path] = field(default_factory=list)
    intervals: deque = field(default_factory=lambda: deque(maxlen=5000))   # s between shown frames
    latencies: deque = field(default_factory=lambda: deque(maxlen=5000))   # s capture -> shown
    exit_code: int = 0

    def median_fps(self) -> float:
        return 1 / statistics.median(self.intervals) if self.intervals else 0.0

    def median_latency_ms(self) -> float:
        return 1000 * statistics.median(self.latencies) if self.latencies else 0.0

    def describe(self) -> str:
        return (f"{self.frames} frames in {self.seconds:.1f} s: median {self.median_fps():.2f} fps, "
                f"median latency {self.median_latency_ms():.0f} ms, {self.dropped} camera frames dropped")


class LiveLoop:
    def __init__(self, opts: LiveOptions, backend, slots: StyleSlots, capture: Capture, window=None,
                 on_frame: Callable[["LiveLoop"], None] | None = None, models: ModelSlots | None = None,
                 segmenters: Segmenters | None = None):
        """backend: the one to start with; models: it and the other network's, for the l key (None: this
        backend only). on_frame: called after each shown frame (tests and benchmarks look at the loop there).
        segmenters: the person-mask models, loaded already (None: loaded when the g key first asks)."""
        self.opts = opts
        self.stylist = Stylist(models or ModelSlots(backend, networks.default_kind().name), slots,
                               K.LiveState(alpha=opts.style.alpha, keep_colors=opts.style.preserve_color is not None,
                                           palette=opts.style.palette == "style", networks=networks.names(), mask=opts.mask.mode),
                               opts.size, opts.smooth, self._say,
                               Masker(opts.mask, temporal=True, segmenters=segmenters))
        self.capture = capture
        self.window = window
        self.on_frame = on_frame
        self.frame: Frame | None = None          # the camera frame on screen, and what was made of it:
        self.view: np.ndarray | None = None     # (h, w, 3) BGR at the processing size, without overlays
        self.style_label = ""                    # the style name on screen (read by tests and embedders)
        self.summary = LiveSummary()
        self._script: dict[int, list[str]] = {}
        for frame, key in opts.keys:
            self._script.setdefault(frame, []).append(key)
        self._message, self._message_until = "", 0.0
        self.outputs = Outputs(opts.out_dir, capture.info.fps, self._say)
        self.summary.recordings, self.summary.screenshots = self.outputs.recordings, self.outputs.screenshots
        self._fps_window: deque = deque(maxlen=30)     # the HUD's moving-average fps
        self._last_shown: float | None = None
        self._last_progress = 0.0                      # time and frame count of the last progress line
        self._progress_frames = 0

    # what the stylist holds, as tests, benchmarks and embedders read it off the loop
    state = property(lambda self: self.stylist.state)
    model = property(lambda self: self.stylist.model)
    backend = property(lambda self: self.stylist.backend)
    models = property(lambda self: self.stylist.models)
    slots = property(lambda self: self.stylist.slots)
    active = property(lambda self: self.stylist.active)
    processed_size = property(lambda self: self.stylist.processed_size)
    masker = property(lambda self: self.stylist.masker)

    # -- the loop ---------------------------------------------------------------------
    def run(self) -> LiveSummary:
        t_start = time.perf_counter()
        try:
            self._run()
        finally:                                   # also on Ctrl-C / SIGTERM: the summary says how far it got
            self.summary.seconds = time.perf_counter() - t_start
        late = [f"{key}@{n}" for n, keys in sorted(self._script.items()) if n >= self.summary.frames for key in keys]
        if late:                                   # pressed after the last frame, or never: no effect
            print(f"stylecam: --keys {','.join(late)} had no effect: the run ended after {self.summary.frames} "
                  "frames (KEY@N acts from the frame after the first N)", file=sys.stderr)
        return self.summary

    def _run(self) -> None:
        self._last_progress = time.perf_counter()
        frame: Frame | None = None
        view, model = None, self.model
        while not (self.opts.max_frames and self.summary.frames >= self.opts.max_frames):
            for key in self._script.get(self.summary.frames, ()):     # scripted: before frame N is shown
                self.handle(key)
            if self.state.quit:
                break
            fresh = not self.state.paused or frame is None
            if fresh:
                frame = self._next_frame(frame)
                if frame is None:
                    break
            rendered = self.stylist.render(frame.image, again=not fresh)   # paused: only on a change
            view = view if rendered is None else rendered
            if self.model != model and self.window is not None:
                self.window.retitle(self.model)
            model = self.model
            self.frame, self.view, self.style_label = frame, view, self.stylist.label
            shown_at = self._count_shown(frame.captured_at if fresh else None)
            self._show(view, shown_at, self.style_label)
            if self.on_frame:
                self.on_frame(self)
            if not self._between_frames():
                break

    def _next_frame(self, previous: Frame | None) -> Frame | None:
        """The newest camera frame after ``previous``; None (and a message) when the source is gone."""
        newest = self.capture.newest(after=previous.index if previous else -1)
        if newest is None:
            self._source_gone()
            return None
        if previous is not None:
            self.summary.dropped += newest.index - previous.index - 1
        return newest

    def _count_shown(self, captured_at: float | None) -> float:
        """Frame counter, fps and latency bookkeeping; returns the time the frame counts as shown."""
        shown_at = time.perf_counter()
        if self._last_shown is not None:
            self.summary.intervals.append(shown_at - self._last_shown)
            self._fps_window.append(shown_at - self._last_shown)
        self._last_shown = shown_at
        if captured_at is not None:               # a paused, repeated frame has no new latency
            self.summary.latencies.append(shown_at - captured_at)
        self.summary.frames += 1
        return shown_at

    def _between_frames(self) -> bool:
        """Window keys (or a short sleep while paused headless) and progress; False to stop."""
        if self.window is not None:
            key = self.window.poll(round(PAUSED_TICK_S * 1000) if self.state.paused else 1)
            if key:
                self.handle(key)
            if self.window.closed():
                print("stylecam: window closed", file=sys.stderr)
                return False
        elif self.state.paused:
            time.sleep(PAUSED_TICK_S)
        now = time.perf_counter()
        if self.window is None and now - self._last_progress >= PROGRESS_EVERY_S:
            self._progress(self.summary.frames, now)
        return True

    # -- keys -------------------------------------------------------------------------
    def handle(self, key: str) -> None:
        action = self.stylist.press(key)
        if action == K.SCREENSHOT:
            self.outputs.want_shot = True
        elif action == K.RECORD:
            self.outputs.want_record = not self.outputs.want_record
        elif action == K.VIRTUALCAM:
            self.outputs.want_vcam = not self.outputs.want_vcam

    # -- one frame ----------------------------------------------------------------------
    def _show(self, view: np.ndarray, shown_at: float, label: str) -> None:
        """Feed the outputs; draw the overlays on a display copy for the window and screenshots."""
        self.outputs.feed(view, shown_at)
        if self.window is None and not self.outputs.want_shot:
            return                       # headless: the overlays are drawn only for screenshots
        display = for_display(view)
        if self.state.hud:
            draw_hud(display, self._hud_info(label))
        elif self._message_shown():
            draw_status(display, self._message)
        if self.state.help:
            draw_help(display)
        if self.window is not None:
            self.window.show(display)
        if self.outputs.want_shot:
            self.outputs.screenshot(display)

    def _hud_info(self, label: str) -> HudInfo:
        fps = len(self._fps_window) / sum(self._fps_window) if self._fps_window else 0.0
        latency = 1000 * self.summary.latencies[-1] if self.summary.latencies else 0.0
        flags = self.outputs.flags()
        for on, name in ((self.state.keep_colors, "colour kept"), (self.state.palette, "painting's colours"),
                         (self.state.split, "split"), (self.state.mirror, "mirror"),
                         (self.state.paused, "PAUSED")):
            if on:
                flags.append(name)
        if self.state.mask:
            flags.append(f"mask: {self.state.mask} stylized")
        return HudInfo(self.stylist.style_label(), self.state.alpha, self.backend.describe(), fps, latency,
                       tuple(flags), self._message if self._message_shown() else None, self.stylist.model_label())

    # -- messages and endings -----------------------------------------------------------
    def _say(self, text: str, stdout: bool = False) -> None:
        """HUD message for a few seconds, and the same line printed (paths on stdout, the rest stderr)."""
        self._message, self._message_until = text, time.perf_counter() + MESSAGE_S
        print(text if stdout else f"stylecam: {text}", file=sys.stdout if stdout else sys.stderr, flush=True)

    def _message_shown(self) -> bool:
        return bool(self._message) and time.perf_counter() < self._message_until

    def _source_gone(self) -> None:
        label = self.capture.info.label
        if self.capture.ended:
            print(f"stylecam: end of {label}", file=sys.stderr)
        else:
            print(f"stylecam: {label} stopped delivering frames; stopping (no reconnect attempts)",
                  file=sys.stderr)
            self.summary.exit_code = 1

    def _progress(self, frames: int, now: float) -> None:
        """The current rate: frames shown since the previous line (the summary gives the medians)."""
        fps = (frames - self._progress_frames) / (now - self._last_progress)
        self._last_progress, self._progress_frames = now, frames
        latency = 1000 * self.summary.latencies[-1] if self.summary.latencies else 0.0
        line = f"live: {frames} frames  {fps:.1f} fps  latency {latency:.0f} ms"
        if self.opts.max_frames and fps > 0:
            line += f"  {frames}/{self.opts.max_frames}  ETA {(self.opts.max_frames - frames) / fps:.0f} s"
        print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        """Finalize a recording in progress (and the virtual camera); safe on any way out."""
        self.outputs.close()


def check_out_dir(path: Path) -> Path:
    if path.exists() and not path.is_dir():
        raise UserError(f"--out-dir {path}: is a file, not a folder (screenshots and recordings go there)")
    if not path.is_dir():
        raise UserError(f"--out-dir {path}: no such folder (screenshots and recordings go there)")
    if not os.access(path, os.W_OK):
        raise UserError(f"--out-dir {path}: folder is not writable")
    return path


def run_live(opts: LiveOptions, on_frame: Callable[[LiveLoop], None] | None = None) -> LiveSummary:
    """Open the source, the model and the styles, run the loop, and clean up on every way out."""
    check_out_dir(opts.out_dir)
    cap, info = open_source(opts.camera, opts.camera_size)     # a missing camera fails before the model loads
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(cap.release)
        print(info.describe(), file=sys.stderr)
        if info.width and info.height:
            check_pixels(*scaled_size(info.width, info.height, opts.size), "the processing size")
        segmenters = Segmenters(opts.mask.model)
        if opts.mask.mode:
            segmenters.check()                         # a missing or damaged mask model: before the network loads
        window = Window() if opts.window else None      # no display: fail before the model loads
        if window is not None:
            cleanup.callback(window.close)
        session = open_session(opts.runtime, split=opts.smooth.split, live=True)
        if window is not None:
            window.retitle(session.model.kind)
        models = ModelSlots(session.backend, session.model.kind, lambda kind: session.open_backend(kind).backend)
        cleanup.callback(models.close)
        blended = session.styles(opts.style)[0] if opts.style.weights else None
        slots = StyleSlots(session.library, opts.style, blended)
        cleanup.callback(slots.close)
        loop = LiveLoop(opts, session.backend, slots, Capture(cap, info, not opts.once, opts.fast_file), window,
                        on_frame, models, segmenters)
        loop.capture.start()
        cleanup.callback(loop.capture.stop)
        cleanup.callback(lambda: print(f"stylecam: {loop.summary.describe()}", file=sys.stderr))
        cleanup.callback(loop.close)          # runs first: the recording is finalized before anything else
        return loop.run()
