"""Conversions between model formats, one function per direction.

``torch2onnx``: the whole per-frame network as one ONNX graph
    frame (uint8, H×W×3, BGR) + style_mean (512) + style_std (512) + alpha ()
    -> stylized (uint8, H×W×3, BGR)
with the casts, channel flip, layout change, clamp and rounding inside.
``style2onnx``: the style encoder, image (uint8, H×W×3, BGR) -> mean, std (512 each).
``onnx2engine``: a TensorRT engine from the frame graph (FP16 with the AdaIN
statistics pinned to FP32).

Exporter and opset (design.md §4, §5): the dynamo exporter at opset 20, the
newest opset TensorRT 10 parses, gives a clean graph (reflect ``Pad`` nodes
directly) and reproduces PyTorch bit for bit on ONNX Runtime. H and W are
dynamic as ``8 * Dim``: the graph takes sides that are multiples of 8 and the
backends reflect-pad other sizes and crop back, exactly as ``StyleTransfer``
does in PyTorch.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn

from .adain import calc_mean_std
from .errors import UserError
from .model import SIZE_MULTIPLE, StyleTransfer, from_bgr_uint8, to_bgr_uint8
from .safeio import atomic_output

OPSET = 20
EXPORTER = "torch.onnx dynamo"
FORMAT_VERSION = "1"            # bump when the graph's inputs/outputs change
PRODUCER = "stylecam"
FRAME_INPUTS = ("frame", "style_mean", "style_std", "alpha")
FRAME_OUTPUT = "stylized"        # ONNX names are unique, so the output cannot be called "frame" too
STYLE_INPUT = "image"
STYLE_OUTPUTS = ("style_mean", "style_std")
MAX_SIDE = 8192                  # upper bound of the dynamic sides (an export-time constraint only)
PRECISIONS = ("fp32", "fp16")


class FrameGraph(nn.Module):
    """StyleTransfer with OpenCV/PyAV frames in and out.

    fp16: encoder and decoder in half precision; the AdaIN statistics stay float32
    (``adain.calc_mean_std`` casts up, and the graph keeps those Casts).
    """

    def __init__(self, model: StyleTransfer, dtype: torch.dtype = torch.float32):
        super().__init__()
        self.model = model
        self.dtype = dtype

    def forward(self, frame, style_mean, style_std, alpha):
        # frame: (H, W, 3) uint8 BGR, H and W multiples of 8
        x = from_bgr_uint8(frame.unsqueeze(0), self.dtype)                       # (1, 3, H, W) RGB
        return to_bgr_uint8(self.model(x, style_mean, style_std, alpha))[0]


class StyleGraph(nn.Module):
    """The style encoder: (H, W, 3) uint8 BGR -> mean, std (512,) float32 at relu4_1."""

    def __init__(self, model: StyleTransfer):
        super().__init__()
        self.encoder = _vgg(model)
        self.eps = model.config.eps

    def forward(self, image):
        x = from_bgr_uint8(image.unsqueeze(0))                                 # (1, 3, H, W) RGB
        mean, std = calc_mean_std(self.encoder(x), self.eps)                   # (1, 512) each
        return mean[0], std[0]


def _vgg(model: StyleTransfer):
    """The VGG the style statistics come from (the full model's content encoder too; lite: style only)."""
    return getattr(model, "style_encoder", model.encoder)


def model_hash(model: StyleTransfer) -> str:
    """Identifies the weights (trained tensors + VGG version), whatever file they came from."""
    h = hashlib.sha256(_vgg(model).version.encode())
    trained = dict(model.decoder.state_dict())
    if model.encoder is not _vgg(model):       # the lite model trains its content encoder too
        trained.update({f"encoder.{k}": v for k, v in model.encoder.state_dict().items()})
    for name, t in sorted(trained.items()):
        h.update(name.encode())
        h.update(t.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def file_hash(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def _metadata(model: StyleTransfer, graph: str, precision: str, extra: dict) -> dict[str, str]:
    meta = {
        "producer": PRODUCER,
        "stylecam.format": FORMAT_VERSION,
        "stylecam.graph": graph,
        "stylecam.precision": precision,
        "stylecam.exporter": f"{EXPORTER} (torch {torch.__version__})",
        "stylecam.opset": str(OPSET),
        "stylecam.size_multiple": str(SIZE_MULTIPLE),
        "stylecam.input": ("frame: uint8 (H, W, 3) BGR as OpenCV/PyAV give it, H and W multiples of 8 "
                           "(reflect-pad and crop other sizes); style_mean, style_std: float32 (512,) "
                           "at relu4_1; alpha: float32 scalar in [0, 1]" if graph == "frame" else
                           "image: uint8 (H, W, 3) BGR, H and W multiples of 8"),
        "stylecam.output": ("stylized: uint8 (H, W, 3) BGR" if graph == "frame" else
                            "style_mean, style_std: float32 (512,), biased variance, eps 1e-5"),
        "stylecam.normalization": ("RGB/255 into VGG-19 with Caffe pre-processing folded into conv1_1 "
                                   "and per-channel vgg_normalised scaling"),
        "stylecam.model": getattr(model, "kind", "full"),
        "stylecam.encoder_version": _vgg(model).version,
        "stylecam.weights_hash": model_hash(model),
    }
    meta.update({f"stylecam.{k}": str(v) for k, v in extra.items()})
    return meta


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


def _sides():
    from torch.export import Dim
    h8 = Dim("h8", min=2, max=MAX_SIDE // SIZE_MULTIPLE)
    w8 = Dim("w8", min=2, max=MAX_SIDE // SIZE_MULTIPLE)
    return {0: SIZE_MULTIPLE * h8, 1: SIZE_MULTIPLE * w8}


def torch2onnx(model: StyleTransfer, path: str | os.PathLike, precision: str = "fp32",
               extra_meta: dict | None = None) -> Path:
    """Export the per-frame graph. ``model`` is left unchanged (a copy is cast for fp16)."""
    import copy
    if precision not in PRECISIONS:
        raise UserError(f"precision {precision}: choose one of {', '.join(PRECISIONS)}")
    dtype = torch.float16 if precision == "fp16" else torch.float32
    m = copy.deepcopy(model).cpu().eval()
    m.encoder.to(dtype)
    m.decoder.to(dtype)
    graph = FrameGraph(m, dtype).eval()
    example = (torch.zeros(32, 48, 3, dtype=torch.uint8), torch.zeros(512), torch.ones(512), torch.tensor(1.0))
    program = _export(graph, example, FRAME_INPUTS, (FRAME_OUTPUT,),
                      {"frame": _sides(), "style_mean": None, "style_std": None, "alpha": None})
    return _save(program, Path(path), _metadata(model, "frame", precision, extra_meta or {}))


def style2onnx(model: StyleTransfer, path: str | os.PathLike, extra_meta: dict | None = None) -> Path:
    """Export the style encoder graph (float32)."""
    import copy
    graph = StyleGraph(copy.deepcopy(model).cpu().float().eval())
    program = _export(graph, (torch.zeros(32, 48, 3, dtype=torch.uint8),), (STYLE_INPUT,), STYLE_OUTPUTS,
                      {"image": _sides()})
    return _save(program, Path(path), _metadata(model, "style", "fp32", extra_meta or {}))


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
