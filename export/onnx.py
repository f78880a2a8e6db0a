"""python -m export.onnx: the frame graph (and optionally the style encoder graph) as ONNX."""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

from stylecam.entry import entry_point
from stylecam.errors import UserError

EXAMPLES = """examples:
  python -m export.onnx -o stylecam.onnx
  python -m export.onnx --decoder runs/mine/decoder.pt -o mine.onnx --style-graph mine_style.onnx
  python -m export.onnx --precision fp16 -o stylecam_fp16.onnx --check photo.jpg
  python -m export.onnx --model lite                     (-> stylecam-lite.onnx, the student)

The frame graph: frame (uint8 H×W×3 BGR, sides multiples of 8; lite: of 4) +
style_mean, style_std (float32 512) + alpha (float32 scalar) -> stylized (uint8
H×W×3 BGR), the same contract for both networks (metadata stylecam.model).
Dynamo exporter, opset 20 (parsed by TensorRT 10). Use it with
  stylecam ... --backend onnxruntime --onnx stylecam.onnx
"""


@dataclass(frozen=True)
class ExportOptions:
    out: Path | None            # None: stylecam.onnx, or stylecam-lite.onnx for the lite network
    style_graph: Path | None
    runtime: object             # stylecam.options.RuntimeOptions: --model, --decoder, --lite
    precision: str
    check: Path | None
    overwrite: bool


def parse(argv: list[str] | None) -> ExportOptions:
    from stylecam.options import RuntimeOptions, add_model_arguments, parser
    p = parser("python -m export.onnx", "Export stylecam's network as one ONNX graph.", EXAMPLES.split("\n", 1)[1])
    p.add_argument("-o", "--out", help="frame graph file (default stylecam.onnx; stylecam-lite.onnx for the lite network)")
    p.add_argument("--style-graph", metavar="PATH", help="also export the style encoder (image -> mean, std) here")
    add_model_arguments(p)
    p.add_argument("--precision", choices=["fp32", "fp16"], default="fp32",
                   help="fp16: convolutions in half precision, AdaIN statistics kept float32 (default fp32)")
    p.add_argument("--check", metavar="IMAGE",
                   help="after export, compare ONNX Runtime with PyTorch on this image and print the difference")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    a = p.parse_args(argv)
    runtime = RuntimeOptions(a.decoder, "torch", "cpu", "fp32", model=a.model, lite=a.lite)
    return ExportOptions(Path(a.out) if a.out else None, Path(a.style_graph) if a.style_graph else None, runtime,
                         a.precision, Path(a.check) if a.check else None, a.overwrite)


def run(opts: ExportOptions) -> int:
    from stylecam.convert import style2onnx, torch2onnx
    from stylecam.graphs import OPSET
    from stylecam.networks import choose_model, graph_stem, load_network
    from stylecam.safeio import atomic_output, check_input_file, check_output_file
    chosen = choose_model(opts.runtime)
    out = opts.out or Path(f"{graph_stem(chosen.kind)}.onnx")
    if out.suffix != ".onnx":
        raise UserError(f"-o {out}: give a file name ending in .onnx")
    check_output_file(out, [], opts.overwrite)
    if opts.style_graph:
        check_output_file(opts.style_graph, [out], opts.overwrite)
    if opts.check:
        check_input_file(opts.check, "--check image")
    model = load_network(opts.runtime, chosen.kind)
    print(chosen.report(), file=sys.stderr)
    t0 = time.perf_counter()
    with atomic_output(out, opts.overwrite) as tmp:     # never replaces a file another run wrote meanwhile
        torch2onnx(model, tmp, opts.precision)
    print(f"wrote {out}  ({out.stat().st_size / 1e6:.1f} MB, {chosen.kind} network, {opts.precision}, "
          f"opset {OPSET}, {time.perf_counter() - t0:.0f} s)")
    if opts.style_graph:
        with atomic_output(opts.style_graph, opts.overwrite) as tmp:
            style2onnx(model, tmp)
        print(f"wrote {opts.style_graph}  ({opts.style_graph.stat().st_size / 1e6:.1f} MB)")
    if opts.check:
        _check(model, out, opts.check)
    print(f"use it with: stylecam image photo.jpg -s STYLE -o out.png --backend onnxruntime --onnx {out}")
    return 0


def _check(model, onnx_path: Path, image: Path) -> None:
    import cv2
    import numpy as np
    import torch

    from stylecam.backends.onnxruntime_backend import OnnxRuntimeBackend
    from stylecam.backends.torch_backend import TorchBackend
    from stylecam.images import read_image, to_tensor
    rgb = read_image(image)
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    mean, std = model.style_stats(to_tensor(rgb))
    ours = OnnxRuntimeBackend(onnx_path).stylize(bgr, mean[0], std[0])
    ref = TorchBackend(model, torch.device("cpu")).stylize(bgr, mean[0], std[0])
    d = np.abs(ours.astype(np.int16) - ref.astype(np.int16))
    print(f"check on {image} ({bgr.shape[1]}×{bgr.shape[0]}, its own style): ONNX Runtime vs PyTorch fp32: "
          f"max {d.max()}, mean {d.mean():.4f} levels of 255")


@entry_point("export.onnx")
def main(argv: list[str] | None = None) -> int:
    return run(parse(argv))


if __name__ == "__main__":
    sys.exit(main())
