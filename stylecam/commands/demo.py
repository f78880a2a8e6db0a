"""First run: sample photos shipped by scikit-image × a few built-in styles -> one contact sheet."""
from __future__ import annotations

import time
from pathlib import Path

import cv2

from ..errors import UserError
from ..backends import keep_content_colors
from ..images import resize_longer, write_image
from ..options import add_runtime_arguments, add_style_arguments, longer_side, runtime_options, style_options
from ..palette import PaletteMatcher
from ..safeio import check_output_file, next_free
from ..session import open_session, require_palettes
from ..sheet import contact_sheet

HELP = "Stylize public-domain sample photos with a few built-in styles into one contact sheet (PNG)."
EXAMPLES = """  stylecam demo
  stylecam demo -s picabia_udnie -s monet_etretat_cliffs -s my_painting.jpg --size 384 -o demo.png

The photos are scikit-image's sample data (astronaut, chelsea, coffee); no
files of yours are needed. An existing sheet is never replaced: without -o the
next free name stylecam-demo[-N].png in the current folder is used.
"""
PHOTOS = ("astronaut", "chelsea", "coffee")
DEFAULT_STYLES = ("van_gogh_starry_night_over_the_rhone", "picabia_udnie",
                  "matisse_woman_with_a_hat", "monet_water_lilies_1919", "vallotton_portrait_woodcut")


def add_arguments(p):
    p.add_argument("--size", type=longer_side, default=512,
                   help="longer side each photo is stylized at (default 512, the size the styles were taken at; "
                        "0: the photos' own sizes)")
    p.add_argument("-o", "--out", help="output PNG (default: stylecam-demo.png, or the next free name)")
    p.add_argument("--overwrite", action="store_true", help="replace -o if it exists")
    add_style_arguments(p, default=", ".join(DEFAULT_STYLES))
    add_runtime_arguments(p)


def run(args) -> int:
    out = Path(args.out) if args.out else next_free("stylecam-demo.png")
    check_output_file(out, (), args.overwrite)
    opts = style_options(args, DEFAULT_STYLES)
    try:
        import skimage.data
    except ImportError:
        raise UserError("the demo photos come from scikit-image: pip install scikit-image") from None
    t0 = time.perf_counter()
    session = open_session(runtime_options(args))
    styles = session.styles(opts)
    require_palettes(styles, opts)
    photos = [resize_longer(getattr(skimage.data, name)(), args.size) for name in PHOTOS]
    grid = []
    for photo in photos:
        bgr = cv2.cvtColor(photo, cv2.COLOR_RGB2BGR)
        row = [photo]
        for style in styles:
            stylized = session.backend.stylize(bgr, style.mean, style.std, opts.alpha)
            if opts.preserve_color:
                stylized = keep_content_colors(stylized, bgr)
            if opts.palette == "style":
                stylized = PaletteMatcher()(bgr, stylized, style.palette, opts.alpha)
            row.append(cv2.cvtColor(stylized, cv2.COLOR_BGR2RGB))
        grid.append(row)
    sheet = contact_sheet(grid, ["photo"] + [s.name for s in styles], list(PHOTOS), cell=min(args.size or 320, 320))
    write_image(out, sheet, args.overwrite)
    print(f"wrote {out.resolve()}  ({len(photos)} photos × {len(styles)} styles in "
          f"{time.perf_counter() - t0:.1f} s)")
    return 0
