"""Small clips written with PyAV for the video, flicker and mask tests (generated, or scikit-image's
public-domain astronaut)."""
from __future__ import annotations

import functools
import itertools
from fractions import Fraction
from typing import Callable

import av
import numpy as np


def moving_pattern(i: int, h: int, w: int) -> np.ndarray:
    """(H, W, 3) uint8 BGR: a gradient background and a square that moves 2 px per frame."""
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([(x * 255 // max(1, w - 1)), (y * 255 // max(1, h - 1)), np.full_like(x, 120)], -1)
    img = img.astype(np.uint8)
    s = max(4, min(h, w) // 4)
    x0 = (5 + 2 * i) % max(1, w - s)
    img[h // 3:h // 3 + s, x0:x0 + s] = (40, 200, 250)
    return img


@functools.cache
def _astronaut_bgr() -> np.ndarray:
    import cv2
    import skimage.data
    return cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)


def person(i: int, h: int, w: int) -> np.ndarray:
    """(H, W, 3) uint8 BGR: the astronaut (a person, head and shoulders), drifting 2 source px per frame."""
    import cv2
    src = _astronaut_bgr()
    x0 = min(2 * i, 64)
    return cv2.resize(src[:, x0:x0 + 448], (w, h), interpolation=cv2.INTER_AREA)


def make_clip(path, w: int = 64, h: int = 48, frames: int = 20, fps: int = 10, audio: str | None = "aac",
              rate: int = 8000, rotation: int | None = None, vcodec: str = "libx264",
              pattern: Callable[[int, int, int], np.ndarray] = moving_pattern) -> None:
    """Write a clip: ``frames`` frames of ``pattern(i, h, w)`` (default: a moving pattern), and a 440 Hz sine
    of the same length."""
    with av.open(str(path), "w") as out:
        vs = out.add_stream(vcodec, rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        if rotation is not None:
            vs.set_display_rotation(rotation)
        ast = None
        if audio:
            ast = out.add_stream(audio, rate=rate)
            ast.layout = "mono"
        _encode(out, vs, (_video_frame(pattern(i, h, w), i, fps) for i in range(frames)))
        if ast is not None:
            n = rate * frames // fps
            pcm = (0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / rate) * 32767).astype(np.int16)
            _encode(out, ast, (_audio_frame(pcm[k:k + 1024], k, rate) for k in range(0, n, 1024)))


def _encode(out, stream, frames) -> None:
    """Encode ``frames`` on ``stream``, flush it, and mux every packet into ``out``."""
    for frame in itertools.chain(frames, [None]):       # None: flush
        for packet in stream.encode(frame):
            out.mux(packet)


def _video_frame(bgr: np.ndarray, i: int, fps: int) -> av.VideoFrame:
    f = av.VideoFrame.from_ndarray(bgr, format="bgr24")
    f.pts, f.time_base = i, Fraction(1, fps)
    return f


def _audio_frame(pcm: np.ndarray, start: int, rate: int) -> av.AudioFrame:
    f = av.AudioFrame.from_ndarray(pcm[None], format="s16", layout="mono")
    f.sample_rate, f.pts, f.time_base = rate, start, Fraction(1, rate)
    return f
