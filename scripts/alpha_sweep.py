"""The README's α sweep: each photo at α = 0, 0.25, 0.5, 0.75 and 1, one row per network.

    python scripts/alpha_sweep.py -s starry.jpg --photos portrait.jpg,landscape.jpg \
        --network shipped=assets/decoder.pt --network lite=assets/lite.pt -o sweep.png

A network is LABEL=PATH, a weights file of any network (its kind is read from it). Every row also gives the greyscale SSIM
of the α = 0 output against the photo (the same measure as ``train.evaluate``).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stylecam.entry import entry_point                                 # noqa: E402
from stylecam.errors import UserError                                  # noqa: E402
from stylecam.images import read_image, resize_longer, to_tensor, write_image  # noqa: E402
from stylecam import networks                                         # noqa: E402
from stylecam.options import listed, parser                            # noqa: E402
from stylecam.sheet import contact_sheet                               # noqa: E402
from train.evaluate import ssim                                         # noqa: E402

ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)


def network(text: str) -> tuple[str, str]:
    label, sep, path = text.partition("=")
    if not (sep and label and path):
        raise UserError(f"--network {text}: write LABEL=PATH, e.g. lite=assets/lite.pt")
    return label, path


@entry_point("python scripts/alpha_sweep.py")
def main(argv: list[str] | None = None) -> int:
    p = parser("python scripts/alpha_sweep.py", "An α sweep contact sheet.", __doc__.split("\n\n")[1])
    p.add_argument("-s", "--style", required=True, help="the painting")
    p.add_argument("--photos", type=listed(str), required=True, metavar="P,P,...")
    p.add_argument("--network", action="append", required=True, help="LABEL=PATH of a weights file")
    p.add_argument("--size", type=int, default=384, help="longer side of the photos (default 384)")
    p.add_argument("--cell", type=int, default=192)
    p.add_argument("-o", "--out", required=True)
    a = p.parse_args(argv)
    nets = [network(n) for n in a.network]
    photos = [resize_longer(read_image(f), a.size) for f in a.photos]
    painting = resize_longer(read_image(a.style), 512)
    grid, labels = [], []
    with torch.no_grad():
        for label, path in nets:
            model = networks.load(None, path)
            mean, std = model.style_stats(to_tensor(painting))
            for name, photo in zip(a.photos, photos):
                x = to_tensor(photo)
                outs = [(model(x, mean, std, alpha)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
                        for alpha in ALPHAS]
                grid.append([photo, *outs])
                labels.append(f"{label}, a0 SSIM {ssim(outs[0], photo):.2f}: {Path(name).stem}")
                print(labels[-1])
    sheet = contact_sheet(grid, ["photo", *[f"alpha {x:g}" for x in ALPHAS]], labels, a.cell)
    write_image(a.out, sheet)
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
