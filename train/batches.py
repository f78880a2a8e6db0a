"""Where each training batch comes from: fresh crops encoded every step, or a feature cache.

Both yield (content relu4_1 features, style statistics per layer); the
decoder step does not know which one it got.

The encoder is frozen, so on the CPU (where it is a third of a step's cost)
``CachedBatches`` encodes a fixed pool of content crops and reduces a pool of
style crops to their per-layer (μ, σ) once, then draws batches from them.
"""
from __future__ import annotations

import torch

from stylecam.model import Encoder

from .data import ImagePool
from .losses import Stats, encode_content, encode_style


class LiveBatches:
    def __init__(self, encoder: Encoder, content: ImagePool, style: ImagePool, crop: int, jitter: float,
                 generator: torch.Generator, memory_format=torch.contiguous_format):
        self.encoder, self.content, self.style = encoder, content, style
        self.crop, self.jitter, self.generator = crop, jitter, generator
        self.memory_format = memory_format

    def next(self, n: int) -> tuple[torch.Tensor, Stats]:
        c = self.content.sample(n, self.crop, self.jitter, self.generator)     # (n, 3, crop, crop)
        s = self.style.sample(n, self.crop, self.jitter, self.generator)
        c = c.contiguous(memory_format=self.memory_format)
        s = s.contiguous(memory_format=self.memory_format)
        return encode_content(self.encoder, c), encode_style(self.encoder, s)


class FeatureCache:
    """Encoder outputs of fixed content crops and per-layer statistics of fixed style crops."""

    def __init__(self, content_feats: torch.Tensor, style_stats: Stats):
        self.content_feats = content_feats        # (P, 512, crop/8, crop/8)
        self.style_stats = style_stats            # per layer: mean, std (Q, C)

    @classmethod
    def from_crops(cls, encoder: Encoder, content: torch.Tensor, style: torch.Tensor,
                   chunk: int = 16) -> "FeatureCache":
        """content, style: (P, 3, crop, crop) RGB [0, 1]; encoded ``chunk`` crops at a time."""
        feats = torch.cat([encode_content(encoder, c) for c in content.split(chunk)])
        parts = [encode_style(encoder, s) for s in style.split(chunk)]
        stats = [(torch.cat([p[i][0] for p in parts]), torch.cat([p[i][1] for p in parts]))
                 for i in range(len(parts[0]))]
        return cls(feats, stats)

    def __len__(self) -> int:
        return self.content_feats.shape[0]

    def batch(self, content_idx: torch.Tensor, style_idx: torch.Tensor) -> tuple[torch.Tensor, Stats]:
        return (self.content_feats[content_idx],
                [(m[style_idx], s[style_idx]) for m, s in self.style_stats])


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

    def next(self, n: int) -> tuple[torch.Tensor, Stats]:
        p = len(self.cache)
        dev = self.cache.content_feats.device
        ci = torch.randint(p, (n,), generator=self.generator, device=dev)
        si = torch.randint(p, (n,), generator=self.generator, device=dev)
        return self.cache.batch(ci, si)
