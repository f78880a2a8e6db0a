"""Stylize a video file: every frame, same timing, sound kept."""
from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import UserError, as_interrupted
from ..options import (RuntimeOptions, StyleOptions, add_runtime_arguments, add_style_arguments,
                       runtime_options, style_options)
from ..safeio import atomic_output, check_output_file
from ..session import open_session
from ..temporal.smoothing import MODES, TORCH_MODES, SmoothOptions, TemporalSmoother
from ..video.pipeline import PipelineSettings, Progress, StyleSchedule, stylize_video
from ..video.io import check_output_format, inspect, output_size, probe

HELP = "Stylize every frame of a video file; same frame rate, length and sound."
EXAMPLES = """  stylecam video in.mp4 --style starry.jpg -o out.mp4
  stylecam video in.mp4 -s monet_water_lilies_1919 --max-size 480 -o small.mp4
  stylecam video in.mp4 -s starry.jpg --smooth both -o steady.mp4      (less flicker)
  stylecam video in.mp4 -s a.jpg -s b.jpg --weights 0.5 0.5 -o blend.mp4
  stylecam video in.mp4 -s a.jpg -s b.jpg -o morph.mp4    (a -> b across the clip)
  stylecam video in.mp4 -s starry.jpg --start 5 --duration 3 -o part.mp4

Several styles with --weights blend into one; without --weights the style moves
from the first to the last across the clip. The output is H.264 (yuv420p) at the
input's frame rate and timestamps; audio streams are copied (or re-encoded to AAC
if the container cannot hold them). The file appears only when complete.
--smooth reduces flicker: 'stats' smooths AdaIN's content statistics over time
(torch backend), 'flow' blends the previous output along optical flow, 'both',
'features' blends along the flow in AdaIN's feature space (torch backend; the
best trade of steadiness against style on our measurements, see the README).
"""


@dataclass(frozen=True)
class VideoOptions:
    input: Path
    out: Path
    size: int
    max_size: int
    start: float
    duration: float
    batch: int
    crf: int
    preset: str
    audio: bool
    overwrite: bool
    smooth: SmoothOptions
    style: StyleOptions
    runtime: RuntimeOptions


def add_arguments(p):
    p.add_argument("input", help="input video file (mp4, mov, mkv, ...)")
    p.add_argument("-o", "--out", required=True, help="output video file (.mp4, .mov, .m4v or .mkv)")
    g = p.add_argument_group("video")
    size = g.add_mutually_exclusive_group()
    size.add_argument("--size", type=int, default=0, help="longer side of the output in pixels (default: input's)")
    size.add_argument("--max-size", type=int, default=0,
                      help="scale down so the longer side is at most this (never up)")
    g.add_argument("--start", type=float, default=0.0, help="start at this time in seconds (default 0)")
    g.add_argument("--duration", type=float, default=0.0, help="stylize only this many seconds (default: to the end)")
    g.add_argument("--batch", type=int, default=4, help="frames per backend call (default 4)")
    g.add_argument("--crf", type=int, default=18, help="H.264 quality, 0–51, lower is better (default 18)")
    g.add_argument("--preset", default="fast", help="x264 speed preset (default fast)")
    g.add_argument("--no-audio", action="store_true", help="leave the sound out")
    g.add_argument("--overwrite", action="store_true", help="replace the output file if it exists")
    g.add_argument("--smooth", default="off", choices=MODES,
                   help="flicker reduction: off (default), stats, flow, both or features")
    g.add_argument("--smooth-momentum", type=float, default=SmoothOptions.stats_momentum,
                   help=f"--smooth stats: share of the past in the running μ, σ (default {SmoothOptions.stats_momentum})")
    g.add_argument("--flow-weight", type=float, default=SmoothOptions.flow_weight,
                   help=f"--smooth flow/features: share of the warped past (default {SmoothOptions.flow_weight})")
    add_style_arguments(p)
    add_runtime_arguments(p)


def parse(args) -> VideoOptions:
    for name in ("size", "max_size"):
        v = getattr(args, name)
        if v < 0 or 0 < v < 16:
            raise UserError(f"--{name.replace('_', '-')} {v}: must be at least 16")
    if args.start < 0 or args.duration < 0:
        raise UserError("--start and --duration must not be negative")
    if args.batch < 1:
        raise UserError("--batch must be at least 1")
    if not 0 <= args.crf <= 51:
        raise UserError(f"--crf {args.crf}: must be between 0 and 51")
    smooth = SmoothOptions(args.smooth, args.smooth_momentum, args.flow_weight)
    return VideoOptions(Path(args.input), Path(args.out), args.size, args.max_size, args.start, args.duration,
                        args.batch, args.crf, args.preset, not args.no_audio, args.overwrite, smooth,
                        style_options(args), runtime_options(args))


def run(args) -> int:
    opts = parse(args)
    info = probe(opts.input)                                  # bad input fails before the model loads
    check_output_format(str(opts.out))
    check_output_file(opts.out, [opts.input], opts.overwrite)
    if opts.start >= info.start + info.duration > 0:
        raise UserError(f"--start {opts.start:g} s is past the end of the video ({info.duration:.2f} s)")
    size = output_size(info, opts.size, opts.max_size)
    print(f"input: {opts.input}: {info.describe()}", file=sys.stderr)

    runtime = opts.runtime
    if opts.smooth.mode in TORCH_MODES and runtime.backend == "auto":
        runtime = replace(runtime, backend="torch")    # the only backend that exposes the encoder features
        print(f"--smooth {opts.smooth.mode}: using the torch backend", file=sys.stderr)
    session = open_session(runtime)
    styles = session.styles(opts.style)
    smoother = TemporalSmoother(session.backend, opts.smooth)
    span = opts.duration or max(0.0, info.duration - opts.start)
    expected = info.frames if not (opts.start or opts.duration) and info.frames else \
        max(1, round(span * float(info.fps)))
    schedule = StyleSchedule(styles, expected)
    settings = PipelineSettings(size, opts.start, opts.duration, opts.batch, opts.style.alpha,
                                opts.style.preserve_color == "luminance", opts.audio, opts.crf, opts.preset)
    names = " -> ".join(s.name for s in styles)
    print(f"output: {opts.out}: {size[0]}×{size[1]}, style {names}, smoothing {opts.smooth.mode}",
          file=sys.stderr)
    progress = Progress(expected)
    try:
        with atomic_output(opts.out, opts.overwrite) as tmp:
            frames = stylize_video(info, tmp, str(opts.out), settings, smoother, schedule, progress)
    except KeyboardInterrupt as e:               # Ctrl-C or SIGTERM (stylecam.entry)
        stop = as_interrupted(e)
        print(f"stylecam: {stop.verb} after {progress.done} of about {expected} frames; no output written",
              file=sys.stderr)
        return stop.exit_code
    except UserError as e:
        raise UserError(f"{e}; no output written") from None
    elapsed = progress.elapsed
    seconds = inspect(opts.out)["duration"]
    print(f"wrote {opts.out}: {frames} frames, {seconds:.2f} s, {size[0]}×{size[1]}, "
          f"{frames / elapsed:.2f} frames/s ({elapsed:.1f} s)")
    return 0
