"""TensorRT backend: a serialized engine of the frame graph (built by ``stylecam.tensorrt_build``).

I/O buffers are torch CUDA tensors allocated once for the profile's largest frame, so no
pycuda is needed and torch's allocator owns all memory. The engine runs on a CUDA stream of
the backend's own (``execute_async_v3`` on the legacy default stream makes TensorRT
synchronize around every call); the copies in and out are queued on the same stream.

At load the engine must be this setup's (the JSON beside it: TensorRT version and GPU) and
keep the frame graph's contract (tensor names, dtypes, and an output the shape of the
input), so a foreign ``--engine`` is one line, not a crash on the first frame.

``encode``/``decode`` (temporal smoothing) run the encoder and decoder engines
(``tensorrt_split``) on the same stream, with the same checks at load.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..errors import UserError
from ..graphs import FRAME_INPUTS, FRAME_OUTPUT
from ..tensorrt_build import (Profile, io_problems, last_error, logger, one_line, output_shape_problem,
                              tensorrt_or_error)
from .base import Backend
from .base import pad_frame

REBUILD = "build one with: python -m export.trt --onnx stylecam.onnx -o stylecam.engine"


def engine_is_current(engine_path: Path, key: dict) -> str | None:
    """None if the engine at ``engine_path`` was built for ``key``; otherwise why not."""
    meta_path = engine_path.with_suffix(".json")
    if not engine_path.is_file():
        return "no engine yet"
    if not meta_path.is_file():
        return f"{engine_path} has no {meta_path.name} beside it"
    try:
        built = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        return f"{meta_path} is not readable JSON"
    stale = [f"{k} {built.get(k)!r} != {v!r}" for k, v in key.items() if built.get(k) != v]
    return "; ".join(stale) or None


def engine_io(engine, trt) -> list[tuple[str, str, str, tuple]]:
    """(name, mode, dtype, shape) of every I/O tensor, as ``tensorrt_build.io_problems`` reads them."""
    modes = {trt.TensorIOMode.INPUT: "input", trt.TensorIOMode.OUTPUT: "output"}
    rows = []
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        dtype = engine.get_tensor_dtype(name)
        try:
            dtype = np.dtype(trt.nptype(dtype)).name
        except TypeError:          # types numpy lacks (bf16, fp8, …) keep TensorRT's name
            dtype = str(dtype)
        rows.append((name, modes.get(engine.get_tensor_mode(name), "none"), dtype,
                     tuple(engine.get_tensor_shape(name))))
    return rows


class TensorRTBackend(Backend):
    name = "tensorrt"

    def __init__(self, engine_path: str | os.PathLike,
                 split_engines: Callable[[], tuple[Path, Path]] | None = None):
        """split_engines: the encoder and decoder engines for encode/decode (built on first use)."""
        self.split_engines, self.split = split_engines, None
        trt = tensorrt_or_error()
        if not torch.cuda.is_available():
            raise UserError("the tensorrt backend needs a CUDA GPU; none is visible here (use --backend torch)")
        self.path = Path(engine_path)
        try:
            info = json.loads(self.path.with_suffix(".json").read_text())
        except (OSError, ValueError):
            raise UserError(f"{self.path}: no readable {self.path.with_suffix('.json').name} beside it; "
                            f"{REBUILD}") from None
        self.precision = info.get("precision", "?")
        self.input, self.output = FRAME_INPUTS[0], FRAME_OUTPUT
        try:
            self.runtime = trt.Runtime(logger(clear=True))
            self.engine = self.runtime.deserialize_cuda_engine(self.path.read_bytes())
            if self.engine is None:
                raise UserError(f"{self.path} could not be loaded by TensorRT {trt.__version__} ({last_error()}); "
                                f"{REBUILD}")
            problems = io_problems(engine_io(self.engine, trt))
            if problems:
                raise UserError(f"{self.path} is not a stylecam frame engine: {'; '.join(problems[:3])}; {REBUILD}")
            self.profile = Profile.from_shapes(*self.engine.get_tensor_profile_shape(self.input, 0))
            self.context = self.engine.create_execution_context()
            if self.context is None:
                raise UserError(f"TensorRT could not create an execution context for {self.path} "
                                f"({last_error()}); is the GPU out of memory?")
            oh, ow = self.profile.opt
            if not self.context.set_input_shape(self.input, (oh, ow, 3)):
                raise UserError(f"{self.path} refuses its own optimal shape {oh}x{ow}: {last_error()}")
            bad = output_shape_problem((oh, ow, 3), tuple(self.context.get_tensor_shape(self.output)))
            if bad:
                raise UserError(f"{self.path} is not a stylecam frame engine: {bad}; {REBUILD}")
        except UserError:
            raise
        except Exception as e:     # binding errors, a profile that is not the frame graph's, …
            raise UserError(f"{self.path} is not a usable TensorRT engine here: {one_line(e)}") from None
        dev = torch.device("cuda")
        self.stream = torch.cuda.Stream(dev)
        max_h, max_w = self.profile.max
        # allocated once for the largest frame the profile admits; smaller frames use a prefix
        self.frame_in = torch.empty(max_h * max_w * 3, dtype=torch.uint8, device=dev)
        self.frame_out = torch.empty(max_h * max_w * 3, dtype=torch.uint8, device=dev)
        self.mean = torch.empty(512, dtype=torch.float32, device=dev)
        self.std = torch.empty(512, dtype=torch.float32, device=dev)
        self.alpha = torch.empty((), dtype=torch.float32, device=dev)
        for name, buf in zip(FRAME_INPUTS[1:], (self.mean, self.std, self.alpha)):
            self._address(name, buf)

    def _address(self, name: str, buf: torch.Tensor) -> None:
        if not self.context.set_tensor_address(name, buf.data_ptr()):
            raise UserError(f"TensorRT refused the buffer for '{name}' of {self.path}: {last_error()}")

    @property
    def device(self) -> str:
        return f"cuda ({torch.cuda.get_device_name()}) {self.precision} engine {self.path.name}"

    @torch.inference_mode()
    def stylize(self, frames, style_mean, style_std, alpha=1.0):
        if frames.ndim == 4:
            return np.stack([self.stylize(f, style_mean, style_std, alpha) for f in frames])
        h, w = frames.shape[:2]
        padded = pad_frame(frames)
        ph, pw = padded.shape[:2]
        refusal = self.profile.why_not(ph, pw)
        if refusal:
            raise UserError(refusal)
        n = ph * pw * 3
        frame_in = self.frame_in[:n].view(ph, pw, 3)
        frame_out = self.frame_out[:n].view(ph, pw, 3)
        with torch.cuda.stream(self.stream):
            frame_in.copy_(torch.from_numpy(np.ascontiguousarray(padded)))
            self.mean.copy_(torch.as_tensor(style_mean, dtype=torch.float32).reshape(-1))
            self.std.copy_(torch.as_tensor(style_std, dtype=torch.float32).reshape(-1))
            self.alpha.fill_(float(alpha))
            if not self.context.set_input_shape(self.input, (ph, pw, 3)):
                raise UserError(f"TensorRT refused a {ph}x{pw} frame: {last_error()}")
            self._address(self.input, frame_in)
            self._address(self.output, frame_out)
            if not self.context.execute_async_v3(self.stream.cuda_stream):
                raise UserError(f"TensorRT could not run {self.path.name}: {last_error()}")
            return frame_out[:h, :w].cpu().numpy()      # queued after the engine on this stream, then waits

    def prepare_split(self):
        if self.split is None:
            from .tensorrt_split import SplitEngines
            if self.split_engines is None:
                raise UserError(f"the tensorrt backend on {self.path} has no encoder and decoder engines")
            self.split = SplitEngines(*self.split_engines(), self.stream)

    def encode(self, frames):
        self.prepare_split()
        return self.split.encode(frames)

    def decode(self, features, content_mean, content_std, style_mean, style_std, alpha, size):
        self.prepare_split()
        return self.split.decode(features, content_mean, content_std, style_mean, style_std, alpha, size)


def _say(msg: str) -> None:
    print(f"stylecam: {msg}", file=sys.stderr)


def cached_engine(model, onnx: str | None, precision: str | None = None, graph: str = "frame") -> Path:
    """An engine of ``graph`` (frame, encoder or decoder) for this GPU and TensorRT version in the
    user cache, built when missing or stale.
    precision: what the engine must be (None: the graph's; the exported default is fp16)."""
    import hashlib

    from ..paths import user_cache_dir
    from ..safeio import writable_cache
    from ..tensorrt_build import current_engine_key, onnx2engine
    from .graph_cache import cached_onnx
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


def check_engine(engine: Path) -> None:
    """A --engine given by the user: there, with its JSON, and built for this TensorRT and GPU."""
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


def make(model, device: str, precision: str, *, onnx: str | None = None, engine: str | None = None,
         precision_asked: bool = True, **_) -> TensorRTBackend:
    """The backend table's factory (device and precision already checked against the table).
    precision_asked: False when ``precision`` is only the table's default: the engine keeps its
    graph's precision then."""
    from .graph_backend import split_source_check
    tensorrt_or_error()
    if not torch.cuda.is_available():
        raise UserError("the tensorrt backend needs a CUDA GPU; none is visible here (use --backend torch)")
    if engine is not None:
        check_engine(Path(engine))
    frame_engine = engine or cached_engine(model, onnx, precision if precision_asked else None)

    def split_engines() -> tuple[Path, Path]:
        # from the loaded model's graphs in the frame engine's precision (its graph's: strongly typed)
        built = json.loads(Path(frame_engine).with_suffix(".json").read_text())
        if onnx or engine:      # the split engines come from the loaded model: the same weights?
            source = onnx or built.get("onnx", "?")
            split_source_check(model, source, "--onnx" if onnx else f"--engine {engine}: its graph")
        prec = built.get("precision", "fp16")
        return cached_engine(model, None, prec, "encoder"), cached_engine(model, None, prec, "decoder")
    return TensorRTBackend(frame_engine, split_engines=split_engines)
