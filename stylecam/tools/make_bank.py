"""python -m stylecam.tools.make_bank: build the built-in style bank from a folder of paintings.

Each painting becomes a named (μ, σ) at relu4_1 (the file name without its
extension); the bank is stored in assets/styles.pt with the encoder version
it was computed with. ``stylecam styles`` lists it.
"""
from __future__ import annotations

import sys

import torch

from ..paths import shipped_dir
from ..entry import entry_point
from ..errors import UserError
from ..images import list_images
from ..model import ModelConfig
from ..options import parser
from ..safeio import check_output_file, save_torch
from ..styles import BANK_FILE, StyleLibrary
from ..vgg import load_encoder

EXAMPLES = """  python -m stylecam.tools.make_bank --styles ../shared/data/train/style --overwrite
  python -m stylecam.tools.make_bank --styles paintings/ -o my_bank.pt
"""


@entry_point("stylecam.tools.make_bank")
def main(argv=None) -> int:
    ap = parser("python -m stylecam.tools.make_bank", __doc__, EXAMPLES)
    ap.add_argument("--styles", action="append", required=True, help="folder of paintings (repeatable)")
    ap.add_argument("-o", "--out", default=str(shipped_dir() / BANK_FILE), help="output (default: assets/styles.pt)")
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output (the shipped one included)")
    args = ap.parse_args(argv)
    check_output_file(args.out, [], args.overwrite)
    files = [f for d in args.styles for f in list_images(d)]
    if not files:
        raise UserError(f"no images in {', '.join(args.styles)}")
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
            "means": torch.stack([s.mean for s in styles]), "stds": torch.stack([s.std for s in styles])}
    save_torch(bank, args.out, args.overwrite)
    print(f"wrote {args.out}: {len(styles)} styles ({', '.join(s.name for s in styles)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
