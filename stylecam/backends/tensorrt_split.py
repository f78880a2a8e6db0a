"""The TensorRT backend's ``encode``/``decode``: engines of the encoder and decoder graphs.

Written against the TensorRT 10 Python API (installable only from NVIDIA's own index: docs/design.md §5).
Same discipline as the frame engine: both engines run on the backend's own CUDA stream, and
at load each must keep its graph's contract (``tensorrt_build.ENCODER_IO`` / ``DECODER_IO``),
so a damaged cache entry is one line, not a crash on the first frame. Their I/O buffers are
torch tensors allocated per call (torch's caching allocator reuses them).
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
from ..tensorrt_build import ENGINE_IO, io_problems, last_error, logger, one_line, tensorrt_or_error
from .base import pad_frame
from .tensorrt_backend import engine_io


class Engine:
    """One deserialized engine of ``graph``: named torch tensors in, named torch CUDA tensors out,
    run on ``stream``."""

    def __init__(self, path: str | os.PathLike, graph: str, stream: torch.cuda.Stream):
        trt = tensorrt_or_error()
        self.path, self.stream = Path(path), stream
        fix = "delete it and it is built again on the next run"
        try:
            self.runtime = trt.Runtime(logger(clear=True))
            self.engine = self.runtime.deserialize_cuda_engine(self.path.read_bytes())
            if self.engine is None:
                raise UserError(f"{self.path} could not be loaded by TensorRT {trt.__version__} ({last_error()}); "
                                f"{fix}")
            problems = io_problems(engine_io(self.engine, trt), ENGINE_IO[graph])
            if problems:
                raise UserError(f"{self.path} is not a stylecam {graph} engine: {'; '.join(problems[:3])}; {fix}")
            self.context = self.engine.create_execution_context()
            if self.context is None:
                raise UserError(f"TensorRT could not create an execution context for {self.path} "
                                f"({last_error()}); is the GPU out of memory?")
        except UserError:
            raise
        except Exception as e:     # binding errors and the like
            raise UserError(f"{self.path} is not a usable TensorRT engine here: {one_line(e)}") from None
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.outputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        self.dtypes = {n: torch.from_numpy(np.zeros(0, trt.nptype(self.engine.get_tensor_dtype(n)))).dtype
                       for n in names}
        self.dynamic = {n for n in names if -1 in tuple(self.engine.get_tensor_shape(n))}
        info = self.path.with_suffix(".json")     # the graph it was built from names the size multiple
        source = json.loads(info.read_text()).get("onnx") if info.is_file() else None
        meta = read_metadata(source) if source and Path(source).is_file() else {}
        self.multiple = int(meta.get("stylecam.size_multiple", SIZE_MULTIPLE))

    def __call__(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        self.stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(self.stream):
            feed = {n: t.to("cuda", self.dtypes[n]).contiguous() for n, t in inputs.items()}
            for name, t in feed.items():
                if name in self.dynamic and not self.context.set_input_shape(name, tuple(t.shape)):
                    raise UserError(f"{name} of shape {tuple(t.shape)} is outside the profile of {self.path.name} "
                                    f"({last_error()}); rebuild it with python -m export.trt --min/--max")
                self._address(name, t)
            out = {n: torch.empty(tuple(self.context.get_tensor_shape(n)), dtype=self.dtypes[n], device="cuda")
                   for n in self.outputs}
            for name, t in out.items():
                self._address(name, t)
            if not self.context.execute_async_v3(self.stream.cuda_stream):
                raise UserError(f"TensorRT could not run {self.path.name}: {last_error()}")
        self.stream.synchronize()          # feed and out stay alive until the engine is done with them
        return out

    def _address(self, name: str, t: torch.Tensor) -> None:
        if not self.context.set_tensor_address(name, t.data_ptr()):
            raise UserError(f"TensorRT refused the buffer for '{name}' of {self.path}: {last_error()}")


class SplitEngines:
    """encode/decode of the Backend interface on the encoder and decoder engines, a frame at a time,
    on ``stream`` (the backend's)."""

    def __init__(self, encoder: str | os.PathLike, decoder: str | os.PathLike, stream: torch.cuda.Stream):
        self.encoder, self.decoder = Engine(encoder, "encoder", stream), Engine(decoder, "decoder", stream)

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
