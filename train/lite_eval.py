"""Validation of the student against its teacher on (photo, painting) pairs, one set per folder.

Figures per folder, averaged over its pairs (the full trainer's, plus SSIM):
- style_loss: Σ over relu1_1 … relu4_1 of MSE of μ and σ against the painting, at α = 1;
- content_loss: relu4_1 of the output against the AdaIN target t = AdaIN(f(c), f(s));
- ssim_alpha1, ssim_alpha0: greyscale SSIM of the output at α = 1 and α = 0 against the photo;
each for the student and for the teacher, so the targets (style ≤ 1.35× the teacher's,
SSIM at most 0.03 lower) read off the JSON directly; photo_style_loss, the unstylized
photo's style loss, is the baseline a stylization must beat.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from stylecam.adain import adain, calc_mean_std
from stylecam.images import from_tensor, to_tensor, write_image
from stylecam.lite import LiteStyleTransfer
from stylecam.model import StyleTransfer
from stylecam.sheet import contact_sheet

from .data import read_named
from .evaluate import prepare, ssim

def style_content_loss(vgg, image: torch.Tensor, t: torch.Tensor, style: list) -> tuple[float, float]:
    """image (1, 3, H, W); t: its AdaIN target at relu4_1; style: per layer (mean, std) -> content, style."""
    feats = vgg(image, all_layers=True)
    content = (feats[-1].float() - t).square().mean().item()
    total = 0.0
    for f, (m, s) in zip(feats, style):
        fm, fs = calc_mean_std(f)
        total += ((fm - m).square().mean() + (fs - s).square().mean()).item()
    return content, total


class Validation:
    def __init__(self, folders: tuple[Path, ...], style_folder: Path, size: int, style_size: int,
                 pairs: int, log=print):
        style_names, styles = read_named(style_folder, "--val-style", log)
        self.style_names, self.styles = style_names, prepare(styles, style_size)
        self.sets = []                                   # (label, names, photos, pairs)
        labels = [f.name or str(f) for f in folders]
        for k, folder in enumerate(folders):
            names, photos = read_named(folder, "--val-content", log)
            n = min(pairs, max(len(photos), len(styles)))
            label = labels[k] if labels.count(labels[k]) == 1 else f"{labels[k]}{k}"
            self.sets.append((label, names, prepare(photos, size),
                              [(i % len(photos), i % len(styles)) for i in range(n)]))

    @torch.no_grad()
    def run(self, student: LiteStyleTransfer, teacher: StyleTransfer, device: torch.device, out: Path,
            iteration: int, cell: int) -> dict:
        vgg = teacher.encoder
        style_stats = [[calc_mean_std(f) for f in vgg(to_tensor(s, device), all_layers=True)] for s in self.styles]
        results = {}
        for label, names, photos, pairs in self.sets:
            rows, grid, row_labels = [], [], []
            for i, j in pairs:
                photo = to_tensor(photos[i], device)                                       # (1, 3, H, W)
                mean, std = style_stats[j][-1]
                t = adain(vgg(photo), mean, std)
                outs = {"teacher": teacher(photo, mean, std, 1.0), "teacher0": teacher(photo, mean, std, 0.0),
                        "student": student(photo, mean, std, 1.0), "student0": student(photo, mean, std, 0.0)}
                rgb = {k: from_tensor(v) for k, v in outs.items()}
                row = {}
                for who in ("teacher", "student"):
                    row[f"{who}_content_loss"], row[f"{who}_style_loss"] = style_content_loss(
                        vgg, outs[who], t, style_stats[j])
                    row[f"{who}_ssim_alpha1"] = ssim(rgb[who], photos[i])
                    row[f"{who}_ssim_alpha0"] = ssim(rgb[f"{who}0"], photos[i])
                row["photo_style_loss"] = style_content_loss(vgg, photo, t, style_stats[j])[1]   # the baseline
                rows.append(row)
                grid.append([photos[i], self.styles[j], rgb["teacher"], rgb["student"], rgb["student0"]])
                row_labels.append(f"{names[i]} x {self.style_names[j]}")
            mean_row = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
            mean_row["style_ratio"] = mean_row["student_style_loss"] / max(mean_row["teacher_style_loss"], 1e-12)
            results[label] = {**mean_row, "pairs": len(rows)}
            write_image(out / f"val_{label}.png",
                        contact_sheet(grid, ["photo", "style", "teacher", f"student @ {iteration}", "student a=0"],
                                      row_labels, cell))
        return results
