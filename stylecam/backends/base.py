"""The one interface every inference backend implements.

Frames go in and out as OpenCV and PyAV hand them over: uint8 BGR, (H, W, 3)
or a batch (N, H, W, 3). Style statistics are two float32 vectors of 512, so
switching or blending styles never touches the network.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import cv2
import numpy as np
import torch


class Backend(ABC):
    name: str = "?"

    @property
    @abstractmethod
    def device(self) -> str:
        """Human-readable device, e.g. 'cpu', 'cuda:0 (NVIDIA H100) fp16'."""

    @abstractmethod
    def stylize(self, frames: np.ndarray, style_mean: torch.Tensor, style_std: torch.Tensor,
                alpha: float = 1.0) -> np.ndarray:
        """frames: (H, W, 3) or (N, H, W, 3) uint8 BGR -> the same shape, stylized."""

    def describe(self) -> str:
        return f"{self.name} on {self.device}"


def keep_content_colors(stylized: np.ndarray, content: np.ndarray) -> np.ndarray:
    """Colour preservation by luminance-only transfer: the stylized frame's luma (Y)
    with the content frame's chroma (Cr, Cb). Both uint8 BGR of one size."""
    if stylized.ndim == 4:
        return np.stack([keep_content_colors(s, c) for s, c in zip(stylized, content)])
    ycc = cv2.cvtColor(content, cv2.COLOR_BGR2YCrCb)
    ycc[..., 0] = cv2.cvtColor(stylized, cv2.COLOR_BGR2YCrCb)[..., 0]
    return cv2.cvtColor(ycc, cv2.COLOR_YCrCb2BGR)
