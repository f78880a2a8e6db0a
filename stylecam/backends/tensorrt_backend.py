"""TensorRT backend: a serialized FP16 engine of the frame graph.

I/O buffers are torch CUDA tensors allocated once for the profile's largest
frame; the engine runs on torch's current stream (``execute_async_v3``), so no
pycuda is needed and torch's allocator owns all memory.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..errors import UserError
from .base import Backend
from .onnxruntime_backend import pad_frame


def engine_is_current(engine_path: Path, key: dict) -> str | None:
    """None if the engine at ``engine_path`` was built for ``key``; otherwise why not."""
    meta_path = engine_path.with_suffix(".json")
    if not engine_path.is_file():
        return "no engine yet"
    if not meta_path.is_file():
        return f"{engine_path} has no {meta_path.name} beside it"
    built = json.loads(meta_path.read_text())
    stale = [f"{k} {built.get(k)!r} != {v!r}" for k, v in key.items() if built.get(k) != v]
    return "; ".join(stale) or None


class TensorRTBackend(Backend):
    name = "tensorrt"

    def __init__(self, engine_path: str | os.PathLike,
                 split_engines: Callable[[], tuple[Path, Path]] | None = None):
        """split_engines: the encoder and decoder engines for encode/decode (built on first use)."""
        from ..convert import Profile, tensorrt_or_error
        from ..graphs import FRAME_OUTPUT
        self.split_engines, self.split = split_engines, None
        trt = tensorrt_or_error()
        if not torch.cuda.is_available():
            raise UserError("the tensorrt backend needs a CUDA GPU; none is visible here (use --backend torch)")
        self.path = Path(engine_path)
        info = json.loads(self.path.with_suffix(".json").read_text())
        shapes = info["profile_shapes"]
        self.profile = Profile(tuple(shapes["min"]), tuple(shapes["opt"]), tuple(shapes["max"]))
        self.precision = info.get("precision", "?")
        self.runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self.engine = self.runtime.deserialize_cuda_engine(self.path.read_bytes())
        if self.engine is None:
            raise UserError(f"{self.path} could not be loaded by TensorRT {trt.__version__}; rebuild it with "
                            "python -m export.trt")
        self.context = self.engine.create_execution_context()
        dev = torch.device("cuda")
        max_h, max_w = self.profile.max
        # allocated once for the largest frame the profile admits; smaller frames use a prefix
        self.frame_in = torch.empty(max_h * max_w * 3, dtype=torch.uint8, device=dev)
        self.frame_out = torch.empty(max_h * max_w * 3, dtype=torch.uint8, device=dev)
        self.mean = torch.empty(512, dtype=torch.float32, device=dev)
        self.std = torch.empty(512, dtype=torch.float32, device=dev)
        self.alpha = torch.empty((), dtype=torch.float32, device=dev)
        self.output = FRAME_OUTPUT
        for name, buf in (("style_mean", self.mean), ("style_std", self.std), ("alpha", self.alpha)):
            self.context.set_tensor_address(name, buf.data_ptr())

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
        if not self.profile.contains(ph, pw):
            raise UserError(f"frame {w}×{h} (padded {pw}×{ph}) is outside the engine's profile "
                            f"({self.profile}, H×W); rebuild with python -m export.trt --min/--max")
        n = ph * pw * 3
        frame_in = self.frame_in[:n].view(ph, pw, 3)
        frame_out = self.frame_out[:n].view(ph, pw, 3)
        frame_in.copy_(torch.from_numpy(np.ascontiguousarray(padded)), non_blocking=False)
        self.mean.copy_(torch.as_tensor(style_mean, dtype=torch.float32).reshape(-1))
        self.std.copy_(torch.as_tensor(style_std, dtype=torch.float32).reshape(-1))
        self.alpha.fill_(float(alpha))
        self.context.set_input_shape("frame", (ph, pw, 3))
        self.context.set_tensor_address("frame", frame_in.data_ptr())
        self.context.set_tensor_address(self.output, frame_out.data_ptr())
        stream = torch.cuda.current_stream()
        if not self.context.execute_async_v3(stream.cuda_stream):
            raise RuntimeError("TensorRT execution failed (see the TensorRT log above)")
        return frame_out[:h, :w].cpu().numpy()

    def prepare_split(self):
        if self.split is None:
            from .tensorrt_split import SplitEngines
            if self.split_engines is None:
                raise UserError(f"the tensorrt backend on {self.path} has no encoder and decoder engines")
            self.split = SplitEngines(*self.split_engines())

    def encode(self, frames):
        self.prepare_split()
        return self.split.encode(frames)

    def decode(self, features, content_mean, content_std, style_mean, style_std, alpha, size):
        self.prepare_split()
        return self.split.decode(features, content_mean, content_std, style_mean, style_std, alpha, size)
