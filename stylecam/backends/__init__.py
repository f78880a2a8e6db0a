"""Inference backends behind one interface (``Backend``), created by name.

``create("auto", ...)`` tries the fastest first and, when it settles on one,
says which and why the others were not used; an explicit name that cannot run
is an error, never a silent fallback.

Order for ``auto``: a TensorRT FP16 engine (TensorRT + CUDA), then torch on
CUDA (fp16, CUDA graphs, torch.compile), then on the CPU the faster of ONNX
Runtime and torch as measured on a 2-core AMD EPYC (README, "Backends"):
``CPU_ORDER``. ``compile``: None = where measured faster (CUDA), True/False = as asked.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from .base import Backend, keep_content_colors
from .graph_cache import cached_onnx

__all__ = ["Backend", "BackendChoice", "create", "keep_content_colors", "NAMES"]

NAMES = ("auto", "torch", "onnxruntime", "tensorrt")
CPU_ORDER = ("onnxruntime", "torch")     # measured: see README, "Backends"


@dataclass(frozen=True)
class BackendChoice:
    backend: Backend
    notes: tuple[str, ...]       # why the faster ones were not used (for `auto`)

    def report(self) -> str:
        msg = f"backend: {self.backend.describe()}"
        return msg + "".join(f"\n  not used: {n}" for n in self.notes)


def _say(msg: str) -> None:
    print(f"stylecam: {msg}", file=sys.stderr)


def _torch(model, device: str, precision: str, compile: bool | None = None) -> Backend:
    import torch

    from ..loading import pick_device
    from .torch_backend import COMPILE_CHANNELS_LAST, TorchBackend
    dev = pick_device(device)
    if precision == "auto":
        precision = "fp16" if dev.type == "cuda" else "fp32"
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
    if dev.type == "cpu" and dtype != torch.float32:
        raise UserError(f"--precision {precision} needs CUDA; on the CPU use --precision fp32")
    compile = _compile_here(dev.type, compile)
    return TorchBackend(model, dev, dtype, cuda_graphs=dev.type == "cuda", compile=compile,
                        channels_last=compile and COMPILE_CHANNELS_LAST)


def _compile_here(device_type: str, asked: bool | None) -> bool:
    """torch.compile where it measured faster (CUDA: 3.1× at 720p on an H100; the CPU: 1.1× after a
    35 s first compile, so only when asked), if its compiler is here; asked for and absent is an error."""
    import importlib.util
    import os
    import shutil
    if asked is False or (asked is None and device_type != "cuda"):
        return False
    if device_type == "cuda":
        missing = None if importlib.util.find_spec("triton") else "triton (pip install triton)"
    else:
        cxx = os.environ.get("CXX") or "g++"      # what inductor's CPU code generation calls
        missing = None if shutil.which(cxx) else f"a C++ compiler ({cxx})"
    if missing and asked:
        raise UserError(f"--compile on {device_type} needs {missing}; or leave --compile off")
    return not missing


def _split_source(model, graph: str | os.PathLike, flag: str) -> None:
    """The split graphs are exported from ``model``: refuse when the graph given with ``flag``
    holds other weights, since encode/decode would then disagree with stylize."""
    from ..graphs import model_hash, read_metadata
    if read_metadata(graph).get("stylecam.weights_hash") != model_hash(model):
        raise UserError(f"{flag} {graph} holds other weights than the loaded decoder, and the encoder and "
                        f"decoder graphs are made from the loaded one: pass the --decoder it was exported "
                        f"from, or leave out {flag}")


def _onnxruntime(model, device: str, precision: str, onnx: str | None) -> Backend:
    from .onnxruntime_backend import OnnxRuntimeBackend, onnxruntime_or_error
    onnxruntime_or_error()
    dev = "cpu" if device == "auto" else device
    if precision == "bf16":
        raise UserError("--precision bf16 is not available with onnxruntime; use fp32 or fp16")
    def split_graphs(meta: dict) -> tuple[Path, Path]:
        if onnx:
            _split_source(model, onnx, "--onnx")
        # int8 quantizes the frame graph only; smoothing runs the fp32 split graphs
        prec = "fp32" if meta["stylecam.precision"] == "int8" else meta["stylecam.precision"]
        return cached_onnx(model, prec, "encoder"), cached_onnx(model, prec, "decoder")
    if precision == "int8":
        if dev != "cpu":
            raise UserError("--precision int8 runs on the CPU only: add --device cpu (on CUDA use fp16)")
        from ..quantize import cached_int8
        return OnnxRuntimeBackend(cached_int8(onnx or cached_onnx(model, "fp32")), dev, split_graphs=split_graphs)
    frame = onnx or cached_onnx(model, "fp16" if precision == "fp16" else "fp32")
    return OnnxRuntimeBackend(frame, dev, split_graphs=split_graphs)


def cached_engine(model, onnx: str | None, precision: str | None = None, graph: str = "frame") -> Path:
    """An engine of ``graph`` (frame, encoder or decoder) for this GPU and TensorRT version in the
    user cache, built when missing or stale.
    precision: what the engine must be (None: the graph's; the exported default is fp16)."""
    import hashlib
    import json

    from ..paths import user_cache_dir
    from ..safeio import writable_cache
    from ..tensorrt_build import Profile, current_engine_key, onnx2engine
    from .tensorrt_backend import engine_is_current
    onnx_path = Path(onnx) if onnx else cached_onnx(model, precision or "fp16", graph)
    profile = Profile()
    key = current_engine_key(onnx_path, profile)
    if precision and key["precision"] != precision:
        raise UserError(f"--onnx {onnx_path} is the {key['precision']} graph, and a TensorRT engine has its graph's "
                        f"precision; export the {precision} one: python -m export.onnx --precision {precision}")
    name = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    folder = user_cache_dir() / "engines"
    engine = folder / f"stylecam-{name}.engine"
    why = engine_is_current(engine, key)
    if why:
        folder = writable_cache(folder, "the engine")
        engine = folder / engine.name
        _say(f"building a TensorRT {key['precision']} {graph} engine ({why}); this takes a few minutes once "
             f"-> {engine}")
        onnx2engine(onnx_path, engine, profile, timing_cache=folder, log=_say)
    return engine


def _tensorrt(model, device: str, precision: str, onnx: str | None, engine: str | None) -> Backend:
    import json

    import torch

    from ..tensorrt_build import tensorrt_or_error
    from .tensorrt_backend import TensorRTBackend
    tensorrt_or_error()
    if device == "cpu" or not torch.cuda.is_available():
        raise UserError("the tensorrt backend needs a CUDA GPU; none is visible here (use --backend torch)")
    if precision == "bf16":
        raise UserError("--precision bf16 is not available with tensorrt; use fp16 or fp32")
    if engine is not None:
        _check_engine(Path(engine))
    frame_engine = engine or cached_engine(model, onnx, None if precision == "auto" else precision)

    def split_engines() -> tuple[Path, Path]:
        # from the loaded model's graphs in the frame engine's precision (its graph's: strongly typed)
        built = json.loads(Path(frame_engine).with_suffix(".json").read_text())
        if onnx or engine:      # the split engines come from the loaded model: the same weights?
            source = onnx or built.get("onnx", "?")
            _split_source(model, source, "--onnx" if onnx else f"--engine {engine}: its graph")
        prec = built.get("precision", "fp16")
        return cached_engine(model, None, prec, "encoder"), cached_engine(model, None, prec, "decoder")
    return TensorRTBackend(frame_engine, split_engines=split_engines)


def _check_engine(engine: Path) -> None:
    import json

    import torch

    from ..tensorrt_build import tensorrt_or_error
    fix = f"build one with: python -m export.trt --onnx stylecam.onnx -o {engine}"
    if not engine.is_file() or not engine.with_suffix(".json").is_file():
        raise UserError(f"--engine {engine}: no such engine (with its .json beside it); {fix}")
    try:
        built = json.loads(engine.with_suffix(".json").read_text())
    except (OSError, ValueError):
        raise UserError(f"--engine {engine}: {engine.with_suffix('.json')} is not readable JSON; {fix}") from None
    here = {"tensorrt": tensorrt_or_error().__version__, "gpu": torch.cuda.get_device_name()}
    stale = [f"{k} {built.get(k)!r}, here {v!r}" for k, v in here.items() if built.get(k) != v]
    if stale:
        raise UserError(f"--engine {engine} was built for another setup ({'; '.join(stale)}); rebuild it with "
                        f"python -m export.trt --onnx {built.get('onnx', 'stylecam.onnx')} -o {engine}")


def _cuda_available(device: str) -> bool:
    if device == "cpu":
        return False
    import torch
    return torch.cuda.is_available()


def _auto(model, device: str, precision: str, onnx: str | None, engine: str | None,
          compile: bool | None, split: bool) -> BackendChoice:
    notes: list[str] = []
    if _cuda_available(device):
        if compile:
            notes.append("tensorrt: --compile asks for torch")
        else:
            try:
                return BackendChoice(_ready(_tensorrt(model, device, precision, onnx, engine), split), ())
            except (UserError, RuntimeError, OSError) as e:    # a failed engine build falls back, said so
                notes.append(f"tensorrt: {e}")
        notes.append("onnxruntime: not tried on CUDA (torch fp16 with CUDA graphs and torch.compile is the "
                     "measured GPU path)")
        return BackendChoice(_ready(_torch(model, device, precision, compile), split), tuple(notes))
    if device.startswith("cuda"):
        from ..loading import pick_device
        pick_device(device)          # raises the one-line "CUDA is not available" error
    notes.append("tensorrt: needs a CUDA GPU" if device == "cpu" else "tensorrt: no CUDA GPU here")
    notes.append("torch on CUDA: " + ("--device cpu" if device == "cpu" else "no CUDA GPU here"))
    if precision not in ("auto", "fp32"):
        raise UserError(f"--precision {precision} needs CUDA; on the CPU use --precision fp32")
    order = ("torch",) if compile else CPU_ORDER
    if compile:
        notes.append("onnxruntime: --compile asks for torch")
    for i, name in enumerate(order):
        try:
            if name == "onnxruntime":
                backend = _ready(_onnxruntime(model, "cpu", "fp32", onnx), split)
            else:
                backend = _ready(_torch(model, "cpu", "fp32", compile), split)
        except UserError as e:
            notes.append(f"{name}: {e}")
            continue
        notes += [f"{other} on CPU: slower here than {name} (README, Backends)" for other in order[i + 1:]]
        return BackendChoice(backend, tuple(notes))
    raise UserError("no backend could run: " + "; ".join(notes))


def _ready(backend: Backend, split: bool) -> Backend:
    if split:
        backend.prepare_split()
    return backend


def create(name: str, model, device: str = "auto", precision: str = "auto", *,
           onnx: str | None = None, engine: str | None = None, compile: bool | None = None,
           split: bool = False) -> BackendChoice:
    """model: a loaded network (the model API). Returns the backend and the notes on what was skipped.
    onnx / engine: an exported graph or a built engine to use instead of the cached ones.
    compile: torch.compile for the torch backend (None: where measured faster, i.e. on CUDA).
    split: the caller will run encode/decode (temporal smoothing): they are made ready now, and
    ``auto`` passes over a backend that cannot run them."""
    if name not in NAMES:
        raise UserError(f"unknown backend '{name}'; choose one of: {', '.join(NAMES)}")
    if precision == "int8" and name != "onnxruntime":
        raise UserError("--precision int8 runs only with ONNX Runtime on the CPU: add --backend onnxruntime")
    if compile and name in ("onnxruntime", "tensorrt"):
        raise UserError(f"--compile is for the torch backend, not {name}; drop it or use --backend torch")
    if name == "auto":
        return _auto(model, device, precision, onnx, engine, compile, split)
    if name == "torch":
        return BackendChoice(_ready(_torch(model, device, precision, compile), split), ())
    if name == "onnxruntime":
        return BackendChoice(_ready(_onnxruntime(model, device, precision, onnx), split), ())
    return BackendChoice(_ready(_tensorrt(model, device, precision, onnx, engine), split), ())
