"""A test clip with a person in it: scikit-image's public-domain astronaut, slowly panned and zoomed.

    python scripts/astronaut_clip.py /tmp/astronaut.mp4 --size 640x480 --seconds 4

For the person-mask benchmark (python -m stylecam.live.bench --camera /tmp/astronaut.mp4 --mask
background; docs/masks.md): a frame with nobody in it would flatter the mask, whose composite is
skipped on an empty mask.
"""
from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import skimage.data

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from stylecam.entry import entry_point     # noqa: E402
from stylecam.options import frame_size, number, parser   # noqa: E402

EXAMPLES = """  python scripts/astronaut_clip.py /tmp/astronaut.mp4
  python scripts/astronaut_clip.py /tmp/wide.mp4 --size 1280x720 --seconds 10 --fps 30
"""


def frames(w: int, h: int, n: int):
    """n BGR frames of (w, h): a window over the astronaut drifting right and zooming in a little."""
    src = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
    side = src.shape[0]
    for i in range(n):
        t = i / max(1, n - 1)
        crop_h = int(side * (0.95 - 0.1 * t))
        crop_w = min(side, int(crop_h * w / h))
        x0 = int((side - crop_w) * t)
        y0 = (side - crop_h) // 2
        yield cv2.resize(src[y0:y0 + crop_h, x0:x0 + crop_w], (w, h), interpolation=cv2.INTER_LINEAR)


@entry_point("astronaut_clip")
def main(argv=None) -> int:
    p = parser("python scripts/astronaut_clip.py", __doc__, EXAMPLES)
    p.add_argument("out", type=Path, help="the clip to write (.mp4)")
    p.add_argument("--size", type=frame_size, default=(640, 480), metavar="WxH", help="frame size (default 640x480)")
    p.add_argument("--seconds", type=number(0, 600, above=True), default=4.0, help="length (default 4)")
    p.add_argument("--fps", type=number(1, 240, integer=True), default=20, help="frame rate (default 20)")
    args = p.parse_args(argv)
    w, h = args.size
    with av.open(str(args.out), "w") as out:
        stream = out.add_stream("libx264", rate=args.fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for i, img in enumerate(frames(w, h, round(args.seconds * args.fps))):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="bgr24")
            frame.pts, frame.time_base = i, Fraction(1, args.fps)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
