"""Conversions between model formats, one function per direction.

``torch2onnx``: the whole per-frame network as one ONNX graph
    frame (uint8, H×W×3, BGR) + style_mean (512) + style_std (512) + alpha ()
    -> stylized (uint8, H×W×3, BGR)
with the casts, channel flip, layout change, clamp and rounding inside.
``encoder2onnx`` / ``decoder2onnx``: the same network split at the content features
(``encode`` and ``decode`` of the model API), for temporal smoothing on graph backends.
``style2onnx``: the style encoder, image (uint8, H×W×3, BGR) -> mean, std (512 each).
``onnx2engine`` (TensorRT engines from the frame, encoder and decoder graphs) is in ``tensorrt_build``.
Names, metadata and the checks a backend makes on load are in ``stylecam.graphs``.

Exporter and opset (docs/design.md §4, §5): the dynamo exporter at opset 20, the
newest opset TensorRT 10 parses, gives a clean graph (reflect ``Pad`` nodes
directly) and reproduces PyTorch bit for bit on ONNX Runtime. H and W are
dynamic as ``m * Dim`` (m the model's size multiple, 8 for the full model): the
graphs take sides that are multiples of m and the backends reflect-pad other
sizes and crop back, exactly as ``forward`` does in PyTorch. The only nodes that
touch a uint8 tensor are the first Cast (input) and the last (output): TensorRT
takes UINT8 nowhere else.
"""
from __future__ import annotations

import copy
import os
from pathlib import Path

import torch
import torch.nn as nn

from .adain import calc_mean_std
from .errors import UserError
from .graphs import (DECODER_INPUTS, DECODER_OUTPUT, ENCODER_INPUT, ENCODER_OUTPUT, FRAME_INPUTS, FRAME_OUTPUT,
                     OPSET, PRECISIONS, PRODUCER, STYLE_INPUT, STYLE_OUTPUTS, metadata)
from .model import SIZE_MULTIPLE, from_bgr_uint8, to_bgr_uint8
from .safeio import atomic_output

MAX_SIDE = 8192                  # upper bound of the dynamic sides (an export-time constraint only)
EXAMPLE_SIDES = (4, 6)           # the example frame, in size multiples


class FrameGraph(nn.Module):
    """The model with OpenCV/PyAV frames in and out.

    fp16: the network in half precision; the AdaIN statistics stay float32
    (``adain.calc_mean_std`` casts up, and the graph keeps those Casts).
    """

    def __init__(self, model, dtype: torch.dtype = torch.float32):
        super().__init__()
        self.model, self.dtype = model, dtype

    def forward(self, frame, style_mean, style_std, alpha):
        # frame: (H, W, 3) uint8 BGR, H and W multiples of the size multiple
        x = from_bgr_uint8(frame, self.dtype)[None]                             # (1, 3, H, W) RGB
        return to_bgr_uint8(self.model(x, style_mean, style_std, alpha)[0])


class EncoderGraph(nn.Module):
    """frame (H, W, 3) uint8 BGR -> features (1, C, h, w) float32: the model's ``encode``."""

    def __init__(self, model, dtype: torch.dtype = torch.float32):
        super().__init__()
        self.model, self.dtype = model, dtype

    def forward(self, frame):
        return self.model.encode(from_bgr_uint8(frame, self.dtype)[None]).float()


class DecoderGraph(nn.Module):
    """features (1, C, h, w) float32 + content and style statistics + alpha -> (H, W, 3) uint8 BGR:
    the model's ``decode``, clamped and rounded."""

    def __init__(self, model, dtype: torch.dtype = torch.float32):
        super().__init__()
        self.model, self.dtype = model, dtype

    def forward(self, features, content_mean, content_std, style_mean, style_std, alpha):
        y = self.model.decode(features.to(self.dtype), content_mean[None], content_std[None],
                              style_mean, style_std, alpha)                    # (1, 3, H, W)
        return to_bgr_uint8(y[0].clamp(0, 1))


class StyleGraph(nn.Module):
    """The style encoder: (H, W, 3) uint8 BGR -> mean, std (512,) float32 at relu4_1."""

    def __init__(self, model):
        super().__init__()
        self.encoder = model.style_encoder

    def forward(self, image):
        x = from_bgr_uint8(image)[None]                                        # (1, 3, H, W) RGB
        mean, std = calc_mean_std(self.encoder(x))                             # (1, 512) each
        return mean[0], std[0]


def _save(program, path: Path, meta: dict[str, str]) -> Path:
    import onnx
    proto = program.model_proto
    proto.producer_name = PRODUCER
    del proto.metadata_props[:]
    for k, v in meta.items():
        proto.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(proto)
    with atomic_output(path) as tmp:
        onnx.save_model(proto, str(tmp))
    return path


def _export(module: nn.Module, args: tuple, input_names, output_names, dynamic_shapes):
    import contextlib
    import io
    import warnings
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        return torch.onnx.export(module, args, dynamo=True, opset_version=OPSET, input_names=list(input_names),
                                 output_names=list(output_names), dynamic_shapes=dynamic_shapes,
                                 optimize=True, verbose=False)


def _sides(step: int, multiple: int) -> tuple:
    """Dynamic (h, w) = step · Dim: a frame's sides (step = the size multiple) or its features'
    (step 1), for frames of up to MAX_SIDE pixels."""
    from torch.export import Dim
    h = Dim("h", min=2, max=MAX_SIDE // multiple)
    w = Dim("w", min=2, max=MAX_SIDE // multiple)
    return step * h, step * w


def _example_frame(m: int) -> torch.Tensor:
    return torch.zeros(EXAMPLE_SIDES[0] * m, EXAMPLE_SIDES[1] * m, 3, dtype=torch.uint8)


def _prepared(model, precision: str) -> tuple[nn.Module, torch.dtype]:
    """A CPU copy of ``model`` in the precision's dtype (``model`` is left unchanged)."""
    if precision not in PRECISIONS:
        raise UserError(f"precision {precision}: choose one of {', '.join(PRECISIONS)}")
    dtype = torch.float16 if precision == "fp16" else torch.float32
    return copy.deepcopy(model).cpu().eval().to(dtype), dtype


def _channels(model) -> int:
    """C of the model's features (the API does not state it: lite networks choose their own)."""
    m, p = model.config.size_multiple, next(model.parameters())
    with torch.no_grad():
        return model.encode(torch.zeros(1, 3, 2 * m, 2 * m, dtype=p.dtype, device=p.device)).shape[1]


def torch2onnx(model, path: str | os.PathLike, precision: str = "fp32", extra_meta: dict | None = None) -> Path:
    """Export the per-frame graph."""
    m, dtype = _prepared(model, precision)
    size = model.config.size_multiple
    h, w = _sides(size, size)
    program = _export(FrameGraph(m, dtype).eval(), (_example_frame(size), torch.zeros(512), torch.ones(512),
                                                    torch.tensor(1.0)),
                      FRAME_INPUTS, (FRAME_OUTPUT,),
                      {"frame": {0: h, 1: w}, "style_mean": None, "style_std": None, "alpha": None})
    return _save(program, Path(path), metadata(model, "frame", precision, _channels(model), extra_meta or {}))


def encoder2onnx(model, path: str | os.PathLike, precision: str = "fp32", extra_meta: dict | None = None) -> Path:
    """Export the encoder graph: the first half of the split network."""
    m, dtype = _prepared(model, precision)
    size = model.config.size_multiple
    h, w = _sides(size, size)
    program = _export(EncoderGraph(m, dtype).eval(), (_example_frame(size),), (ENCODER_INPUT,), (ENCODER_OUTPUT,),
                      {ENCODER_INPUT: {0: h, 1: w}})
    return _save(program, Path(path), metadata(model, "encoder", precision, _channels(model), extra_meta or {}))


def decoder2onnx(model, path: str | os.PathLike, precision: str = "fp32", extra_meta: dict | None = None) -> Path:
    """Export the decoder graph: the second half of the split network."""
    m, dtype = _prepared(model, precision)
    size, c = model.config.size_multiple, _channels(model)
    h, w = _sides(1, size)
    features = torch.zeros(1, c, *EXAMPLE_SIDES)
    stats = (torch.zeros(c), torch.ones(c), torch.zeros(512), torch.ones(512), torch.tensor(1.0))
    dynamic = {name: None for name in DECODER_INPUTS} | {"features": {2: h, 3: w}}
    program = _export(DecoderGraph(m, dtype).eval(), (features, *stats), DECODER_INPUTS, (DECODER_OUTPUT,), dynamic)
    return _save(program, Path(path), metadata(model, "decoder", precision, c, extra_meta or {}))


def style2onnx(model, path: str | os.PathLike, extra_meta: dict | None = None) -> Path:
    """Export the style encoder graph (float32)."""
    graph = StyleGraph(copy.deepcopy(model).cpu().float().eval())
    size = SIZE_MULTIPLE            # the VGG's three poolings, whatever the network (lite: its frames take 4)
    h, w = _sides(size, size)
    program = _export(graph, (_example_frame(size),), (STYLE_INPUT,), STYLE_OUTPUTS, {STYLE_INPUT: {0: h, 1: w}})
    return _save(program, Path(path), metadata(model, "style", "fp32", 512, extra_meta or {}, multiple=size))


# graph -> exporter(model, path, precision): what the backends' user cache calls
EXPORTERS = {"frame": torch2onnx, "encoder": encoder2onnx, "decoder": decoder2onnx}

