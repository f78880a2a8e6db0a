"""Contact sheets: a grid of images with row and column labels (demo, training samples, evaluation)."""
from __future__ import annotations

import cv2
import numpy as np


def _fit(img: np.ndarray, cell: int) -> np.ndarray:
    """Letterbox an RGB image into a cell×cell square."""
    h, w = img.shape[:2]
    s = cell / max(h, w)
    small = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    out = np.full((cell, cell, 3), 255, np.uint8)
    y, x = (cell - small.shape[0]) // 2, (cell - small.shape[1]) // 2
    out[y:y + small.shape[0], x:x + small.shape[1]] = small
    return out


def _label(text: str, width: int, height: int = 22) -> np.ndarray:
    bar = np.full((height, width, 3), 255, np.uint8)
    text = text if len(text) <= width // 8 else text[: width // 8 - 1] + "…".replace("…", ".")
    cv2.putText(bar, text, (4, height - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return bar


def contact_sheet(grid: list[list[np.ndarray]], col_labels: list[str], row_labels: list[str],
                  cell: int = 256, pad: int = 4) -> np.ndarray:
    """grid[r][c]: RGB uint8 images -> one RGB uint8 sheet with labels above columns and rows."""
    rows = [np.hstack([_pad(_label(t, cell), pad) for t in col_labels])]
    for label, images in zip(row_labels, grid):
        # a row label spans the whole row: it names the row, not its first cell
        width = len(images) * (cell + pad) - pad
        rows.append(_pad(_label(label, width), pad))
        rows.append(np.hstack([_pad(_fit(im, cell), pad) for im in images]))
    return np.vstack(rows)


def _pad(img: np.ndarray, pad: int) -> np.ndarray:
    return cv2.copyMakeBorder(img, 0, pad, 0, pad, cv2.BORDER_CONSTANT, value=(255, 255, 255))
