"""Conversions between model formats, one function per direction.

``torch2onnx``: the whole per-frame network as one ONNX graph
    frame (uint8, H×W×3, BGR) + style_mean (512) + style_std (512) + alpha ()
    -> stylized (uint8, H×W×3, BGR)
with the casts, channel flip, layout change, clamp and rounding inside.
``encoder2onnx`` / ``decoder2onnx``: the same network split at the content features
(``encode`` and ``decode`` of the model API), for temporal smoothing on graph backends.
``style2onnx``: the style encoder, image (uint8, H×W×3, BGR) -> mean, std (512 each).
``onnx2engine``: a TensorRT engine from the frame graph (FP16 with the AdaIN
statistics pinned to FP32).
Names, metadata and the checks a backend makes on load are in ``stylecam.graphs``.

Exporter and opset (design.md §4, §5): the dynamo exporter at opset 20, the
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
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn

from .adain import calc_mean_std
from .errors import UserError
from .graphs import (DECODER_INPUTS, DECODER_OUTPUT, ENCODER_INPUT, ENCODER_OUTPUT, FRAME_INPUTS, FRAME_OUTPUT,
                     OPSET, PRECISIONS, PRODUCER, STYLE_INPUT, STYLE_OUTPUTS, check_stylecam_onnx, file_hash,
                     metadata)
from .model import from_bgr_uint8, to_bgr_uint8
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
        self.eps = model.config.eps

    def forward(self, image):
        x = from_bgr_uint8(image)[None]                                        # (1, 3, H, W) RGB
        mean, std = calc_mean_std(self.encoder(x), self.eps)                   # (1, 512) each
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
    size = model.config.size_multiple
    h, w = _sides(size, size)
    program = _export(graph, (_example_frame(size),), (STYLE_INPUT,), STYLE_OUTPUTS, {STYLE_INPUT: {0: h, 1: w}})
    return _save(program, Path(path), metadata(model, "style", "fp32", 512, extra_meta or {}))


# graph -> exporter(model, path, precision): what the backends' user cache calls
EXPORTERS = {"frame": torch2onnx, "encoder": encoder2onnx, "decoder": decoder2onnx}


# ----------------------------------------------------------------------------------------- TensorRT

@dataclass(frozen=True)
class Profile:
    """TensorRT optimization profile for the frame's (H, W); sides multiples of 8."""
    min: tuple[int, int] = (256, 256)
    opt: tuple[int, int] = (720, 1280)
    max: tuple[int, int] = (1088, 1920)

    def __str__(self) -> str:
        f = lambda s: f"{s[0]}x{s[1]}"  # noqa: E731
        return f"min {f(self.min)} opt {f(self.opt)} max {f(self.max)}"

    def contains(self, h: int, w: int) -> bool:
        return self.min[0] <= h <= self.max[0] and self.min[1] <= w <= self.max[1]


def tensorrt_or_error():
    """The tensorrt module, or a UserError that says how to get it."""
    try:
        import tensorrt
    except ImportError:
        raise UserError("TensorRT is not installed; install it from NVIDIA's index: "
                        "pip install tensorrt --extra-index-url https://pypi.nvidia.com "
                        "(needs an NVIDIA GPU and driver; see README 'Export')") from None
    return tensorrt


def engine_key(onnx_path: str | os.PathLike, profile: Profile, precision: str) -> dict:
    """What an engine is specific to (design.md §5); the JSON beside an engine holds it."""
    trt = tensorrt_or_error()
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no-gpu"
    return {"onnx_sha256": file_hash(onnx_path), "tensorrt": trt.__version__, "gpu": gpu,
            "profile": str(profile), "precision": precision}


def _pin_statistics_fp32(network, trt) -> int:
    """Every reduce/element-wise/unary layer (AdaIN's mean, variance, sqrt, division and the
    pre/post-processing arithmetic) computes in FP32; convolutions, padding, pooling, ReLU
    and resizing may use FP16. Returns how many layers were pinned."""
    pinned = 0
    fp32_kinds = {trt.LayerType.REDUCE, trt.LayerType.ELEMENTWISE, trt.LayerType.UNARY}
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        if layer.type not in fp32_kinds:
            continue
        if any(layer.get_output(k).dtype not in (trt.float32, trt.float16) for k in range(layer.num_outputs)):
            continue  # integer/bool arithmetic (shape maths) keeps its own type
        layer.precision = trt.float32
        for k in range(layer.num_outputs):
            layer.set_output_type(k, trt.float32)
        pinned += 1
    return pinned


def onnx2engine(onnx_path: str | os.PathLike, engine_path: str | os.PathLike, profile: Profile = Profile(),
                precision: str = "fp16", timing_cache: str | os.PathLike | None = None,
                workspace_gib: float = 4.0, log=print) -> dict:
    """Build a serialized TensorRT engine from the frame graph; writes the engine and a JSON
    beside it (the key + build facts). Returns that JSON's dict."""
    trt = tensorrt_or_error()
    if not torch.cuda.is_available():
        raise UserError("building a TensorRT engine needs a CUDA GPU; none is visible here")
    check_stylecam_onnx(onnx_path, "frame")
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)          # TensorRT 10: explicit batch is the only mode
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise UserError(f"TensorRT could not parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gib * (1 << 30)))
    pinned = 0
    if precision == "fp16":
        config.set_flag(trt.BuilderFlag.FP16)
        config.set_flag(trt.BuilderFlag.OBEY_PRECISION_CONSTRAINTS)
        pinned = _pin_statistics_fp32(network, trt)
    opt_profile = builder.create_optimization_profile()
    opt_profile.set_shape("frame", (*profile.min, 3), (*profile.opt, 3), (*profile.max, 3))
    config.add_optimization_profile(opt_profile)
    cache_bytes = Path(timing_cache).read_bytes() if timing_cache and Path(timing_cache).is_file() else b""
    cache = config.create_timing_cache(cache_bytes)
    config.set_timing_cache(cache, ignore_mismatch=False)
    log(f"building a TensorRT {precision} engine from {onnx_path} ({profile}); this takes minutes, once")
    t0 = time.perf_counter()
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise UserError(f"TensorRT failed to build an engine from {onnx_path} (see the log above)")
    seconds = time.perf_counter() - t0
    engine_path = Path(engine_path)
    with atomic_output(engine_path) as tmp:
        tmp.write_bytes(bytes(serialized))
    if timing_cache:
        with atomic_output(Path(timing_cache)) as tmp:
            tmp.write_bytes(bytes(cache.serialize()))
    info = {**engine_key(onnx_path, profile, precision), "build_seconds": round(seconds, 1),
            "fp32_pinned_layers": pinned, "onnx": str(onnx_path),
            "profile_shapes": {"min": profile.min, "opt": profile.opt, "max": profile.max}}
    with atomic_output(engine_path.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps(info, indent=2) + "\n")
    log(f"built {engine_path} in {seconds:.0f} s ({pinned} layers pinned to FP32)")
    return info
