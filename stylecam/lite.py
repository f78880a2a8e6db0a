"""stylecam-lite: a small network distilled from the full AdaIN model.

The same model API as the full network (``stylecam.model.StyleNetwork``): RGB in [0, 1], the style given as the full
VGG's relu4_1 mean and std (so the style cache, the bank and blends work
unchanged), and α. Only the per-frame path is small:

    content encoder   reflection-padded 3×3 convs at 1, 1/2, 1/4 scale + residual blocks
    bottleneck        lerp(feat, IN(feat)·γ + β, α)         (instance norm with the content
                      statistics handed to ``decode``, so 'stats' smoothing can smooth them)
    decoder           residual blocks at 1/4 scale, nearest 2× up-sampling + conv, twice, to RGB;
                      every conv's output modulated as x·(1 + α·Δγ) + α·β   (dual modulation,
                      as MicroAST does: the bottleneck alone leaves the colours washed out)

γ, β, Δγ come from the 1,024-number style code [μ, log σ] through a small MLP
(the "mapping"). At α = 0 the bottleneck passes the features through and every
modulation is the identity: the network is a plain autoencoder that does not
see the style at all, as the teacher's α = 0 is meant to be.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import adain as A
from .model import STYLE_DIM, Encoder, StyleNetwork, conv3x3


@dataclass(frozen=True)
class LiteConfig:
    channels: tuple[int, int, int] = (16, 32, 64)   # encoder widths at 1, 1/2, 1/4 scale; the decoder mirrors
    encoder_blocks: int = 1       # residual blocks closing the encoder (1/4 scale, unmodulated)
    decoder_blocks: int = 2       # modulated residual blocks opening the decoder (1/4 scale)
    mapping: int = 256            # hidden width of the style-code MLP
    size_multiple: int = 4        # two stride-2 levels


def strided3x3(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(c_in, c_out, 3, stride=2))


class ResidualBlock(nn.Module):
    """x + conv(relu(conv(x))); each conv's output optionally modulated."""

    def __init__(self, c: int):
        super().__init__()
        self.conv1, self.conv2 = conv3x3(c, c), conv3x3(c, c)

    def forward(self, x: torch.Tensor, mods=(None, None)) -> torch.Tensor:
        h = F.relu(modulate(self.conv1(x), mods[0]))
        return x + modulate(self.conv2(h), mods[1])


def modulate(x: torch.Tensor, mod: tuple[torch.Tensor, torch.Tensor] | None) -> torch.Tensor:
    """x·(1 + α·Δγ) + α·β; mod: (scale, shift), each (N or 1, C) with α already applied."""
    if mod is None:
        return x
    scale, shift = mod
    return x * (1 + scale[..., None, None]).to(x.dtype) + shift[..., None, None].to(x.dtype)


def style_code(style_mean: torch.Tensor, style_std: torch.Tensor) -> torch.Tensor:
    """(N, 512) or (512,) each -> (N or 1, 1024) float32: [μ, log σ].

    σ spans orders of magnitude between channels; its log makes codes of
    blended styles lie between those of their parts, as the network saw them.
    """
    mean, std = torch.broadcast_tensors(style_mean.float().reshape(-1, STYLE_DIM),
                                        style_std.float().reshape(-1, STYLE_DIM))
    return torch.cat([mean, std.clamp_min(A.EPS).log()], dim=1)


class LiteEncoder(nn.Module):
    def __init__(self, cfg: LiteConfig):
        super().__init__()
        c0, c1, c2 = cfg.channels
        self.convs = nn.ModuleList([conv3x3(3, c0), strided3x3(c0, c1), strided3x3(c1, c2)])
        self.blocks = nn.ModuleList([ResidualBlock(c2) for _ in range(cfg.encoder_blocks)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, 3, H, W) -> (N, C2, H/4, W/4)."""
        for conv in self.convs:
            x = F.relu(conv(x))
        for block in self.blocks:
            x = block(x)
        return x


class LiteDecoder(nn.Module):
    """The mapping, the bottleneck and the modulated decoder."""

    def __init__(self, cfg: LiteConfig):
        super().__init__()
        c0, c1, c2 = cfg.channels
        self.blocks = nn.ModuleList([ResidualBlock(c2) for _ in range(cfg.decoder_blocks)])
        up = lambda: nn.Upsample(scale_factor=2, mode="nearest")  # noqa: E731
        self.ups = nn.ModuleList([nn.Sequential(up(), conv3x3(c2, c1)), nn.Sequential(up(), conv3x3(c1, c0))])
        self.out = conv3x3(c0, 3)
        # modulated channels in the order ``forward`` uses them: the bottleneck (γ, β) first
        self.widths = [c2] + [c2] * 2 * cfg.decoder_blocks + [c1, c0, 3]
        self.mapping = nn.Sequential(
            nn.Linear(2 * STYLE_DIM, cfg.mapping), nn.ReLU(inplace=True),
            nn.Linear(cfg.mapping, cfg.mapping), nn.ReLU(inplace=True),
            nn.Linear(cfg.mapping, 2 * sum(self.widths)),
        )
        with torch.no_grad():           # start near the identity modulation
            self.mapping[-1].weight.mul_(0.1)
            self.mapping[-1].bias.zero_()

    def modulations(self, code: torch.Tensor, alpha: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """code: (N or 1, 1024); alpha: (N or 1, 1) -> per modulated layer (scale, shift) (N, C);
        the bottleneck's as (γ − 1, β) without α, the decoder's already multiplied by α."""
        params = self.mapping(code.to(self.mapping[0].weight.dtype)).float()   # (N, 2·Σ widths)
        mods, i = [], 0
        for k, c in enumerate(self.widths):
            scale, shift = params[:, i:i + c], params[:, i + c:i + 2 * c]
            i += 2 * c
            mods.append((scale, shift) if k == 0 else (alpha * scale, alpha * shift))
        return mods

    def forward(self, feat: torch.Tensor, content_mean: torch.Tensor, content_std: torch.Tensor,
                code: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        """feat: (N, C2, h, w); content_mean/std: (N, C2) float32; code: (N or 1, 1024);
        alpha: (N or 1, 1) float32 -> (N, 3, 4h, 4w) RGB, not clamped."""
        mods = self.modulations(code, alpha)
        (g, b), mods = mods[0], mods[1:]
        normalized = (feat.float() - content_mean[..., None, None]) / content_std[..., None, None]
        styled = normalized * (1 + g[..., None, None]) + b[..., None, None]
        x = torch.lerp(feat.float(), styled, alpha[..., None, None]).to(feat.dtype)
        for k, block in enumerate(self.blocks):
            x = block(x, mods[2 * k:2 * k + 2])
        mods = mods[2 * len(self.blocks):]
        for up, mod in zip(self.ups, mods):
            x = F.relu(modulate(up(x), mod))
        return modulate(self.out(x), mods[-1])


class LiteStyleTransfer(StyleNetwork):
    """The lite network behind the model API (``StyleNetwork``)."""

    kind = "lite"

    def __init__(self, style_encoder: Encoder, config: LiteConfig = LiteConfig()):
        super().__init__()
        self.config = config
        self.style_encoder = style_encoder       # the full VGG: style statistics only, never per frame
        self.encoder = LiteEncoder(config)
        self.decoder = LiteDecoder(config)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, 3, H, W) RGB [0, 1], H and W multiples of 4 -> (N, C2, H/4, W/4)."""
        return self.encoder(x)

    def decode(self, feat: torch.Tensor, content_mean: torch.Tensor, content_std: torch.Tensor,
               style_mean: torch.Tensor, style_std: torch.Tensor,
               alpha: torch.Tensor | float = 1.0) -> torch.Tensor:
        """feat: (N, C2, h, w); content_mean/std: (N, C2) float32, normally ``calc_mean_std(feat)``;
        style_mean/std: (N, 512) or (512,); alpha: scalar or (N,) -> (N, 3, 4h, 4w) RGB, not clamped."""
        alpha = torch.as_tensor(alpha, dtype=torch.float32, device=feat.device).reshape(-1, 1)
        return self.decoder(feat, content_mean.float(), content_std.float(),
                            style_code(style_mean, style_std), alpha)
