"""Stylize one image or a folder of images."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import torch

from ..adain import coral
from ..backends import keep_content_colors
from ..errors import UserError
from ..images import IMAGE_EXTS, decode_image, list_images, read_image, resize_longer, to_tensor, write_image
from ..options import (RuntimeOptions, StyleOptions, add_runtime_arguments, add_style_arguments,
                       runtime_options, style_options)
from ..safeio import check_input_file, check_output_file
from ..session import open_session

HELP = "Stylize one image (or every image in a folder) with one or more styles."
EXAMPLES = """  stylecam image photo.jpg --style starry.jpg -o out.png
  stylecam image photo.jpg --style monet_water_lilies_1919 --alpha 0.6 -o soft.png
  stylecam image photo.jpg -s a.jpg -s b.jpg --weights 0.7 0.3 -o blend.png
  stylecam image photo.jpg -s paintings/ -o out_dir/          (one output per painting)
  stylecam image photos/ -s starry.jpg -o out_dir/ --size 1024
  stylecam image photo.jpg -s starry.jpg --preserve-color -o same_colours.png

Several styles without --weights give one output per style, and then -o is a
folder (created if missing). --preserve-color keeps the photo's colours by
luminance-only transfer; --preserve-color coral instead recolours each style
image to the photo's palette (CORAL) before taking its statistics.
"""


@dataclass(frozen=True)
class ImageOptions:
    inputs: tuple[Path, ...]
    out: Path
    out_is_dir: bool
    size: int
    overwrite: bool
    style: StyleOptions
    runtime: RuntimeOptions


def add_arguments(p):
    p.add_argument("input", help="an image file or a folder of images")
    p.add_argument("-o", "--out", required=True, help="output image file, or a folder for several outputs")
    p.add_argument("--size", type=int, default=512,
                   help="longer side of the output in pixels (default 512; 0 keeps the input's size)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    add_style_arguments(p)
    add_runtime_arguments(p)


def parse(args) -> ImageOptions:
    if args.size < 0 or (0 < args.size < 16):
        raise UserError(f"--size {args.size}: must be 0 (keep) or at least 16")
    src = Path(args.input)
    if src.is_dir():
        inputs = tuple(list_images(src))
        if not inputs:
            raise UserError(f"no images ({', '.join(IMAGE_EXTS)}) in folder {src}")
    else:
        inputs = (check_input_file(src, "input image"),)
    out = Path(args.out)
    return ImageOptions(inputs, out, out.is_dir() or len(inputs) > 1 or not out.suffix, args.size,
                        args.overwrite, style_options(args, allow_coral=True), runtime_options(args))


def run(args) -> int:
    opts = parse(args)
    if not opts.out_is_dir:
        check_output_file(opts.out, opts.inputs, opts.overwrite)     # fail before loading anything
    session = open_session(opts.runtime)
    styles = session.styles(opts.style)
    if len(styles) > 1 and not opts.out_is_dir:
        raise UserError(f"{len(styles)} styles give {len(styles)} outputs: make -o a folder, "
                        "or blend them with --weights")
    jobs = []   # (input, style, output)
    for src in opts.inputs:
        for style in styles:
            name = f"{src.stem}__{_safe_name(style.name)}.png" if len(styles) > 1 else f"{src.stem}.png"
            dst = opts.out / name if opts.out_is_dir else opts.out
            jobs.append((src, style, dst))
    if opts.out_is_dir:
        if opts.out.exists() and not opts.out.is_dir():
            raise UserError(f"output {opts.out} is a file; several outputs need a folder")
        if not opts.out.parent.is_dir():
            raise UserError(f"output folder's parent does not exist: {opts.out.parent}")
        opts.out.mkdir(exist_ok=True)
        for src, _, dst in jobs:
            check_output_file(dst, opts.inputs, opts.overwrite)
    for i, (src, style, dst) in enumerate(jobs, 1):
        t0 = time.perf_counter()
        rgb = resize_longer(read_image(src), opts.size)
        mean, std = style.mean, style.std
        if opts.style.preserve_color == "coral":
            mean, std = _coral_stats(session, style, rgb)
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        out = session.backend.stylize(bgr, mean, std, opts.style.alpha)
        if opts.style.preserve_color == "luminance":
            out = keep_content_colors(out, bgr)
        write_image(dst, cv2.cvtColor(out, cv2.COLOR_BGR2RGB), opts.overwrite)
        h, w = rgb.shape[:2]
        print(f"[{i}/{len(jobs)}] {dst}  ({w}×{h}, style {style.name}, {time.perf_counter() - t0:.2f} s)")
    return 0


def _coral_stats(session, style, content_rgb):
    """Recolour the style image to the photo's palette, then take its statistics."""
    path = style.path
    if path is None:
        raise UserError("--preserve-color coral needs style image files (built-in styles and blends have "
                        "only statistics); use --preserve-color luminance")
    style_rgb = resize_longer(decode_image(path.read_bytes(), str(path)), session.library.config.style_size)
    recoloured = coral(to_tensor(style_rgb)[0], to_tensor(content_rgb)[0])
    img = (recoloured.permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
    return session.library.stats_of(img)


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.+" else "_" for c in name)[:80]
