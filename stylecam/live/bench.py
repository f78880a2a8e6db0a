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
random ones of both networks, before trained ones exist.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from ..entry import entry_point
from ..options import (RuntimeOptions, StyleOptions, add_runtime_arguments, add_smooth_arguments, listed,
                       longer_side, number, parser, runtime_options, smooth_options)
from ..temporal.smoothing import SmoothOptions
from ..commands.bench import cpu_model
from .loop import LiveOptions, run_live

EXAMPLES = """  python -m stylecam.live.bench --camera clip.mp4 --size 256,480 --frames 20 --random-decoder
  python -m stylecam.live.bench --camera clip.mp4 --model lite --fast-file --size 480,640
  python -m stylecam.live.bench --camera clip.mp4 -s picabia_udnie --backend torch
"""
WARMUP = 3     # first frames: allocation and thread start-up, not the steady state


def measure(camera: str, style: str, size: int, frames: int, runtime: RuntimeOptions,
            smooth: SmoothOptions, fast_file: bool = False) -> dict:
    opts = LiveOptions(camera=camera, camera_size=None, once=False, size=size, window=False,
                       max_frames=frames + WARMUP, keys=(), out_dir=Path(tempfile.gettempdir()), smooth=smooth,
                       style=StyleOptions((style,), None, 1.0, None), runtime=runtime, fast_file=fast_file)
    shape = {}

    def after_warmup(loop):
        shape["backend"] = loop.backend.describe()
        shape["model"] = loop.model
        shape["frame"] = "×".join(map(str, loop.processed_size))
        if loop.summary.frames == WARMUP:
            loop.summary.intervals.clear()
            loop.summary.latencies.clear()
            shape["dropped_before"] = loop.summary.dropped

    summary = run_live(opts, on_frame=after_warmup)
    lat = sorted(summary.latencies)
    return {"size": size, "processed": shape.get("frame"), "model_used": shape.get("model"),
            "backend_used": shape.get("backend"), "frames": len(lat), "median_fps": round(summary.median_fps(), 2),
            "median_latency_ms": round(summary.median_latency_ms(), 1),
            "p90_latency_ms": round(1000 * lat[int(0.9 * (len(lat) - 1))], 1) if lat else None,
            "camera_frames_dropped": summary.dropped - shape.get("dropped_before", 0)}


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
        results = [measure(args.camera, args.style, size, args.frames, runtime, smooth_options(args), args.fast_file) for size in args.size]
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(json.dumps({"bench": "live loop", "source": args.camera, "style": args.style,
                      "model": args.model, "backend": args.backend, "precision": args.precision,
                      "smooth": args.smooth,
                      "file_rate": "on demand (--fast-file)" if args.fast_file else "the clip's own",
                      "machine": f"{os.cpu_count()}-core {cpu_model()}", "load_average_1min": load and round(load[0], 2),
                      "results": results}, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
