"""Measure the temporal flicker (warping error) of a stylized video against its original."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..temporal.flicker import WarpingError
from ..options import number
from ..safeio import check_output_file, write_json
from ..video.io import Frame, VideoInfo, probe, read_frames

HELP = ("Warping error (Lai et al. 2018) of a stylized video: optical flow on the original frames, "
        "each stylized frame warped back onto the one before, squared error on reliable pixels. "
        "Lower is steadier. Prints JSON.")
EXAMPLES = """  stylecam flicker in.mp4 out.mp4
  stylecam flicker in.mp4 steady.mp4 --seconds 3 --json steady.json

The two videos must have the same frames: the same rate, count and shape (the
stylized one may be smaller: the original is scaled to it); others are refused. Pair the figure with a style loss (python -m
stylecam.tools.flicker_report) so that a blurry result cannot win.
"""


@dataclass(frozen=True)
class FlickerOptions:
    original: Path
    stylized: Path
    seconds: float | None                 # None: all
    json_out: Path | None
    overwrite: bool
    per_pair: bool


def add_arguments(p):
    p.add_argument("original", help="the input video")
    p.add_argument("stylized", help="the stylized video made from it")
    p.add_argument("--seconds", type=number(0, above=True), help="measure only the first N seconds (default: all)")
    p.add_argument("--json", dest="json_out", help="also write the JSON to this file")
    p.add_argument("--overwrite", action="store_true", help="replace the --json file if it exists")
    p.add_argument("--per-pair", action="store_true", help="include the error of every frame pair")


def parse(args) -> FlickerOptions:
    return FlickerOptions(Path(args.original), Path(args.stylized), args.seconds,
                          Path(args.json_out) if args.json_out else None, args.overwrite, args.per_pair)


def run(args) -> int:
    opts = parse(args)
    a, b = probe(opts.original), probe(opts.stylized)
    check_same_frames(a, b)
    if opts.json_out:
        check_output_file(opts.json_out, [opts.original, opts.stylized], opts.overwrite)
    size = (b.width, b.height)        # compare at the stylized video's size
    metric = WarpingError()
    frames_a = (f for f in read_frames(a, size, 0, opts.seconds or 0.0, audio=False) if isinstance(f, Frame))
    frames_b = (f for f in read_frames(b, size, 0, opts.seconds or 0.0, audio=False) if isinstance(f, Frame))
    n = 0
    for fa, fb in zip(frames_a, frames_b):
        metric.add(fa.bgr, fb.bgr)
        n += 1
    if n < 2:
        raise UserError("need at least 2 frames in both videos to measure flicker")
    result = {"original": str(opts.original), "stylized": str(opts.stylized), "frames": n, **metric.result()}
    if not opts.per_pair:
        result.pop("per_pair")
    print(json.dumps(result, indent=2))
    if opts.json_out:
        write_json(opts.json_out, result, opts.overwrite)
    return 0


def check_same_frames(a: VideoInfo, b: VideoInfo) -> None:
    """Refuse two clips that cannot hold the same frames: other frame rates, counts or shapes
    (the stylized one may be scaled down, not reshaped)."""
    def fail(what: str, x, y):
        raise UserError(f"{a.path} and {b.path} are not the same frames ({what}: {x} vs {y}); "
                        "flicker compares a video with its stylized version")
    if abs(float(a.fps) - float(b.fps)) > 0.01 * float(a.fps):
        fail("frame rates", f"{float(a.fps):.3g} fps", f"{float(b.fps):.3g} fps")
    if a.frames and b.frames and a.frames != b.frames:
        fail("frame counts", a.frames, b.frames)
    if abs(a.width / a.height - b.width / b.height) > 0.02 * a.width / a.height:
        fail("shapes", f"{a.width}×{a.height}", f"{b.width}×{b.height}")
