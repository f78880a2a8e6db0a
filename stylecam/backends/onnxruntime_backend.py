"""ONNX Runtime backend: the exported graphs (graph_backend.GraphBackend) in ONNX Runtime sessions,
on the CPU or on its CUDA provider.

Session settings (``SessionSettings``) are the ones measured fastest on the CPU
(docs/benchmarks-cpu.md): ONNX Runtime's own choices for threads and graph
optimization, with the worker threads' spin-waiting kept on.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import UserError
from .base import require
from .graph_backend import GraphBackend, Runner, graph_files

INSTALL_HINT = "pip install onnxruntime onnxscript (or onnxruntime-gpu for CUDA)"


@dataclass(frozen=True, kw_only=True)
class SessionSettings:
    threads: int = 0                # intra-op threads; 0: ONNX Runtime's default (one per physical core)
    spinning: bool = True           # idle workers spin between the ops of one frame instead of sleeping
    optimization: str = "all"       # graph optimization level: basic, extended, layout or all


LEVELS = {"basic": "ORT_ENABLE_BASIC", "extended": "ORT_ENABLE_EXTENDED", "layout": "ORT_ENABLE_LAYOUT",
          "all": "ORT_ENABLE_ALL"}


def onnxruntime_or_error():
    return require("onnxruntime", "onnxruntime", INSTALL_HINT)


class OnnxRuntimeBackend(GraphBackend):
    name = "onnxruntime"

    def __init__(self, onnx_path: str | os.PathLike, device: str = "cpu",
                 settings: SessionSettings = SessionSettings(),
                 split_graphs: Callable[[dict], tuple[Path, Path]] | None = None):
        self.ort = onnxruntime_or_error()
        super().__init__(onnx_path, split_graphs)
        self.settings = settings
        self.providers = ["CPUExecutionProvider"]
        if device.startswith("cuda"):
            if "CUDAExecutionProvider" not in self.ort.get_available_providers():
                raise UserError("ONNX Runtime here has no CUDA provider: pip install onnxruntime-gpu, "
                                "or use --device cpu")
            self.providers.insert(0, "CUDAExecutionProvider")
        self.session = self._session(self.path)
        self.run = _runner(self.session)

    def _session(self, path: str):
        opts = self.ort.SessionOptions()
        opts.intra_op_num_threads = self.settings.threads
        opts.graph_optimization_level = getattr(self.ort.GraphOptimizationLevel, LEVELS[self.settings.optimization])
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if self.settings.spinning else "0")
        opts.log_severity_level = 3                    # keep its warnings off the user's terminal
        try:
            return self.ort.InferenceSession(path, opts, providers=self.providers)
        except Exception as e:                         # onnxruntime's own exception types
            raise UserError(f"ONNX Runtime could not load {path}: {str(e).splitlines()[0][:200]}") from None

    def _load(self, path: str) -> Runner:
        return _runner(self._session(path))

    @property
    def device(self) -> str:
        provider = self.session.get_providers()[0].removesuffix("ExecutionProvider")
        return f"{provider} {self.precision}"


def _runner(session) -> Runner:
    return lambda output, feed: session.run([output], feed)[0]


def make(model, device: str, precision: str, *, onnx: str | None = None, **_) -> OnnxRuntimeBackend:
    """The backend table's factory (device and precision already checked against the table)."""
    onnxruntime_or_error()
    frame, split_graphs = graph_files(model, precision, onnx)
    return OnnxRuntimeBackend(frame, device, split_graphs=split_graphs)
