"""docs/images/mask_astronaut.jpg: the photo, --mask background and --mask person, side by side.

    python scripts/mask_picture.py [-s STYLE] [--size 320] [-o docs/images/mask_astronaut.jpg]

The photo is scikit-image's public-domain astronaut; the outputs are real `stylecam image` runs
(the shipped full network, the default backend), so the picture shows what the command gives.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import skimage.data

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from stylecam.cli import main as stylecam   # noqa: E402
from stylecam.entry import entry_point     # noqa: E402
from stylecam.options import longer_side, parser   # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = """  python scripts/mask_picture.py
  python scripts/mask_picture.py -s monet_water_lilies_1919 --size 256 -o /tmp/masks.jpg
"""


def label(img: np.ndarray, text: str) -> np.ndarray:
    out = img.copy()
    cv2.rectangle(out, (0, 0), (out.shape[1], 26), (0, 0, 0), -1)
    cv2.putText(out, text, (8, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return out


@entry_point("mask_picture")
def main(argv=None) -> int:
    p = parser("python scripts/mask_picture.py", __doc__, EXAMPLES)
    p.add_argument("-s", "--style", default="van_gogh_starry_night_over_the_rhone",
                   help="a built-in style or a painting (default van_gogh_starry_night_over_the_rhone)")
    p.add_argument("--size", type=longer_side, default=320, help="side of each panel in pixels (default 320)")
    p.add_argument("-o", "--out", type=Path, default=ROOT / "docs" / "images" / "mask_astronaut.jpg",
                   help="the picture to write (default docs/images/mask_astronaut.jpg)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "astronaut.png"
        cv2.imwrite(str(photo), cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR))
        panels = [label(cv2.resize(cv2.imread(str(photo)), (args.size, args.size), interpolation=cv2.INTER_AREA),
                        "photo")]
        for mode in ("background", "person"):
            out = Path(tmp) / f"{mode}.png"
            rc = stylecam(["image", str(photo), "-s", args.style, "--size", str(args.size), "--mask", mode,
                           "-o", str(out)])
            if rc:
                return rc
            panels.append(label(cv2.imread(str(out)), f"--mask {mode}"))
    cv2.imwrite(str(args.out), np.hstack(panels), [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
