"""Stylize one image or a folder of images."""
from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from ..adain import coral
from ..backends import keep_content_colors
from ..errors import UserError
from ..images import IMAGE_EXTS, check_pixels, decode_image, list_images, read_image, resize_longer, scaled_size, \
    to_tensor, write_image
from ..mask import MaskOptions, Masker
from ..options import (DEFAULT_STYLE, RuntimeOptions, StyleOptions, add_mask_arguments, add_runtime_arguments,
                       add_style_arguments, longer_side, mask_options, name, runtime_options, style_options)
from ..palette import PaletteMatcher
from ..safeio import WriteFailed, check_input_file, check_output_file, new_folder, next_free, safe_name
from ..session import open_session, require_palettes

HELP = "Stylize one image (or every image in a folder) with one or more styles."
EXAMPLES = f"""  stylecam image photo.jpg                    (-> photo.stylized-{DEFAULT_STYLE}.jpg)
  stylecam image photo.jpg --style starry.jpg -o out.png
  stylecam image photo.jpg --style monet_water_lilies_1919 --alpha 0.6 -o soft.png
  stylecam image photo.jpg -s a.jpg -s b.jpg --weights 0.7,0.3 -o blend.png
  stylecam image photo.jpg -s paintings/ -o out_dir/          (one output per painting)
  stylecam image photos/ -s starry.jpg -o out_dir/ --size 1024 --skip-existing
  stylecam image photo.jpg -s starry.jpg --preserve-color -o same_colours.png
  stylecam image photo.jpg -s starry.jpg --palette style -o painting_colours.png
  stylecam image portrait.jpg --mask background -o out.png    (the person kept as in the photo)

Without -o the output goes beside the input, named after the style
(photo.stylized-STYLE.jpg; a folder photos/ gives photos.stylized-STYLE/), and
never replaces a file. Without -s the built-in style {DEFAULT_STYLE}
is used. Several styles without --weights give one output per style; then, and
for a folder of photos, -o is a folder (created if missing; end a new folder's
name with /). In a folder run a picture that cannot be read is skipped and
reported, the others are written, and the exit status is 1; --skip-existing
resumes an interrupted run. --preserve-color keeps the photo's colours by
luminance-only transfer; --color-transfer coral instead recolours each style
image to the photo's palette (CORAL) before taking its statistics. --palette
style does the opposite: the output's colours matched to the painting's (mean
and covariance of the pixels), so the two cannot go together. --mask
stylizes only the background or only the person (docs/masks.md); the palette
applies before it, so a person kept as in the photo keeps the photo's colours.
"""


@dataclass(frozen=True, kw_only=True)
class ImageOptions:
    inputs: tuple[Path, ...]
    folder_input: bool
    out: Path | None                      # None: beside the input
    out_is_dir: bool
    size: int
    overwrite: bool
    skip_existing: bool
    style: StyleOptions
    runtime: RuntimeOptions
    mask: MaskOptions = MaskOptions()


def add_arguments(p):
    p.add_argument("input", type=name, help="an image file or a folder of images (. for the current folder)")
    p.add_argument("-o", "--out", help="output image file, or a folder for several outputs "
                                       "(default: beside the input, named after the style)")
    p.add_argument("--size", type=longer_side, default=512,
                   help="longer side of the output in pixels (default 512; 0 keeps the input's size)")
    existing = p.add_mutually_exclusive_group()
    existing.add_argument("--overwrite", action="store_true", help="replace existing output files")
    existing.add_argument("--skip-existing", action="store_true",
                          help="leave existing output files as they are and do the rest (resume a run)")
    add_style_arguments(p, default=DEFAULT_STYLE, color_transfer=True)
    add_mask_arguments(p.add_argument_group("mask"), temporal=False)
    add_runtime_arguments(p)


def parse(args) -> ImageOptions:
    src = Path(args.input)
    if src.is_dir():
        inputs = tuple(list_images(src))
        if not inputs:
            raise UserError(f"no images ({', '.join(IMAGE_EXTS)}) in folder {src}")
    else:
        inputs = (check_input_file(src, "input image"),)
    if not args.weights:                           # one output per style: a style named twice writes one file twice
        _no_style_twice(args.style)
    out = Path(args.out) if args.out else None
    several_styles = not args.weights and (len(args.style) > 1 or any(Path(s).is_dir() for s in args.style))
    several = src.is_dir() or several_styles                  # several outputs: -o is a folder
    out_is_dir = out is not None and (out.is_dir() or args.out.endswith(("/", "\\")) or (several and not out.suffix))
    if out is not None and not out_is_dir and not out.suffix:
        raise UserError(f"-o {args.out}: no file extension; give an image name like {args.out}.png, "
                        f"or end a folder's name with /")
    if out is not None and not out_is_dir and src.is_dir():
        raise UserError(f"-o {args.out} is a file, and the folder {src} gives one output per image: "
                        f"make -o a folder (end its name with /)")
    return ImageOptions(inputs=inputs, folder_input=src.is_dir(), out=out, out_is_dir=out_is_dir, size=args.size,
                        overwrite=args.overwrite, skip_existing=args.skip_existing,
                        style=style_options(args, (DEFAULT_STYLE,)), runtime=runtime_options(args),
                        mask=mask_options(args))


def _no_style_twice(specs: list[str]) -> None:
    seen: dict[str, str] = {}
    for spec in specs:
        key = str(Path(spec).resolve()) if Path(spec).exists() else spec
        if key in seen:
            raise UserError(f"-s {seen[key]} and -s {spec} are the same style; give it once")
        seen[key] = spec


def run(args) -> int:
    opts = parse(args)
    first = None
    if not opts.folder_input:                      # a bad picture fails before the model loads
        first = _load(opts.inputs[0], opts.size)
    if opts.out is not None and not opts.out_is_dir:
        check_output_file(opts.out, opts.inputs, opts.overwrite or opts.skip_existing)
    masker = Masker(opts.mask)
    if opts.mask.mode:
        masker.segmenters.check()                  # a missing or damaged mask model fails before the network loads
    session = open_session(opts.runtime)
    styles = session.styles(opts.style)
    require_palettes(styles, opts.style)
    with contextlib.ExitStack() as folders:          # a folder made for outputs goes again if none was written
        return _run_jobs(opts, session, styles, _jobs(opts, styles, folders), first, bool(args.style), masker)


def _run_jobs(opts: ImageOptions, session, styles, jobs, first, style_given: bool, masker: Masker) -> int:
    batch = len(jobs) > 1
    default = "" if style_given else " (the default; choose another with -s)"
    loaded = {opts.inputs[0]: first} if first is not None else {}     # the current input (jobs go input by input)
    failed = skipped = 0
    for i, (src, style, dst) in enumerate(jobs, 1):
        if opts.skip_existing and dst.exists():
            print(f"[{i}/{len(jobs)}] {dst} exists, skipped")
            skipped += 1
            continue
        t0 = time.perf_counter()
        try:
            if src not in loaded:
                loaded.clear()
                loaded[src] = _load(src, opts.size)
            rgb = loaded[src]
            write_image(dst, _stylize(session, rgb, style, opts.style, masker), opts.overwrite, bgr=True)
        except UserError as e:
            if not batch or isinstance(e, WriteFailed):      # a full disk fails every other output too
                raise
            print(f"stylecam: [{i}/{len(jobs)}] skipped: {e}", file=sys.stderr)
            failed += 1
            continue
        h, w = rgb.shape[:2]
        print(f"[{i}/{len(jobs)}] {dst}  ({w}×{h}, style {style.name}{default}, {time.perf_counter() - t0:.2f} s)")
    if failed:
        print(f"stylecam: {failed} of {len(jobs)} outputs failed (see above); {len(jobs) - failed - skipped} "
              f"written" + (f", {skipped} existed" if skipped else ""), file=sys.stderr)
        return 1
    return 0


def _load(src: Path, size: int) -> np.ndarray:
    """The input picture at its working size (H×W×3 RGB), checked against the memory cap first."""
    rgb = read_image(src)
    check_pixels(*scaled_size(rgb.shape[1], rgb.shape[0], size), f"{src} at --size {size}")
    return resize_longer(rgb, size)


def _stylize(session, rgb: np.ndarray, style, opts: StyleOptions, masker: Masker) -> np.ndarray:
    """The picture (H×W×3 RGB) stylized, in the backend's order (BGR): written as it comes."""
    mean, std = style.mean, style.std
    if opts.preserve_color == "coral":
        mean, std = _coral_stats(session, style, rgb)
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    out = session.backend.stylize(bgr, mean, std, opts.alpha)
    if opts.preserve_color == "luminance":
        out = keep_content_colors(out, bgr)
    if opts.palette == "style":
        out = PaletteMatcher()(bgr, out, style.palette, opts.alpha)
    return masker.apply(bgr, out, masker.opts.mode)


def _jobs(opts: ImageOptions, styles, folders: contextlib.ExitStack) -> list[tuple[Path, object, Path]]:
    """(input, style, output) for every output, folders created and outputs checked."""
    several_styles = len(styles) > 1
    if opts.out is not None and several_styles and not opts.out_is_dir:
        raise UserError(f"{len(styles)} styles give {len(styles)} outputs: make -o a folder, "
                        "or blend them with --weights")
    label = safe_name("+".join(s.name for s in styles), 60)
    folder = opts.out if opts.out_is_dir else None
    if opts.out is None and opts.folder_input:
        src = opts.inputs[0].parent
        if src.name in ("", ".."):                 # '.' or '..': name the output after the folder itself
            src = src.resolve()
        folder = src.with_name(f"{src.name}.stylized-{label}")
        if not opts.skip_existing:             # --skip-existing: resume in the folder of the first run
            folder = next_free(folder)
    jobs = []
    for src in opts.inputs:
        for style in styles:
            if folder is not None:
                dst = folder / (f"{src.stem}__{safe_name(style.name)}.png" if several_styles else f"{src.stem}.png")
            elif opts.out is not None:
                dst = opts.out
            else:                                  # beside the input, never replacing a file
                dst = src.with_name(f"{src.stem}.stylized-{safe_name(style.name, 60)}{src.suffix}")
                if not opts.skip_existing:
                    dst = next_free(dst)
            jobs.append((src, style, dst))
    inputs = {p.resolve() for p in opts.inputs}
    named: dict[Path, Path] = {}
    for src, style, dst in jobs:
        if dst.resolve() in named:
            raise UserError(f"two outputs would be {dst}: " + (
                f"style {style.path or style.name} is given twice; give it once" if named[dst.resolve()] == src
                else f"{named[dst.resolve()].name} and {src.name} have the same name; rename one"))
        named[dst.resolve()] = src
    if folder is not None:
        _make_folder(folder, folders)
    for _, _, dst in jobs:
        if dst.resolve() in inputs:
            raise UserError(f"output {dst} is an input file; choose another output path")
        if not opts.skip_existing and dst.exists() and not opts.overwrite:
            raise UserError(f"output {dst} already exists; pass --skip-existing to keep the existing outputs "
                            "and do the rest, or --overwrite to replace them")
        check_output_file(dst, (), opts.overwrite or opts.skip_existing)
    return jobs


def _make_folder(folder: Path, folders: contextlib.ExitStack) -> None:
    if folder.exists() and not folder.is_dir():
        raise UserError(f"output {folder} is a file; several outputs need a folder")
    if not folder.parent.is_dir():
        raise UserError(f"output folder's parent does not exist: {folder.parent}")
    if not folder.exists():
        folders.enter_context(new_folder(folder))
        print(f"created folder {folder}", file=sys.stderr)


def _coral_stats(session, style, content_rgb):
    """Recolour the style image to the photo's palette, then take its statistics."""
    path = style.path
    if path is None:
        raise UserError("--color-transfer coral needs style image files (built-in styles and blends have "
                        "only statistics); use --color-transfer luminance")
    style_rgb = resize_longer(decode_image(path.read_bytes(), str(path)), session.library.config.style_size)
    recoloured = coral(to_tensor(style_rgb)[0], to_tensor(content_rgb)[0])
    img = (recoloured.permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
    return session.library.stats_of(img)
