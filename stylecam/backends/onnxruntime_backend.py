"""ONNX Runtime backend: runs the exported frame graph (stylecam/convert.py), and the encoder and
decoder graphs beside it for ``encode``/``decode``.

The graphs take sides that are multiples of 8 (the model's size multiple); other
sizes are reflect-padded here and cropped back, exactly as the model pads in
PyTorch, so the two agree on every size.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch

from ..errors import UserError
from ..graphs import DECODER_INPUTS, DECODER_OUTPUT, ENCODER_INPUT, ENCODER_OUTPUT, FRAME_OUTPUT, check_stylecam_onnx
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
        return np.ascontiguousarray(frame)
    return cv2.copyMakeBorder(frame, 0, ph, 0, pw, cv2.BORDER_REFLECT_101)


class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"

    def __init__(self, onnx_path: str | os.PathLike, device: str = "cpu", threads: int = 0,
                 split_graphs: Callable[[dict], tuple[Path, Path]] | None = None):
        """split_graphs: the frame graph's metadata -> its encoder and decoder graphs, for encode/decode
        (called on first use: exporting them takes seconds)."""
        self.ort = onnxruntime_or_error()
        self.meta = check_stylecam_onnx(onnx_path, "frame")
        self.path = str(onnx_path)
        self.multiple = int(self.meta.get("stylecam.size_multiple", SIZE_MULTIPLE))
        self.providers = ["CPUExecutionProvider"]
        if device.startswith("cuda"):
            if "CUDAExecutionProvider" not in self.ort.get_available_providers():
                raise UserError("ONNX Runtime here has no CUDA provider: pip install onnxruntime-gpu, "
                                "or use --device cpu")
            self.providers.insert(0, "CUDAExecutionProvider")
        self.threads = threads                         # 0: ONNX Runtime's default (one per core)
        self.session = self._session(self.path)
        self.split_graphs = split_graphs
        self.encoder = self.decoder = None             # sessions of the split graphs, on first use

    def _session(self, path: str):
        opts = self.ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.log_severity_level = 3                    # keep its warnings off the user's terminal
        try:
            return self.ort.InferenceSession(path, opts, providers=self.providers)
        except Exception as e:                         # onnxruntime's own exception types
            raise UserError(f"ONNX Runtime could not load {path}: {str(e).splitlines()[0][:200]}") from None

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
        feed = {"frame": pad_frame(frames, self.multiple),
                "style_mean": _vector(style_mean), "style_std": _vector(style_std),
                "alpha": np.asarray(alpha, np.float32).reshape(())}
        out = self.session.run([FRAME_OUTPUT], feed)[0]          # (H8, W8, 3) uint8 BGR
        return np.ascontiguousarray(out[:h, :w])

    def prepare_split(self):
        if self.decoder is not None:
            return
        if self.split_graphs is None:
            raise UserError(f"the onnxruntime backend on {self.path} has no encoder and decoder graphs")
        encoder, decoder = self.split_graphs(self.meta)
        check_stylecam_onnx(encoder, "encoder")
        check_stylecam_onnx(decoder, "decoder")
        self.encoder, self.decoder = self._session(str(encoder)), self._session(str(decoder))

    def encode(self, frames):
        self.prepare_split()
        feats = [self.encoder.run([ENCODER_OUTPUT], {ENCODER_INPUT: pad_frame(f, self.multiple)})[0]
                 for f in frames]                                 # (1, C, h, w) float32 each
        return torch.from_numpy(np.concatenate(feats))

    def decode(self, features, content_mean, content_std, style_mean, style_std, alpha, size):
        self.prepare_split()
        n = len(features)
        feats = features.detach().float().cpu().numpy()
        stats = [_rows(x, n) for x in (content_mean, content_std, style_mean, style_std)]
        alphas = np.broadcast_to(np.asarray(alpha, np.float32).reshape(-1), (n,))
        h, w = size
        out = []
        for i in range(n):
            feed = dict(zip(DECODER_INPUTS, (feats[i:i + 1], *(s[i] for s in stats), alphas[i:i + 1].reshape(()))))
            out.append(self.decoder.run([DECODER_OUTPUT], feed)[0][:h, :w])
        return np.stack(out)


def _vector(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().float().cpu().numpy()
    return np.asarray(x, np.float32).reshape(-1)


def _rows(x, n: int) -> np.ndarray:
    """(C,) or (N, C) statistics -> (n, C) float32, one row per frame."""
    v = x.detach().float().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, np.float32)
    v = v.reshape(-1, v.shape[-1])
    return np.broadcast_to(v, (n, v.shape[1]))
