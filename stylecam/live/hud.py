"""What is drawn over the picture: the HUD, the help overlay, a transient message, the split view.

All drawing happens on the display copy, so recordings and the virtual camera
get the clean picture; screenshots get what the window shows.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .keys import HELP_LINES

FONT = cv2.FONT_HERSHEY_SIMPLEX
MIN_DISPLAY_HEIGHT = 540      # small processing sizes are scaled up so the text stays readable
WHITE, GREY, RED, YELLOW = (255, 255, 255), (190, 190, 190), (40, 40, 230), (60, 220, 250)


@dataclass(frozen=True)
class HudInfo:
    style: str                 # what is on screen, e.g. 'monet (2/5)' or 'a + b'
    alpha: float
    backend: str
    fps: float
    latency_ms: float
    flags: tuple[str, ...]     # 'REC 0:12', 'colour', 'mirror', 'PAUSED', ...
    status: str | None = None  # 'loading x...', a failed style, a saved screenshot
    model: str = ""            # the network on screen, e.g. 'lite' or 'full (loading lite...)'


def split_view(original: np.ndarray, stylized: np.ndarray) -> np.ndarray:
    """Left half of the original, right half stylized, one frame of the same size."""
    out = stylized.copy()
    mid = out.shape[1] // 2
    out[:, :mid] = original[:, :mid]
    out[:, mid:mid + 1] = 255
    return out


def for_display(view: np.ndarray) -> np.ndarray:
    """A copy to draw on, scaled up when the processing size is small."""
    h, w = view.shape[:2]
    if h >= MIN_DISPLAY_HEIGHT:
        return view.copy()
    scale = MIN_DISPLAY_HEIGHT / h
    return cv2.resize(view, (round(w * scale), MIN_DISPLAY_HEIGHT), interpolation=cv2.INTER_LINEAR)


def _text_scale(img: np.ndarray) -> float:
    return max(0.35, img.shape[0] / 1000)


def _panel(img: np.ndarray, x0: int, y0: int, x1: int, y1: int, opacity: float = 0.6) -> None:
    """Darken a rectangle in place so white text reads on any painting."""
    x0, y0 = max(0, x0), max(0, y0)
    roi = img[y0:y1, x0:x1]
    roi[:] = (roi * (1 - opacity)).astype(np.uint8)


def _lines(img, lines, x, y, scale, colours=None):
    step = int(32 * scale) + 4
    for i, text in enumerate(lines):
        colour = colours[i] if colours else WHITE
        cv2.putText(img, text, (x, y + i * step), FONT, scale, colour, max(1, round(scale * 1.6)), cv2.LINE_AA)
    return step


def draw_hud(img: np.ndarray, info: HudInfo) -> None:
    scale = _text_scale(img)
    lines = [f"style: {info.style}   alpha {info.alpha:.1f}",
             f"{info.model} network | {info.backend}",
             f"{info.fps:.1f} fps   latency {info.latency_ms:.0f} ms"]
    if info.flags:
        lines.append("  ".join(info.flags))
    colours = [WHITE, GREY, WHITE, RED if any(f.startswith("REC") for f in info.flags) else YELLOW]
    step = int(32 * scale) + 4
    width = max(cv2.getTextSize(t, FONT, scale, 1)[0][0] for t in lines) + 20
    _panel(img, 0, 0, width, step * len(lines) + 10)
    _lines(img, lines, 10, step, scale, colours)
    if info.status:
        draw_status(img, info.status)


def draw_status(img: np.ndarray, text: str) -> None:
    """A one-line message along the bottom edge."""
    scale = _text_scale(img)
    h = img.shape[0]
    step = int(32 * scale) + 4
    _panel(img, 0, h - step - 12, img.shape[1], h)
    cv2.putText(img, text, (10, h - 12), FONT, scale, YELLOW, max(1, round(scale * 1.6)), cv2.LINE_AA)


def draw_help(img: np.ndarray) -> None:
    """The key list, centred."""
    scale = _text_scale(img)
    step = int(32 * scale) + 4
    keys_w = max(cv2.getTextSize(k, FONT, scale, 1)[0][0] for k, _ in HELP_LINES) + 30
    what_w = max(cv2.getTextSize(d, FONT, scale, 1)[0][0] for _, d in HELP_LINES)
    box_w, box_h = keys_w + what_w + 40, step * (len(HELP_LINES) + 1) + 20
    x0 = max(0, (img.shape[1] - box_w) // 2)
    y0 = max(0, (img.shape[0] - box_h) // 2)
    _panel(img, x0, y0, x0 + box_w, y0 + box_h, opacity=0.75)
    _lines(img, ["keys"], x0 + 20, y0 + step, scale, [YELLOW])
    _lines(img, [k for k, _ in HELP_LINES], x0 + 20, y0 + 2 * step, scale, [YELLOW] * len(HELP_LINES))
    _lines(img, [d for _, d in HELP_LINES], x0 + 20 + keys_w, y0 + 2 * step, scale)
