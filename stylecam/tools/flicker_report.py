"""The flicker table: per-frame AdaIN against each cure, on the first seconds of a video.

    python -m stylecam.tools.flicker_report VIDEO --style PAINTING.jpg [--seconds 3] [--size 384] [--backend B]
    python -m stylecam.tools.flicker_report VIDEO --style PAINTING.jpg --model lite     (the student's flicker)

For every variant: the warping error (flow named), its change against per-frame,
the mean/std style loss against the painting and its change, the content loss.
Target: warping error ≥ 40 % lower with style loss ≤ 10 % worse.
Every variant runs on the chosen network (``--model``, default auto: the full one) and backend
(``--backend``, default auto).
Prints a table on stderr and the JSON on stdout (``--json FILE`` writes it too).
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..entry import entry_point
from ..errors import UserError
from ..temporal.flicker import StyleLoss, WarpingError
from ..images import read_image, resize_longer
from ..options import RuntimeOptions, add_runtime_arguments, listed, longer_side, number, parser, runtime_options
from ..safeio import atomic_output, check_input_file, check_output_file, make_folder, write_json
from ..session import open_session
from ..temporal.smoothing import FlowBlending, SmoothOptions, TemporalSmoother
from ..video.io import Frame, VideoWriter, output_size, probe, read_frames

EXAMPLES = """  python -m stylecam.tools.flicker_report clip.mp4 -s painting.jpg --seconds 3 --size 384
  python -m stylecam.tools.flicker_report clip.mp4 -s painting.jpg --flow-weight 0.5,0.75,0.9 \\
      --smooth-momentum 0.8,0.9 --json flicker.json --save variants/
"""


@dataclass(frozen=True)
class ReportOptions:
    video: Path
    style: Path
    seconds: float
    size: int
    momenta: tuple[float, ...]
    flow_weights: tuple[float, ...]
    alpha: float
    json_out: Path | None
    overwrite: bool
    save: Path | None                 # folder for one video per variant, to look at
    runtime: RuntimeOptions


def parse(argv=None) -> ReportOptions:
    d = SmoothOptions()
    p = parser("python -m stylecam.tools.flicker_report", __doc__, EXAMPLES)
    p.add_argument("video")
    p.add_argument("-s", "--style", required=True, help="style image (the style loss needs the image)")
    p.add_argument("--seconds", type=number(0, above=True), default=3.0, help="first N seconds (default 3)")
    p.add_argument("--size", type=longer_side, default=384, help="longer side in pixels (default 384)")
    p.add_argument("--smooth-momentum", type=listed(number()), default=(d.stats_momentum,), metavar="M,M,...",
                   help=f"--smooth stats: the momenta to try (default {d.stats_momentum})")
    p.add_argument("--flow-weight", type=listed(number()), default=(d.flow_weight,), metavar="W,W,...",
                   help=f"--smooth flow, both, features: the weights to try (default {d.flow_weight})")
    p.add_argument("--alpha", type=number(0, 1), default=1.0, help="style strength in [0, 1] (default 1)")
    p.add_argument("--json", dest="json_out", metavar="FILE", help="also write the JSON here")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file and --save videos")
    p.add_argument("--save", metavar="FOLDER", help="also write each variant as a video here, to look at")
    add_runtime_arguments(p)
    a = p.parse_args(argv)
    for m in a.smooth_momentum:                  # each value checked before any work
        SmoothOptions("stats", stats_momentum=m)
    for w in a.flow_weight:
        SmoothOptions("flow", flow_weight=w)
    video = check_input_file(a.video, "video")
    style = check_style_image(a.style)
    json_out = check_output_file(a.json_out, [video], a.overwrite) if a.json_out else None
    save = Path(a.save) if a.save else None
    if save and save.exists() and not save.is_dir():
        raise UserError(f"--save {save}: a file, not a folder")
    if save and save.is_dir() and any(save.glob("*.mp4")) and not a.overwrite:
        raise UserError(f"--save {save} holds videos already; pass --overwrite to replace them, or name a new folder")
    return ReportOptions(video, style, a.seconds, a.size, a.smooth_momentum, a.flow_weight, a.alpha,
                         json_out, a.overwrite, save, runtime_options(a))


def check_style_image(spec: str) -> Path:
    """The style loss compares every layer's statistics (relu1_1–relu4_1) with the painting's, so it
    needs the image: a built-in style holds only the relu4_1 statistics the network uses."""
    from ..styles import load_bank
    if not Path(spec).exists() and spec in load_bank():
        raise UserError(f"-s {spec} is a built-in style, which holds only the statistics the network uses; "
                        "the style loss needs the painting itself: pass its image file")
    return check_input_file(spec, "style image")


def stylize_all(smoother: TemporalSmoother, frames: list[np.ndarray], mean, std, alpha, batch=4):
    smoother.reset()
    out = []
    for i in range(0, len(frames), batch):
        out.extend(smoother.process_batch(np.stack(frames[i:i + batch]), mean, std, alpha))
    return out


def blend_all(frames, stylized, weight):
    blend = FlowBlending(weight)
    return [blend(c, s) for c, s in zip(frames, stylized)]


def save_variants(folder: Path, info, size, variants: dict, overwrite: bool) -> None:
    make_folder(folder)
    for name, frames in variants.items():
        path = folder / ("".join(c if c.isalnum() else "_" for c in name).strip("_") + ".mp4")
        with atomic_output(path, overwrite) as tmp:
            w = VideoWriter(tmp, str(path), info, size, audio=False)
            for i, f in enumerate(frames):
                w.write_frame(f, int(round(i / (info.fps * info.time_base))))
            w.close()
        print(f"saved {path}", file=sys.stderr)


def measure(loss: StyleLoss, frames, stylized) -> dict:
    warp = WarpingError()
    loss.reset()
    for i, (c, s) in enumerate(zip(frames, stylized)):
        warp.add(c, s)
        if i % 2 == 0:            # every other frame: the loss is an average, halves the encoder work
            loss.add(c[None], s[None])
    w = warp.result()
    return {"warping_error": w["warping_error"], "reliable_pixels": w["reliable_pixels"], **loss.result()}


def run(opts: ReportOptions) -> dict:
    info = probe(opts.video)
    size = output_size(info, opts.size)
    frames = [f.bgr for f in read_frames(info, size, 0, opts.seconds, audio=False) if isinstance(f, Frame)]
    if len(frames) < 2:
        raise UserError(f"{opts.video}: {len(frames)} frame in the first {opts.seconds:g} s; the warping error "
                        "compares consecutive frames: give a video of at least 2 frames")
    session = open_session(opts.runtime, quiet=True, split=True, stream=True)
    style = session.library.resolve(str(opts.style))[0]
    style_rgb = resize_longer(read_image(opts.style), session.library.config.style_size)
    backend = session.backend
    t0 = time.perf_counter()
    per_frame = stylize_all(TemporalSmoother(backend), frames, style.mean, style.std, opts.alpha)
    seconds_per_frame = (time.perf_counter() - t0) / len(frames)
    print(f"{len(frames)} frames at {size[0]}×{size[1]}: per-frame stylization {seconds_per_frame:.2f} s/frame; "
          f"now the cures, then the measures", file=sys.stderr)
    variants = {"per-frame": per_frame}
    for m in opts.momenta:
        sm = TemporalSmoother(backend, SmoothOptions("stats", stats_momentum=m))
        variants[f"stats (momentum {m:g})"] = stats = stylize_all(sm, frames, style.mean, style.std, opts.alpha)
        for w in opts.flow_weights:
            variants[f"both (momentum {m:g}, weight {w:g})"] = blend_all(frames, stats, w)
    for w in opts.flow_weights:
        variants[f"flow (weight {w:g})"] = blend_all(frames, per_frame, w)
    for w in opts.flow_weights:
        sm = TemporalSmoother(backend, SmoothOptions("features", flow_weight=w))
        variants[f"features (weight {w:g})"] = stylize_all(sm, frames, style.mean, style.std, opts.alpha)
    if opts.save:
        save_variants(opts.save, info, size, variants, opts.overwrite)
    rows, loss = {}, StyleLoss(session.library.encoder, style_rgb)
    for name, out in variants.items():
        rows[name] = measure(loss, frames, out)
        print(f"measured {name}: warping error {rows[name]['warping_error']:.4g}", file=sys.stderr)
    base = rows["per-frame"]
    for r in rows.values():
        r["warping_error_change"] = r["warping_error"] / base["warping_error"] - 1
        r["style_loss_change"] = r["style_loss"] / base["style_loss"] - 1
        r["meets_target"] = r["warping_error_change"] <= -0.40 and r["style_loss_change"] <= 0.10
    from ..temporal.flow import FLOW_METHOD
    from ..loading import decoder_meta
    from ..networks import get
    from ..networks.choice import file_for
    kind = session.model.kind
    weights = file_for(opts.runtime, get(kind))
    return {"video": str(opts.video), "style": str(opts.style), "frames": len(frames),
            "size": f"{size[0]}x{size[1]}", "seconds": opts.seconds, "alpha": opts.alpha, "model": kind,
            "weights": weights or f"assets/{get(kind).asset}",
            "weights_meta": decoder_meta(weights) if weights else {},
            "flow": FLOW_METHOD, "backend": backend.describe(),
            "per_frame_seconds": round(seconds_per_frame, 3), "variants": rows}


def table(report: dict) -> str:
    lines = [f"{report['video']} — first {report['frames']} frames at {report['size']}, style "
             f"{Path(report['style']).name}, {report['model']} network {report['weights']}",
             f"warping error: {report['flow']}; style loss: mean/std at relu1_1–relu4_1",
             "", f"{'variant':<34} {'warp err':>10} {'Δ':>7} {'style loss':>11} {'Δ':>7} {'content':>9}  target"]
    for name, r in report["variants"].items():
        lines.append(f"{name:<34} {r['warping_error']:>10.3g} {100 * r['warping_error_change']:>+6.1f}% "
                     f"{r['style_loss']:>11.4g} {100 * r['style_loss_change']:>+6.1f}% {r['content_loss']:>9.4g}  "
                     f"{'yes' if r['meets_target'] else 'no'}")
    return "\n".join(lines)


@entry_point("stylecam.tools.flicker_report")
def main(argv=None) -> int:
    opts = parse(argv)
    report = run(opts)
    print(table(report), file=sys.stderr)
    print(json.dumps(report, indent=2))
    if opts.json_out:
        write_json(opts.json_out, report, opts.overwrite)
    return 0


if __name__ == "__main__":
    cv2.setNumThreads(2)
    sys.exit(main())
