"""Frames/s and latency of the whole live loop (capture thread, inference, outputs), headless; prints JSON.

    python -m stylecam.live.bench --camera clip.mp4 -s monet_water_lilies_1919 --size 256,480

A video file stands in for the camera and is played at its own frame rate, so
the figures include what a camera adds: waiting for the next frame and
dropping stale ones, and never exceed the clip's rate (cockatoo.mp4: 20 fps).
``--fast-file`` measures the loop itself: the file is read on demand, a frame
ready the moment the loop asks for one, none dropped. Latency is from the
moment the capture thread had a frame to the moment the loop finished showing
it. ``--model`` picks the network as for ``stylecam live`` (auto: lite on the
CPU). Speed does not depend on the weights: ``--random-decoder`` measures
random ones of both networks, before trained ones exist. ``--mask`` measures each
size with and without the person mask, alternating ``--repeats`` times, and
reports the medians and the share of the frame rate the mask costs; the same from
the process's CPU time per frame; and the mask's own time per frame as a share of
the frame time with it, which a busy machine disturbs least. ``--palette style``
measures the loop with the painting's colours (a style without them is said once
and runs without), and reports the palette's own time per frame.
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from ..entry import entry_point
from ..options import (RuntimeOptions, StyleOptions, add_palette_argument, add_runtime_arguments,
                       add_smooth_arguments, listed, longer_side, number, parser, runtime_options, smooth_options)
from ..temporal.smoothing import SmoothOptions
from ..commands.bench import cpu_model
from ..mask import MODES, MaskOptions
from .loop import LiveOptions, run_live

EXAMPLES = """  python -m stylecam.live.bench --camera clip.mp4 --size 256,480 --frames 20 --random-decoder
  python -m stylecam.live.bench --camera clip.mp4 --model lite --fast-file --size 480,640
  python -m stylecam.live.bench --camera clip.mp4 -s picabia_udnie --backend torch
  python -m stylecam.live.bench --camera clip.mp4 --model lite --size 480 --fast-file --mask background
  python -m stylecam.live.bench --camera clip.mp4 --model lite --size 480 --fast-file --palette style
"""
WARMUP = 3     # first frames: allocation and thread start-up, not the steady state


def measure(camera: str, style: str, size: int, frames: int, runtime: RuntimeOptions,
            smooth: SmoothOptions, fast_file: bool = False, mask: MaskOptions = MaskOptions(),
            palette: str = "off") -> dict:
    opts = LiveOptions(camera=camera, camera_size=None, once=False, size=size, window=False,
                       max_frames=frames + WARMUP, keys=(), out_dir=Path(tempfile.gettempdir()), smooth=smooth,
                       style=StyleOptions((style,), None, 1.0, None, palette), runtime=runtime, fast_file=fast_file,
                       mask=mask)
    shape = {}
    cpu = []              # the process's CPU time at each shown frame: steadier than wall time on a busy machine
    mask_s = []           # the mask's own time per frame (stylecam.mask.Masker.seconds)
    palette_s = []        # the palette's own (stylecam.palette.PaletteMatcher.seconds)

    def after_warmup(loop):
        shape["backend"] = loop.backend.describe()
        shape["model"] = loop.model
        shape["frame"] = "×".join(map(str, loop.processed_size))
        if loop.summary.frames >= WARMUP:
            cpu.append(time.process_time())
            if loop.masker.seconds is not None:
                mask_s.append(loop.masker.seconds)
            if loop.stylist.palette.seconds is not None:
                palette_s.append(loop.stylist.palette.seconds)
        if loop.summary.frames == WARMUP:
            loop.summary.intervals.clear()
            loop.summary.latencies.clear()
            shape["dropped_before"] = loop.summary.dropped

    summary = run_live(opts, on_frame=after_warmup)
    lat = sorted(summary.latencies)
    cpu_ms = statistics.median(1000 * (b - a) for a, b in zip(cpu, cpu[1:])) if len(cpu) > 1 else None
    return {"size": size, "processed": shape.get("frame"), "model_used": shape.get("model"),
            "backend_used": shape.get("backend"), "frames": len(lat), "median_fps": round(summary.median_fps(), 2),
            "median_latency_ms": round(summary.median_latency_ms(), 1),
            "p90_latency_ms": round(1000 * lat[int(0.9 * (len(lat) - 1))], 1) if lat else None,
            "median_cpu_ms_per_frame": cpu_ms and round(cpu_ms, 1),
            "median_mask_ms": round(1000 * statistics.median(mask_s), 1) if mask_s else None,
            "median_palette_ms": round(1000 * statistics.median(palette_s), 2) if palette_s else None,
            "camera_frames_dropped": summary.dropped - shape.get("dropped_before", 0)}


def with_and_without_mask(measure_one, mask: MaskOptions, repeats: int) -> dict:
    """measure_one(mask) -> a result; run without and with the mask in turn, ``repeats`` times each
    (a busy machine drifts: alternating spreads the drift over both), medians of the frame rates."""
    runs = {"without": [], "with": []}
    for _ in range(repeats):
        runs["without"].append(measure_one(MaskOptions()))
        runs["with"].append(measure_one(mask))
    def median(key):
        return {k: statistics.median(r[key] for r in v) if all(r.get(key) for r in v) else None
                for k, v in runs.items()}
    fps, latency, cpu = median("median_fps"), median("median_latency_ms"), median("median_cpu_ms_per_frame")
    mask_ms = median("median_mask_ms")["with"]
    result = dict(runs["with"][-1])
    for key in ("median_fps", "median_latency_ms", "p90_latency_ms", "frames", "camera_frames_dropped",
                "median_cpu_ms_per_frame", "median_mask_ms"):
        result.pop(key, None)
    return {**result, "mask": mask.mode, "repeats": repeats,
            "median_fps_without_mask": round(fps["without"], 2), "median_fps_with_mask": round(fps["with"], 2),
            "median_latency_ms_without_mask": round(latency["without"], 1),
            "median_latency_ms_with_mask": round(latency["with"], 1),
            "mask_cost_percent_of_fps": round(100 * (1 - fps["with"] / fps["without"]), 1) if fps["without"] else None,
            "median_cpu_ms_per_frame_without_mask": cpu["without"], "median_cpu_ms_per_frame_with_mask": cpu["with"],
            "mask_cost_percent_of_cpu": round(100 * (1 - cpu["without"] / cpu["with"]), 1) if cpu["with"] else None,
            "median_mask_ms": mask_ms,
            "mask_share_of_frame_time_percent": round(mask_ms * fps["with"] / 10, 1) if mask_ms and fps["with"] else None,
            "runs_fps": {k: [r["median_fps"] for r in v] for k, v in runs.items()}}


def _random_weights(runtime: RuntimeOptions, folder: Path) -> RuntimeOptions:
    """Random files for every network with a file option; all given, so --model auto chooses as without
    them."""
    from .. import networks
    from ..model import Encoder
    note = {"note": "random, for timing only"}
    files = {kind.option: str(networks.save(networks.random_network(kind, Encoder()),    # the VGG is not saved
                                            folder / f"random-{kind.name}.pt", note))
             for kind in networks.kinds() if kind.option}
    return replace(runtime, **files)


@entry_point("stylecam.live.bench")
def main(argv: list[str] | None = None) -> int:
    p = parser("python -m stylecam.live.bench", __doc__.split("\n")[0], EXAMPLES)
    p.add_argument("--camera", required=True, help="video file (or camera index) to stand in for the camera")
    p.add_argument("-s", "--style", default="monet_water_lilies_1919",
                   help="one style (default monet_water_lilies_1919)")
    p.add_argument("--size", type=listed(longer_side), default=(256, 480), metavar="N,N,...",
                   help="processing sizes, the longer side as for `stylecam live --size` (default 256,480)")
    p.add_argument("--frames", type=number(1, integer=True), default=30,
                   help="frames measured per size (after warm-up)")
    add_smooth_arguments(p)
    add_palette_argument(p)
    p.add_argument("--mask", choices=MODES,
                   help="measure each size with and without this person mask, alternating (see --repeats)")
    p.add_argument("--repeats", type=number(1, integer=True), default=3,
                   help="--mask: runs with and without the mask per size (default 3; medians reported)")
    p.add_argument("--fast-file", action="store_true",
                   help="read the file as fast as the loop takes frames, not at its own rate")
    p.add_argument("--random-decoder", action="store_true",
                   help="random weights for both networks (speed only; no trained files needed)")
    add_runtime_arguments(p)
    args = p.parse_args(argv)
    runtime = runtime_options(args)
    with tempfile.TemporaryDirectory() as tmp:
        if args.random_decoder:
            runtime = _random_weights(runtime, Path(tmp))
        def one(size, mask=MaskOptions()):
            return measure(args.camera, args.style, size, args.frames, runtime, smooth_options(args), args.fast_file,
                           mask, args.palette)
        if args.mask:
            mask = MaskOptions(mode=args.mask)
            results = [with_and_without_mask(lambda m, size=size: one(size, m), mask, args.repeats)
                       for size in args.size]
        else:
            results = [one(size) for size in args.size]
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(json.dumps({"bench": "live loop", "source": args.camera, "style": args.style,
                      "model": args.model, "backend": args.backend, "precision": args.precision,
                      "smooth": args.smooth, "palette": args.palette,
                      "file_rate": "on demand (--fast-file)" if args.fast_file else "the clip's own",
                      "machine": f"{os.cpu_count()}-core {cpu_model()}", "load_average_1min": load and round(load[0], 2),
                      "results": results}, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
