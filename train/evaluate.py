"""Quality figures of a decoder on (photo, painting) pairs, and a contact sheet.

    python -m train.evaluate --decoder assets/decoder.pt --content val/content val/people \\
        --style val/style --sheet val.png > val.json

For each pair: the content loss (relu4_1 of the output against the AdaIN
target t) and the style loss (Σ over relu1_1…relu4_1 of MSE of μ and σ), the
figures training minimizes, plus the style loss of the unstylized photo as the
baseline a decoder must beat. Faithfulness: the SSIM of the output against the
photo at α = 1 (each pair) and at α = 0 (each photo: the decoder should give it
back). Every --content folder is reported on its own. The training loop's
validation uses the same code.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from stylecam.entry import entry_point
from stylecam.errors import UserError
from stylecam.images import from_tensor, resize_longer, to_tensor, write_image
from stylecam.model import Encoder
from stylecam.options import device_name

from .data import read_named
from .losses import Stats, adain_target, encode_content, encode_style, output_losses, stats_distance, style_stats

HELP = "Losses and SSIM of a decoder on every (photo, painting) pair, as JSON, and a contact sheet."
EXAMPLES = """  python -m train.evaluate --decoder assets/decoder.pt --content val/content val/people --style val/style
  python -m train.evaluate --decoder runs/gpu/decoder.pt --content val/content --style val/style \\
      --size 512 --sheet val_sheet.png --json val.json

The JSON (stdout, and --json) lists per pair, per --content folder ("sets") and
on average: content_loss, style_loss and style_loss_photo (the unstylized
photo's style loss, the baseline); style_ratio = style_loss / style_loss_photo
(lower is better); ssim_alpha1 and ssim_alpha0, the greyscale SSIM of the
output at α = 1 and α = 0 against the photo (higher is more faithful; α = 0
should give the photo back). The sheet shows each photo, its α = 0 output, then
one column per painting.
"""
LOSSES = ("content_loss", "style_loss", "style_loss_photo")
SSIM_C1, SSIM_C2 = 0.01 ** 2, 0.03 ** 2     # (K·L)² with L = 1
SSIM_WINDOW = 7


@dataclass(frozen=True)
class EvalOptions:
    decoder: Path
    content: tuple[Path, ...]
    style: Path
    size: int
    style_size: int
    sheet: Path | None
    json_out: Path | None
    cell: int
    device: str
    overwrite: bool


def multiple_of_8(img: np.ndarray) -> np.ndarray:
    """Resize to the nearest sides that are multiples of 8 (so features and pixels line up)."""
    h, w = img.shape[:2]
    nh, nw = max(16, round(h / 8) * 8), max(16, round(w / 8) * 8)
    return img if (nh, nw) == (h, w) else cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)


def prepare(images: list[np.ndarray], size: int) -> list[np.ndarray]:
    return [multiple_of_8(resize_longer(im, size)) for im in images]


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Greyscale SSIM (Wang et al. 2004) of two RGB uint8 images of one size.

    As skimage.metrics.structural_similarity(data_range=1) computes it: a 7×7
    uniform window, sample covariances, the mean over pixels at least 3 from the border.
    """
    x, y = (cv2.cvtColor(im, cv2.COLOR_RGB2GRAY).astype(np.float64) / 255 for im in (a, b))
    mean = lambda z: cv2.blur(z, (SSIM_WINDOW, SSIM_WINDOW), borderType=cv2.BORDER_REFLECT)  # noqa: E731
    n = SSIM_WINDOW ** 2
    mx, my = mean(x), mean(y)
    vx = (mean(x * x) - mx * mx) * n / (n - 1)
    vy = (mean(y * y) - my * my) * n / (n - 1)
    cov = (mean(x * y) - mx * my) * n / (n - 1)
    s = ((2 * mx * my + SSIM_C1) * (2 * cov + SSIM_C2)) / ((mx * mx + my * my + SSIM_C1) * (vx + vy + SSIM_C2))
    pad = (SSIM_WINDOW - 1) // 2
    return float(s[pad:-pad, pad:-pad].mean())


@torch.no_grad()
def score_pairs(encoder: Encoder, decoder: torch.nn.Module, photos: list[np.ndarray],
                styles: list[np.ndarray], pairs: list[tuple[int, int]], device: torch.device
                ) -> tuple[list[dict], dict[tuple[int, int], np.ndarray]]:
    """Stylize each (photo index, style index) pair -> per-pair figures and RGB outputs."""
    feats, photo_stats = {}, {}
    for i in {p for p, _ in pairs}:
        layers = encoder(to_tensor(photos[i], device), all_layers=True)
        feats[i], photo_stats[i] = layers[-1], style_stats(layers)
    stats: dict[int, Stats] = {j: encode_style(encoder, to_tensor(styles[j], device)) for j in {s for _, s in pairs}}
    rows, outputs = [], {}
    for i, j in pairs:
        t = adain_target(feats[i], stats[j])                     # (1, 512, h, w)
        out = decoder(t).float().clamp(0, 1)                     # (1, 3, 8h, 8w) as the runtime shows it
        content, style = output_losses(encoder, out, t, stats[j])
        style_photo = stats_distance(photo_stats[i], stats[j])
        outputs[(i, j)] = from_tensor(out)
        rows.append({"content": i, "style": j, "content_loss": content.item(),
                     "style_loss": style.item(), "style_loss_photo": style_photo.item(),
                     "ssim_alpha1": ssim(outputs[(i, j)], photos[i])})
    return rows, outputs


@torch.no_grad()
def reconstruct(encoder: Encoder, decoder: torch.nn.Module, photos: list[np.ndarray], device: torch.device
                ) -> tuple[list[float], list[np.ndarray]]:
    """The α = 0 output of each photo (decoder of its own features) -> SSIM against it, RGB outputs."""
    outputs = [from_tensor(decoder(encode_content(encoder, to_tensor(p, device)).float(), 0.0).float().clamp(0, 1))
               for p in photos]
    return [ssim(o, p) for o, p in zip(outputs, photos)], outputs


def summarize(rows: list[dict], ssim_alpha0: list[float] | None = None) -> dict:
    mean = {k: float(np.mean([r[k] for r in rows])) for k in LOSSES}
    mean["style_ratio"] = mean["style_loss"] / max(mean["style_loss_photo"], 1e-12)
    mean["ssim_alpha1"] = float(np.mean([r["ssim_alpha1"] for r in rows]))
    if ssim_alpha0 is not None:
        mean["ssim_alpha0"] = float(np.mean(ssim_alpha0))
    return mean


def set_names(folders: list[Path]) -> list[str]:
    """Short names of the content folders (their own names, the whole path where two collide)."""
    names = [f.name or str(f) for f in folders]
    return [n if names.count(n) == 1 else str(f) for n, f in zip(names, folders)]


def sheet(photos: list[np.ndarray], alpha0: list[np.ndarray], styles: list[np.ndarray], outputs: dict,
          photo_names: list[str], style_names: list[str], cell: int) -> np.ndarray:
    """Rows: photos; columns: the photo, its α = 0 output, then one per style (its painting on top)."""
    from stylecam.sheet import contact_sheet
    blank = np.full((cell, cell, 3), 255, np.uint8)
    grid = [[blank, blank] + list(styles)]
    grid += [[photos[i], alpha0[i]] + [outputs[(i, j)] for j in range(len(styles))] for i in range(len(photos))]
    return contact_sheet(grid, ["photo", "alpha 0"] + style_names, ["styles"] + photo_names, cell)


def evaluate(opts: EvalOptions, log=lambda *a: print(*a, file=sys.stderr)) -> dict:
    from stylecam.loading import decoder_meta, load_decoder, pick_device
    from stylecam.vgg import load_encoder
    device = pick_device(opts.device)
    decoder = load_decoder(opts.decoder).to(device)
    encoder = load_encoder().to(device)
    style_names, styles = read_named(opts.style, "--style", log)
    sets, photo_sets, photo_names, photos = set_names(list(opts.content)), [], [], []
    for name, folder in zip(sets, opts.content):
        names, images = read_named(folder, "--content", log)
        photo_sets += [name] * len(images)
        photo_names += names
        photos += prepare(images, opts.size)
    styles = prepare(styles, opts.style_size)
    pairs = [(i, j) for i in range(len(photos)) for j in range(len(styles))]
    rows, outputs = score_pairs(encoder, decoder, photos, styles, pairs, device)
    ssim0, alpha0 = reconstruct(encoder, decoder, photos, device)
    for r in rows:
        r["set"] = photo_sets[r["content"]]
        r["content"], r["style"] = photo_names[r["content"]], style_names[r["style"]]
    per_set = {}
    for name, folder in zip(sets, opts.content):
        members = [i for i, s in enumerate(photo_sets) if s == name]
        per_set[name] = {"folder": str(folder), "photos": len(members),
                         **summarize([r for r in rows if r["set"] == name], [ssim0[i] for i in members])}
    result = {"decoder": str(opts.decoder),
              "decoder_meta": {k: v for k, v in decoder_meta(opts.decoder).items()
                               if k in ("iterations", "image_steps", "trained_on", "date")},
              "size": opts.size, "style_size": opts.style_size, "sets": per_set,
              "photos": [{"set": s, "content": n, "ssim_alpha0": v} for s, n, v in zip(photo_sets, photo_names, ssim0)],
              "pairs": rows, "mean": summarize(rows, ssim0)}
    if opts.sheet:
        write_image(opts.sheet, sheet(photos, alpha0, [resize_longer(s, opts.size) for s in styles], outputs,
                                      photo_names, style_names, opts.cell), opts.overwrite)
    if opts.json_out:
        from stylecam.safeio import write_json
        write_json(opts.json_out, result, opts.overwrite)
    return result


def add_arguments(p) -> None:
    p.add_argument("--decoder", required=True, help="decoder .pt (a shipped fp16 one or a checkpoint)")
    p.add_argument("--content", required=True, nargs="+", metavar="FOLDER",
                   help="one or more folders of photos, each reported on its own")
    p.add_argument("--style", required=True, help="folder of paintings")
    p.add_argument("--size", type=int, default=256, help="longer side of the photos (default 256)")
    p.add_argument("--style-size", type=int, default=512, help="longer side of the paintings (default 512)")
    p.add_argument("--sheet", help="write a contact sheet PNG here (rows photos, columns α = 0 and styles)")
    p.add_argument("--json", dest="json_out", help="also write the JSON to this file")
    p.add_argument("--cell", type=int, default=192, help="contact sheet cell size (default 192)")
    p.add_argument("--device", type=device_name, default="auto", help="auto, cpu or cuda[:N]")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --sheet / --json")


def options(args) -> EvalOptions:
    from stylecam.safeio import check_input_file, check_output_file
    if args.size < 16 or args.style_size < 16 or args.cell < 32:
        raise UserError("--size and --style-size must be at least 16, --cell at least 32")
    if args.size > 4096 or args.style_size > 4096:
        raise UserError("--size and --style-size must be at most 4096")
    decoder = check_input_file(args.decoder, "--decoder")
    outs = []
    for flag, value in (("--sheet", args.sheet), ("--json", args.json_out)):
        if value:
            outs.append(check_output_file(value, [decoder], args.overwrite))
    if args.sheet and Path(args.sheet).suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise UserError(f"--sheet {args.sheet}: use a .png or .jpg name")
    return EvalOptions(decoder, tuple(Path(c) for c in args.content), Path(args.style), args.size, args.style_size,
                       Path(args.sheet) if args.sheet else None, Path(args.json_out) if args.json_out else None,
                       args.cell, args.device, args.overwrite)


@entry_point("train.evaluate")
def main(argv: list[str] | None = None) -> int:
    from stylecam.options import parser
    p = parser("python -m train.evaluate", HELP, EXAMPLES)
    add_arguments(p)
    result = evaluate(options(p.parse_args(argv)))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
