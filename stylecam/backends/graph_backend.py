"""What the ONNX Runtime and OpenVINO backends share: both run the exported frame graph
(stylecam/convert.py), and the encoder and decoder graphs beside it for ``encode``/``decode``;
they differ only in how a graph file becomes something that runs a feed (``_load``).

The graphs take sides that are multiples of 8 (the model's size multiple); other
sizes are reflect-padded here and cropped back, exactly as the model pads in
PyTorch, so every backend agrees on every size.
"""
from __future__ import annotations

import os
from abc import abstractmethod
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..errors import UserError
from ..graphs import DECODER_INPUTS, DECODER_OUTPUT, ENCODER_INPUT, ENCODER_OUTPUT, FRAME_OUTPUT, check_stylecam_onnx
from ..model import SIZE_MULTIPLE
from .base import Backend, pad_frame

Runner = Callable[[str, dict], np.ndarray]     # (output name, feed) -> that output


class GraphBackend(Backend):
    def __init__(self, onnx_path: str | os.PathLike,
                 split_graphs: Callable[[dict], tuple[Path, Path]] | None = None):
        """split_graphs: the frame graph's metadata -> its encoder and decoder graphs, for encode/decode
        (called on first use: exporting them takes seconds)."""
        self.meta = check_stylecam_onnx(onnx_path, "frame")
        self.path = str(onnx_path)
        self.precision = self.meta.get("stylecam.precision", "?")
        self.multiple = int(self.meta.get("stylecam.size_multiple", SIZE_MULTIPLE))
        self.split_graphs = split_graphs
        self.encoder = self.decoder = None             # runners of the split graphs, on first use

    @abstractmethod
    def _load(self, path: str) -> Runner:
        """A graph file -> its runner; a file the runtime refuses is a UserError."""

    def describe(self) -> str:
        return f"{super().describe()} ({os.path.basename(self.path)})"

    def stylize(self, frames, style_mean, style_std, alpha=1.0):
        if frames.ndim == 4:
            return np.stack([self.stylize(f, style_mean, style_std, alpha) for f in frames])
        h, w = frames.shape[:2]
        feed = {"frame": pad_frame(frames, self.multiple),
                "style_mean": _vector(style_mean), "style_std": _vector(style_std),
                "alpha": np.asarray(alpha, np.float32).reshape(())}
        out = self.run(FRAME_OUTPUT, feed)                       # (H8, W8, 3) uint8 BGR
        return np.ascontiguousarray(out[:h, :w])

    def prepare_split(self):
        if self.decoder is not None:
            return
        if self.split_graphs is None:
            raise UserError(f"the {self.name} backend on {self.path} has no encoder and decoder graphs")
        encoder, decoder = self.split_graphs(self.meta)
        check_stylecam_onnx(encoder, "encoder")
        check_stylecam_onnx(decoder, "decoder")
        self.encoder, self.decoder = self._load(str(encoder)), self._load(str(decoder))

    def encode(self, frames):
        self.prepare_split()
        feats = [self.encoder(ENCODER_OUTPUT, {ENCODER_INPUT: pad_frame(f, self.multiple)}) for f in frames]
        return torch.from_numpy(np.concatenate(feats))           # (1, C, h, w) float32 each

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
            out.append(self.decoder(DECODER_OUTPUT, feed)[:h, :w])
        return np.stack(out)


def _vector(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().float().cpu().numpy()
    return np.asarray(x, np.float32).reshape(-1)


def _rows(x, n: int) -> np.ndarray:
    """(C,) or (N, C) statistics -> (n, C) float32, one row per frame."""
    v = x.detach().float().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, np.float32)
    v = v.reshape(-1, v.shape[-1])
    return np.ascontiguousarray(np.broadcast_to(v, (n, v.shape[1])))


def split_source_check(model, graph: str | os.PathLike, flag: str) -> None:
    """The split graphs are exported from ``model``: refuse when the graph given with ``flag``
    holds other weights, since encode/decode would then disagree with stylize."""
    from ..graphs import model_hash, read_metadata
    if read_metadata(graph).get("stylecam.weights_hash") != model_hash(model):
        raise UserError(f"{flag} {graph} holds other weights than the loaded decoder, and the encoder and "
                        f"decoder graphs are made from the loaded one: pass the --decoder it was exported "
                        f"from, or leave out {flag}")


def graph_files(model, precision: str, onnx: str | None) -> tuple[Path, Callable[[dict], tuple[Path, Path]]]:
    """The frame graph to run (--onnx, or the cached export of ``model`` in ``precision``; int8:
    quantized from the fp32 one) and the function that gives its split graphs."""
    from .graph_cache import cached_onnx

    def split_graphs(meta: dict) -> tuple[Path, Path]:
        if onnx:
            split_source_check(model, onnx, "--onnx")
        # int8 quantizes the frame graph only; smoothing runs the fp32 split graphs
        prec = "fp32" if meta["stylecam.precision"] == "int8" else meta["stylecam.precision"]
        return cached_onnx(model, prec, "encoder"), cached_onnx(model, prec, "decoder")
    if precision == "int8":
        from ..quantize import cached_int8
        return cached_int8(onnx or cached_onnx(model, "fp32")), split_graphs
    return Path(onnx) if onnx else cached_onnx(model, precision), split_graphs
