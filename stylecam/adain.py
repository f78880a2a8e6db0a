"""The AdaIN maths (Huang & Belongie, 2017) as small pure functions.

Statistics are always computed in float32 with the *biased* variance: the
unbiased form exports as ``sum * N / (N - 1)`` and overflows FP16 engines
(docs/design.md §5).
"""
from __future__ import annotations

from typing import Sequence

import torch

EPS = 1e-5


def calc_mean_std(feat: torch.Tensor, eps: float = EPS) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample, per-channel mean and std over H×W.

    feat: (N, C, H, W) -> mean, std: (N, C), float32.
    """
    x = feat.float().flatten(2)                       # (N, C, H*W)
    mean = x.mean(dim=2)                              # (N, C)
    var = (x - mean.unsqueeze(2)).square().mean(dim=2)  # biased variance
    return mean, (var + eps).sqrt()


def renormalize(feat: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
                new_mean: torch.Tensor, new_std: torch.Tensor) -> torch.Tensor:
    """σ'·(x − μ)/σ + μ': features of statistics (μ, σ) given the statistics (μ', σ').

    feat: (N, C, H, W); mean, std: (N, C); new_mean, new_std: (N, C) or (C,).
    Returns float32 features of feat's shape.
    """
    mean, std = mean.float()[..., None, None], std.float()[..., None, None]       # (N, C, 1, 1)
    new_mean = new_mean.float().expand(mean.shape[:2])[..., None, None]
    new_std = new_std.float().expand(std.shape[:2])[..., None, None]
    return (feat.float() - mean) / std * new_std + new_mean


def adain(content_feat: torch.Tensor, style_mean: torch.Tensor, style_std: torch.Tensor,
          eps: float = EPS) -> torch.Tensor:
    """AdaIN(x, y) = σ(y)·(x − μ(x))/σ(x) + μ(y).

    content_feat: (N, C, H, W); style_mean, style_std: (N, C) or (C,).
    Returns float32 features of content_feat's shape.
    """
    return renormalize(content_feat, *calc_mean_std(content_feat, eps), style_mean, style_std)


def adain_with_strength(content_feat: torch.Tensor, style_mean: torch.Tensor, style_std: torch.Tensor,
                        alpha: torch.Tensor | float, content_mean: torch.Tensor | None = None,
                        content_std: torch.Tensor | None = None) -> torch.Tensor:
    """t = (1 − α)·f(c) + α·AdaIN(f(c), f(s)); α = 0 returns the content features.

    content_mean, content_std: (N, C) statistics to normalize f(c) by, in place of its own
    (temporal smoothing passes running ones); alpha: scalar or (N,). Returns float32.
    """
    if content_mean is None or content_std is None:
        content_mean, content_std = calc_mean_std(content_feat)
    t = renormalize(content_feat, content_mean, content_std, style_mean, style_std)
    alpha = torch.as_tensor(alpha, dtype=torch.float32, device=t.device).reshape(-1, 1, 1, 1)
    return torch.lerp(content_feat.float(), t, alpha)


def blend_stats(means: Sequence[torch.Tensor], stds: Sequence[torch.Tensor],
                weights: Sequence[float] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Mix several styles' (μ, σ) with float weights (normalized to sum to 1).

    Because AdaIN is affine in (μ, σ), Σ wᵢ·AdaIN(x, sᵢ) equals AdaIN with the
    mixed statistics when Σ wᵢ = 1, so mixing the statistics *is* the paper's
    style interpolation and costs nothing per frame.
    means, stds: k tensors of shape (C,) -> mean, std: (C,).
    """
    if not means or len(means) != len(stds):
        raise ValueError("blend_stats needs one mean and one std per style")
    if weights is None:
        weights = [1.0] * len(means)
    if len(weights) != len(means):
        raise ValueError(f"got {len(weights)} weights for {len(means)} styles")
    w = torch.tensor([float(x) for x in weights], dtype=torch.float32)
    if (w < 0).any() or w.sum() <= 0:
        raise ValueError("style weights must be non-negative and not all zero")
    w = w / w.sum()                                               # (k,)
    mean = (torch.stack([m.float() for m in means]) * w[:, None]).sum(0)  # (C,)
    std = (torch.stack([s.float() for s in stds]) * w[:, None]).sum(0)
    return mean, std


def _matrix_sqrt(cov: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    evals, evecs = torch.linalg.eigh(cov)
    evals = evals.clamp_min(1e-8)
    power = -0.5 if inverse else 0.5
    return evecs @ torch.diag(evals.pow(power)) @ evecs.T


def coral(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """CORAL colour transfer: give ``source``'s pixels ``target``'s colour mean and covariance.

    source, target: (3, H, W) RGB in [0, 1] (sizes may differ) -> (3, H, W) of source's size.
    Used by colour preservation: the *style* image is recoloured to the
    content photo's palette before its statistics are taken.
    """
    s = source.double().flatten(1)                    # (3, Hs*Ws)
    t = target.double().flatten(1)                    # (3, Ht*Wt)
    s_mean, t_mean = s.mean(1, keepdim=True), t.mean(1, keepdim=True)
    s_c, t_c = s - s_mean, t - t_mean
    eye = torch.eye(3, dtype=torch.float64)
    s_cov = s_c @ s_c.T / s_c.shape[1] + eye * 1e-5   # (3, 3)
    t_cov = t_c @ t_c.T / t_c.shape[1] + eye * 1e-5
    mapped = _matrix_sqrt(t_cov) @ _matrix_sqrt(s_cov, inverse=True) @ s_c + t_mean
    return mapped.reshape(source.shape).clamp(0, 1).to(source.dtype)
