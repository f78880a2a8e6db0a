"""End-to-end check and throughput of `stylecam video` on a generated clip; prints JSON.

    python scripts/video_check.py --width 1280 --height 720 --seconds 5 --device cuda
    python scripts/video_check.py --width 96 --height 64 --seconds 1       (CPU dry run)

Writes a clip (moving pattern, sine audio) to a temporary folder, stylizes it
with each --smooth mode, and checks the output's frame count, duration and
audio with PyAV. Uses assets/decoder.pt, or a random decoder if there is none
(speed does not depend on the weights).
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))   # the clip generator

import numpy as np   # noqa: E402
import torch         # noqa: E402

from clips import make_clip                              # noqa: E402
from stylecam.cli import main as stylecam                # noqa: E402
from stylecam.loading import default_decoder_path, save_decoder   # noqa: E402
from stylecam.model import Decoder                       # noqa: E402
from stylecam.video.io import inspect                     # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--height", type=int, default=720)
    p.add_argument("--seconds", type=float, default=5)
    p.add_argument("--fps", type=int, default=24)
    p.add_argument("--device", default="auto")
    p.add_argument("--backend", default="auto")
    p.add_argument("--smooth", nargs="+", default=["off", "flow", "both"])
    p.add_argument("--batch", type=int, default=4)
    a = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="stylecam-video-check-"))
    decoder = default_decoder_path()
    if not decoder.is_file():
        torch.manual_seed(0)
        decoder = save_decoder(Decoder(), tmp / "decoder.pt", {"note": "random, for speed only"})
    frames = int(a.seconds * a.fps)
    src = tmp / "clip.mp4"
    make_clip(src, a.width, a.height, frames=frames, fps=a.fps, rate=48000)
    style = tmp / "style.png"
    import cv2
    rng = np.random.default_rng(0)
    cv2.imwrite(str(style), cv2.resize(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8), (256, 256)))
    results = {"clip": f"{a.width}x{a.height} {a.fps} fps {frames} frames", "decoder": str(decoder), "runs": []}
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
    print(json.dumps(results, indent=2))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0 if all(r.get("ok") for r in results["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
