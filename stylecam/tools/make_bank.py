"""python -m stylecam.tools.make_bank: build the built-in style bank from a folder of paintings.

Each painting becomes a named (μ, σ) at relu4_1 (the file name without its
extension) and its colour statistics (``--palette style``); the bank is stored
in assets/styles.pt with the encoder version it was computed with. ``stylecam
styles`` lists it. ``--palettes-only`` adds the colour statistics of the
paintings found in --styles to an existing bank, matched by name, and keeps its
feature statistics as they are (a bank whose paintings are not all at hand).
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

from ..paths import shipped_dir
from ..entry import entry_point
from ..errors import UserError
from ..images import list_images, read_image, resize_longer
from ..model import ModelConfig
from ..options import parser
from ..safeio import check_output_file, save_torch
from ..palette import palette_of
from ..styles import BANK_FILE, StyleLibrary, palette_tensors
from ..vgg import load_encoder

EXAMPLES = """  python -m stylecam.tools.make_bank --styles ../shared/data/train/style --overwrite
  python -m stylecam.tools.make_bank --styles paintings/ -o my_bank.pt
  python -m stylecam.tools.make_bank --styles ../shared/data/train/style --palettes-only --overwrite
"""


@entry_point("stylecam.tools.make_bank")
def main(argv=None) -> int:
    ap = parser("python -m stylecam.tools.make_bank", __doc__, EXAMPLES)
    ap.add_argument("--styles", action="append", required=True, help="folder of paintings (repeatable)")
    ap.add_argument("-o", "--out", default=str(shipped_dir() / BANK_FILE), help="output (default: assets/styles.pt)")
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output (the shipped one included)")
    ap.add_argument("--palettes-only", action="store_true",
                    help="add the colour statistics of the paintings in --styles to the existing bank -o, "
                         "matched by name; its feature statistics stay as they are")
    args = ap.parse_args(argv)
    check_output_file(args.out, [], args.overwrite)
    files = [f for d in args.styles for f in list_images(d)]
    if not files:
        raise UserError(f"no images in {', '.join(args.styles)}")
    if args.palettes_only:
        return _add_palettes(args.out, files, args.overwrite)
    encoder = load_encoder()
    lib = StyleLibrary(encoder, ModelConfig(), bank_path=args.out + ".none")
    styles = []
    for f in files:
        try:
            styles.append(lib.from_image(f))
        except UserError as e:
            print(f"skipped: {e}", file=sys.stderr)
    bank = {"encoder_version": encoder.version, "style_size": ModelConfig().style_size,
            "names": [s.name for s in styles],
            "means": torch.stack([s.mean for s in styles]), "stds": torch.stack([s.std for s in styles]),
            "palettes": {s.name: palette_tensors(s.palette) for s in styles}}
    save_torch(bank, args.out, args.overwrite)
    print(f"wrote {args.out}: {len(styles)} styles ({', '.join(s.name for s in styles)})")
    return 0


def _add_palettes(out: str, files, overwrite: bool) -> int:
    path = Path(out)
    if not path.is_file():
        raise UserError(f"--palettes-only adds to an existing bank: {out} does not exist")
    bank = torch.load(path, map_location="cpu", weights_only=True)
    wanted = set(bank["names"])
    palettes = dict(bank.get("palettes", {}))
    for f in files:
        if f.stem in wanted:
            rgb = resize_longer(read_image(f), bank.get("style_size", ModelConfig().style_size))
            palettes[f.stem] = palette_tensors(palette_of(rgb))
    bank["palettes"] = palettes
    missing = [n for n in bank["names"] if n not in palettes]
    save_torch(bank, path, overwrite)
    print(f"wrote {out}: colour statistics for {len(palettes)} of {len(wanted)} styles"
          + (f" (none for {', '.join(missing)}: no painting of that name)" if missing else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
