"""Cures for the flicker of per-frame AdaIN (design.md §5b), one frame at a time.

``TemporalSmoother`` wraps a backend and keeps the state between frames:

- ``stats``: an exponential moving average of the *content* statistics μ(f(c)),
  σ(f(c)) at relu4_1. Per-frame AdaIN renormalizes every frame by its own
  statistics, so a light change anywhere (a bird entering, auto-exposure)
  re-tints the whole frame; smoothing them removes that global pumping. It needs
  the encoder features, so it runs on the torch model.
- ``flow``: the previous *output* frame, warped onto the current one with optical
  flow computed on the input frames, blended in on the pixels the flow can be
  trusted on (not occluded, not on a motion boundary). Works with every backend.
- ``both``: the two together.
- ``features`` (AdaIN-specific): the flow-guided blending done on the AdaIN target
  t at relu4_1 instead of on pixels: the previous frame's t, warped onto this one,
  is blended in on reliable cells, and the result is given back the statistics of
  this frame's t before decoding. The decoder then draws crisp textures from a
  steadier feature map, where pixel blending averages two textures into a blur
  (see the README's flicker table). Runs on the torch model.

No PyAV here: the live loop uses it too.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..adain import adain_with_strength, calc_mean_std
from ..errors import UserError
from .flow import Flow, gray, reliable_mask, warp
from ..model import StyleTransfer, from_bgr_uint8, pad_to_multiple, to_bgr_uint8

MODES = ("off", "stats", "flow", "both", "features")
TORCH_MODES = ("stats", "both", "features")     # need the encoder features: torch backend only


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


class StatsSmoothing:
    """Encoder -> AdaIN with EMA-smoothed content statistics -> decoder, on the torch model."""

    def __init__(self, model: StyleTransfer, device: torch.device, dtype: torch.dtype, momentum: float,
                 channels_last: bool = False):
        self.model, self.device, self.dtype, self.momentum = model, device, dtype, momentum
        self.channels_last = channels_last
        self.mean = self.std = None       # (512,) float32 running content statistics

    def reset(self):
        self.mean = self.std = None

    @torch.inference_mode()
    def __call__(self, frames: np.ndarray, style_mean, style_std, alpha: float) -> np.ndarray:
        """frames: (N, H, W, 3) uint8 BGR -> (N, H, W, 3) uint8 BGR."""
        x = from_bgr_uint8(torch.from_numpy(np.ascontiguousarray(frames)).to(self.device), self.dtype)
        x, (h, w) = pad_to_multiple(x, self.model.config.size_multiple)
        if self.channels_last:                   # the layout the backend's CUDA model is in
            x = x.contiguous(memory_format=torch.channels_last)
        feat = self.model.encoder(x)                                        # (N, 512, h/8, w/8)
        c_mean, c_std = calc_mean_std(feat, self.model.config.eps)          # (N, 512) float32
        means, stds = [], []
        for m, s in zip(c_mean, c_std):          # sequential: each frame's EMA includes the last
            if self.mean is None:
                self.mean, self.std = m, s
            else:
                self.mean = torch.lerp(m, self.mean, self.momentum)
                self.std = torch.lerp(s, self.std, self.momentum)
            means.append(self.mean)
            stds.append(self.std)
        m, s = torch.stack(means)[..., None, None], torch.stack(stds)[..., None, None]
        s_mean = style_mean.to(self.device, torch.float32).reshape(1, -1, 1, 1)
        s_std = style_std.to(self.device, torch.float32).reshape(1, -1, 1, 1)
        f = feat.float()
        t = torch.lerp(f, (f - m) / s * s_std + s_mean, float(alpha))
        y = self.model.decoder(t.to(feat.dtype))[..., :h, :w].clamp(0, 1)     # (N, 3, H, W)
        return to_bgr_uint8(y).cpu().numpy()


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
    """Flow-guided blending of the AdaIN target t (relu4_1, 1/8 scale) on the torch model:
    t' = renorm((1 − w·M)·t + w·M·warp(t'_{−1})), renorm giving t' the channel statistics of t."""

    def __init__(self, model: StyleTransfer, device: torch.device, dtype: torch.dtype, weight: float):
        self.model, self.device, self.dtype, self.weight = model, device, dtype, weight
        self.flow = Flow()
        self.reset()

    def reset(self):
        self.prev_gray = self.prev_t = None

    @torch.inference_mode()
    def __call__(self, frames: np.ndarray, style_mean, style_std, alpha: float) -> np.ndarray:
        """frames: (N, H, W, 3) uint8 BGR, in display order -> the same, stylized."""
        return np.stack([self._one(f, style_mean, style_std, alpha) for f in frames])

    def _one(self, frame: np.ndarray, style_mean, style_std, alpha: float) -> np.ndarray:
        x = from_bgr_uint8(torch.from_numpy(np.ascontiguousarray(frame[None])).to(self.device), self.dtype)
        x, (h, w) = pad_to_multiple(x, self.model.config.size_multiple)
        feat = self.model.encoder(x)                                         # (1, 512, h8, w8)
        mean = style_mean.to(self.device, torch.float32)
        std = style_std.to(self.device, torch.float32)
        t = adain_with_strength(feat, mean, std, alpha)                     # float32
        g = gray(frame)
        blended = t
        if self.prev_t is not None and self.prev_t.shape == t.shape:
            to_prev = self.flow(g, self.prev_gray)
            mask = reliable_mask(to_prev, self.flow(self.prev_gray, g)).astype(np.float32)
            flow8, mask8 = _to_feature_grid(to_prev, mask, t.shape[-2:])
            m = torch.from_numpy(mask8 * self.weight).to(self.device)[None, None]   # (1, 1, h8, w8)
            mixed = torch.lerp(t, _warp_features(self.prev_t, flow8, self.device), m)
            t_mean, t_std = calc_mean_std(t)                                 # (1, 512)
            m_mean, m_std = calc_mean_std(mixed)
            blended = (mixed - m_mean[..., None, None]) / m_std[..., None, None] * t_std[..., None, None] \
                + t_mean[..., None, None]
        self.prev_gray, self.prev_t = g, blended
        y = self.model.decoder(blended.to(feat.dtype))[..., :h, :w].clamp(0, 1)
        return to_bgr_uint8(y)[0].cpu().numpy()


def _to_feature_grid(flow: np.ndarray, mask: np.ndarray, shape) -> tuple[np.ndarray, np.ndarray]:
    """Full-resolution flow (H, W, 2) and mask (H, W) -> the feature grid (h8, w8): flow in cells."""
    h8, w8 = shape
    scale = np.array([w8 / flow.shape[1], h8 / flow.shape[0]], np.float32)
    flow8 = cv2.resize(flow, (w8, h8), interpolation=cv2.INTER_AREA) * scale
    return flow8, cv2.resize(mask, (w8, h8), interpolation=cv2.INTER_AREA)


def _warp_features(feat: torch.Tensor, flow8: np.ndarray, device) -> torch.Tensor:
    """Sample feat (1, C, h, w) at p + flow(p), bilinear, borders clamped."""
    h, w = flow8.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    gx = (xs + flow8[..., 0]) / max(w - 1, 1) * 2 - 1
    gy = (ys + flow8[..., 1]) / max(h - 1, 1) * 2 - 1
    grid = torch.from_numpy(np.stack([gx, gy], -1))[None].to(device, feat.dtype)
    return F.grid_sample(feat, grid, mode="bilinear", padding_mode="border", align_corners=True)


class TemporalSmoother:
    """Stylize frames in order with one of the cures; ``reset()`` at a cut or a new clip.

    ``process(frame)`` for one (H, W, 3) uint8 BGR frame, ``process_batch(frames)`` for
    (N, H, W, 3): frames must come in display order either way."""

    def __init__(self, backend, options: SmoothOptions = SmoothOptions()):
        self.backend, self.options = backend, options
        self.stats = self.features = None
        if options.mode in TORCH_MODES:
            model = getattr(backend, "model", None)
            if not isinstance(model, StyleTransfer):
                raise UserError(f"--smooth {options.mode} works on the encoder's features, which the "
                                f"{backend.name} backend does not expose; use --backend torch, or --smooth flow")
        if options.mode in ("stats", "both"):
            self.stats = StatsSmoothing(backend.model, backend.torch_device, backend.dtype, options.stats_momentum,
                                        getattr(backend, "channels_last", False))
        if options.mode == "features":
            self.features = FeatureBlending(backend.model, backend.torch_device, backend.dtype, options.flow_weight)
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
