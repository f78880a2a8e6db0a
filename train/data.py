"""Training images held on the training device, and random crops taken there.

A CPU DataLoader would starve a GPU, and the data sets are small (hundreds of
images), so every image is decoded once, resized so its shorter side is the
recipe's, and kept on the device as uint8 (data/train, 346 photos and 404
paintings, at shorter side 256: 0.95 GB padded, loaded in 10 s on the 2-core CPU). A batch of crops (scale jitter,
random position, horizontal flip) is then one gather and one ``grid_sample``.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from stylecam.errors import UserError
from stylecam.images import list_images, read_image


def read_folder(folder: Path, what: str, log=print) -> list[np.ndarray]:
    return read_named(folder, what, log)[1]


def read_named(folder: Path, what: str, log=print) -> tuple[list[str], list[np.ndarray]]:
    """Names (file stems) and RGB uint8 pixels of every readable image in ``folder``.

    Unreadable files among good ones are skipped with a count, not a crash.
    """
    if not folder.exists():
        raise UserError(f"{what} folder not found: {folder}")
    if not folder.is_dir():
        raise UserError(f"{what} is not a folder: {folder}")
    paths = list_images(folder)
    if not paths:
        raise UserError(f"{what} folder {folder} holds no images (JPEG, PNG, BMP, WebP or TIFF)")
    names, images, skipped = [], [], []
    for p in paths:
        try:
            images.append(read_image(p))
            names.append(p.stem)
        except UserError as e:
            skipped.append(str(e))
    if skipped:
        log(f"{what}: skipped {len(skipped)} unreadable of {len(paths)} images (first: {skipped[0]})")
    if not images:
        raise UserError(f"{what} folder {folder}: none of its {len(paths)} images could be read")
    return names, images


def resize_shorter(img: np.ndarray, side: int) -> np.ndarray:
    h, w = img.shape[:2]
    s = side / min(h, w)
    if abs(s - 1) < 1e-6:
        return img
    size = (max(side, round(w * s)), max(side, round(h * s)))
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)


class ImagePool:
    """Images resized to a common shorter side, padded into one uint8 tensor on ``device``."""

    def __init__(self, images: list[np.ndarray], short_side: int, device: torch.device):
        resized = [resize_shorter(im, short_side) for im in images]
        hmax = max(im.shape[0] for im in resized)
        wmax = max(im.shape[1] for im in resized)
        pixels = np.zeros((len(resized), 3, hmax, wmax), np.uint8)    # (N, 3, Hmax, Wmax)
        for i, im in enumerate(resized):
            pixels[i, :, :im.shape[0], :im.shape[1]] = im.transpose(2, 0, 1)
        self.pixels = torch.from_numpy(pixels).to(device)
        self.sizes = torch.tensor([im.shape[:2] for im in resized], dtype=torch.float32, device=device)  # (N, 2) h, w
        self.short_side = short_side
        self.device = device

    def __len__(self) -> int:
        return self.pixels.shape[0]

    def sample(self, n: int, crop: int, jitter: float, generator: torch.Generator) -> torch.Tensor:
        """n random crops -> (n, 3, crop, crop) float32 RGB in [0, 1], on the pool's device.

        The shorter side is scaled by a factor in [1 - jitter, 1 + jitter] but
        never below ``crop``: a crop larger than an image makes it resized up.
        """
        # coordinates must stay fp32: under bf16 autocast affine_grid would round them by pixels
        with torch.autocast(self.device.type, enabled=False):
            return self._sample(n, crop, jitter, generator)

    def _sample(self, n: int, crop: int, jitter: float, generator: torch.Generator) -> torch.Tensor:
        dev = self.device
        rand = torch.rand(n, 4, generator=generator, device=dev)          # scale, y, x, flip
        idx = torch.randint(len(self), (n,), generator=generator, device=dev)
        h, w = self.sizes[idx].unbind(1)                                   # (n,), (n,)
        short = torch.minimum(h, w)
        target_short = (self.short_side * (1 + jitter * (2 * rand[:, 0] - 1))).clamp_min(crop)
        region = crop * short / target_short                              # crop side in stored pixels
        cy = region / 2 + rand[:, 1] * (h - region)
        cx = region / 2 + rand[:, 2] * (w - region)
        flip = torch.where(rand[:, 3] < 0.5, -1.0, 1.0)
        hp, wp = self.pixels.shape[-2:]
        # affine_grid maps output [-1, 1] to input [-1, 1] (pixel edges, align_corners=False)
        theta = torch.zeros(n, 2, 3, device=dev)
        theta[:, 0, 0] = flip * region / wp
        theta[:, 0, 2] = 2 * cx / wp - 1
        theta[:, 1, 1] = region / hp
        theta[:, 1, 2] = 2 * cy / hp - 1
        grid = F.affine_grid(theta, [n, 3, crop, crop], align_corners=False)   # (n, crop, crop, 2)
        src = self.pixels[idx].float()                                     # (n, 3, Hmax, Wmax)
        out = F.grid_sample(src, grid, mode="bilinear", padding_mode="border", align_corners=False)
        return out.div_(255.0)


def load_pool(folder: Path, what: str, short_side: int, crop: int, device: torch.device,
              log=print) -> ImagePool:
    images = read_folder(folder, what, log)
    return ImagePool(images, max(short_side, crop), device)
