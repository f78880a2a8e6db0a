"""The contract between the ONNX exporter (``stylecam.convert``) and the backends that run its graphs:
tensor names, the format version, the metadata every graph carries and the checks made on load.

Four graphs, all taking and giving frames as OpenCV and PyAV hand them over (uint8 H×W×3 BGR,
H and W multiples of the model's size multiple):

- ``frame``:   frame + style_mean + style_std + alpha -> stylized
- ``encoder``: frame -> features (1, C, H/m, W/m) float32
- ``decoder``: features + content_mean + content_std + style_mean + style_std + alpha -> stylized
- ``style``:   image -> style_mean, style_std (512 each, VGG relu4_1)

The encoder and decoder graphs are the model API's ``encode`` and ``decode`` split at the
features, so that temporal smoothing can work between them on every backend. Nothing here
imports the exporter: the runtime reads graphs without it.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch

from .errors import UserError

OPSET = 20
EXPORTER = "torch.onnx dynamo"
FORMAT_VERSION = "2"            # bump when a graph changes (2: uint8 only at the Casts, for TensorRT; split graphs)
PRODUCER = "stylecam"
GRAPHS = ("frame", "encoder", "decoder", "style")
PRECISIONS = ("fp32", "fp16")

FRAME_INPUTS = ("frame", "style_mean", "style_std", "alpha")
FRAME_OUTPUT = "stylized"        # ONNX names are unique, so the output cannot be called "frame" too
ENCODER_INPUT = "frame"
ENCODER_OUTPUT = "features"
DECODER_INPUTS = ("features", "content_mean", "content_std", "style_mean", "style_std", "alpha")
DECODER_OUTPUT = "stylized"
STYLE_INPUT = "image"
STYLE_OUTPUTS = ("style_mean", "style_std")

_FRAME = "frame: uint8 (H, W, 3) BGR as OpenCV/PyAV give it, H and W multiples of {m} (reflect-pad and crop others)"
_STYLE = "style_mean, style_std: float32 (512,) at VGG relu4_1; alpha: float32 scalar in [0, 1]"
_FEATURES = "features: float32 (1, {c}, H/{m}, W/{m})"
_CONTENT = "content_mean, content_std: float32 ({c},), normally the features' own (biased variance, eps 1e-5)"
DESCRIPTIONS = {   # graph -> (input, output), for the metadata
    "frame": (f"{_FRAME}; {_STYLE}", "stylized: uint8 (H, W, 3) BGR"),
    "encoder": (_FRAME, _FEATURES),
    "decoder": (f"{_FEATURES}; {_CONTENT}; {_STYLE}", "stylized: uint8 (H, W, 3) BGR, H = {m}·h"),
    "style": ("image: uint8 (H, W, 3) BGR, H and W multiples of {m}",
              "style_mean, style_std: float32 (512,), biased variance, eps 1e-5"),
}


def model_hash(model) -> str:
    """Identifies a network's weights, whatever file they came from: the kind, the style encoder's
    version and every tensor of the state dict except the frozen VGG's (named by its version)."""
    frozen = next((name + "." for name, m in model.named_modules() if m is model.style_encoder and name), None)
    h = hashlib.sha256(f"{model.kind}|{model.style_encoder.version}".encode())
    for name, t in sorted(model.state_dict().items()):
        if frozen and name.startswith(frozen):
            continue
        h.update(name.encode())
        h.update(t.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def file_hash(path: str | os.PathLike, digits: int = 16) -> str:
    """sha256 of a file's bytes, the first ``digits`` hex digits."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:digits]


def metadata(model, graph: str, precision: str, channels: int, extra: dict,
             multiple: int | None = None) -> dict[str, str]:
    """The metadata_props of an exported graph. channels: the features' C; multiple: the sides'
    (default the model's; the style graph's is the VGG's for both networks)."""
    m = multiple or model.config.size_multiple
    given, gives = (text.format(m=m, c=channels) for text in DESCRIPTIONS[graph])
    meta = {
        "producer": PRODUCER,
        "stylecam.format": FORMAT_VERSION,
        "stylecam.graph": graph,
        "stylecam.model": model.kind,
        "stylecam.precision": precision,
        "stylecam.exporter": f"{EXPORTER} (torch {torch.__version__})",
        "stylecam.opset": str(OPSET),
        "stylecam.size_multiple": str(m),
        "stylecam.channels": str(channels),
        "stylecam.input": given,
        "stylecam.output": gives,
        "stylecam.normalization": ("RGB/255 into VGG-19 with Caffe pre-processing folded into conv1_1 "
                                   "and per-channel vgg_normalised scaling"),
        "stylecam.encoder_version": model.style_encoder.version,
        "stylecam.weights_hash": model_hash(model),
    }
    meta.update({f"stylecam.{k}": str(v) for k, v in extra.items()})
    return meta


def dynamic_input(graph: str, meta: dict[str, str], h: int, w: int) -> tuple[str, tuple[int, ...]]:
    """The name and shape of a graph's one dynamic input for a frame of h×w pixels
    (what a TensorRT optimization profile sets)."""
    if graph == "decoder":
        m = int(meta["stylecam.size_multiple"])
        return ENCODER_OUTPUT, (1, int(meta["stylecam.channels"]), h // m, w // m)
    return (STYLE_INPUT if graph == "style" else "frame"), (h, w, 3)


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """metadata_props of an ONNX file (a UserError if it is not one)."""
    import onnx
    p = Path(path)
    if not p.is_file():
        raise UserError(f"ONNX file not found: {p}")
    try:
        proto = onnx.load_model(str(p), load_external_data=False)
    except Exception as e:   # protobuf decode errors for anything that is not an ONNX file
        raise UserError(f"{p} is not an ONNX file ({type(e).__name__})") from None
    return {prop.key: prop.value for prop in proto.metadata_props}


def check_stylecam_onnx(path: str | os.PathLike, graph: str = "frame") -> dict[str, str]:
    """Metadata of a stylecam ONNX graph of the given kind; a UserError naming the fix otherwise."""
    meta = read_metadata(path)
    fix = "export one with: python -m export.onnx -o stylecam.onnx"
    if meta.get("producer") != PRODUCER:
        raise UserError(f"{path} was not exported by stylecam (no stylecam metadata); {fix}")
    if meta.get("stylecam.format") != FORMAT_VERSION:
        raise UserError(f"{path} is a stylecam graph of format {meta.get('stylecam.format')}, this version "
                        f"reads format {FORMAT_VERSION}; {fix}")
    if meta.get("stylecam.graph") != graph:
        raise UserError(f"{path} is the stylecam {meta.get('stylecam.graph')} graph, not the {graph} graph")
    return meta
