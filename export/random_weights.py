"""Networks with random weights, for checks that do not need trained ones: plumbing (the tests),
speed (export.gpu_bench, scripts/video_check.py) and parity, where the pixels need only spread
over [0, 1] (export.parity, the tests' ``lively_model``). One recipe, so every check means the
same "random": the registry's ``stylecam.networks.random_network`` (seeded default initialization,
which ``stylecam bench --random-decoder`` and the live bench use too), plus a random strength
modulation for the full model's decoder. Nothing here imports PyAV (export.gpu_bench runs where
there is none).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from stylecam.adain import calc_mean_std
from stylecam.lite import LiteStyleTransfer
from stylecam.model import Decoder, Encoder, StyleTransfer


def random_decoder(seed: int = 0) -> Decoder:
    """The full model's decoder with torch's default initialization, seeded, and a random strength
    modulation (a trained one is not 0 either: every graph must carry it)."""
    torch.manual_seed(seed)
    decoder = Decoder().eval().requires_grad_(False)
    for gain, bias in zip(decoder.photo_gain, decoder.photo_bias):
        gain.normal_(0, 0.3)
        bias.normal_(0, 0.05)
    return decoder


def random_full(seed: int = 0, spread: bool = True) -> StyleTransfer:
    """The full model: the shipped VGG encoder and a random decoder (``spread``: its output
    rescaled to cover [0, 1])."""
    from stylecam.vgg import load_encoder
    model = StyleTransfer(load_encoder(), random_decoder(seed)).eval()
    return spread_output(model) if spread else model


def random_lite(style_encoder: Encoder, seed: int = 0) -> LiteStyleTransfer:
    """stylecam-lite with random weights around the full model's VGG (its style statistics)."""
    from stylecam import networks
    return networks.random_network(networks.get(LiteStyleTransfer.kind), style_encoder, seed)


def random_model(kind: str, seed: int = 0, spread: bool = False):
    """A registered network with seeded random weights around the shipped VGG: the recipes above for
    the shipped kinds, the registry's default initialization for any other."""
    from stylecam import networks
    from stylecam.vgg import load_encoder
    recipes = {StyleTransfer.kind: lambda: random_full(seed, spread=False),
               LiteStyleTransfer.kind: lambda: random_lite(load_encoder(), seed)}
    make = recipes.get(kind) or (lambda: networks.random_network(networks.get(kind), load_encoder(), seed))
    model = make()
    return spread_output(model) if spread else model


@torch.no_grad()
def spread_output(model, content: torch.Tensor | None = None, style: torch.Tensor | None = None):
    """Rescale ``model``'s last convolution in place so that its output on ``content`` stylized
    as ``style`` ((1, 3, H, W) RGB [0, 1]; default: seeded noise, 64×64) has mean 0.5 and
    std 0.25 per channel: a raw random decoder gives a near-constant image, useless for
    comparisons. Any network of the model API (full or lite). Returns ``model``."""
    noise = torch.Generator().manual_seed(0)
    content = torch.rand(1, 3, 64, 64, generator=noise) if content is None else content
    style = torch.rand(1, 3, 64, 64, generator=noise) if style is None else style
    feat = model.encode(content)
    y = model.decode(feat, *calc_mean_std(feat), *model.style_stats(style), 1.0)
    mean, std = y.mean((0, 2, 3)), y.std((0, 2, 3))                 # per output channel
    conv = [m for m in model.decoder.modules() if isinstance(m, nn.Conv2d)][-1]
    k = 0.25 / std
    conv.weight.mul_(k[:, None, None, None])
    conv.bias.copy_((conv.bias - mean) * k + 0.5)
    return model
