"""Style statistics: a style becomes (μ, σ) at relu4_1 once, then is looked up.

A ``--style`` value is a path to an image, a folder of images, or the name of
a built-in style from the bank in ``assets/styles.pt``. Image statistics are
cached in memory and on disk, keyed by the image's bytes, the encoder version
and the style size, so a style is encoded once per machine. Beside them each
style keeps its painting's colour statistics (``stylecam.palette``, for
``--palette style``), taken on the same resized image.
"""
from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .paths import asset_path, user_cache_dir
from .errors import UserError
from .images import decode_image, list_images, resize_longer, to_tensor
from .model import Encoder, ModelConfig, pad_to_multiple
from .adain import calc_mean_std
from .palette import Palette, palette_of
from .safeio import check_input_file, make_folder, save_torch

BANK_FILE = "styles.pt"
STATS = 512              # channels at relu4_1


@dataclass(frozen=True)
class Style:
    name: str
    mean: torch.Tensor   # (512,) float32
    std: torch.Tensor    # (512,) float32
    path: Path | None = None   # the image it came from, if any
    palette: Palette | None = None   # its painting's colours (None: a bank entry made without them)


def palette_tensors(palette: Palette) -> dict[str, torch.Tensor]:
    """A Palette as the tensors the bank and the disk cache store."""
    return {"mean": torch.from_numpy(palette.mean.copy()), "cov": torch.from_numpy(palette.cov.copy())}


def palette_from(stored) -> Palette | None:
    """The Palette of stored tensors; None for anything else (missing, damaged, not finite)."""
    try:
        mean, cov = stored["mean"].float().numpy(), stored["cov"].float().numpy()
    except (KeyError, TypeError, AttributeError):
        return None
    if mean.shape != (3,) or cov.shape != (3, 3) or not (np.isfinite(mean).all() and np.isfinite(cov).all()):
        return None
    return Palette(mean, cov)


def load_bank(path: str | os.PathLike | None = None) -> dict[str, Style]:
    """Built-in styles; empty when the bank file is absent."""
    p = Path(path) if path else asset_path(BANK_FILE)
    if not p.is_file():
        return {}
    bank = torch.load(p, map_location="cpu", weights_only=True)
    palettes = bank.get("palettes", {})
    return {name: Style(name, m, s, None, palette_from(palettes.get(name)))
            for name, m, s in zip(bank["names"], bank["means"], bank["stds"])}


def bank_encoder_version(path: str | os.PathLike | None = None) -> str | None:
    p = Path(path) if path else asset_path(BANK_FILE)
    return torch.load(p, map_location="cpu", weights_only=True)["encoder_version"] if p.is_file() else None


def valid_stats(mean: torch.Tensor, std: torch.Tensor) -> bool:
    """(512,) finite statistics with σ > 0: what the encoder gives for any picture."""
    return (mean.shape == std.shape == (STATS,) and bool(torch.isfinite(mean).all())
            and bool(torch.isfinite(std).all()) and bool((std > 0).all()))


class StyleLibrary:
    """Resolves ``--style`` values to statistics; thread-safe (the live loop encodes in the background)."""

    def __init__(self, encoder: Encoder, config: ModelConfig = ModelConfig(),
                 cache_dir: str | os.PathLike | None = None, device: str | torch.device = "cpu",
                 bank_path: str | os.PathLike | None = None):
        self.encoder = encoder
        self.config = config
        self.device = torch.device(device)
        self.cache_dir = Path(cache_dir) if cache_dir else user_cache_dir() / "styles"
        self.bank = load_bank(bank_path)
        self._bank_version = bank_encoder_version(bank_path)
        self._memory: dict[str, Style] = {}
        self._lock = threading.Lock()
        self.encoder_runs = 0          # how often the encoder really ran (tests, bench)

    # -- resolving ------------------------------------------------------------------
    def resolve(self, spec: str) -> list[Style]:
        """One --style value -> one style (image or built-in name) or several (a folder)."""
        p = Path(spec)
        if p.is_dir():
            files = list_images(p)
            if not files:
                raise UserError(f"style folder {p} holds no images")
            return [self.from_image(f) for f in files]
        if p.exists() or os.sep in spec or p.suffix:
            return [self.from_image(p)]
        return [self.builtin(spec)]

    def resolve_all(self, specs: list[str]) -> list[Style]:
        styles = [s for spec in specs for s in self.resolve(spec)]
        if not styles:
            raise UserError("no style given: pass --style with an image, a folder or a built-in name")
        return styles

    def builtin(self, name: str) -> Style:
        if name not in self.bank:
            hint = f"built-in styles: {', '.join(sorted(self.bank))}" if self.bank else "no built-in styles are installed"
            raise UserError(f"unknown style '{name}': not a file, a folder or a built-in style ({hint})")
        if self._bank_version != self.encoder.version:
            raise UserError("the built-in style bank was computed with another encoder; rebuild it with: "
                            "python -m stylecam.tools.make_bank --styles DIR")
        style = self.bank[name]
        if not valid_stats(style.mean, style.std):
            raise UserError(f"built-in style {name} is damaged (not 512 finite statistics); rebuild the bank "
                            "with: python -m stylecam.tools.make_bank --styles DIR")
        return style

    # -- images -----------------------------------------------------------------------
    def from_image(self, path: str | os.PathLike) -> Style:
        p = check_input_file(path, "style image")
        style = self.from_bytes(p.read_bytes(), name=p.stem, label=str(p))
        return Style(style.name, style.mean, style.std, p, style.palette)

    def from_bytes(self, data: bytes, name: str, label: str = "style image", persist: bool = True) -> Style:
        """persist: keep the statistics in the disk cache too (not for a painting uploaded to the
        served page, which stays in memory only)."""
        key = self._key(data)
        with self._lock:
            if key in self._memory:
                known = self._memory[key]
                return Style(name, known.mean, known.std, None, known.palette)
        style = self._load_disk(key, name) if persist else None
        if style is None or style.palette is None:     # an entry from before palettes: only they are taken
            img = resize_longer(decode_image(data, label), self.config.style_size)
            mean, std = self.stats_of(img) if style is None else (style.mean, style.std)
            style = Style(name, mean, std, None, palette_of(img))
            if persist:
                self._save_disk(key, style)
        with self._lock:
            self._memory[key] = style
        return style

    @torch.no_grad()
    def stats_of(self, rgb) -> tuple[torch.Tensor, torch.Tensor]:
        """H×W×3 uint8 RGB -> (512,), (512,) float32 on the CPU."""
        x, _ = pad_to_multiple(to_tensor(rgb, self.device), self.config.size_multiple)
        with self._lock:
            self.encoder_runs += 1
            feat = self.encoder(x)
        mean, std = calc_mean_std(feat)
        return mean[0].cpu(), std[0].cpu()

    def _key(self, data: bytes) -> str:
        h = hashlib.sha256(data)
        h.update(f"|{self.encoder.version}|{self.config.style_size}".encode())
        return h.hexdigest()[:32]

    def _load_disk(self, key: str, name: str) -> Style | None:
        f = self.cache_dir / f"{key}.pt"
        if not f.is_file():
            return None
        try:
            d = torch.load(f, map_location="cpu", weights_only=True)
            mean, std = d["mean"].float(), d["std"].float()
        except Exception:
            return None          # a damaged cache entry is recomputed, never fatal
        if not valid_stats(mean, std):
            return None                                                       # so is a wrong or NaN one
        return Style(name, mean, std, None, palette_from(d.get("palette")))

    def _save_disk(self, key: str, style: Style) -> None:
        try:
            make_folder(self.cache_dir)
            entry = {"mean": style.mean, "std": style.std}
            if style.palette is not None:
                entry["palette"] = palette_tensors(style.palette)
            save_torch(entry, self.cache_dir / f"{key}.pt")
        except OSError:
            pass                 # an unwritable cache only costs speed
