"""The optional virtual camera output (pyvirtualcam), imported only when switched on."""
from __future__ import annotations

import numpy as np

INSTALL_HINT = "pip install 'stylecam[virtualcam]'"


class VirtualCameraError(Exception):
    """Why the virtual camera cannot start (shown in the HUD and on stderr; never fatal)."""


class VirtualCamera:
    def __init__(self, width: int, height: int, fps: float):
        try:
            import pyvirtualcam
        except ImportError:
            raise VirtualCameraError(f"virtual camera needs pyvirtualcam: {INSTALL_HINT}") from None
        try:
            self._cam = pyvirtualcam.Camera(width, height, max(1.0, fps), fmt=pyvirtualcam.PixelFormat.BGR)
        except Exception as e:    # no v4l2loopback / OBS driver, device busy, ...
            raise VirtualCameraError(f"virtual camera unavailable ({e}); on Linux load v4l2loopback, "
                                     "on Windows/macOS install OBS") from None
        self.device = self._cam.device
        self.size = (width, height)

    def send(self, bgr: np.ndarray) -> None:
        self._cam.send(np.ascontiguousarray(bgr))

    def close(self) -> None:
        self._cam.close()
