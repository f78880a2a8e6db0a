"""Cures for the flicker of per-frame AdaIN (docs/design.md §5b), one frame at a time.

``TemporalSmoother`` wraps a backend and keeps the state between frames:

- ``stats``: an exponential moving average of the *content* statistics μ(f(c)),
  σ(f(c)) at the features. Per-frame AdaIN renormalizes every frame by its own
  statistics, so a light change anywhere (a bird entering, auto-exposure)
  re-tints the whole frame; smoothing them removes that global pumping.
- ``flow``: the previous *output* frame, warped onto the current one with optical
  flow computed on the input frames, blended in on the pixels the flow can be
  trusted on (not occluded, not on a motion boundary).
- ``both``: the two together.
- ``features`` (AdaIN-specific): the flow-guided blending done on the content
  features f(c) instead of on pixels: the previous frame's blended features, warped
  onto this one, are mixed in on reliable cells, and the result is given back the
  statistics of this frame's features before AdaIN and the decoder. The decoder
  then draws crisp textures from a steadier feature map, where pixel blending
  averages two textures into a blur (docs/video.md, the flicker table).

``stats``, ``both`` and ``features`` work between the backend's ``encode`` and
``decode`` (the network split at the features), so every mode runs on every backend.
No PyAV here: the live loop uses it too.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..adain import calc_mean_std, renormalize
from ..errors import UserError
from .flow import Flow, gray, reliable_mask, warp

MODES = ("off", "stats", "flow", "both", "features")
SPLIT_MODES = ("stats", "both", "features")     # run between the backend's encode and decode


@dataclass(frozen=True)
class SmoothOptions:
    mode: str = "off"
    stats_momentum: float = 0.9     # share of the past in the EMA of μ, σ (0: per frame)
    flow_weight: float = 0.5        # share of the warped past on reliable pixels (flow, features; higher blurs)

    def __post_init__(self):
        if self.mode not in MODES:
            raise UserError(f"--smooth {self.mode}: choose one of {', '.join(MODES)}")
        if not 0 <= self.stats_momentum < 1:
            raise UserError(f"--smooth-momentum {self.stats_momentum}: must be in [0, 1)")
        if not 0 <= self.flow_weight < 1:
            raise UserError(f"--flow-weight {self.flow_weight}: must be in [0, 1)")

    @property
    def split(self) -> bool:
        """Whether the backend must run encode/decode (``backends.create(..., split=...)``)."""
        return self.mode in SPLIT_MODES


class StatsSmoothing:
    """encode -> AdaIN with EMA-smoothed content statistics -> decode."""

    def __init__(self, backend, momentum: float):
        self.backend, self.momentum = backend, momentum
        self.mean = self.std = None       # (C,) float32 running content statistics

    def reset(self):
        self.mean = self.std = None

    @torch.inference_mode()
    def __call__(self, frames: np.ndarray, style_mean, style_std, alpha: float) -> np.ndarray:
        """frames: (N, H, W, 3) uint8 BGR -> (N, H, W, 3) uint8 BGR."""
        feat = self.backend.encode(frames)                                   # (N, C, h, w)
        means, stds = [], []
        for m, s in zip(*calc_mean_std(feat)):   # sequential: each frame's EMA includes the last
            if self.mean is None:
                self.mean, self.std = m, s
            else:
                self.mean = torch.lerp(m, self.mean, self.momentum)
                self.std = torch.lerp(s, self.std, self.momentum)
            means.append(self.mean)
            stds.append(self.std)
        return self.backend.decode(feat, torch.stack(means), torch.stack(stds), style_mean, style_std, alpha,
                                   frames.shape[1:3])


class FlowBlending:
    """out_t = (1 − w·M)·stylized_t + w·M·warp(out_{t−1}), M the reliable-pixel mask."""

    def __init__(self, weight: float):
        self.weight = weight
        self.flow = Flow()
        self.reset()

    def reset(self):
        self.prev_gray = self.prev_out = None

    def __call__(self, content: np.ndarray, stylized: np.ndarray) -> np.ndarray:
        """content, stylized: (H, W, 3) uint8 BGR of one size -> (H, W, 3) uint8 BGR."""
        g = gray(content)
        if self.prev_out is None or self.prev_out.shape != stylized.shape:
            out = stylized
        else:
            to_prev = self.flow(g, self.prev_gray)           # current -> previous
            from_prev = self.flow(self.prev_gray, g)
            mask = reliable_mask(to_prev, from_prev).astype(np.float32)
            w = (self.weight * mask)[..., None]                              # (H, W, 1)
            warped = warp(self.prev_out, to_prev).astype(np.float32)
            out = np.clip(stylized * (1 - w) + warped * w + 0.5, 0, 255).astype(np.uint8)
        self.prev_gray, self.prev_out = g, out
        return out


class FeatureBlending:
    """Flow-guided blending of the content features f (1/m scale):
    f' = renorm((1 − w·M)·f + w·M·warp(f'_{−1})), renorm giving f' the channel statistics of f."""

    def __init__(self, backend, weight: float):
        self.backend, self.weight = backend, weight
        self.flow = Flow()
        self.reset()

    def reset(self):
        self.prev_gray = self.prev_feat = None

    @torch.inference_mode()
    def __call__(self, frames: np.ndarray, style_mean, style_std, alpha: float) -> np.ndarray:
        """frames: (N, H, W, 3) uint8 BGR, in display order -> the same, stylized."""
        feats = self.backend.encode(frames).float()                          # (N, C, h, w)
        mean, std = calc_mean_std(feats)                                     # (N, C)
        blended = torch.cat([self._blend(frame, feat[None], m[None], s[None])
                             for frame, feat, m, s in zip(frames, feats, mean, std)])
        return self.backend.decode(blended, mean, std, style_mean, style_std, alpha, frames.shape[1:3])

    def _blend(self, frame: np.ndarray, feat: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        g, out = gray(frame), feat
        if self.prev_feat is not None and self.prev_feat.shape == feat.shape:
            to_prev = self.flow(g, self.prev_gray)
            mask = reliable_mask(to_prev, self.flow(self.prev_gray, g)).astype(np.float32)
            flow8, mask8 = _to_feature_grid(to_prev, mask, feat.shape[-2:])
            w = torch.from_numpy(mask8 * self.weight).to(feat.device)[None, None]     # (1, 1, h, w)
            mixed = torch.lerp(feat, _warp_features(self.prev_feat, flow8), w)
            out = renormalize(mixed, *calc_mean_std(mixed), mean, std)
        self.prev_gray, self.prev_feat = g, out
        return out


def _to_feature_grid(flow: np.ndarray, mask: np.ndarray, shape) -> tuple[np.ndarray, np.ndarray]:
    """Full-resolution flow (H, W, 2) and mask (H, W) -> the feature grid (h8, w8): flow in cells.
    The grid covers the frame padded up to the size multiple; the few cells of padding are stretched in."""
    h8, w8 = shape
    scale = np.array([w8 / flow.shape[1], h8 / flow.shape[0]], np.float32)
    flow8 = cv2.resize(flow, (w8, h8), interpolation=cv2.INTER_AREA) * scale
    return flow8, cv2.resize(mask, (w8, h8), interpolation=cv2.INTER_AREA)


def _warp_features(feat: torch.Tensor, flow8: np.ndarray) -> torch.Tensor:
    """Sample feat (1, C, h, w) at p + flow(p), bilinear, borders clamped."""
    h, w = flow8.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    gx = (xs + flow8[..., 0]) / max(w - 1, 1) * 2 - 1
    gy = (ys + flow8[..., 1]) / max(h - 1, 1) * 2 - 1
    grid = torch.from_numpy(np.stack([gx, gy], -1))[None].to(feat.device, feat.dtype)
    return F.grid_sample(feat, grid, mode="bilinear", padding_mode="border", align_corners=True)


class TemporalSmoother:
    """Stylize frames in order with one of the cures; ``reset()`` at a cut or a new clip.

    ``process(frame)`` for one (H, W, 3) uint8 BGR frame, ``process_batch(frames)`` for
    (N, H, W, 3): frames must come in display order either way."""

    def __init__(self, backend, options: SmoothOptions = SmoothOptions()):
        self.backend, self.options = backend, options
        if options.split:
            backend.prepare_split()       # a backend that cannot split says why, before the first frame
        self.stats = StatsSmoothing(backend, options.stats_momentum) if options.mode in ("stats", "both") else None
        self.features = FeatureBlending(backend, options.flow_weight) if options.mode == "features" else None
        self.blend = FlowBlending(options.flow_weight) if options.mode in ("flow", "both") else None

    def reset(self):
        for cure in (self.stats, self.features, self.blend):
            if cure is not None:
                cure.reset()

    def process_batch(self, frames: np.ndarray, style_mean, style_std, alpha: float = 1.0) -> np.ndarray:
        if self.stats is not None:
            out = self.stats(frames, style_mean, style_std, alpha)
        elif self.features is not None:
            out = self.features(frames, style_mean, style_std, alpha)
        else:
            out = self.backend.stylize(frames, style_mean, style_std, alpha)
        if self.blend is not None:
            out = np.stack([self.blend(c, s) for c, s in zip(frames, out)])
        return out

    def process(self, frame: np.ndarray, style_mean, style_std, alpha: float = 1.0) -> np.ndarray:
        return self.process_batch(frame[None], style_mean, style_std, alpha)[0]
