"""The one interface every inference backend implements.

Frames go in and out as OpenCV and PyAV hand them over: uint8 BGR, (H, W, 3)
or a batch (N, H, W, 3). Style statistics are two float32 vectors of 512, so
switching or blending styles never touches the network.

``stylize`` runs the whole network; ``encode`` and ``decode`` run it split at the
content features (the model API's ``encode`` and ``decode``), so that temporal
smoothing can work on the features and their statistics on every backend.
Features are torch tensors (N, C, h, w) on the backend's device, of the sides
padded up to the size multiple; any float dtype goes back into ``decode``.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import cv2
import numpy as np
import torch

from ..errors import UserError
from ..model import MIN_SIDE, SIZE_MULTIPLE


class Backend(ABC):
    name: str = "?"
    precision: str = "fp32"      # what the arithmetic runs in: fp32, fp16, bf16 or int8 (bench's peak column)

    @property
    @abstractmethod
    def device(self) -> str:
        """Human-readable device, e.g. 'cpu', 'cuda:0 (NVIDIA H100) fp16'."""

    @abstractmethod
    def stylize(self, frames: np.ndarray, style_mean: torch.Tensor, style_std: torch.Tensor,
                alpha: float = 1.0) -> np.ndarray:
        """frames: (H, W, 3) or (N, H, W, 3) uint8 BGR -> the same shape, stylized."""

    @abstractmethod
    def encode(self, frames: np.ndarray) -> torch.Tensor:
        """frames: (N, H, W, 3) uint8 BGR -> content features (N, C, h, w)."""

    @abstractmethod
    def decode(self, features: torch.Tensor, content_mean: torch.Tensor, content_std: torch.Tensor,
               style_mean: torch.Tensor, style_std: torch.Tensor, alpha: float,
               size: tuple[int, int]) -> np.ndarray:
        """AdaIN of the features normalized by (content_mean, content_std) (N, C) -> (N, H, W, 3)
        uint8 BGR, cropped to size = (H, W) of the frames that were encoded."""

    def prepare_split(self) -> None:
        """Make ``encode``/``decode`` ready now (graphs exported, engines built), so that a failure
        shows at start-up; a UserError says why this backend cannot run them."""

    def describe(self) -> str:
        return f"{self.name} on {self.device}"


def require(package: str, backend: str, hint: str):
    """The module ``package``, or the UserError that says how to install it for ``backend``."""
    import importlib
    try:
        return importlib.import_module(package)
    except ImportError:
        raise UserError(f"the {backend} backend needs {package}: {hint}") from None


def pad_frame(frame: np.ndarray, multiple: int = SIZE_MULTIPLE) -> np.ndarray:
    """(H, W, 3) -> reflect-padded at the bottom/right to multiples of ``multiple``, for the graph and
    engine backends whose inputs take such sides (BORDER_REFLECT_101 is torch's 'reflect')."""
    h, w = frame.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise UserError(f"frame {w}×{h} is too small: both sides must be at least {MIN_SIDE} pixels")
    ph, pw = (-h) % multiple, (-w) % multiple
    if not (ph or pw):
        return np.ascontiguousarray(frame)
    return cv2.copyMakeBorder(frame, 0, ph, 0, pw, cv2.BORDER_REFLECT_101)


def keep_content_colors(stylized: np.ndarray, content: np.ndarray) -> np.ndarray:
    """Colour preservation by luminance-only transfer: the stylized frame's luma (Y)
    with the content frame's chroma (Cr, Cb). Both uint8 BGR of one size."""
    if stylized.ndim == 4:
        return np.stack([keep_content_colors(s, c) for s, c in zip(stylized, content)])
    ycc = cv2.cvtColor(content, cv2.COLOR_BGR2YCrCb)
    ycc[..., 0] = cv2.cvtColor(stylized, cv2.COLOR_BGR2YCrCb)[..., 0]
    return cv2.cvtColor(ycc, cv2.COLOR_YCrCb2BGR)
