"""End-to-end check and throughput of `stylecam video` on a generated clip; prints JSON.

Writes a clip (moving pattern, sine audio) to a temporary folder, stylizes it
with each --smooth mode, and checks the output's frame count, duration and
audio with PyAV. Uses assets/decoder.pt, or a random decoder if there is none
(speed does not depend on the weights). Exit status 1 if a check fails.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))            # export, when run as a script
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))   # the clip generator

import cv2           # noqa: E402
import numpy as np   # noqa: E402

from clips import make_clip                                   # noqa: E402
from export.random_weights import random_decoder              # noqa: E402
from stylecam.cli import main as stylecam                     # noqa: E402
from stylecam.entry import entry_point                        # noqa: E402
from stylecam.loading import default_decoder_path, save_decoder   # noqa: E402
from stylecam.options import frame_size, listed, number, parser   # noqa: E402
from stylecam.temporal.smoothing import MODES                 # noqa: E402
from stylecam.video.io import inspect                         # noqa: E402

EXAMPLES = """  python scripts/video_check.py --frame-size 1280x720 --seconds 5 --device cuda
  python scripts/video_check.py --frame-size 96x64 --seconds 1       (CPU dry run)
"""


def smooth_mode(text: str) -> str:
    if text not in MODES:
        raise argparse.ArgumentTypeError(f"{text}: choose from {', '.join(MODES)}")
    return text


@entry_point("video_check")
def main(argv: list[str] | None = None) -> int:
    p = parser("python scripts/video_check.py", __doc__, EXAMPLES)
    p.add_argument("--frame-size", type=frame_size, default="1280x720", metavar="WxH",
                   help="clip size (default 1280x720)")
    p.add_argument("--seconds", type=number(0, above=True), default=5.0)
    p.add_argument("--fps", type=number(1, 240, integer=True), default=24)
    p.add_argument("--device", default="auto")
    p.add_argument("--backend", default="auto")
    p.add_argument("--smooth", type=listed(smooth_mode), default="off,flow,both", metavar="MODE,MODE,...")
    p.add_argument("--batch", type=number(1, integer=True), default=4)
    a = p.parse_args(argv)
    width, height = a.frame_size
    tmp = Path(tempfile.mkdtemp(prefix="stylecam-video-check-"))
    try:
        decoder = default_decoder_path()
        if not decoder.is_file():
            decoder = save_decoder(random_decoder(), tmp / "decoder.pt", {"note": "random, for speed only"})
        frames = int(a.seconds * a.fps)
        src = tmp / "clip.mp4"
        make_clip(src, width, height, frames=frames, fps=a.fps, rate=48000)
        style = tmp / "style.png"
        rng = np.random.default_rng(0)
        cv2.imwrite(str(style), cv2.resize(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8), (256, 256)))
        results = {"clip": f"{width}x{height} {a.fps} fps {frames} frames", "decoder": str(decoder), "runs": []}
        src_audio = next(s for s in inspect(src)["streams"] if s["type"] == "audio")
        for mode in a.smooth:
            out = tmp / f"out_{mode}.mp4"
            t0 = time.perf_counter()
            with contextlib.redirect_stdout(sys.stderr):     # keep stdout for the JSON
                rc = stylecam(["video", str(src), "-s", str(style), "-o", str(out), "--decoder", str(decoder),
                               "--device", a.device, "--backend", a.backend, "--smooth", mode,
                               "--batch", str(a.batch)])
            seconds = time.perf_counter() - t0
            run = {"smooth": mode, "rc": rc, "seconds_total": round(seconds, 2),
                   "frames_per_s_incl_startup": round(frames / seconds, 2)}
            if rc == 0:
                info = inspect(out)
                v = next(s for s in info["streams"] if s["type"] == "video")
                au = [s for s in info["streams"] if s["type"] == "audio"]
                run.update(frames=v["packets"], duration=v["duration"], audio=bool(au),
                           ok=(v["packets"] == frames and abs(v["duration"] - frames / a.fps) < 0.01
                               and bool(au) and au[0]["packets"] == src_audio["packets"]))
            results["runs"].append(run)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(results, indent=2))
    return 0 if all(r.get("ok") for r in results["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
