"""The AdaIN training loss (design.md §2): L = L_c + λ·L_s on the frozen, normalized VGG.

L_c: MSE at relu4_1 between f(g(t)) and t (the target is t, not f(c)).
L_s: Σ over relu1_1 … relu4_1 of MSE(μ) + MSE(σ), statistics in fp32 with the
biased variance (``stylecam.adain.calc_mean_std``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from stylecam.adain import adain, calc_mean_std
from stylecam.model import Encoder

Stats = list[tuple[torch.Tensor, torch.Tensor]]     # per style layer: mean, std (N, C)


@dataclass
class LossTerms:
    total: torch.Tensor          # scalar, carries the gradient
    content: torch.Tensor        # scalar
    style: torch.Tensor          # (4,): relu1_1 … relu4_1, unweighted


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


def decoder_loss(encoder: Encoder, decoder: torch.nn.Module, content_feat: torch.Tensor,
                 style: Stats, style_weight: float, memory_format=torch.contiguous_format) -> LossTerms:
    """The loss of one batch given the content features and the style statistics."""
    t = adain_target(content_feat, style)                       # (N, 512, h, w) fp32
    out = decoder(t.contiguous(memory_format=memory_format))    # (N, 3, 8h, 8w)
    feats = encoder(out, all_layers=True)
    content = F.mse_loss(feats[-1].float(), t)
    terms = []
    for (mean, std), (tmean, tstd) in zip(style_stats(feats), style):
        terms.append(F.mse_loss(mean, tmean) + F.mse_loss(std, tstd))
    style_terms = torch.stack(terms)                            # (4,)
    return LossTerms(content + style_weight * style_terms.sum(), content.detach(), style_terms.detach())


def output_losses(encoder: Encoder, image: torch.Tensor, t: torch.Tensor, style: Stats
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Evaluation figures of any image (a decoder output or the photo itself).

    image: (N, 3, H, W); t: its AdaIN target (N, 512, H/8, W/8) or None -> content (N,), style (N,).
    """
    feats = encoder(image, all_layers=True)
    content = (feats[-1].float() - t).square().flatten(1).mean(1) if t is not None else None
    style_sum = 0
    for (mean, std), (tmean, tstd) in zip(style_stats(feats), style):
        style_sum = style_sum + (mean - tmean).square().mean(1) + (std - tstd).square().mean(1)
    return content, style_sum

