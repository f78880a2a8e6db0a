"""OpenVINO backend: the exported graphs (graph_backend.GraphBackend) compiled by OpenVINO for the CPU.

OpenVINO reads the ONNX files as they are, the INT8 one included: its CPU plugin turns the
QDQ pairs around each convolution into INT8 kernels (with AVX2 alone, no VNNI, where ONNX
Runtime's INT8 was slower than its fp32; docs/benchmarks-cpu.md). fp32 graphs are compiled
with the fp32 inference precision: OpenVINO would otherwise run them in bf16 on CPUs that
have it, and "fp32" would not mean what it says.

Each graph is compiled once per input shape (the live loop and a video keep one): with the
sides fixed OpenVINO ran lite 1.4-1.5× faster than with them dynamic (docs/benchmarks-cpu.md),
for a compile of a second or less per new shape; the last few shapes are kept.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Callable

from ..errors import UserError
from .base import require
from .graph_backend import GraphBackend, Runner, graph_files

INSTALL_HINT = "pip install openvino (or pip install 'stylecam[openvino]')"
MAX_SHAPES = 4          # compiled shapes kept per graph


def openvino_or_error():
    return require("openvino", "openvino", INSTALL_HINT)


class OpenVINOBackend(GraphBackend):
    name = "openvino"

    def __init__(self, onnx_path: str | os.PathLike,
                 split_graphs: Callable[[dict], tuple[Path, Path]] | None = None):
        self.core = openvino_or_error().Core()
        super().__init__(onnx_path, split_graphs)
        self.run = self._load(self.path)

    def _load(self, path: str) -> Runner:
        config = {"PERFORMANCE_HINT": "LATENCY"}          # one stream on every core: one frame at a time
        if self.precision != "int8":
            config["INFERENCE_PRECISION_HINT"] = "f32" if self.precision == "fp32" else "f16"
        try:
            model = self.core.read_model(path)
        except Exception as e:                             # OpenVINO's own exception types
            raise UserError(f"OpenVINO could not load {path}: {_first_line(e)}") from None
        return _ShapeCache(self.core, model, config, path)

    @property
    def device(self) -> str:
        return f"CPU {self.precision}"


class _ShapeCache:
    """A runner that compiles ``model`` for each new set of input shapes (the last MAX_SHAPES kept)."""

    def __init__(self, core, model, config: dict, path: str):
        self.core, self.model, self.config, self.path = core, model, config, path
        self.compiled: OrderedDict[tuple, tuple] = OrderedDict()

    def __call__(self, output: str, feed: dict):
        key = tuple((k, v.shape) for k, v in feed.items())
        if key in self.compiled:
            self.compiled.move_to_end(key)
        else:
            if len(self.compiled) >= MAX_SHAPES:
                self.compiled.popitem(last=False)
            self.compiled[key] = self._compile(dict(key))
        request, outputs = self.compiled[key]
        return request.infer(feed)[outputs[output]]

    def _compile(self, shapes: dict) -> tuple:
        model = self.model.clone()
        try:
            model.reshape({name: list(shape) for name, shape in shapes.items()})
            compiled = self.core.compile_model(model, "CPU", self.config)
        except Exception as e:
            raise UserError(f"OpenVINO could not compile {self.path} for {shapes}: {_first_line(e)}") from None
        return compiled.create_infer_request(), {o.get_any_name(): o for o in compiled.outputs}


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:200]


def make(model, device: str, precision: str, *, onnx: str | None = None, **_) -> OpenVINOBackend:
    """The backend table's factory (device and precision already checked against the table)."""
    openvino_or_error()
    frame, split_graphs = graph_files(model, precision, onnx)
    return OpenVINOBackend(frame, split_graphs=split_graphs)
