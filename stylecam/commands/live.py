"""The live window: a camera (or a video file standing in for one), stylized in real time."""
from __future__ import annotations

import sys
from pathlib import Path

from ..errors import UserError
from ..live.keys import parse_script
from ..live.loop import LiveOptions, run_live
from ..options import (add_mask_arguments, add_runtime_arguments, add_smooth_arguments, add_style_arguments,
                       frame_size, longer_side, mask_options, name, number, runtime_options, smooth_options,
                       style_options)

HELP = ("Stylize a camera (or a video file or stream URL) in real time in a window, with hotkeys to "
        "switch styles, change strength, record, take screenshots and feed a virtual camera.")
EXAMPLES = """  stylecam --camera 0                                        (every built-in style; n/p cycle)
  stylecam --camera 0 --style starry.jpg --style monet_water_lilies_1919
  stylecam live --camera 0 -s paintings/ --size 256          (every painting in the folder; n/p cycle)
  stylecam live --camera clip.mp4 -s starry.jpg --once       (a file stands in for the camera)
  stylecam live --camera clip.mp4 -s a.jpg -s b.jpg --no-window --max-frames 60 \\
      --keys "r@5,n@20,s@30,k@31,r@50" --out-dir shots/     (headless, scripted keys)
  stylecam --camera 0 --mask background                      (the person stays as filmed; g cycles)
  stylecam --camera 0 -s starry.jpg --palette style          (the painting's colours; t toggles)

keys: n/p or arrows next/previous style, 1-9 pick, +/- strength, c keep colours,
t the painting's colours (as --palette style), b blend current+next style, s split view, m mirror, l full/lite network,
g person mask (off -> background stylized -> person stylized), f HUD,
space pause, k screenshot (PNG), r record (MP4, H.264), v virtual camera, h help,
q/Esc quit. --model auto runs the lite network on the CPU (where it is real time)
and the full one on CUDA; the choice is printed.
Screenshots and recordings go to --out-dir with time-stamped names; their
paths are printed. A video file is played at its own frame rate and loops
(--once: stop at its end; --fast-file: as fast as the loop takes frames). A
camera that stops delivering frames for 2 s ends the run (exit status 1) with
any recording finalized.
"""


def add_arguments(p):
    src = p.add_argument_group("source")
    src.add_argument("--camera", default="0", type=name,
                     help="camera index, video file or stream URL (default 0)")
    src.add_argument("--camera-size", type=frame_size, metavar="WxH",
                     help="ask the camera for this capture size, e.g. 1280x720")
    src.add_argument("--once", action="store_true", help="a video file stops at its end instead of looping")
    src.add_argument("--fast-file", action="store_true",
                     help="read a video file as fast as the loop takes frames, not at its own rate (benchmarks)")
    src.add_argument("--size", type=longer_side, default=480,
                     help="processing size: longer side in pixels (default 480; 0 = the camera's size)")
    run = p.add_argument_group("run")
    run.add_argument("--no-window", action="store_true", help="no window (headless: tests, CI, recording)")
    run.add_argument("--max-frames", type=number(1, integer=True), metavar="N", help="stop after N shown frames")
    run.add_argument("--keys", default="", metavar="SCRIPT",
                     help='keys pressed at given frames: KEY@N after N frames are shown (r@0 records from '
                          'the first frame), e.g. "n@10,+@20,r@5,r@40" '
                          "(names: n p left right 1-9 + - c t b s m l g f space k r v h q esc)")
    add_smooth_arguments(run)
    run.add_argument("--out-dir", default=".", help="folder for screenshots and recordings (default: current)")
    add_mask_arguments(p.add_argument_group("mask"), temporal=True)
    add_style_arguments(p, default="every built-in style, n/p to cycle")
    add_runtime_arguments(p)


def parse(args) -> LiveOptions:
    script = parse_script(args.keys)
    keys = tuple((frame, key) for frame in sorted(script) for key in script[frame])
    return LiveOptions(camera=args.camera, camera_size=args.camera_size, once=args.once, size=args.size,
                       window=not args.no_window, max_frames=args.max_frames, keys=keys, out_dir=Path(args.out_dir),
                       smooth=smooth_options(args), runtime=runtime_options(args), fast_file=args.fast_file,
                       style=style_options(args, _builtin_styles() if not args.style else ()),
                       mask=mask_options(args))


def _builtin_styles() -> tuple[str, ...]:
    from ..styles import load_bank
    names = tuple(sorted(load_bank()))
    if not names:
        raise UserError("no --style given and no built-in styles are installed; pass -s with a painting")
    return names


def run(args) -> int:
    opts = parse(args)
    if not args.style:
        print(f"styles: the {len(opts.style.styles)} built-in styles (n/p to cycle; choose your own with -s)",
              file=sys.stderr)
    return run_live(opts).exit_code
