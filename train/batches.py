"""Where each training batch comes from: fresh crops encoded every step, or a feature cache.

Both yield a ``Batch`` (content crops, their relu4_1 features, style statistics);
the decoder step does not know which one it got.

The encoder is frozen, so on the CPU (where it is a third of a step's cost)
``CachedBatches`` encodes a fixed pool of content crops and reduces a pool of
style crops to their per-layer (μ, σ) once, then draws batches from them. The
content crops stay in the cache too (uint8, 192 KB per 256-px crop; features
are encoded from the very same rounded pixels), because the identity loss
compares the decoder's output with the photo.
"""
from __future__ import annotations

import torch

from stylecam.model import Encoder

from .colour import Moments, moments
from .data import ImagePool
from .losses import Batch, Stats, encode_content, encode_style


class LiveBatches:
    def __init__(self, encoder: Encoder, content: ImagePool, style: ImagePool, crop: int, jitter: float,
                 generator: torch.Generator, memory_format=torch.contiguous_format):
        self.encoder, self.content, self.style = encoder, content, style
        self.crop, self.jitter, self.generator = crop, jitter, generator
        self.memory_format = memory_format

    def next(self, n: int, identity: int = 0) -> Batch:
        """n content crops, the first ``identity`` of them their own style (no style crop drawn)."""
        c = self.content.sample(n, self.crop, self.jitter, self.generator)     # (n, 3, crop, crop)
        c = c.contiguous(memory_format=self.memory_format)
        style, pixels = [], None    # a batch of identity samples only (batch 1) has no style
        if n > identity:
            s = self.style.sample(n - identity, self.crop, self.jitter, self.generator)
            style = encode_style(self.encoder, s.contiguous(memory_format=self.memory_format))
            pixels = moments(s)
        return Batch(c, encode_content(self.encoder, c), style, identity, pixels)


def quantize(images: torch.Tensor) -> torch.Tensor:
    """RGB [0, 1] float -> uint8, as the cache keeps content crops."""
    return images.mul(255).round_().clamp_(0, 255).to(torch.uint8)


class FeatureCache:
    """Fixed content crops with their encoder outputs, and per-layer statistics of fixed style crops."""

    def __init__(self, content: torch.Tensor, content_feats: torch.Tensor, style_stats: Stats,
                 style_pixels: Moments):
        self.content = content                    # (P, 3, crop, crop) uint8
        self.content_feats = content_feats        # (P, 512, crop/8, crop/8)
        self.style_stats = style_stats            # per layer: mean, std (Q, C)
        self.style_pixels = style_pixels          # pixel mean (Q, 3), second moment (Q, 3, 3)

    @classmethod
    def from_crops(cls, encoder: Encoder, content: torch.Tensor, style: torch.Tensor,
                   chunk: int = 16) -> "FeatureCache":
        """content, style: (P, 3, crop, crop) RGB [0, 1]; encoded ``chunk`` crops at a time."""
        pixels = quantize(content)
        feats = torch.cat([encode_content(encoder, c.float() / 255) for c in pixels.split(chunk)])
        parts = [encode_style(encoder, s) for s in style.split(chunk)]
        stats = [(torch.cat([p[i][0] for p in parts]), torch.cat([p[i][1] for p in parts]))
                 for i in range(len(parts[0]))]
        return cls(pixels, feats, stats, moments(style))

    def __len__(self) -> int:
        return self.content_feats.shape[0]

    def photos(self, idx: torch.Tensor) -> torch.Tensor:
        """(len(idx), 3, crop, crop) RGB [0, 1] float32."""
        return self.content[idx].float() / 255

    def batch(self, content_idx: torch.Tensor, style_idx: torch.Tensor, identity: int = 0) -> Batch:
        """The first ``identity`` content crops are their own style: style_idx has len - identity entries."""
        return Batch(self.photos(content_idx), self.content_feats[content_idx],
                     [(m[style_idx], s[style_idx]) for m, s in self.style_stats], identity,
                     tuple(m[style_idx] for m in self.style_pixels))


class CachedBatches:
    def __init__(self, encoder: Encoder, content: ImagePool, style: ImagePool, crop: int, jitter: float,
                 generator: torch.Generator, pool_size: int, log=print):
        log(f"feature cache: encoding {pool_size} content and {pool_size} style crops of {crop} px ...")
        chunks_c, chunks_s = [], []
        for start in range(0, pool_size, 16):
            n = min(16, pool_size - start)
            chunks_c.append(content.sample(n, crop, jitter, generator))
            chunks_s.append(style.sample(n, crop, jitter, generator))
        self.cache = FeatureCache.from_crops(encoder, torch.cat(chunks_c), torch.cat(chunks_s))
        self.generator = generator

    def next(self, n: int, identity: int = 0) -> Batch:
        p = len(self.cache)
        dev = self.cache.content_feats.device
        ci = torch.randint(p, (n,), generator=self.generator, device=dev)
        si = torch.randint(p, (n - identity,), generator=self.generator, device=dev)
        return self.cache.batch(ci, si, identity)
