"""docs/serve.md's screenshot: the real page in headless Chromium, scikit-image's astronaut as the camera.

The page is given a few frames, split view switched on, then the browser's own screenshot
is taken, scaled down and reduced to 256 colours.
"""
from __future__ import annotations

import shlex
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))      # stylecam, when run as a script

import cv2           # noqa: E402
import numpy as np   # noqa: E402

from stylecam.entry import entry_point                    # noqa: E402
from stylecam.errors import UserError                     # noqa: E402
from stylecam.options import number, parser               # noqa: E402
from stylecam.safeio import atomic_output                 # noqa: E402
from stylecam.serve.chromium import Chromium, write_y4m   # noqa: E402

EXAMPLES = """  python scripts/serve_screenshot.py -o docs/images/serve.png --serve-args "--model lite -s picabia_udnie -s monet_water_lilies_1919"
"""


@entry_point("python scripts/serve_screenshot.py")
def main(argv: list[str] | None = None) -> int:
    p = parser("python scripts/serve_screenshot.py", __doc__.split("\n")[0], EXAMPLES)
    p.add_argument("-o", "--out", default="docs/images/serve.png", help="the PNG to write (default docs/images/serve.png)")
    p.add_argument("--width", type=number(320, 4000, integer=True), default=960, help="width of the saved image")
    p.add_argument("--serve-args", default="", help="options for `stylecam serve`, one quoted string")
    args = p.parse_args(argv)
    extra = shlex.split(args.serve_args)
    import skimage.data
    camera = skimage.data.astronaut()[64:448]                          # 512×384: a webcam's 4:3
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "stylecam", "serve", "--port", str(port), *extra],
                              stdout=subprocess.PIPE, text=True)
    try:
        if "serving on" not in server.stdout.readline():
            raise UserError(f"stylecam serve {args.serve_args} did not start (see above)")
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
    with atomic_output(Path(args.out)) as tmp:
        small.save(tmp, format="PNG", optimize=True)
    print(f"wrote {args.out} ({img.shape[1]}×{img.shape[0]}, {Path(args.out).stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
