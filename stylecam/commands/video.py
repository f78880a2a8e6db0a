"""Stylize a video file: every frame, same timing, sound kept."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError, as_interrupted
from ..images import MAX_PIXELS, check_pixels
from ..mask import MaskOptions, Masker
from ..options import (DEFAULT_STYLE, RuntimeOptions, StyleOptions, add_mask_arguments, add_runtime_arguments,
                       add_smooth_arguments, add_style_arguments, longer_side, mask_options, number, runtime_options,
                       smooth_options, style_options)
from ..safeio import atomic_output, check_output_file, next_free, safe_name
from ..session import open_session
from ..temporal.smoothing import SmoothOptions, TemporalSmoother
from ..video.pipeline import PipelineSettings, Progress, StyleSchedule, stylize_video
from ..video.io import VIDEO_EXTS, check_output_format, inspect, output_size, probe

X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
                "placebo")
HELP = "Stylize every frame of a video file; same frame rate, length and sound."
EXAMPLES = f"""  stylecam video in.mp4                        (-> in.stylized-{DEFAULT_STYLE}.mp4)
  stylecam video in.mp4 --style starry.jpg -o out.mp4
  stylecam video in.mp4 -s monet_water_lilies_1919 --max-size 480 -o small.mp4
  stylecam video in.mp4 -s starry.jpg --smooth both -o steady.mp4      (less flicker)
  stylecam video in.mp4 -s a.jpg -s b.jpg --weights 0.5,0.5 -o blend.mp4
  stylecam video in.mp4 -s a.jpg -s b.jpg -o morph.mp4    (a -> b across the clip)
  stylecam video in.mp4 -s starry.jpg --start 5 --duration 3 -o part.mp4
  stylecam video talk.mp4 --mask person -o painted_person.mp4     (the room as filmed)

Without -o the output goes beside the input, named after the style
(in.stylized-STYLE.mp4), and never replaces a file; without -s the built-in
style {DEFAULT_STYLE} is used. Outputs: {", ".join(VIDEO_EXTS)}.
Several styles with --weights blend into one; without --weights the style moves
from the first to the last across the clip. The output is H.264 (yuv420p) at the
input's frame rate and timestamps; audio streams are copied (or re-encoded to AAC
if the container cannot hold them). The file appears only when complete.
--smooth reduces flicker: 'stats' smooths AdaIN's content statistics over time,
'flow' blends the previous output along optical flow, 'both', 'features' blends
along the flow in the encoder's feature space (the best trade of steadiness
against style measured: docs/video.md). Every mode runs on every backend.
--mask stylizes only the person or only the background (docs/masks.md); the
mask is a running average over frames (--mask-momentum), so its edge holds still.
"""


@dataclass(frozen=True, kw_only=True)
class VideoOptions:
    input: Path
    out: Path | None                      # None: beside the input, named after the style
    size: int
    max_size: int
    start: float
    duration: float | None                # None: to the end
    batch: int
    crf: int
    preset: str
    audio: bool
    overwrite: bool
    smooth: SmoothOptions
    style: StyleOptions
    runtime: RuntimeOptions
    mask: MaskOptions = MaskOptions()


def add_arguments(p):
    p.add_argument("input", help="input video file (mp4, mov, mkv, ...)")
    p.add_argument("-o", "--out", help=f"output video file ({', '.join(VIDEO_EXTS)}; default: beside the input, "
                                       "named after the style)")
    g = p.add_argument_group("video")
    size = g.add_mutually_exclusive_group()
    size.add_argument("--size", type=longer_side, default=0,
                      help="longer side of the output in pixels (default: the input's)")
    size.add_argument("--max-size", type=longer_side, default=0,
                      help="scale down so the longer side is at most this (never up)")
    g.add_argument("--start", type=number(0), default=0.0, help="start at this time in seconds (default 0)")
    g.add_argument("--duration", type=number(0, above=True),
                   help="stylize only this many seconds (default: to the end)")
    g.add_argument("--batch", type=number(1, integer=True), default=4,
                   help="frames per backend call (default 4; fewer for large frames)")
    g.add_argument("--crf", type=number(0, 51, integer=True), default=18,
                   help="H.264 quality, 0–51, lower is better (default 18)")
    g.add_argument("--preset", default="fast", choices=X264_PRESETS, metavar="PRESET",
                   help=f"x264 speed preset: {', '.join(X264_PRESETS)} (default fast)")
    g.add_argument("--no-audio", action="store_true", help="leave the sound out")
    g.add_argument("--overwrite", action="store_true", help="replace the output file if it exists (-o)")
    add_smooth_arguments(g)
    add_mask_arguments(p.add_argument_group("mask"), temporal=True)
    add_style_arguments(p, default=DEFAULT_STYLE)
    add_runtime_arguments(p)


def parse(args) -> VideoOptions:
    return VideoOptions(input=Path(args.input), out=Path(args.out) if args.out else None, size=args.size,
                        max_size=args.max_size, start=args.start, duration=args.duration, batch=args.batch,
                        crf=args.crf, preset=args.preset, audio=not args.no_audio, overwrite=args.overwrite,
                        smooth=smooth_options(args), style=style_options(args, (DEFAULT_STYLE,)),
                        runtime=runtime_options(args), mask=mask_options(args))


def run(args) -> int:
    opts = parse(args)
    if opts.out is not None:
        check_output_format(str(opts.out))
    info = probe(opts.input)                                  # bad input fails before the model loads
    if opts.out is not None:
        check_output_file(opts.out, [opts.input], opts.overwrite)
    if opts.start >= info.start + info.duration > 0:
        raise UserError(f"--start {opts.start:g} s is past the end of the video ({info.duration:.2f} s)")
    size = output_size(info, opts.size, opts.max_size)
    check_pixels(*size, "the output", "--size" if opts.size else "--max-size")
    batch = max(1, min(opts.batch, MAX_PIXELS // (size[0] * size[1])))     # memory: pixels per backend call
    print(f"input: {opts.input}: {info.describe()}", file=sys.stderr)
    masker = Masker(opts.mask, temporal=True) if opts.mask.mode else None
    if masker is not None:
        masker.segmenters.check()                  # a missing or damaged mask model fails before the network loads

    session = open_session(opts.runtime, split=opts.smooth.split, stream=True)
    styles = session.styles(opts.style)
    out = opts.out or _beside(opts.input, styles)
    check_output_file(out, [opts.input], opts.overwrite)
    smoother = TemporalSmoother(session.backend, opts.smooth)
    span = opts.duration or max(0.0, info.duration - opts.start)
    expected = info.frames if not (opts.start or opts.duration) and info.frames else \
        max(1, round(span * float(info.fps)))
    schedule = StyleSchedule(styles, expected)
    settings = PipelineSettings(size=size, start=opts.start, duration=opts.duration or 0.0, batch=batch,
                                alpha=opts.style.alpha, preserve_color=opts.style.preserve_color == "luminance",
                                audio=opts.audio, crf=opts.crf, preset=opts.preset)
    names = " -> ".join(s.name for s in styles) + ("" if args.style else " (the default; choose another with -s)")
    print(f"output: {out}: {size[0]}×{size[1]}, style {names}, smoothing {opts.smooth.mode}"
          + (f", {opts.mask.mode} stylized (mask)" if masker else "")
          + (f", batch {batch} (large frames)" if batch < opts.batch else ""), file=sys.stderr)
    progress = Progress(expected)
    try:
        with atomic_output(out, opts.overwrite) as tmp:
            frames = stylize_video(info, tmp, str(out), settings, smoother, schedule, progress, masker=masker)
    except KeyboardInterrupt as e:               # Ctrl-C or SIGTERM (stylecam.entry)
        stop = as_interrupted(e)
        print(f"stylecam: {stop.verb} after {progress.done} of about {expected} frames; no output written",
              file=sys.stderr)
        return stop.exit_code
    except UserError as e:
        raise UserError(f"{e}; no output written") from None
    elapsed = progress.elapsed
    seconds = inspect(out)["duration"]
    print(f"wrote {out}: {frames} frames, {seconds:.2f} s, {size[0]}×{size[1]}, "
          f"{frames / elapsed:.2f} frames/s ({elapsed:.1f} s)")
    return 0


def _beside(src: Path, styles) -> Path:
    """in.mp4 -> in.stylized-STYLE.mp4 (the input's container when it can hold H.264), never an existing name."""
    suffix = src.suffix if src.suffix.lower() in VIDEO_EXTS else ".mp4"
    label = safe_name("+".join(s.name for s in styles), 60)
    return next_free(src.with_name(f"{src.stem}.stylized-{label}{suffix}"))
