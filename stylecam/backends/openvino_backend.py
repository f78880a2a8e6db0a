"""OpenVINO backend: the exported graphs (graph_backend.GraphBackend) compiled by OpenVINO for the CPU.

OpenVINO reads the ONNX files as they are, the INT8 one included: its CPU plugin turns the
QDQ pairs around each convolution into INT8 kernels (with AVX2 alone, no VNNI, where ONNX
Runtime's INT8 was slower than its fp32; docs/benchmarks-cpu.md). fp32 graphs are compiled
with the fp32 inference precision: OpenVINO would otherwise run them in bf16 on CPUs that
have it, and "fp32" would not mean what it says.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from ..errors import UserError
from .graph_backend import GraphBackend, Runner, graph_files

INSTALL_HINT = "pip install openvino (or pip install 'stylecam[openvino]')"


def openvino_or_error():
    try:
        import openvino
    except ImportError:
        raise UserError(f"the openvino backend needs OpenVINO: {INSTALL_HINT}") from None
    return openvino


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
            compiled = self.core.compile_model(path, "CPU", config)
        except Exception as e:                             # OpenVINO's own exception types
            raise UserError(f"OpenVINO could not load {path}: {str(e).strip().splitlines()[0][:200]}") from None
        request = compiled.create_infer_request()
        outputs = {o.get_any_name(): o for o in compiled.outputs}
        return lambda output, feed: request.infer(feed)[outputs[output]]

    @property
    def device(self) -> str:
        return f"CPU {self.precision}"


def make(model, device: str, precision: str, *, onnx: str | None = None, **_) -> OpenVINOBackend:
    """The backend table's factory (device and precision already checked against the table)."""
    openvino_or_error()
    frame, split_graphs = graph_files(model, precision, onnx)
    return OpenVINOBackend(frame, split_graphs=split_graphs)
