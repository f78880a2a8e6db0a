"""The painting's colours (``--palette style``): the stylized output's pixels given the painting's
colour mean and covariance, as small pure functions.

AdaIN matches feature statistics at relu4_1, which hardly see colour (train/colour.py): the
decoder's colours drift from the painting's. The cure runs after the decoder, on pixels: one
affine map per frame, x ↦ A·x + b, where A is the linear optimal-transport (Monge) map between
the two Gaussians, A = S^-½ (S^½ T S^½)^½ S^-½ (S the output's colour covariance, T the
painting's). It gives the output exactly the painting's mean and covariance with the least
change of colours: symmetric, it never rotates one hue into another as a Cholesky map can.
Statistics are float32, on a regular grid of at most SAMPLE pixels; the map itself is a 3×4
``cv2.transform`` of the whole frame.

In video and live the output's statistics are an exponential moving average (MOMENTUM), so the
map follows the scene, not each frame's texture, and does not flicker. ``scene_cut`` on the input
frames and ``PaletteMatcher.reset`` (a new style, strength or network in live) start it afresh.

Colours are RGB in [0, 1]; frames come in the backends' order, uint8 BGR.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

MODES = ("off", "style")          # --palette
SAMPLE = 8_192                    # pixels the statistics are taken on, at most (a 3×3 covariance needs few)
MOMENTUM = 0.9                    # share of the past in the running output statistics (video, live)
MIN_VARIANCE = 1e-4               # eigenvalue floor ((2.6/255)²): a flat output still has a bounded map
THUMB = 32                        # side of the grey thumbnails a scene cut is judged on
CUT_THRESHOLD = 0.15              # their mean absolute difference, on [0, 1], that counts as a cut


@dataclass(frozen=True)
class Palette:
    """The colour statistics of a picture's pixels."""
    mean: np.ndarray              # (3,) float32, RGB in [0, 1]
    cov: np.ndarray               # (3, 3) float32, the biased covariance


def grid_pixels(image: np.ndarray, limit: int = SAMPLE) -> np.ndarray:
    """(H, W, 3) uint8 -> (M, 3) float32 in [0, 1], M ≤ limit, every step-th pixel of every step-th row
    (same channel order as the image)."""
    h, w = image.shape[:2]
    step = max(1, math.ceil(math.sqrt(h * w / limit)))
    return image[::step, ::step].reshape(-1, 3).astype(np.float32) / 255


def palette_of_pixels(pixels: np.ndarray) -> Palette:
    """(M, 3) float RGB -> its mean (3,) and biased covariance (3, 3), float32."""
    x = pixels.astype(np.float32, copy=False)
    mean = x.mean(axis=0)
    centred = x - mean
    return Palette(mean, (centred.T @ centred / len(x)).astype(np.float32))


def palette_of(rgb: np.ndarray) -> Palette:
    """A painting, (H, W, 3) uint8 RGB -> its Palette."""
    return palette_of_pixels(grid_pixels(rgb))


def palette_of_bgr(bgr: np.ndarray) -> Palette:
    """A frame, (H, W, 3) uint8 BGR -> its Palette (RGB)."""
    return palette_of_pixels(grid_pixels(bgr)[:, ::-1])


def blend_palettes(palettes: Sequence[Palette], weights: Sequence[float] | None = None) -> Palette:
    """The statistics of the mixture of the pictures' pixels, weighted (normalized to sum 1): what a
    blend of styles' paintings looks like in colour. μ = Σ wᵢ μᵢ, Σ = Σ wᵢ (Σᵢ + μᵢ μᵢᵀ) − μ μᵀ."""
    if not palettes:
        raise ValueError("blend_palettes needs at least one palette")
    w = np.asarray([1.0] * len(palettes) if weights is None else weights, np.float64)
    if len(w) != len(palettes) or (w < 0).any() or w.sum() <= 0:
        raise ValueError("one non-negative weight per palette, not all zero")
    w = w / w.sum()
    means = np.stack([p.mean for p in palettes]).astype(np.float64)                 # (k, 3)
    second = np.stack([p.cov + np.outer(p.mean, p.mean) for p in palettes])         # (k, 3, 3)
    mean = w @ means
    cov = np.tensordot(w, second, 1) - np.outer(mean, mean)
    return Palette(mean.astype(np.float32), cov.astype(np.float32))


def running(past: Palette | None, new: Palette, momentum: float) -> Palette:
    """One step of the exponential moving average of the statistics: m·past + (1 − m)·new (the first
    frame: new). A convex mix of covariances stays a covariance."""
    if past is None or momentum == 0:
        return new
    return Palette((momentum * past.mean + (1 - momentum) * new.mean).astype(np.float32),
                   (momentum * past.cov + (1 - momentum) * new.cov).astype(np.float32))


def _power(m: np.ndarray, power: float, floor: float) -> np.ndarray:
    """m^power of a symmetric (3, 3) matrix, its eigenvalues floored at ``floor``."""
    evals, evecs = np.linalg.eigh(m)
    return (evecs * np.maximum(evals, floor) ** power) @ evecs.T


def transport_map(source: Palette, target: Palette) -> tuple[np.ndarray, np.ndarray]:
    """The affine map x ↦ A·x + b taking pixels of ``source``'s statistics to ``target``'s:
    A (3, 3), b (3,) float32, RGB in [0, 1]."""
    s, t = source.cov.astype(np.float32), target.cov.astype(np.float32)
    s_half, s_inv_half = _power(s, 0.5, MIN_VARIANCE), _power(s, -0.5, MIN_VARIANCE)
    middle = s_half @ t @ s_half                  # eigenvalues of the order of a variance squared
    a = s_inv_half @ _power((middle + middle.T) / 2, 0.5, MIN_VARIANCE ** 2) @ s_inv_half
    a = ((a + a.T) / 2).astype(np.float32)
    return a, (target.mean - a @ source.mean).astype(np.float32)


def at_strength(a: np.ndarray, b: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """The map moved toward the identity with the style strength: α = 0 leaves the photo as it is."""
    return ((1 - alpha) * np.eye(3, dtype=np.float32) + alpha * a).astype(np.float32), \
        (alpha * b).astype(np.float32)


def map_pixels(pixels: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(M, 3) float RGB -> A·x + b for each, unclipped."""
    return pixels @ a.T + b


def apply_map(frames: np.ndarray, a: np.ndarray, b: np.ndarray, bgr: bool = True) -> np.ndarray:
    """(H, W, 3) or (N, H, W, 3) uint8 -> the same, mapped and rounded into [0, 255]. The map is in RGB
    on [0, 1]; bgr: the frames' channels are in BGR order (the backends')."""
    if frames.ndim == 4:
        return np.stack([apply_map(f, a, b, bgr) for f in frames])
    m = np.concatenate([a, 255 * b[:, None]], axis=1).astype(np.float32)        # (3, 4) on 0 … 255
    if bgr:
        m = np.concatenate([m[::-1, 2::-1], m[::-1, 3:]], axis=1)                  # channels reversed
    return cv2.transform(np.ascontiguousarray(frames), m)


def thumbnail(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 BGR -> (THUMB, THUMB) float32 grey in [0, 1], from every 4th pixel of every 4th row
    (a cut changes whole regions; the full frame would cost more and say the same)."""
    grey = cv2.cvtColor(np.ascontiguousarray(frame[::4, ::4]), cv2.COLOR_BGR2GRAY)
    return cv2.resize(grey, (THUMB, THUMB), interpolation=cv2.INTER_AREA).astype(np.float32) / 255


def scene_cut(previous: np.ndarray | None, current: np.ndarray, threshold: float = CUT_THRESHOLD) -> bool:
    """Whether two consecutive input frames' thumbnails differ as different shots do (camera motion and
    lighting changes stay well below the threshold)."""
    return previous is not None and float(np.abs(current - previous).mean()) > threshold


class PaletteMatcher:
    """Gives stylized frames the painting's colour statistics, frame by frame in order.

    momentum: share of the past in the running output statistics (0: each frame its own, `image`).
    ``map`` is the last (A, b) applied, at full strength (tests and flicker figures read it);
    ``seconds`` the time the last frame took here (the live bench reads it)."""

    def __init__(self, momentum: float = 0.0):
        if not 0 <= momentum < 1:
            raise ValueError(f"palette momentum {momentum}: must be in [0, 1)")
        self.momentum = momentum
        self.seconds: float | None = None
        self.reset()

    def reset(self) -> None:
        self.stats: Palette | None = None
        self.map: tuple[np.ndarray, np.ndarray] | None = None
        self._thumb: np.ndarray | None = None

    def __call__(self, content: np.ndarray, stylized: np.ndarray, target: Palette, alpha: float = 1.0) -> np.ndarray:
        """content, stylized: (H, W, 3) or (N, H, W, 3) uint8 BGR, the input frames and their outputs ->
        the outputs with the painting's colours (at strength alpha)."""
        if stylized.ndim == 4:
            return np.stack([self(c, s, target, alpha) for c, s in zip(content, stylized)])
        t0 = time.perf_counter()
        if self.momentum:
            thumb = thumbnail(content)
            if scene_cut(self._thumb, thumb):
                self.stats = None
            self._thumb = thumb
        self.stats = running(self.stats, palette_of_bgr(stylized), self.momentum)
        self.map = transport_map(self.stats, target)
        out = apply_map(stylized, *at_strength(*self.map, alpha))
        self.seconds = time.perf_counter() - t0
        return out
