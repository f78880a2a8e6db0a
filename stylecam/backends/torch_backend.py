"""PyTorch backend: CPU, or CUDA with fp16/bf16, channels_last, CUDA graphs and torch.compile.

channels_last is off by default in eager mode: reflection padding is slow in NHWC, so eager
fp16 runs about half as fast in channels_last as in NCHW on a GPU (export/gpu_bench.py measures
it; figures in docs/benchmarks.md).

torch.compile (``compile=True``) fuses the memory-bound layers between the convolutions
(padding, ReLU, up-sampling, the uint8 conversions), the padding included, so compiled it runs
channels_last, several times faster than eager on CUDA after a compile of seconds per frame
size. On the CPU it gains little after a long first compile, so it is used on CUDA by default
and on the CPU only when asked.

CUDA graphs: at 1280×720 one frame is a few milliseconds of GPU work spread
over ~60 kernel launches, so launch overhead matters; one graph is captured per
input shape (the live loop and a video keep one shape) and replayed with the
frame, style and strength copied into its static buffers.
"""
from __future__ import annotations

import sys
from collections import OrderedDict

import numpy as np
import torch

from ..errors import UserError
from ..model import from_bgr_uint8, pad_to_multiple, to_bgr_uint8
from .base import Backend

MAX_GRAPHS = 4    # captured shapes kept (each holds its activations' memory)
COMPILE_MODE = "default"          # torch.compile mode; export/gpu_bench.py compile step compares the others
COMPILE_CHANNELS_LAST = True      # compiled, the padding is fused: the fast layout (export/gpu_bench.py)


def _say(msg: str) -> None:
    print(f"stylecam: {msg}", file=sys.stderr)


class TorchBackend(Backend):
    name = "torch"

    def __init__(self, model, device: torch.device, dtype: torch.dtype = torch.float32,
                 cuda_graphs: bool = False, channels_last: bool = False, compile: bool = False):
        self.model = model.to(device).eval()
        self.torch_device = device
        self.dtype = dtype
        self.precision = {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}[dtype]
        self.cuda_graphs = cuda_graphs and device.type == "cuda"
        self.channels_last = channels_last and device.type == "cuda"
        self._graphs: OrderedDict[tuple, _Graph] = OrderedDict()
        self.compile = compile
        self.infer = (torch.compile(self.forward_uint8, mode=COMPILE_MODE, dynamic=False) if compile
                      else self.forward_uint8)
        self._compiled: set[tuple] = set()       # input shapes compiled so far
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True    # frames keep one size: let cuDNN time its kernels once
        if dtype != torch.float32:
            self.model.to(dtype)       # AdaIN statistics stay float32 inside the model (adain casts)

    @property
    def device(self) -> str:
        if self.torch_device.type == "cuda":
            name = torch.cuda.get_device_name(self.torch_device)
            graphs = ", CUDA graphs" if self.cuda_graphs else ""
            dtype = str(self.dtype).removeprefix("torch.")
            return f"{self.torch_device} ({name}) {dtype}{graphs}{self._compiled_note()}"
        return f"cpu ({torch.get_num_threads()} threads){self._compiled_note()}"

    def _compiled_note(self) -> str:
        layout = ", channels_last" if self.channels_last else ""
        return f"{layout}, torch.compile ({COMPILE_MODE})" if self.compile else layout

    def forward_uint8(self, x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
                      alpha: torch.Tensor) -> torch.Tensor:
        """x: (N, H, W, 3) uint8 BGR on the device -> the same, stylized (all on the device)."""
        x = from_bgr_uint8(x, self.dtype)                                      # (N, 3, H, W) RGB
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return to_bgr_uint8(self.model(x, mean, std, alpha))

    @torch.inference_mode()
    def stylize(self, frames, style_mean, style_std, alpha=1.0):
        single = frames.ndim == 3
        batch = frames[None] if single else frames
        x = torch.from_numpy(np.ascontiguousarray(batch))
        mean = style_mean.to(self.torch_device, torch.float32)
        std = style_std.to(self.torch_device, torch.float32)
        a = torch.as_tensor(alpha, dtype=torch.float32).to(self.torch_device)
        out = None
        if self.compile and tuple(x.shape) not in self._compiled:
            out = self._compile_for(x.to(self.torch_device), mean, std, a)
        if self.cuda_graphs:
            try:
                out = self._graph_for(x.shape).run(x, mean, std, a)
            except RuntimeError as e:       # capture unsupported here: eager is slower but correct
                _say(f"CUDA graphs off ({str(e).splitlines()[0][:120]}); running without")
                self.cuda_graphs = False
                self._graphs.clear()
        if out is None:
            out = self.infer(x.to(self.torch_device, non_blocking=True), mean, std, a)
        out = out.cpu().numpy()
        return out[0] if single else out

    def _compile_for(self, x: torch.Tensor, mean, std, alpha) -> torch.Tensor | None:
        """Compile for a new input shape with one eager-timed call (before any CUDA graph captures it);
        a compiler failure turns compilation off, said so, and the frame runs uncompiled."""
        _say(f"torch.compile: compiling for {tuple(x.shape)} frames (once per frame size; seconds to a minute)")
        try:
            out = self.infer(x, mean, std, alpha)
        except Exception as e:      # no C++ compiler / triton, an unsupported op: slower but correct
            why = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
            _say(f"torch.compile off ({why}); running uncompiled")
            self.compile, self.infer = False, self.forward_uint8
            return None
        self._compiled.add(tuple(x.shape))
        return out

    @torch.inference_mode()
    def encode(self, frames):
        x = from_bgr_uint8(torch.from_numpy(np.ascontiguousarray(frames)).to(self.torch_device), self.dtype)
        x, _ = pad_to_multiple(x, self.model.config.size_multiple)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.model.encode(x)

    @torch.inference_mode()
    def decode(self, features, content_mean, content_std, style_mean, style_std, alpha, size):
        dev, f32 = self.torch_device, torch.float32
        y = self.model.decode(features.to(dev, self.dtype), content_mean.to(dev, f32), content_std.to(dev, f32),
                              style_mean.to(dev, f32), style_std.to(dev, f32), alpha)
        h, w = size
        return to_bgr_uint8(y[..., :h, :w].clamp(0, 1)).cpu().numpy()

    def _graph_for(self, shape: tuple) -> "_Graph":
        key = tuple(shape)
        if key in self._graphs:
            self._graphs.move_to_end(key)
        else:
            if len(self._graphs) >= MAX_GRAPHS:
                self._graphs.popitem(last=False)
            self._graphs[key] = _Graph(self, key)
        return self._graphs[key]


class _Graph:
    """One captured forward pass for a fixed (N, H, W, 3) input."""

    def __init__(self, backend: TorchBackend, shape: tuple):
        dev = backend.torch_device
        self.frames = torch.zeros(shape, dtype=torch.uint8, device=dev)
        self.mean = torch.zeros(512, device=dev)
        self.std = torch.ones(512, device=dev)
        self.alpha = torch.ones((), device=dev)
        side = torch.cuda.Stream(dev)
        side.wait_stream(torch.cuda.current_stream(dev))
        with torch.cuda.stream(side):     # warm-up outside the capture (cuDNN picks its kernels)
            for _ in range(2):
                backend.infer(self.frames, self.mean, self.std, self.alpha)
        torch.cuda.current_stream(dev).wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.out = backend.infer(self.frames, self.mean, self.std, self.alpha)

    @torch.inference_mode()     # the static buffers are inference tensors (made under stylize's mode)
    def run(self, x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        self.frames.copy_(x, non_blocking=True)
        self.mean.copy_(mean)
        self.std.copy_(std)
        self.alpha.copy_(alpha)
        self.graph.replay()
        return self.out


def make(model, device: str, precision: str, *, compile: bool | None = None, **_) -> TorchBackend:
    """The backend table's factory (device and precision already checked against the table)."""
    from ..loading import pick_device
    dev = pick_device(device)
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
    compile = compile_here(dev.type, compile)
    return TorchBackend(model, dev, dtype, cuda_graphs=dev.type == "cuda", compile=compile,
                        channels_last=compile and COMPILE_CHANNELS_LAST)


def compile_here(device_type: str, asked: bool | None) -> bool:
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
