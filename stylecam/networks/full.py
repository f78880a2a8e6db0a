"""The full network (VGG-19 encoder, AdaIN, decoder): its registration and its older files.

Its file holds the decoder's tensors only (the VGG ships with every install). Read as well:
the bare decoder state dict written before the envelope, and a ``python -m train`` checkpoint
(its ``decoder``), each with the strength modulation filled in when it predates it.
"""
from __future__ import annotations

import torch

from ..model import Decoder, ModelConfig, StyleTransfer
from . import FORMAT, NetworkKind, register

HINT = ("train one with: python -m train --content DIR --style DIR --out runs/mine "
        "(see docs/training.md), then pass --model runs/mine/decoder.pt")


def decoder_state(state: dict) -> dict:
    """A decoder's tensors in float32, with the strength modulation (``Decoder.photo_gain``/``photo_bias``)
    that a file written before it lacks filled in as zeros: no modulation, the old behaviour at every α."""
    full = {k: v.float() for k, v in state.items()}
    for k, v in Decoder().state_dict().items():
        if k.startswith(("photo_gain.", "photo_bias.")):
            full.setdefault(k, torch.zeros_like(v))
    return full


def _tensors(obj: object) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def legacy(obj: object) -> dict | None:
    """A bare decoder state dict, or a training checkpoint's decoder -> the envelope."""
    if isinstance(obj, dict) and "format" in obj and _tensors(obj.get("decoder")):
        obj = obj["decoder"]
    if not _tensors(obj):
        return None
    weights = {f"decoder.{k}": v for k, v in decoder_state(obj).items()}
    return {"format": FORMAT, "kind": StyleTransfer.kind, "version": 1, "config": {}, "weights": weights}


FULL = register(NetworkKind(
    name=StyleTransfer.kind, model=StyleTransfer, config=ModelConfig,
    build=lambda config, vgg: StyleTransfer(vgg, Decoder(), config),
    asset="decoder.pt", noun="decoder of the full model", hint=HINT, option="decoder", legacy=legacy,
    retired=("eps",)))                 # written by a stylecam whose config still named AdaIN's constant
