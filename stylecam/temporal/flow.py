"""Optical flow between input frames and the reliability mask of Lai et al. (ECCV 2018).

Shared by the flicker metric and the flow-guided smoothing; OpenCV only.
"""
from __future__ import annotations

import cv2
import numpy as np

FLOW_METHOD = "DIS optical flow (OpenCV, preset medium) on greyscale input frames"


class Flow:
    """Dense flow with OpenCV's DIS; one instance per thread (it keeps buffers)."""

    def __init__(self):
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)

    def __call__(self, src_gray: np.ndarray, dst_gray: np.ndarray) -> np.ndarray:
        """Flow from src to dst: for each src pixel p, dst(p + flow(p)) matches src(p). (H, W, 2) float32."""
        return self._dis.calc(src_gray, dst_gray, None)


def gray(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)


def warp(img: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample ``img`` at p + flow(p): brings the frame the flow points into onto the flow's source."""
    h, w = flow.shape[:2]
    grid = np.mgrid[0:h, 0:w].astype(np.float32)
    map_x = grid[1] + flow[..., 0]
    map_y = grid[0] + flow[..., 1]
    return cv2.remap(img, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def reliable_mask(fwd: np.ndarray, bwd: np.ndarray) -> np.ndarray:
    """Pixels of the source frame that are neither occluded (forward-backward check) nor on a
    motion boundary, with the thresholds of Sundaram et al. used by Lai et al. (H, W) bool.

    fwd: flow src -> dst; bwd: flow dst -> src."""
    bwd_at = warp(bwd, fwd)                                 # backward flow where each src pixel lands
    round_trip = np.square(fwd + bwd_at).sum(-1)
    magnitude = np.square(fwd).sum(-1) + np.square(bwd_at).sum(-1)
    occluded = round_trip > 0.01 * magnitude + 0.5
    du = np.gradient(fwd[..., 0])                           # [d/dy, d/dx]
    dv = np.gradient(fwd[..., 1])
    grad = du[0] ** 2 + du[1] ** 2 + dv[0] ** 2 + dv[1] ** 2
    boundary = grad > 0.01 * np.square(fwd).sum(-1) + 0.002
    mask = ~(occluded | boundary)
    h, w = mask.shape
    y, x = np.mgrid[0:h, 0:w]
    inside = ((x + fwd[..., 0] > -0.5) & (x + fwd[..., 0] < w - 0.5) &   # lands inside the frame
              (y + fwd[..., 1] > -0.5) & (y + fwd[..., 1] < h - 0.5))
    return mask & inside
