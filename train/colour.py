"""Colour: how far an output's palette is from the painting's, measured and trained.

The VGG style loss summed over relu1_1 … relu4_1 is dominated by relu3_1/relu4_1
(their activations are large) and hardly sees colour, so a decoder can lower it
while its colours stay muddy. Two things here look at pixels instead:

- ``colour_distance``: the sliced Wasserstein distance between the RGB pixel
  distributions of two images (64 fixed random unit directions, 20,000 pixels
  sampled with a fixed seed), the evaluation figure. Each image is sampled with
  the same seed, so an image against itself is exactly 0.
- ``moments`` / ``moment_loss``: the pixel mean and second moment of an output
  against the painting's, the training term (12 numbers per painting; a convex
  blend of paintings mixes them exactly as a mixture of their pixels would).
"""
from __future__ import annotations

import numpy as np
import torch

DIRECTIONS = 64
SAMPLES = 20_000
SEED = 0

Moments = tuple[torch.Tensor, torch.Tensor]      # mean (N, 3), raw second moment E[x xᵀ] (N, 3, 3)


def directions(n: int = DIRECTIONS, seed: int = SEED) -> np.ndarray:
    """(n, 3) random unit vectors, the same for every call with one seed."""
    d = np.random.default_rng(seed).standard_normal((n, 3))
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def pixel_sample(image: np.ndarray, samples: int = SAMPLES, seed: int = SEED) -> np.ndarray:
    """RGB uint8 (H, W, 3) -> (samples, 3) float64 in [0, 1], drawn with replacement with a fixed seed."""
    pixels = image.reshape(-1, 3).astype(np.float64) / 255
    idx = np.random.default_rng(seed + 1).integers(0, len(pixels), samples)
    return pixels[idx]


def sliced_wasserstein(a: np.ndarray, b: np.ndarray, dirs: np.ndarray) -> float:
    """a, b: (n, 3) samples of equal count -> the mean over ``dirs`` of the 1-D Wasserstein-1
    distance of their projections (mean |sorted a·d − sorted b·d|)."""
    pa, pb = np.sort(a @ dirs.T, axis=0), np.sort(b @ dirs.T, axis=0)
    return float(np.abs(pa - pb).mean())


def colour_distance(a: np.ndarray, b: np.ndarray) -> float:
    """The sliced Wasserstein distance between the RGB pixel distributions of two uint8 images
    (any sizes), in [0, 1] units."""
    return sliced_wasserstein(pixel_sample(a), pixel_sample(b), directions())


def moments(images: torch.Tensor) -> Moments:
    """(N, 3, H, W) RGB [0, 1] -> pixel mean (N, 3) and raw second moment (N, 3, 3), fp32."""
    x = images.float().flatten(2)                                   # (N, 3, HW)
    return x.mean(2), x @ x.transpose(1, 2) / x.shape[2]


def mix_moments(m: Moments, idx: torch.Tensor, weights: torch.Tensor) -> Moments:
    """idx, weights: (N, k) paintings and convex weights -> the moments of the mixture of their pixels."""
    mean, second = m
    return (mean[idx] * weights[..., None]).sum(1), (second[idx] * weights[..., None, None]).sum(1)


def moment_loss(images: torch.Tensor, target: Moments) -> torch.Tensor:
    """MSE of the pixel mean plus MSE of the pixel covariance of ``images`` against ``target``
    (scalar, fp32). The covariance carries the palette's spread and its hue axes."""
    mean, second = moments(images)
    t_mean, t_second = target
    cov = second - mean[:, :, None] * mean[:, None, :]
    t_cov = t_second - t_mean[:, :, None] * t_mean[:, None, :]
    return (mean - t_mean).square().mean() + (cov - t_cov).square().mean()
