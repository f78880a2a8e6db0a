"""Pack the training data for the GPU machine into a size budget (what `run` carries is limited).

Copies train/{content,style} and val/{content,people,style} as JPEGs whose shorter side is at
most --short (the trainer's --short-side, 512), lowering the JPEG quality from 92 (never below
70), then the side, until the whole fits --budget-mb. Prints what it chose; never touches the source.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))      # stylecam, when run as a script

import cv2           # noqa: E402

from stylecam.entry import entry_point                            # noqa: E402
from stylecam.errors import UserError                             # noqa: E402
from stylecam.options import number, parser                       # noqa: E402

FOLDERS = ("train/content", "train/style", "val/content", "val/people", "val/style")
SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


def shrink(img, short: int):
    s = short / min(img.shape[:2])
    if s >= 1:
        return img
    return cv2.resize(img, (round(img.shape[1] * s), round(img.shape[0] * s)), interpolation=cv2.INTER_AREA)


def encode_all(images: dict, short: int, quality: int) -> dict:
    out = {}
    for key, img in images.items():
        ok, buf = cv2.imencode(".jpg", shrink(img, short), [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok:
            out[key] = buf.tobytes()
    return out


@entry_point("gpu_data")
def main(argv=None) -> int:
    p = parser("python scripts/gpu_data.py", __doc__,
               "  python scripts/gpu_data.py ../shared/data .gpu/data --budget-mb 40\n")
    p.add_argument("source", help="the data folder (train/ and val/ inside)")
    p.add_argument("dest", help="where the packed copy goes")
    p.add_argument("--short", type=number(16, integer=True), default=512, help="largest shorter side (default 512)")
    p.add_argument("--budget-mb", type=number(0, above=True), default=40.0, help="size budget in MiB (default 40)")
    a = p.parse_args(argv)
    src, dest = Path(a.source), Path(a.dest)
    images = {}
    for folder in FOLDERS:
        for f in sorted((src / folder).glob("*")):
            if f.suffix.lower() in SUFFIXES:
                img = cv2.imread(str(f), cv2.IMREAD_COLOR)
                if img is not None:
                    images[(folder, f.stem)] = shrink(img, a.short)
    if not images:
        raise UserError(f"no images under {src}/{{{','.join(FOLDERS)}}}")
    short, quality = a.short, 92
    while True:
        packed = encode_all(images, short, quality)
        total = sum(map(len, packed.values())) / 2**20
        if total <= a.budget_mb or short <= 256:
            break
        if quality > 70:
            quality -= 6
        else:
            short, quality = short - 64, 92
    for (folder, stem), data in packed.items():
        (dest / folder).mkdir(parents=True, exist_ok=True)
        (dest / folder / f"{stem}.jpg").write_bytes(data)
    counts = {f: sum(1 for k in packed if k[0] == f) for f in FOLDERS}
    print(f"gpu_data: {len(packed)} images, {total:.1f} MiB (budget {a.budget_mb}), shorter side <= {short}, "
          f"JPEG quality {quality} -> {dest}  {counts}")
    return 0 if total <= a.budget_mb else 2


if __name__ == "__main__":
    sys.exit(main())
