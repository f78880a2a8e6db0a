"""The OpenCV window (main thread only). Never opened by tests: they run with --no-window."""
from __future__ import annotations

import os
import sys

import cv2

from ..errors import UserError
from .keys import key_name, title

WINDOW = "stylecam"


class Window:
    def __init__(self):
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            # checked up front: without a display OpenCV's GUI aborts the process instead of raising
            raise UserError("no display to open a window on; run with --no-window (headless), "
                            "or under xvfb-run")
        try:
            cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL)
            cv2.setWindowTitle(WINDOW, title())
        except cv2.error as e:
            raise UserError(f"cannot open a window ({e.err or e}); run with --no-window") from None
        self._shown = False

    def retitle(self, model: str) -> None:
        """The network on screen changed (the l key)."""
        cv2.setWindowTitle(WINDOW, title(model))

    def show(self, bgr) -> None:
        cv2.imshow(WINDOW, bgr)
        self._shown = True

    def poll(self, delay_ms: int = 1) -> str | None:
        """The key pressed during the short wait (None: none, or not one of ours)."""
        return key_name(cv2.waitKeyEx(delay_ms))

    def closed(self) -> bool:
        """True once the user closed the window with its close button."""
        try:
            return self._shown and cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) < 1
        except cv2.error:
            return True

    def close(self) -> None:
        try:
            cv2.destroyWindow(WINDOW)
            cv2.waitKey(1)
        except cv2.error:
            pass
