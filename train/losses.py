"""The training loss (docs/design.md §2): L = L_c + λ·L_s on the frozen, normalized VGG, plus two
terms that make the decoder faithful and steady.

L_c: MSE at relu4_1 between f(g(t)) and t (the target is t, not f(c)).
L_s: Σ over relu1_1 … relu4_1 of MSE(μ) + MSE(σ), statistics in fp32 with the
biased variance (``stylecam.adain.calc_mean_std``).
Identity (SANet, AdaAttN, StyTr²): on a share of the batch the style is the photo
itself, so AdaIN(f(c), f(c)) = f(c) and g, at α = 0, must give c back:
L_id = w_px·L1(g(f(c)), c) + w_feat·Σ_i MSE(f_i(g(f(c))), f_i(c)) over relu1_1 … relu4_1.
Stability (MCCNet, Wang et al. 2020, "compound regularization"): the stylized
W(c) + n, with W a small random smooth warp and n Gaussian noise of σ ~ U(0.01, 0.02),
must equal W(g(t)): L_stab = MSE, the measure of the flicker report's warping error.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from stylecam.adain import adain, calc_mean_std
from stylecam.model import Encoder

from .colour import Moments, moment_loss

Stats = list[tuple[torch.Tensor, torch.Tensor]]     # per style layer: mean, std (N, C)

LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
# the terms of LossTerms.parts, in order
TERMS = ("content", *(f"style_{layer}" for layer in LAYERS), "identity_pixel", "identity_feature", "stability",
         "colour")
NOISE_SIGMA = (0.01, 0.02)       # on [0, 1] images, as MCCNet
WARP_KNOTS = 4                   # the random warp: a 4×4 grid of displacements, smoothly interpolated


@dataclass(frozen=True)
class LossWeights:
    """The weights of the terms (TrainConfig has the defaults and their reasons)."""
    style: float
    identity_pixel: float
    identity_feature: float
    stability: float
    stability_warp: float         # largest displacement of the random warp, in pixels; 0: noise only
    colour: float = 0.0           # pixel mean + covariance of the stylized output against the painting's
    relu1_1: float = 1.0          # extra factor on the relu1_1 style term (colour and fine texture)

    def vector(self) -> list[float]:
        """Weights of TERMS, in order."""
        return [1.0, self.style * self.relu1_1, *[self.style] * (len(LAYERS) - 1), self.identity_pixel,
                self.identity_feature, self.stability, self.colour]


@dataclass
class Batch:
    content: torch.Tensor        # (N, 3, H, W) RGB [0, 1] crops
    content_feat: torch.Tensor   # (N, 512, H/8, W/8) their relu4_1 features
    style: Stats                 # statistics of N - identity style crops; the first `identity` photos have none
    identity: int = 0            # the first `identity` photos are their own style
    style_pixels: Moments | None = None   # pixel moments of the style crops (train.colour)


@dataclass
class LossTerms:
    total: torch.Tensor          # scalar, carries the gradient
    parts: torch.Tensor          # (len(TERMS),) unweighted, detached; 0 where not present
    present: list[bool]          # per term: did this batch have samples for it

    @property
    def content(self) -> torch.Tensor:
        return self.parts[0]

    @property
    def style(self) -> torch.Tensor:
        return self.parts[1:1 + len(LAYERS)]


def style_stats(feats: list[torch.Tensor]) -> Stats:
    return [calc_mean_std(f) for f in feats]


@torch.no_grad()
def encode_content(encoder: Encoder, content: torch.Tensor) -> torch.Tensor:
    """content: (N, 3, H, W) RGB [0, 1] -> relu4_1 (N, 512, H/8, W/8)."""
    return encoder(content)


@torch.no_grad()
def encode_style(encoder: Encoder, style: torch.Tensor) -> Stats:
    """style: (N, 3, H, W) -> [(mean, std) (N, C)] at relu1_1 … relu4_1, fp32."""
    return style_stats(encoder(style, all_layers=True))


def adain_target(content_feat: torch.Tensor, style: Stats) -> torch.Tensor:
    """t = AdaIN(f(c), f(s)) at relu4_1, fp32 (N, 512, h, w)."""
    mean, std = style[-1]
    return adain(content_feat, mean, std)


def identity_count(n: int, share: float, generator: torch.Generator) -> int:
    """How many of n photos are their own style: share·n, rounded at random so that
    small batches get the share on average (no draw when share·n is whole)."""
    exact = share * n
    k = int(exact)
    if exact > k and torch.rand((), generator=generator, device=generator.device).item() < exact - k:
        k += 1
    return k


def random_warp(n: int, h: int, w: int, pixels: float, generator: torch.Generator) -> torch.Tensor:
    """A smooth random displacement of at most ``pixels`` -> grid_sample grid (n, h, w, 2)."""
    dev = generator.device
    knots = (torch.rand(n, 2, WARP_KNOTS, WARP_KNOTS, generator=generator, device=dev) * 2 - 1) * pixels
    disp = F.interpolate(knots, size=(h, w), mode="bicubic", align_corners=True)     # (n, 2, h, w) px
    disp = disp.clamp(-pixels, pixels) * torch.tensor([2 / w, 2 / h], device=dev)[:, None, None]
    base = F.affine_grid(torch.eye(2, 3, device=dev).expand(n, 2, 3), [n, 1, h, w], align_corners=False)
    return base + disp.permute(0, 2, 3, 1)


def warp(images: torch.Tensor, grid: torch.Tensor | None) -> torch.Tensor:
    if grid is None:
        return images
    return F.grid_sample(images, grid.to(images.dtype), mode="bilinear", padding_mode="border",
                         align_corners=False)


def perturb(content: torch.Tensor, warp_pixels: float, generator: torch.Generator
            ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """content (N, 3, H, W) -> W(c) + n clamped to [0, 1], and W's grid (None without a warp)."""
    n, _, h, w = content.shape
    dev = generator.device
    with torch.autocast(dev.type, enabled=False):       # coordinates and noise in fp32
        grid = random_warp(n, h, w, warp_pixels, generator) if warp_pixels > 0 else None
        sigma = torch.empty(n, 1, 1, 1, device=dev).uniform_(*NOISE_SIGMA, generator=generator)
        noise = torch.randn(content.shape, generator=generator, device=dev) * sigma
        return (warp(content.float(), grid) + noise).clamp_(0, 1), grid


def decoder_loss(encoder: Encoder, decoder: torch.nn.Module, batch: Batch, weights: LossWeights,
                 generator: torch.Generator | None = None, memory_format=torch.contiguous_format) -> LossTerms:
    """The loss of one batch; ``generator`` draws the stability perturbation (needed when it is on)."""
    k, n = batch.identity, batch.content_feat.shape[0]
    feat = batch.content_feat
    t = adain_target(feat[k:], batch.style) if k < n else feat[:0].float()      # (n-k, 512, h, w) fp32
    inputs = [feat[:k].float(), t]
    stable = weights.stability > 0 and k < n
    if stable:      # W(c) + noise, stylized alike; one decoder call for all (DDP wants one forward)
        noisy, grid = perturb(batch.content[k:], weights.stability_warp, generator)
        with torch.no_grad():
            inputs.append(adain_target(encoder(noisy.contiguous(memory_format=memory_format)), batch.style))
    x = torch.cat(inputs).contiguous(memory_format=memory_format)
    alpha = torch.ones(x.shape[0], device=x.device)
    alpha[:k] = 0                   # identity samples are the α = 0 end of the dial (Decoder's modulation)
    out = decoder(x, alpha)                                                     # (n [+ n-k], 3, 8h, 8w)
    feats = encoder(out[:n], all_layers=True)
    parts: list[torch.Tensor | None] = [None] * len(TERMS)
    if k < n:
        parts[0] = F.mse_loss(feats[-1][k:].float(), t)
        for i, ((mean, std), (tmean, tstd)) in enumerate(zip(style_stats([f[k:] for f in feats]), batch.style)):
            parts[1 + i] = F.mse_loss(mean, tmean) + F.mse_loss(std, tstd)
    if k:
        photos = batch.content[:k]
        with torch.no_grad():
            reference = encoder(photos.contiguous(memory_format=memory_format), all_layers=True)
        parts[5] = F.l1_loss(out[:k].float(), photos.float())
        parts[6] = sum(F.mse_loss(a[:k].float(), b.float()) for a, b in zip(feats, reference))
    if stable:
        parts[7] = F.mse_loss(out[n:].float(), warp(out[k:n].float(), grid))
    if weights.colour and k < n and batch.style_pixels is not None:
        parts[8] = moment_loss(out[k:n], batch.style_pixels)
    total = sum((w * p for w, p in zip(weights.vector(), parts) if w and p is not None), out.sum() * 0)
    zero = torch.zeros((), device=out.device)
    detached = torch.stack([zero if p is None else p.detach().float() for p in parts])
    return LossTerms(total, detached, [p is not None for p in parts])


def stats_distance(stats: Stats, target: Stats) -> torch.Tensor:
    """The style loss between two sets of per-layer statistics -> (N,): Σ_layers MSE(μ) + MSE(σ)."""
    return sum((m - tm).square().mean(1) + (s - ts).square().mean(1) for (m, s), (tm, ts) in zip(stats, target))


def output_losses(encoder: Encoder, image: torch.Tensor, t: torch.Tensor, style: Stats
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Evaluation figures of an output image (N, 3, H, W) with AdaIN target t (N, 512, H/8, W/8)
    -> content (N,), style (N,), the style term at relu1_1 alone (N,: colour and fine texture)."""
    feats = encoder(image, all_layers=True)
    content = (feats[-1].float() - t).square().flatten(1).mean(1)
    stats = style_stats(feats)
    return content, stats_distance(stats, style), stats_distance(stats[:1], style[:1])
