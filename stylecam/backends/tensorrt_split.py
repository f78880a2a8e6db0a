"""The TensorRT backend's ``encode``/``decode``: engines of the encoder and decoder graphs.

Written against the TensorRT 10 Python API (not installable on the development
machines): each engine runs on a CUDA stream of its own with torch tensors as its
I/O buffers, allocated per call (torch's caching allocator reuses them).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from ..errors import UserError
from ..graphs import DECODER_INPUTS, DECODER_OUTPUT, ENCODER_INPUT, ENCODER_OUTPUT, read_metadata
from ..model import SIZE_MULTIPLE
from .onnxruntime_backend import pad_frame


class Engine:
    """One deserialized engine: named torch tensors in, named torch CUDA tensors out."""

    def __init__(self, path: str | os.PathLike):
        from ..convert import tensorrt_or_error
        trt = tensorrt_or_error()
        self.path = Path(path)
        self.engine = trt.Runtime(trt.Logger(trt.Logger.WARNING)).deserialize_cuda_engine(self.path.read_bytes())
        if self.engine is None:
            raise UserError(f"{self.path} could not be loaded by TensorRT {trt.__version__}; delete it to rebuild it")
        self.context = self.engine.create_execution_context()
        self.stream = torch.cuda.Stream()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.outputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        self.dtypes = {n: torch.from_numpy(np.zeros(0, trt.nptype(self.engine.get_tensor_dtype(n)))).dtype
                       for n in names}
        self.dynamic = {n for n in names if -1 in tuple(self.engine.get_tensor_shape(n))}
        info = self.path.with_suffix(".json")     # the graph it was built from names the size multiple
        graph = json.loads(info.read_text()).get("onnx") if info.is_file() else None
        meta = read_metadata(graph) if graph and Path(graph).is_file() else {}
        self.multiple = int(meta.get("stylecam.size_multiple", SIZE_MULTIPLE))

    def __call__(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        self.stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(self.stream):
            feed = {n: t.to("cuda", self.dtypes[n]).contiguous() for n, t in inputs.items()}
            for name, t in feed.items():
                if name in self.dynamic and not self.context.set_input_shape(name, tuple(t.shape)):
                    raise UserError(f"{name} of shape {tuple(t.shape)} is outside the profile of {self.path.name}; "
                                    f"rebuild it with python -m export.trt --min/--max")
                self.context.set_tensor_address(name, t.data_ptr())
            out = {n: torch.empty(tuple(self.context.get_tensor_shape(n)), dtype=self.dtypes[n], device="cuda")
                   for n in self.outputs}
            for name, t in out.items():
                self.context.set_tensor_address(name, t.data_ptr())
            if not self.context.execute_async_v3(self.stream.cuda_stream):
                raise RuntimeError(f"TensorRT execution of {self.path.name} failed (see the TensorRT log above)")
        self.stream.synchronize()          # feed and out stay alive until the engine is done with them
        return out


class SplitEngines:
    """encode/decode of the Backend interface on the encoder and decoder engines, a frame at a time."""

    def __init__(self, encoder: str | os.PathLike, decoder: str | os.PathLike):
        self.encoder, self.decoder = Engine(encoder), Engine(decoder)

    @torch.inference_mode()
    def encode(self, frames: np.ndarray) -> torch.Tensor:
        feats = [self.encoder({ENCODER_INPUT: torch.from_numpy(pad_frame(f, self.encoder.multiple))})[ENCODER_OUTPUT]
                 for f in frames]                                           # (1, C, h, w) each
        return torch.cat(feats)

    @torch.inference_mode()
    def decode(self, features, content_mean, content_std, style_mean, style_std, alpha, size) -> np.ndarray:
        n, c = features.shape[:2]
        rows = [torch.as_tensor(x, dtype=torch.float32).reshape(-1, x.shape[-1]).expand(n, -1)
                for x in (content_mean, content_std, style_mean, style_std)]
        alphas = torch.as_tensor(alpha, dtype=torch.float32).reshape(-1).expand(n)
        h, w = size
        out = []
        for i in range(n):
            feed = dict(zip(DECODER_INPUTS, (features[i:i + 1], *(r[i] for r in rows), alphas[i])))
            out.append(self.decoder(feed)[DECODER_OUTPUT][:h, :w].cpu().numpy())
        return np.stack(out)
