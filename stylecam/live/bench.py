"""Frames/s and latency of the whole live loop (capture thread, inference, outputs), headless; prints JSON.

    python -m stylecam.live.bench --camera clip.mp4 --style monet_water_lilies_1919 --sizes 256 480

A video file stands in for the camera and is played at its own frame rate, so
the figures include what a camera adds: waiting for the next frame and
dropping stale ones. Latency is from the moment the capture thread had a
frame to the moment the loop finished showing it. Speed does not depend on
the decoder's weights: ``--random-decoder`` measures before a trained one exists.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from ..entry import entry_point
from ..options import RuntimeOptions, StyleOptions
from ..temporal.smoothing import SmoothOptions
from ..commands.bench import cpu_model
from .loop import LiveOptions, run_live

WARMUP = 3     # first frames: allocation and thread start-up, not the steady state


def measure(camera: str, style: str, size: int, frames: int, runtime: RuntimeOptions, smooth: str) -> dict:
    opts = LiveOptions(camera, None, False, size, False, frames + WARMUP, (), Path(tempfile.gettempdir()),
                       SmoothOptions(smooth), StyleOptions((style,), None, 1.0, None), runtime)
    shape = {}

    def after_warmup(loop):
        shape["backend"] = loop.backend.describe()
        shape["frame"] = "×".join(map(str, loop.processed_size))
        if loop.summary.frames == WARMUP:
            loop.summary.intervals.clear()
            loop.summary.latencies.clear()
            shape["dropped_before"] = loop.summary.dropped

    summary = run_live(opts, on_frame=after_warmup)
    lat = sorted(summary.latencies)
    return {"size": size, "processed": shape.get("frame"), "backend_used": shape.get("backend"), "frames": len(lat), "median_fps": round(summary.median_fps(), 2),
            "median_latency_ms": round(summary.median_latency_ms(), 1),
            "p90_latency_ms": round(1000 * lat[int(0.9 * (len(lat) - 1))], 1) if lat else None,
            "camera_frames_dropped": summary.dropped - shape.get("dropped_before", 0)}


@entry_point("stylecam.live.bench")
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m stylecam.live.bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--camera", required=True, help="video file (or camera index) to stand in for the camera")
    p.add_argument("--style", default="monet_water_lilies_1919")
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 480], help="processing sizes (longer side)")
    p.add_argument("--frames", type=int, default=30, help="frames measured per size (after warm-up)")
    p.add_argument("--backend", default="auto")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="auto")
    p.add_argument("--smooth", default="off")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--decoder")
    g.add_argument("--random-decoder", action="store_true", help="a random decoder (speed only)")
    args = p.parse_args(argv)
    decoder = args.decoder
    with tempfile.TemporaryDirectory() as tmp:
        if args.random_decoder:
            from ..loading import save_decoder
            from ..model import Decoder
            decoder = save_decoder(Decoder(), Path(tmp) / "random.pt", {"note": "random, for timing only"})
        runtime = RuntimeOptions(str(decoder) if decoder else None, args.backend, args.device, args.precision)
        results = [measure(args.camera, args.style, size, args.frames, runtime, args.smooth) for size in args.sizes]
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(json.dumps({"bench": "live loop", "source": args.camera, "style": args.style,
                      "backend": args.backend, "smooth": args.smooth,
                      "machine": f"{os.cpu_count()}-core {cpu_model()}", "load_average_1min": load and round(load[0], 2),
                      "results": results}, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
