"""docs/serve.md's screenshot: the real page in headless Chromium, scikit-image's astronaut as the camera.

    python scripts/serve_screenshot.py -o docs/images/serve.png -- --model lite -s picabia_udnie

Arguments after ``--`` go to ``stylecam serve``. The page is given a few frames, the blend
and split view switched on, then the browser's own screenshot is taken and scaled down.
"""
from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))      # stylecam, when run as a script

import cv2           # noqa: E402
import numpy as np   # noqa: E402

from stylecam.serve.chromium import Chromium, write_y4m   # noqa: E402


def main() -> int:
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-o", "--out", default="docs/images/serve.png")
    p.add_argument("--width", type=int, default=960, help="width of the saved image")
    args = p.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    import skimage.data
    camera = skimage.data.astronaut()[64:448]                          # 512×384: a webcam's 4:3
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "stylecam", "serve", "--port", str(port), *extra],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert "serving on" in server.stdout.readline()
        with tempfile.TemporaryDirectory() as tmp:
            clip = write_y4m([camera] * 10, Path(tmp) / "camera.y4m")
            with Chromium(f"http://127.0.0.1:{port}/", clip, window=(1200, 700)) as b:
                b.call("Emulation.setDeviceMetricsOverride", width=1200, height=700, deviceScaleFactor=1, mobile=False)
                b.wait_for("window.stylecam && stylecam.stats.frames >= 10", 120)
                b.evaluate("stylecam.send({set: {split: true}})")
                b.wait_for("stylecam.stats.hud.state.split", 30)
                n = b.evaluate("stylecam.stats.frames")
                b.wait_for(f"stylecam.stats.frames >= {n + 20}", 120)     # thumbnails loaded, figures settled
                png = b.screenshot()
    finally:
        server.terminate()
        server.wait(30)
    from PIL import Image
    img = cv2.cvtColor(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    h, w = img.shape[:2]
    img = cv2.resize(img, (args.width, round(h * args.width / w)), interpolation=cv2.INTER_AREA)
    small = Image.fromarray(img).quantize(colors=256, method=Image.Quantize.MEDIANCUT)   # a docs image: ~200 KB
    small.save(args.out, optimize=True)
    print(f"wrote {args.out} ({img.shape[1]}×{img.shape[0]}, {Path(args.out).stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
