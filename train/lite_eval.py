"""Validation of the student against its teacher on (photo, painting) pairs, one set per folder.

The figures are ``train.evaluate``'s (style loss, the relu1_1 term, colour distance, each with
the unstylized photo's baseline and a ratio; content loss; SSIM at α = 1 and α = 0), each for
the student (``student_*``) and the teacher (``teacher_*``), averaged over the folder's pairs,
so the targets read off the JSON directly; ``style_ratio`` is the student's style loss over the
teacher's, ``photo_style_loss`` the unstylized photo's.
"""
from __future__ import annotations

from pathlib import Path

import torch

from stylecam.lite import LiteStyleTransfer
from stylecam.model import StyleTransfer
from stylecam.images import write_image
from stylecam.sheet import contact_sheet

from .data import read_named
from .evaluate import model_network, paintings, prepare, reconstruct, score_pairs, summarize


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
        styles = paintings(vgg, self.styles, device)
        networks = {"teacher": model_network(teacher), "student": model_network(student)}
        results = {}
        for label, names, photos, pairs in self.sets:
            figures, outputs = {}, {}
            shown = sorted({i for i, _ in pairs})
            for who, network in networks.items():
                rows, outputs[who] = score_pairs(vgg, network, photos, styles, pairs, device)
                ssim0, alpha0 = reconstruct(network, [photos[i] for i in shown], styles[0], device)
                outputs[f"{who}0"] = dict(zip(shown, alpha0))
                figures.update({f"{who}_{k}": v for k, v in summarize(rows, ssim0).items()})
            results[label] = {**figures, "photo_style_loss": figures["student_style_loss_photo"],
                              "style_ratio": figures["student_style_loss"] / max(figures["teacher_style_loss"], 1e-12),
                              "pairs": len(pairs)}
            grid = [[photos[i], self.styles[j], outputs["teacher"][(i, j)], outputs["student"][(i, j)],
                     outputs["student0"][i]] for i, j in pairs]
            write_image(out / f"val_{label}.png",
                        contact_sheet(grid, ["photo", "style", "teacher", f"student @ {iteration}", "student a=0"],
                                      [f"{names[i]} x {self.style_names[j]}" for i, j in pairs], cell))
        return results
