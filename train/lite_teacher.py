"""What the student learns from: the paintings' style statistics, and the teacher's outputs
on a pool of (content crop, style code, alpha) samples computed once.

On the CPU the teacher (VGG encoder + mirrored decoder, ~480 K MAC per pixel) costs
far more than a student step, so its outputs are computed once for a fixed pool
and kept as uint8, as the runtime shows them. The bank and the pool are saved in
the output folder with a key of everything they depend on, so a resumed run reuses them.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from stylecam.adain import adain_with_strength, calc_mean_std
from stylecam.images import resize_longer, to_tensor
from stylecam.model import SIZE_MULTIPLE, Encoder, StyleTransfer, pad_to_multiple
from stylecam.palette import Palette, apply_map, at_strength, palette_of, transport_map
from stylecam.safeio import save_torch

from .colour import Moments, mix_moments, moments
from .data import ImagePool

Stats = list[tuple[torch.Tensor, torch.Tensor]]     # per VGG style layer: mean, std (N, C)
STYLES_PER_CROP = 4          # each content crop is stylized with this many codes (its encoding is shared)
MAX_BLEND = 3                # a blended code mixes 2 or 3 paintings


class StyleBank:
    """relu1_1 … relu4_1 statistics and pixel moments of every training painting, and convex blends of them."""

    def __init__(self, means: list[torch.Tensor], stds: list[torch.Tensor], pixels: Moments):
        self.means, self.stds = means, stds          # per layer (S, C)
        self.pixels = pixels                         # pixel mean (S, 3), second moment (S, 3, 3)

    def __len__(self) -> int:
        return self.means[0].shape[0]

    @classmethod
    @torch.no_grad()
    def from_images(cls, encoder: Encoder, images: list, size: int, device: torch.device, log=print) -> "StyleBank":
        """images: RGB uint8 paintings, each scaled to longer side ``size`` as the runtime does."""
        log(f"style bank: statistics of {len(images)} paintings at {size} px ...")
        per_image, pixels = [], []
        for k, img in enumerate(images):
            if k and k % 100 == 0:
                log(f"style bank: {k}/{len(images)}")
            x = to_tensor(resize_longer(img, size), device)
            pixels.append(moments(x))
            x, _ = pad_to_multiple(x, SIZE_MULTIPLE)
            per_image.append([calc_mean_std(f) for f in encoder(x, all_layers=True)])
        layers = range(len(per_image[0]))
        return cls([torch.cat([s[i][0] for s in per_image]) for i in layers],
                   [torch.cat([s[i][1] for s in per_image]) for i in layers],
                   tuple(torch.cat([m[i] for m in pixels]) for i in range(2)))

    def mix(self, idx: torch.Tensor, weights: torch.Tensor) -> Stats:
        """idx, weights: (N, k) paintings and convex weights -> per layer (mean, std) (N, C).

        Mixing (μ, σ) linearly is how the runtime blends styles (adain.blend_stats)."""
        w = weights[..., None]
        return [((m[idx] * w).sum(1), (s[idx] * w).sum(1)) for m, s in zip(self.means, self.stds)]

    def mix_pixels(self, idx: torch.Tensor, weights: torch.Tensor) -> Moments:
        """The pixel moments of the blend: those of the mixture of its paintings' pixels."""
        return mix_moments(self.pixels, idx, weights)

    def state(self) -> dict:
        return {"means": [m.cpu() for m in self.means], "stds": [s.cpu() for s in self.stds],
                "pixels": [m.cpu() for m in self.pixels]}

    @classmethod
    def from_state(cls, state: dict) -> "StyleBank":
        return cls(state["means"], state["stds"], tuple(state["pixels"]))


def random_blends(n: int, styles: int, blend_share: float, generator: torch.Generator,
                  device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, 3) painting indices and convex weights: one painting, or (blend_share of them) 2-3
    paintings with flat-Dirichlet weights."""
    idx = torch.randint(styles, (n, MAX_BLEND), generator=generator, device=device)
    raw = -torch.rand(n, MAX_BLEND, generator=generator, device=device).clamp_min(1e-6).log()   # Exp(1)
    parts = torch.where(torch.rand(n, generator=generator, device=device) < blend_share,
                        torch.randint(2, MAX_BLEND + 1, (n,), generator=generator, device=device), 1)
    raw = raw * (torch.arange(MAX_BLEND, device=device) < parts[:, None])
    return idx, raw / raw.sum(1, keepdim=True)


def with_painting_colours(images: torch.Tensor, pixels: Moments, alpha: torch.Tensor) -> torch.Tensor:
    """(n, 3, H, W) uint8 RGB teacher outputs -> the same, each given its painting's colour mean and
    covariance at its strength by the map ``stylecam --palette style`` uses (here on each picture's
    own statistics, not a running average); pixels: the paintings' moments (n, 3), (n, 3, 3); alpha: (n,)."""
    mean, second = (m.cpu().double().numpy() for m in pixels)
    out = torch.empty_like(images)
    for i, image in enumerate(images):
        rgb = np.ascontiguousarray(image.permute(1, 2, 0).cpu().numpy())              # (H, W, 3)
        painting = Palette(mean[i].astype(np.float32),
                           (second[i] - np.outer(mean[i], mean[i])).astype(np.float32))
        a, b = at_strength(*transport_map(palette_of(rgb), painting), float(alpha[i]))
        out[i] = torch.from_numpy(apply_map(rgb, a, b, bgr=False)).permute(2, 0, 1)
    return out


@dataclass
class TeacherPool:
    crops: torch.Tensor          # (P, 3, crop, crop) uint8 content crops
    crop_of: torch.Tensor        # (N,) long: the crop of each sample
    style_idx: torch.Tensor      # (N, 3) long
    style_w: torch.Tensor        # (N, 3) float32, rows sum to 1
    alpha: torch.Tensor          # (N,) float32 in (0, 1]
    target: torch.Tensor         # (N, 3, crop, crop) uint8: the teacher's output, clamped and rounded

    def __len__(self) -> int:
        return self.target.shape[0]

    @classmethod
    @torch.no_grad()
    def build(cls, teacher: StyleTransfer, content: ImagePool, bank: StyleBank, n: int, crop: int,
              jitter: float, blend_share: float, generator: torch.Generator, log=print,
              chunk: int = 16, palette: bool = False) -> "TeacherPool":
        """palette: the teacher's outputs given their paintings' colours (``with_painting_colours``)."""
        dev = content.device
        n_crops = -(-n // STYLES_PER_CROP)
        log(f"teacher pool: {n} samples ({n_crops} crops of {crop} px x {STYLES_PER_CROP} style codes) ...")
        crops = torch.cat([content.sample(min(chunk, n_crops - i), crop, jitter, generator)
                           for i in range(0, n_crops, chunk)])                          # (P, 3, crop, crop)
        crop_of = torch.arange(n, device=dev) // STYLES_PER_CROP
        style_idx, style_w = random_blends(n, len(bank), blend_share, generator, dev)
        alpha = torch.where(torch.rand(n, generator=generator, device=dev) < 0.5, 1.0,
                            torch.rand(n, generator=generator, device=dev).clamp_min(0.01))
        mean, std = bank.mix(style_idx, style_w)[-1]                                    # relu4_1 (N, 512)
        target = torch.empty(n, 3, crop, crop, dtype=torch.uint8, device=dev)
        for start in range(0, n_crops, chunk):
            feats = teacher.encoder(crops[start:start + chunk])                          # (c, 512, h, w)
            rows = torch.arange(start * STYLES_PER_CROP, min(n, (start + chunk) * STYLES_PER_CROP), device=dev)
            feat = feats[crop_of[rows] - start]
            # the full model's forward pass, its encoding shared by the crop's samples
            t = adain_with_strength(feat, mean[rows], std[rows], alpha[rows])
            target[rows] = teacher.decoder(t.to(feat.dtype), alpha[rows]).float().clamp(0, 1).mul(255).round().to(torch.uint8)
            if palette:
                target[rows] = with_painting_colours(target[rows], bank.mix_pixels(style_idx[rows], style_w[rows]),
                                                     alpha[rows]).to(dev)
        crops = crops.mul(255).round().to(torch.uint8)
        return cls(crops, crop_of, style_idx, style_w, alpha, target)

    def batch(self, idx: torch.Tensor, bank: StyleBank
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, Stats, Moments]:
        """idx: (B,) -> content, target (B, 3, crop, crop) float [0, 1], alpha (B,), style stats, pixel moments."""
        content = self.crops[self.crop_of[idx]].float() / 255
        target = self.target[idx].float() / 255
        style_idx, style_w = self.style_idx[idx], self.style_w[idx]
        return (content, target, self.alpha[idx].clone(), bank.mix(style_idx, style_w),
                bank.mix_pixels(style_idx, style_w))

    def state(self) -> dict:
        return {k: getattr(self, k).cpu() for k in ("crops", "crop_of", "style_idx", "style_w", "alpha", "target")}

    @classmethod
    def from_state(cls, state: dict) -> "TeacherPool":
        return cls(**{k: state[k] for k in ("crops", "crop_of", "style_idx", "style_w", "alpha", "target")})


def cached(path: Path, key: dict, build, kind, device: torch.device, log=print):
    """``kind.from_state`` of the file at ``path`` if it was saved with exactly ``key``; otherwise
    ``build()``, saved there with the key (the output folder keeps what a resumed run needs)."""
    if path.is_file():
        try:
            state = torch.load(path, map_location=device, weights_only=True)
        except Exception:   # a torn or foreign file: build it again
            state = None
        if isinstance(state, dict) and state.get("key") == key:
            log(f"reusing {path}")
            return kind.from_state(state)
    t0 = time.monotonic()
    made = build()
    save_torch({"key": key, **made.state()}, path)
    log(f"built {path.name} in {time.monotonic() - t0:.0f} s")
    return made
