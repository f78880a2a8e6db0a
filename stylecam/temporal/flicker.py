"""Flicker and fidelity measures for stylized video (docs/design.md §5b).

Warping error (Lai et al., ECCV 2018): flow on the *input* frames t -> t+1, the
stylized frame t+1 warped back onto t, the mean squared difference (RGB in
[0, 1], averaged over the 3 channels) over the reliable pixels (not occluded,
not on a motion boundary), averaged over frame pairs. Paired with the style
loss (mean/std of VGG features at relu1_1…relu4_1 against the style) so that
blurring cannot win.
"""
from __future__ import annotations

from typing import Iterable

import cv2
import numpy as np
import torch

from ..adain import calc_mean_std
from .flow import FLOW_METHOD, Flow, gray, reliable_mask, warp
from ..model import pad_to_multiple


class WarpingError:
    """Feed (original, stylized) BGR uint8 frame pairs in order; ``result()`` gives the figure."""

    def __init__(self):
        self.flow = Flow()
        self.prev = None               # (gray original, stylized float) of frame t
        self.errors: list[float] = []
        self.reliable: list[float] = []

    def add(self, original: np.ndarray, stylized: np.ndarray) -> None:
        if original.shape[:2] != stylized.shape[:2]:   # the stylized video may be smaller
            original = cv2.resize(original, stylized.shape[1::-1], interpolation=cv2.INTER_AREA)
        g, s = gray(original), stylized.astype(np.float32) / 255
        if self.prev is not None:
            g0, s0 = self.prev
            fwd, bwd = self.flow(g0, g), self.flow(g, g0)
            mask = reliable_mask(fwd, bwd)                           # (H, W) bool
            diff = np.square(s0 - warp(s, fwd)).mean(-1)            # (H, W)
            self.errors.append(float(diff[mask].mean()) if mask.any() else 0.0)
            self.reliable.append(float(mask.mean()))
        self.prev = (g, s)

    def result(self) -> dict:
        return {
            "flow": FLOW_METHOD,
            "warping_error": float(np.mean(self.errors)) if self.errors else None,
            "pairs": len(self.errors),
            "reliable_pixels": float(np.mean(self.reliable)) if self.reliable else None,
            "per_pair": [round(e, 7) for e in self.errors],
        }


def warping_error(originals: Iterable[np.ndarray], stylized: Iterable[np.ndarray]) -> dict:
    m = WarpingError()
    for o, s in zip(originals, stylized):
        m.add(o, s)
    return m.result()


def _to_rgb_tensor(frames_bgr: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(frames_bgr)).flip(-1).permute(0, 3, 1, 2)
    return x.float().div_(255)                                     # (N, 3, H, W) RGB


@torch.inference_mode()
def layer_stats(encoder, rgb: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(N, 3, H, W) RGB [0, 1] -> per style layer (mean, std), each (N, C)."""
    x, _ = pad_to_multiple(rgb)
    return [calc_mean_std(f) for f in encoder(x, all_layers=True)]


class StyleLoss:
    """Mean/std style loss of stylized frames against a style image, as in training (MSE terms,
    summed over relu1_1…relu4_1), plus the content loss ‖f(out) − f(content)‖² at relu4_1."""

    def __init__(self, encoder, style_rgb: np.ndarray):
        self.encoder = encoder
        self.target = layer_stats(encoder, _to_rgb_tensor(style_rgb[None, ..., ::-1]))
        self.reset()

    def reset(self) -> None:
        """Start measuring another video against the same style (its statistics are kept)."""
        self.style: list[float] = []
        self.content: list[float] = []

    @torch.inference_mode()
    def add(self, content_bgr: np.ndarray, stylized_bgr: np.ndarray) -> None:
        """(N, H, W, 3) uint8 BGR each."""
        out = _to_rgb_tensor(stylized_bgr)
        x, _ = pad_to_multiple(out)
        feats = self.encoder(x, all_layers=True)
        for i in range(len(out)):
            loss = 0.0
            for f, (tm, ts) in zip(feats, self.target):
                m, s = calc_mean_std(f[i:i + 1])
                loss += float(torch.mean((m - tm) ** 2) + torch.mean((s - ts) ** 2))
            self.style.append(loss)
        c, _ = pad_to_multiple(_to_rgb_tensor(content_bgr))
        fc = self.encoder(c)
        self.content.extend(((feats[-1].float() - fc.float()) ** 2).mean((1, 2, 3)).tolist())

    def result(self) -> dict:
        return {"style_loss": float(np.mean(self.style)), "content_loss": float(np.mean(self.content))}
