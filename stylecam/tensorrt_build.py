"""TensorRT engines from the ONNX frame, encoder and decoder graphs: the builder, its cache keys
and the engines' contracts.

Strongly typed networks (``NetworkDefinitionCreationFlag.STRONGLY_TYPED``): every tensor's type
comes from the graph, so an FP16 engine is built from the FP16 ONNX graph, which already keeps
the uint8 conversions, the AdaIN statistics and the AdaIN maths in FP32 between explicit Casts.
No builder precision flags and no per-layer pins: that weak-typing API was deprecated in
TensorRT 10.12 and is gone in 11.

Supported: TensorRT 10.x (the ``tensorrt`` extra in pyproject.toml). 10.0 is the first release
whose ONNX parser reads opset 20 and whose networks are explicit-batch with no flag, and it has
the strongly typed flag and the name-based tensor API used here; 11 keeps the flag (ignored:
strong typing is always on) but replaces other 10.x calls and has not been tried.

A profile is given in frame pixels (H, W) for every graph; ``graphs.dynamic_input`` turns it into
the shape of the graph's one dynamic input (the decoder's is the features, H/m × W/m).

Pure parts (tested without TensorRT): ``Profile``, ``engine_key``, ``timing_cache_path``,
``io_problems``, ``engine_graph``, ``output_shape_problem``.
"""
from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError
from .graphs import (DECODER_INPUTS, DECODER_OUTPUT, ENCODER_INPUT, ENCODER_OUTPUT, FRAME_INPUTS, FRAME_OUTPUT,
                     check_stylecam_onnx, dynamic_input, file_hash, read_metadata)
from .model import MIN_SIDE, SIZE_MULTIPLE
from .networks import default_kind
from .safeio import atomic_output, write_json

SUPPORTED_MAJOR = 10
INSTALL_HINT = (f"pip install tensorrt~={SUPPORTED_MAJOR}.0 --extra-index-url https://pypi.nvidia.com "
                "(needs an NVIDIA GPU and driver; see docs/backends.md)")

# The frame graph's tensors as an engine reports them: (name, mode, dtype, shape), -1 = dynamic.
FRAME_IO = (
    (FRAME_INPUTS[0], "input", "uint8", (-1, -1, 3)),
    (FRAME_INPUTS[1], "input", "float32", (512,)),
    (FRAME_INPUTS[2], "input", "float32", (512,)),
    (FRAME_INPUTS[3], "input", "float32", ()),
    (FRAME_OUTPUT, "output", "uint8", (-1, -1, 3)),
)
# The split graphs'; C (the features' channels) is the network's own.
ENCODER_IO = (
    (ENCODER_INPUT, "input", "uint8", (-1, -1, 3)),
    (ENCODER_OUTPUT, "output", "float32", (1, -1, -1, -1)),
)
DECODER_IO = (
    (DECODER_INPUTS[0], "input", "float32", (1, -1, -1, -1)),
    (DECODER_INPUTS[1], "input", "float32", (-1,)),
    (DECODER_INPUTS[2], "input", "float32", (-1,)),
    (DECODER_INPUTS[3], "input", "float32", (512,)),
    (DECODER_INPUTS[4], "input", "float32", (512,)),
    (DECODER_INPUTS[5], "input", "float32", ()),
    (DECODER_OUTPUT, "output", "uint8", (-1, -1, 3)),
)
ENGINE_IO = {"frame": FRAME_IO, "encoder": ENCODER_IO, "decoder": DECODER_IO}   # graph -> its engine's I/O


def _hw(s: tuple[int, int]) -> str:
    """(H, W) as TensorRT's H×W: how a profile is stored and printed."""
    return f"{s[0]}x{s[1]}"


def _wxh(s: tuple[int, int]) -> str:
    """(H, W) as the WxH that export.trt's --min/--opt/--max take (stylecam's one size syntax)."""
    return f"{s[1]}x{s[0]}"


def _round_up(side: int) -> int:
    return max(MIN_SIDE, -(-side // SIZE_MULTIPLE) * SIZE_MULTIPLE)


@dataclass(frozen=True)
class Profile:
    """Optimization profile for the frame's (H, W), TensorRT's order (the command line writes
    sizes WxH, as everywhere in stylecam): sides multiples of 8, at least 16.

    The default admits every frame the other backends take (16×16 up) to 1088×1920, tuned for
    720×1280. A frame outside it is refused with the fix (``why_not``), never rebuilt silently.
    """
    min: tuple[int, int] = (MIN_SIDE, MIN_SIDE)
    opt: tuple[int, int] = (720, 1280)
    max: tuple[int, int] = (1088, 1920)

    def __post_init__(self):
        for name in ("min", "opt", "max"):
            h, w = getattr(self, name)
            if h < MIN_SIDE or w < MIN_SIDE or h % SIZE_MULTIPLE or w % SIZE_MULTIPLE:
                raise UserError(f"--{name} {w}x{h}: both sides must be multiples of {SIZE_MULTIPLE} and at least "
                                f"{MIN_SIDE} (e.g. {_round_up(w)}x{_round_up(h)})")
        if not all(self.min[i] <= self.opt[i] <= self.max[i] for i in (0, 1)):
            raise UserError(f"profile must satisfy min <= opt <= max on each side; got --min {_wxh(self.min)} "
                            f"--opt {_wxh(self.opt)} --max {_wxh(self.max)}")

    def __str__(self) -> str:
        return f"min {_hw(self.min)} opt {_hw(self.opt)} max {_hw(self.max)}"

    def as_json(self) -> dict:
        return {"min": list(self.min), "opt": list(self.opt), "max": list(self.max)}

    @classmethod
    def from_shapes(cls, lo, opt, hi) -> "Profile":
        """From (H, W, ...) shapes such as ``ICudaEngine.get_tensor_profile_shape`` returns."""
        return cls(tuple(lo)[:2], tuple(opt)[:2], tuple(hi)[:2])

    def contains(self, h: int, w: int) -> bool:
        return self.min[0] <= h <= self.max[0] and self.min[1] <= w <= self.max[1]

    def why_not(self, h: int, w: int) -> str | None:
        """None if a frame padded to (h, w) runs on this profile, else the one-line refusal with the fix."""
        if self.contains(h, w):
            return None
        lo = (min(self.min[0], h), min(self.min[1], w))
        hi = (max(self.max[0], h), max(self.max[1], w))
        return (f"a frame of {w}x{h} (padded to multiples of {SIZE_MULTIPLE}) is outside the TensorRT "
                f"engine's profile (H×W {self}); "
                f"build one that covers it: python -m export.trt --min {_wxh(lo)} --max {_wxh(hi)} -o big.engine, "
                f"then pass --engine big.engine")


def engine_key(onnx_sha256: str, tensorrt_version: str, gpu: str, profile: Profile, precision: str) -> dict:
    """What an engine is specific to (docs/design.md §5); the JSON beside an engine holds it."""
    return {"onnx_sha256": onnx_sha256, "tensorrt": tensorrt_version, "gpu": gpu,
            "profile": str(profile), "precision": precision}


def timing_cache_path(folder: str | os.PathLike, tensorrt_version: str, gpu: str) -> Path:
    """One timing cache per (TensorRT version, GPU model): TensorRT refuses a cache from another."""
    slug = re.sub(r"[^A-Za-z0-9.]+", "-", f"trt{tensorrt_version}-{gpu}").strip("-")
    return Path(folder) / f"timing-{slug}.cache"


def io_problems(found, expected=FRAME_IO) -> list[str]:
    """What stops an engine with I/O ``found`` — (name, mode, dtype, shape) tuples as the engine
    reports them — from running as the ``expected`` contract; empty if it fits."""
    have = {name: (mode, dtype, tuple(shape)) for name, mode, dtype, shape in found}
    problems = []
    for name, mode, dtype, shape in expected:
        if name not in have:
            problems.append(f"no {mode} tensor '{name}'")
            continue
        got_mode, got_dtype, got_shape = have.pop(name)
        if got_mode != mode:
            problems.append(f"'{name}' is an {got_mode}, expected an {mode}")
        if got_dtype != dtype:
            problems.append(f"'{name}' is {got_dtype}, expected {dtype}")
        if len(got_shape) != len(shape) or any(e != -1 and g != e for g, e in zip(got_shape, shape)):
            problems.append(f"'{name}' has shape {got_shape}, expected {shape} (-1: any)")
    problems += [f"unexpected tensor '{name}'" for name in have]
    return problems


def engine_graph(onnx_path: str | os.PathLike) -> tuple[str, dict[str, str]]:
    """Which graph an engine can be built from (frame, encoder or decoder) and its metadata;
    a UserError naming the fix for any other file."""
    graph = read_metadata(onnx_path).get("stylecam.graph")
    graph = graph if graph in ENGINE_IO else "frame"      # otherwise check_stylecam_onnx says what it is
    return graph, check_stylecam_onnx(onnx_path, graph)


def output_shape_problem(input_shape: tuple, output_shape: tuple) -> str | None:
    """The frame graph gives back a frame of the input's shape."""
    if tuple(output_shape) != tuple(input_shape):
        return f"for a {tuple(input_shape)} frame it gives {tuple(output_shape)}"
    return None


# ----------------------------------------------------------------------------------- TensorRT itself

def tensorrt_or_error():
    """The tensorrt module (10.x), or a UserError that says how to get it."""
    try:
        import tensorrt
    except ImportError:
        raise UserError(f"TensorRT is not installed; install it from NVIDIA's index: {INSTALL_HINT}") from None
    major = tensorrt.__version__.split(".")[0]
    if major != str(SUPPORTED_MAJOR):
        raise UserError(f"TensorRT {tensorrt.__version__} is installed; stylecam builds and runs engines with "
                        f"TensorRT {SUPPORTED_MAJOR}.x: {INSTALL_HINT}")
    return tensorrt


_LOGGER = None


def logger(clear: bool = False):
    """The process's one TensorRT logger (TensorRT expects a single logger for its builders and runtimes).

    Warnings go to stderr, one line each; errors are kept (``last_error``) for the one-line
    UserError that the failing call raises, so nothing is printed twice. ``clear``: forget the
    errors of earlier operations."""
    global _LOGGER
    if _LOGGER is None:
        trt = tensorrt_or_error()

        class _Logger(trt.ILogger):
            def __init__(self):
                trt.ILogger.__init__(self)
                self.errors: list[str] = []

            def log(self, severity, msg):
                if severity in (trt.ILogger.Severity.ERROR, trt.ILogger.Severity.INTERNAL_ERROR):
                    self.errors = (self.errors + [one_line(msg)])[-3:]
                elif severity == trt.ILogger.Severity.WARNING:
                    print(f"tensorrt: {one_line(msg)}", file=sys.stderr)

        _LOGGER = _Logger()
    if clear:
        _LOGGER.errors = []
    return _LOGGER


def last_error(default: str = "no message from TensorRT") -> str:
    errors = _LOGGER.errors if _LOGGER is not None else []
    return errors[-1] if errors else default


def one_line(text, limit: int = 400) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def gpu_name() -> str:
    import torch
    return torch.cuda.get_device_name() if torch.cuda.is_available() else "no-gpu"


def current_engine_key(onnx_path: str | os.PathLike, profile: Profile) -> dict:
    """engine_key for this graph on this machine (the graph's precision is its own)."""
    trt = tensorrt_or_error()
    precision = engine_graph(onnx_path)[1].get("stylecam.precision", "fp32")
    return engine_key(file_hash(onnx_path), trt.__version__, gpu_name(), profile, precision)


def onnx2engine(onnx_path: str | os.PathLike, engine_path: str | os.PathLike, profile: Profile = Profile(),
                timing_cache: str | os.PathLike | None = None, workspace_gib: float = 4.0,
                precision: str | None = None, log=print, overwrite: bool = True) -> dict:
    """Build a strongly typed TensorRT engine from the frame, encoder or decoder graph; writes the
    engine and a JSON beside it (the key + build facts) and returns that JSON's dict.
    overwrite=False: an engine that exists when the build ends, e.g. one another run wrote
    meanwhile, is never replaced (``safeio.OutputExists``); True suits the engine cache.

    The engine's precision is the graph's (``stylecam.precision``); ``precision``, when given, is
    what the caller expects of it. ``timing_cache``: a folder (the cache file inside is keyed by
    TensorRT version and GPU) or a file; None for none. Any TensorRT failure is a UserError."""
    import torch
    trt = tensorrt_or_error()
    if not torch.cuda.is_available():
        raise UserError("building a TensorRT engine needs a CUDA GPU; none is visible here")
    graph, meta = engine_graph(onnx_path)
    graph_precision = meta.get("stylecam.precision", "fp32")
    if precision and precision != graph_precision:
        raise UserError(f"{onnx_path} is the {graph_precision} graph and a strongly typed engine has the graph's "
                        f"precision; export the {precision} one: python -m export.onnx --precision {precision} "
                        f"-o stylecam_{precision}.onnx")
    if timing_cache is not None and Path(timing_cache).is_dir():
        timing_cache = timing_cache_path(timing_cache, trt.__version__, gpu_name())
    log(f"building a TensorRT {graph_precision} {graph} engine from {onnx_path} ({profile}); "
        "this takes minutes, once")
    shapes = [dynamic_input(graph, meta, *sides) for sides in (profile.min, profile.opt, profile.max)]
    t0 = time.perf_counter()
    try:
        serialized, cache = _build(trt, Path(onnx_path), shapes, timing_cache, workspace_gib, log)
    except UserError:
        raise
    except Exception as e:      # TensorRT's Python bindings raise TypeError/RuntimeError with long texts
        raise UserError(f"TensorRT failed on {onnx_path}: {one_line(e)}") from None
    seconds = time.perf_counter() - t0
    engine_path = Path(engine_path)
    with atomic_output(engine_path, overwrite) as tmp:
        tmp.write_bytes(bytes(serialized))
    if timing_cache:
        with atomic_output(Path(timing_cache)) as tmp:
            tmp.write_bytes(bytes(cache.serialize()))
    info = {**engine_key(file_hash(onnx_path), trt.__version__, gpu_name(), profile, graph_precision),
            "build_seconds": round(seconds, 1), "strongly_typed": True, "onnx": str(onnx_path), "graph": graph,
            "model": meta.get("stylecam.model", default_kind().name),
            "timing_cache": str(timing_cache) if timing_cache else None,
            "profile_shapes": profile.as_json()}
    write_json(engine_path.with_suffix(".json"), info)
    log(f"built {engine_path} in {seconds:.0f} s")
    return info


def _build(trt, onnx_path: Path, shapes, timing_cache, workspace_gib: float, log):
    """shapes: (name, shape) of the dynamic input at the profile's min, opt and max."""
    builder = trt.Builder(logger(clear=True))
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
    parser = trt.OnnxParser(network, logger())
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(one_line(parser.get_error(i), 200) for i in range(parser.num_errors))
        raise UserError(f"TensorRT could not parse {onnx_path}: {errors or last_error()}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gib * (1 << 30)))
    opt_profile = builder.create_optimization_profile()
    name = shapes[0][0]
    opt_profile.set_shape(name, *(shape for _, shape in shapes))
    config.add_optimization_profile(opt_profile)
    cache = _attach_timing_cache(config, Path(timing_cache) if timing_cache else None, log)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise UserError(f"TensorRT could not build an engine from {onnx_path}: {last_error()}")
    return serialized, cache


def _attach_timing_cache(config, path: Path | None, log):
    """The saved timing cache if TensorRT takes it (set_timing_cache says so), else a fresh one."""
    blob = path.read_bytes() if path and path.is_file() else b""
    cache = config.create_timing_cache(blob)
    if cache is not None and config.set_timing_cache(cache, ignore_mismatch=False):
        return cache
    if blob:
        log(f"the timing cache {path} is from another GPU or TensorRT, or damaged ({last_error()}); "
            "starting a new one")
        cache = config.create_timing_cache(b"")
        if cache is not None and config.set_timing_cache(cache, ignore_mismatch=False):
            return cache
    raise UserError(f"TensorRT refused a new timing cache: {last_error()}")
