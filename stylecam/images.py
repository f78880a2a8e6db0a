"""Reading and writing still images with clear errors, and tensor conversion."""
from __future__ import annotations

import io
import math
import os
from pathlib import Path

import cv2
import numpy as np
import torch

from .errors import UserError
from .model import MIN_SIDE
from .safeio import atomic_output, check_input_file

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
# Memory grows with the pixels of a frame (measured on the CPU: about 1 KB per pixel with torch,
# 1.7 KB with ONNX Runtime), so frames are capped; 3840×2160 fits.
MAX_PIXELS = 1 << 23


def decode_image(data: bytes, name: str = "image") -> np.ndarray:
    """Encoded bytes -> H×W×3 uint8 RGB, turned upright by its EXIF orientation (phone photos).
    Grey, palette, RGBA (alpha dropped), CMYK, 16-bit and float images are converted.

    Pillow decodes: unlike OpenCV's libjpeg and libpng it prints nothing of its own on a damaged
    file, and says what is wrong with it in its exception."""
    from PIL import Image, ImageOps, UnidentifiedImageError
    if data[:2] == b"\xff\xd8" and b"\xff\xd9" not in data[-64:]:
        raise UserError(f"{name}: truncated JPEG (no end-of-image marker)")
    try:
        with Image.open(io.BytesIO(data)) as im:
            img = _rgb8(ImageOps.exif_transpose(im))
    except UnidentifiedImageError:
        raise UserError(f"{name}: not a readable image (JPEG, PNG, BMP, WebP or TIFF)") from None
    except Image.DecompressionBombError:
        raise UserError(f"{name}: too many pixels to decode safely") from None
    except Exception as e:       # a damaged file: Pillow's decoders raise OSError, SyntaxError, ValueError, ...
        raise UserError(f"{name}: damaged image ({str(e) or type(e).__name__})") from None
    h, w = img.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise UserError(f"{name}: image is {w}×{h}; stylecam needs at least {MIN_SIDE}×{MIN_SIDE} pixels")
    return np.ascontiguousarray(img)


def _rgb8(im) -> np.ndarray:
    """A decoded Pillow image of any mode -> H×W×3 uint8 RGB."""
    if im.mode.startswith("I"):                 # 16-bit (and 32-bit) grey
        grey = np.clip(np.asarray(im, np.float32) / 257.0, 0, 255).round().astype(np.uint8)
    elif im.mode == "F":                        # float TIFF: its own range
        grey = cv2.normalize(np.asarray(im, np.float32), None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    else:
        return np.array(im.convert("RGB"))        # a copy: writable (torch.from_numpy warns otherwise)
    return np.repeat(grey[..., None], 3, axis=2)


def read_image(path: str | os.PathLike) -> np.ndarray:
    p = check_input_file(path, "image")
    return decode_image(p.read_bytes(), str(p))


def scaled_size(w: int, h: int, size: int) -> tuple[int, int]:
    """(width, height) with the longer side ``size`` (0 keeps them), no side below MIN_SIDE."""
    if not size or max(h, w) == size:
        return w, h
    s = size / max(h, w)
    return max(MIN_SIDE, round(w * s)), max(MIN_SIDE, round(h * s))


def resize_longer(img: np.ndarray, size: int) -> np.ndarray:
    """Scale so the longer side is ``size`` (0 keeps the image as it is)."""
    h, w = img.shape[:2]
    nw, nh = scaled_size(w, h, size)
    if (nw, nh) == (w, h):
        return img
    interp = cv2.INTER_AREA if nw < w else cv2.INTER_CUBIC
    return cv2.resize(img, (nw, nh), interpolation=interp)


def check_pixels(w: int, h: int, what: str, fix: str = "--size") -> None:
    """Refuse a working size over MAX_PIXELS, naming the largest ``fix`` value that fits."""
    if w * h <= MAX_PIXELS:
        return
    fits = int(max(w, h) * (MAX_PIXELS / (w * h)) ** 0.5)
    while fits > MIN_SIDE and math.prod(scaled_size(w, h, fits)) > MAX_PIXELS:
        fits -= 1
    raise UserError(f"{what} would be {w}×{h} ({w * h / 1e6:.1f} megapixels); stylecam works on at most "
                    f"{MAX_PIXELS / 1e6:.1f} megapixels per frame (memory): pass {fix} {fits} or less")


def to_tensor(img: np.ndarray, device: str | torch.device = "cpu") -> torch.Tensor:
    """H×W×3 uint8 RGB -> (1, 3, H, W) float32 in [0, 1]."""
    return torch.from_numpy(img).to(device).permute(2, 0, 1)[None].float().div_(255.0)


def from_tensor(x: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) or (3, H, W) in [0, 1] -> H×W×3 uint8 RGB."""
    x = x[0] if x.ndim == 4 else x
    return x.detach().float().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()


def write_image(path: str | os.PathLike, rgb: np.ndarray, overwrite: bool = True, *, bgr: bool = False) -> Path:
    """Write atomically (temporary file, then rename); overwrite=False never replaces a file.
    bgr: the pixels are in OpenCV's order already (a backend's output), so none is converted."""
    p = Path(path)
    ext = p.suffix.lower()
    if ext not in IMAGE_EXTS:
        raise UserError(f"output {p}: unknown image extension '{p.suffix}'; use one of {', '.join(IMAGE_EXTS)}")
    ok, buf = cv2.imencode(ext, rgb if bgr else cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise UserError(f"output {p}: could not encode the image as {ext}")
    with atomic_output(p, overwrite) as tmp:
        tmp.write_bytes(buf.tobytes())
    return p


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly inside a folder, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"folder not found: {folder}" if not folder.exists() else f"not a folder: {folder}")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS)
