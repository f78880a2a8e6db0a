"""ONNX Runtime backend: runs the exported frame graph (stylecam/convert.py).

The graph takes sides that are multiples of 8; other sizes are reflect-padded
here and cropped back, exactly as ``StyleTransfer`` pads in PyTorch, so the
two agree on every size.
"""
from __future__ import annotations

import os

import cv2
import numpy as np
import torch

from ..errors import UserError
from ..model import MIN_SIDE, SIZE_MULTIPLE
from .base import Backend

INSTALL_HINT = "pip install onnxruntime onnxscript (or onnxruntime-gpu for CUDA)"


def onnxruntime_or_error():
    try:
        import onnxruntime
    except ImportError:
        raise UserError(f"the onnxruntime backend needs ONNX Runtime: {INSTALL_HINT}") from None
    return onnxruntime


def pad_frame(frame: np.ndarray, multiple: int = SIZE_MULTIPLE) -> np.ndarray:
    """(H, W, 3) -> reflect-padded at the bottom/right to multiples of ``multiple``
    (BORDER_REFLECT_101 is torch's 'reflect')."""
    h, w = frame.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise UserError(f"frame {w}×{h} is too small: both sides must be at least {MIN_SIDE} pixels")
    ph, pw = (-h) % multiple, (-w) % multiple
    if not (ph or pw):
        return frame
    return cv2.copyMakeBorder(frame, 0, ph, 0, pw, cv2.BORDER_REFLECT_101)


class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"

    def __init__(self, onnx_path: str | os.PathLike, device: str = "cpu", threads: int = 0):
        from stylecam.convert import FRAME_OUTPUT, check_stylecam_onnx
        ort = onnxruntime_or_error()
        self.meta = check_stylecam_onnx(onnx_path, "frame")
        self.path = str(onnx_path)
        providers = ["CPUExecutionProvider"]
        if device.startswith("cuda"):
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise UserError("ONNX Runtime here has no CUDA provider: pip install onnxruntime-gpu, "
                                "or use --device cpu")
            providers.insert(0, "CUDAExecutionProvider")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads           # 0: ONNX Runtime's default (one per core)
        opts.log_severity_level = 3                    # keep its warnings off the user's terminal
        self.session = ort.InferenceSession(self.path, opts, providers=providers)
        self.output = FRAME_OUTPUT

    @property
    def device(self) -> str:
        provider = self.session.get_providers()[0].removesuffix("ExecutionProvider")
        return f"{provider} {self.meta.get('stylecam.precision', '?')}"

    def describe(self) -> str:
        return f"{super().describe()} ({os.path.basename(self.path)})"

    def stylize(self, frames, style_mean, style_std, alpha=1.0):
        if frames.ndim == 4:
            return np.stack([self.stylize(f, style_mean, style_std, alpha) for f in frames])
        h, w = frames.shape[:2]
        feed = {"frame": np.ascontiguousarray(pad_frame(frames)),
                "style_mean": _vector(style_mean), "style_std": _vector(style_std),
                "alpha": np.asarray(alpha, np.float32).reshape(())}
        out = self.session.run([self.output], feed)[0]          # (H8, W8, 3) uint8 BGR
        return np.ascontiguousarray(out[:h, :w])


def _vector(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().float().cpu().numpy()
    return np.asarray(x, np.float32).reshape(-1)
