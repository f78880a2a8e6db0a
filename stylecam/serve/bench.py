"""Frames/s and latency of the served page, next to the live window's loop on the same clip; prints JSON.

    python -m stylecam.serve.bench --camera clip.mp4 --model lite --size 480

The clip becomes headless Chromium's fake camera (a .y4m at the clip's own rate);
`stylecam serve` runs as it would for a user, and the page's own figures are read:
frames/s from the intervals between stylized frames drawn, latency from the moment
the page grabbed a camera frame to the moment its stylized frame was drawn (JPEG
both ways, the socket, the server's decode and inference included). The same .y4m
also runs through `python -m stylecam.live.bench`'s loop (capture thread ->
inference -> shown) for the window's figures, the two alternated --repeat times. Browser, server and network share
this machine's cores, as they do when a laptop serves its own camera.
"""
from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..entry import entry_point
from ..errors import UserError
from ..images import resize_longer
from ..options import add_runtime_arguments, longer_side, number, parser, runtime_options
from ..commands.bench import cpu_model
from ..temporal.smoothing import SmoothOptions
from .chromium import Chromium, find_chromium, write_y4m

EXAMPLES = """  python -m stylecam.serve.bench --camera clip.mp4 --model lite --size 480
  python -m stylecam.serve.bench --camera clip.mp4 --model lite --size 480 --frames 100 --random-decoder
"""
WARMUP = 5          # first frames: thumbnails, allocation, the socket's start
CAMERA_SIDE = 640   # the fake camera's longer side: a webcam's usual 640×480 class


def clip_to_y4m(video: Path, out: Path, seconds: float) -> tuple[Path, int]:
    """The first ``seconds`` of a clip (at most CAMERA_SIDE, even sides) as the fake camera's .y4m; returns it and its rate."""
    import av
    frames, rate = [], 20
    try:
        with av.open(str(video)) as src:
            stream = src.streams.video[0]
            rate = round(float(stream.average_rate or 20))
            for frame in src.decode(stream):
                rgb = resize_longer(frame.to_ndarray(format="rgb24"), CAMERA_SIDE)
                frames.append(rgb[: rgb.shape[0] // 2 * 2, : rgb.shape[1] // 2 * 2])
                if len(frames) >= seconds * rate:
                    break
    except av.error.FFmpegError as e:
        raise UserError(f"--camera {video}: cannot read it as a video ({e})") from None
    if not frames:
        raise UserError(f"--camera {video}: no video frames")
    return write_y4m(frames, out, rate), rate


def page_figures(browser: Chromium, frames: int, timeout: float) -> dict:
    browser.wait_for(f"window.stylecam && stylecam.stats.frames >= {WARMUP}", timeout)
    start = browser.evaluate("stylecam.stats.frames")
    sent0 = browser.evaluate("stylecam.stats.sent")
    browser.wait_for(f"stylecam.stats.frames >= {start + frames}", timeout)
    s = browser.evaluate(f"({{i: stylecam.stats.intervals.slice(-{frames}), l: stylecam.stats.latencies.slice(-{frames}),"
                         f" sent: stylecam.stats.sent, hud: stylecam.stats.hud, errors: stylecam.stats.errors}})")
    lat = sorted(s["l"])
    return {"frames": len(s["i"]), "median_fps": round(1000 / statistics.median(s["i"]), 2),
            "median_latency_ms": round(statistics.median(lat), 1), "p90_latency_ms": round(lat[int(0.9 * (len(lat) - 1))], 1),
            "camera_frames_sent": s["sent"] - sent0, "server_dropped_total": s["hud"]["dropped"],
            "server_ms_last": s["hud"]["server_ms"], "processed": "×".join(map(str, s["hud"]["size"])),
            "model_used": s["hud"]["model"], "backend_used": s["hud"]["backend"], "page_errors": s["errors"]}


def serve_figures(clip: Path, args, extra: list[str]) -> dict:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "stylecam", "serve", "--port", str(port), "--size", str(args.size),
           "-s", args.style, *extra]
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        if "serving on" not in server.stdout.readline():
            raise UserError(f"stylecam serve did not start: {' '.join(cmd)}")
        with Chromium(f"http://127.0.0.1:{port}/", clip) as browser:
            return page_figures(browser, args.frames, args.timeout)
    finally:
        server.terminate()
        server.wait(30)


def _runtime_args(runtime) -> list[str]:
    """The runtime options again as `stylecam serve` arguments (the networks' file options included)."""
    from .. import networks
    out = ["--model", runtime.model, "--backend", runtime.backend, "--device", runtime.device,
           "--precision", runtime.precision]
    for name in ("onnx", "engine", *(kind.option for kind in networks.kinds() if kind.option)):
        if getattr(runtime, name):
            out += [f"--{name}", getattr(runtime, name)]
    return out


@entry_point("stylecam.serve.bench")
def main(argv: list[str] | None = None) -> int:
    p = parser("python -m stylecam.serve.bench", __doc__.split("\n")[0], EXAMPLES)
    p.add_argument("--camera", required=True, help="video file to stand in for the camera")
    p.add_argument("-s", "--style", default="monet_water_lilies_1919", help="one style (default monet_water_lilies_1919)")
    p.add_argument("--size", type=longer_side, default=480, help="processing size, the longer side (default 480)")
    p.add_argument("--frames", type=number(5, integer=True), default=60, help="frames measured (after warm-up)")
    p.add_argument("--seconds", type=number(1, 60), default=10, help="length of the fake camera's loop (default 10)")
    p.add_argument("--timeout", type=number(10), default=300, help="seconds to wait for the page's frames")
    p.add_argument("--repeat", type=number(1, integer=True), default=2,
                   help="window, page, window, page ...: pairs measured (default 2; medians reported)")
    p.add_argument("--random-decoder", action="store_true", help="random weights for both networks (speed only)")
    add_runtime_arguments(p)
    args = p.parse_args(argv)
    if find_chromium() is None:
        raise UserError("no Chromium found (Debian: apt-get install chromium)")
    from ..live.bench import _random_weights, measure
    with tempfile.TemporaryDirectory() as tmp:
        runtime = runtime_options(args)
        if args.random_decoder:
            runtime = _random_weights(runtime, Path(tmp))
        clip, rate = clip_to_y4m(Path(args.camera), Path(tmp) / "camera.y4m", args.seconds)
        t0 = time.perf_counter()
        runs = []
        for _ in range(args.repeat):      # alternated, so a change in the machine's load hits both
            load = os.getloadavg()[0]
            window = measure(str(clip), args.style, args.size, args.frames, runtime, SmoothOptions())
            served = serve_figures(clip, args, _runtime_args(runtime))
            runs.append({"load_average_1min": round(load, 2), "live_window_loop": window, "served_page": served})
    fps = {k: statistics.median(r[k]["median_fps"] for r in runs) for k in ("served_page", "live_window_loop")}
    latency = {k: statistics.median(r[k]["median_latency_ms"] for r in runs) for k in ("served_page", "live_window_loop")}
    ratio = fps["served_page"] / fps["live_window_loop"] if fps["live_window_loop"] else None
    print(json.dumps({"bench": "served page vs live window loop", "source": args.camera, "camera_rate": rate,
                      "style": args.style, "size": args.size, "model": args.model, "backend": args.backend,
                      "machine": f"{os.cpu_count()}-core {cpu_model()}", "seconds": round(time.perf_counter() - t0),
                      "median_fps": fps, "median_latency_ms": latency,
                      "page_fps_over_window_fps": ratio and round(ratio, 3), "runs": runs},
                     indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
