"""Where the clean output view goes besides the window: recording, virtual camera, screenshots.

Keys only set wishes (record on/off, ...); ``feed`` makes them so at the next
frame, when the frame size is known, and reports every outcome through
``say`` (HUD and terminal). A failing output never stops the loop.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from ..errors import UserError
from ..images import write_image
from ..safeio import next_free
from .recorder import Recorder
from .virtualcam import VirtualCamera, VirtualCameraError


class Outputs:
    def __init__(self, out_dir: Path, fps_hint: float, say: Callable[..., None]):
        self.out_dir = out_dir
        self.fps_hint = fps_hint or 30.0
        self.say = say                    # say(text, stdout=False)
        self.want_record = self.want_vcam = self.want_shot = False
        self.recorder: Recorder | None = None
        self.vcam: VirtualCamera | None = None
        self.recordings: list[Path] = []
        self.screenshots: list[Path] = []

    def feed(self, view: np.ndarray, shown_at: float) -> None:
        """view: (h, w, 3) uint8 BGR without overlays; shown_at: time.perf_counter()."""
        self._sync_recorder(view)
        if self.recorder is not None:
            try:
                self.recorder.write(view, shown_at)
            except Exception as e:        # disk full, ...: keep what was written, keep running
                self.say(f"recording stopped: {e}")
                self.want_record = False
                self._sync_recorder(view)
        self._sync_vcam(view)
        if self.vcam is not None:
            self.vcam.send(view)

    def flags(self) -> list[str]:
        """For the HUD."""
        flags = []
        if self.recorder is not None:
            secs = int(self.recorder.seconds)
            flags.append(f"REC {secs // 60}:{secs % 60:02d}")
        if self.vcam is not None:
            flags.append("VCAM")
        return flags

    def screenshot(self, display: np.ndarray) -> None:
        """display: the window's picture, overlays included (BGR)."""
        self.want_shot = False
        path = self._free_path(".png")
        try:
            write_image(path, cv2.cvtColor(display, cv2.COLOR_BGR2RGB), overwrite=False)
        except (OSError, UserError) as e:
            self.say(f"screenshot not saved: {e}")
            return
        self.screenshots.append(path)
        self.say(f"screenshot {path}", stdout=True)

    def close(self) -> None:
        """Finalize a recording in progress and release the virtual camera."""
        if self.recorder is not None:
            self.want_record = False
            self._stop_recording()
        if self.vcam is not None:
            self.vcam.close()
            self.vcam = None

    def _sync_recorder(self, view: np.ndarray) -> None:
        if self.want_record and self.recorder is None:
            path = self._free_path(".mp4")
            try:
                h, w = view.shape[:2]
                self.recorder = Recorder(path, w, h, self.fps_hint)
                self.say(f"recording to {path}")
            except Exception as e:
                self.want_record = False
                self.say(f"cannot record to {path}: {e}")
        elif not self.want_record and self.recorder is not None:
            self._stop_recording()

    def _stop_recording(self) -> None:
        recorder, self.recorder = self.recorder, None
        try:
            path = recorder.close()
        except Exception as e:
            self.say(f"recording {recorder.path} could not be finalized: {e}")
            return
        self.recordings.append(path)
        self.say(f"recorded {path} ({recorder.frames} frames)", stdout=True)

    def _sync_vcam(self, view: np.ndarray) -> None:
        if self.want_vcam and self.vcam is None:
            h, w = view.shape[:2]
            try:
                self.vcam = VirtualCamera(w, h, self.fps_hint)
                self.say(f"virtual camera on: {self.vcam.device}")
            except VirtualCameraError as e:
                self.want_vcam = False
                self.say(str(e))
        elif not self.want_vcam and self.vcam is not None:
            self.vcam.close()
            self.vcam = None
            self.say("virtual camera off")

    def _free_path(self, suffix: str) -> Path:
        return next_free(self.out_dir / time.strftime(f"stylecam-%Y%m%d-%H%M%S{suffix}"))
