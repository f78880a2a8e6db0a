"""Inference backends behind one interface (``Backend``), created by name.

``create("auto", ...)`` tries the fastest first and, when it settles on one,
says which and why the others were not used; an explicit name that cannot run
is an error, never a silent fallback.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import UserError
from .base import Backend, keep_content_colors

__all__ = ["Backend", "BackendChoice", "create", "keep_content_colors", "NAMES"]

NAMES = ("auto", "torch")


@dataclass(frozen=True)
class BackendChoice:
    backend: Backend
    notes: tuple[str, ...]       # why the faster ones were not used (for `auto`)

    def report(self) -> str:
        msg = f"backend: {self.backend.describe()}"
        return msg + "".join(f"\n  not used: {n}" for n in self.notes)


def _torch(model, device: str, precision: str) -> Backend:
    import torch

    from ..loading import pick_device
    from .torch_backend import TorchBackend
    dev = pick_device(device)
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
    if dev.type == "cpu" and dtype != torch.float32:
        raise UserError(f"--precision {precision} needs CUDA; on the CPU use --precision fp32")
    return TorchBackend(model, dev, dtype)


def create(name: str, model, device: str = "auto", precision: str = "auto") -> BackendChoice:
    """model: a loaded ``StyleTransfer``. Returns the backend and the notes on what was skipped."""
    if name not in NAMES:
        raise UserError(f"unknown backend '{name}'; choose one of: {', '.join(NAMES)}")
    if precision == "auto":
        import torch
        precision = "fp16" if device != "cpu" and torch.cuda.is_available() else "fp32"
    return BackendChoice(_torch(model, device, precision), ())
