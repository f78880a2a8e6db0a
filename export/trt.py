"""python -m export.trt: a TensorRT engine from the ONNX frame graph (stylecam.tensorrt_build)."""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

from stylecam.entry import entry_point
from stylecam.errors import UserError

EXAMPLES = """  python -m export.onnx --precision fp16 -o stylecam_fp16.onnx
  python -m export.trt --onnx stylecam_fp16.onnx -o stylecam.engine
  python -m export.trt --onnx stylecam_fp16.onnx --min 16x16 --opt 1280x720 --max 3840x2160 -o uhd.engine
  python -m export.onnx --model lite --precision fp16 -o stylecam-lite.onnx
  python -m export.trt --model lite                  (stylecam-lite.onnx -> stylecam-lite.engine)

The network is strongly typed: the engine computes in the graph's own types, so
the FP16 graph gives an FP16 engine whose uint8 conversions and AdaIN statistics
stay FP32, as the graph's Casts say (--fp16 / --fp32 only check which graph it is).
Needs TensorRT 10.x. Sizes are WxH (width x height) as everywhere in stylecam,
multiples of 8, at least 16; the engine's profile is stored and printed in
TensorRT's order, H×W. Frames outside [min, max] are refused with a message
naming the profile and the --min/--max that would cover them. The timing cache
(default: beside the engine, one file per TensorRT version and GPU) makes
rebuilds fast. The engine only runs on the same GPU model and TensorRT version:
a JSON beside it records both. --model full|lite names the network: the
default graph and engine names follow it, and a graph of the other network is
refused (without --model, the graph's network is built). An existing engine is replaced only with
--overwrite, also one that another run wrote while this one was building.
"""


@dataclass(frozen=True)
class EngineOptions:
    onnx: Path
    out: Path
    model: str | None           # None: whichever network the graph holds
    precision: str
    profile: object             # stylecam.tensorrt_build.Profile
    timing_cache: Path          # a file, or a folder for the per-version/GPU file
    workspace_gib: float
    overwrite: bool


def _hw(size: tuple[int, int]) -> tuple[int, int]:
    """(W, H) as the command line gives it -> (H, W), the profile's (TensorRT's) order."""
    w, h = size
    return h, w


def parse(argv: list[str] | None) -> EngineOptions:
    from stylecam.options import frame_size, number, parser
    from stylecam.tensorrt_build import Profile
    p = parser("python -m export.trt", "Build a TensorRT engine from stylecam's ONNX graph.", EXAMPLES)
    from stylecam.networks import graph_stem, names
    p.add_argument("--model", choices=names(),
                   help="the network the graph must hold (default: the graph's own)")
    p.add_argument("--onnx", help="frame graph from python -m export.onnx "
                                  "(default stylecam.onnx; stylecam-lite.onnx with --model lite)")
    p.add_argument("-o", "--out", help="engine file (default stylecam.engine; stylecam-lite.engine with --model lite)")
    prec = p.add_mutually_exclusive_group()
    prec.add_argument("--fp16", dest="precision", action="store_const", const="fp16",
                      help="check that --onnx is the FP16 graph (its statistics stay FP32)")
    prec.add_argument("--fp32", dest="precision", action="store_const", const="fp32",
                      help="check that --onnx is the FP32 graph")
    d = Profile()
    wxh = lambda s: f"{s[1]}x{s[0]}"  # noqa: E731   (H, W) -> "WxH"
    p.add_argument("--min", type=frame_size, default=wxh(d.min), metavar="WxH",
                   help=f"smallest frame (default {wxh(d.min)})")
    p.add_argument("--opt", type=frame_size, default=wxh(d.opt), metavar="WxH",
                   help=f"frame size the kernels are tuned for (default {wxh(d.opt)})")
    p.add_argument("--max", type=frame_size, default=wxh(d.max), metavar="WxH",
                   help=f"largest frame (default {wxh(d.max)})")
    p.add_argument("--timing-cache", default=None,
                   help="timing cache file (default: beside the engine, named by TensorRT version and GPU)")
    p.add_argument("--workspace", type=number(0, above=True), default=4.0, help="builder workspace in GiB (default 4)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing engine")
    a = p.parse_args(argv)
    profile = Profile(_hw(a.min), _hw(a.opt), _hw(a.max))
    stem = graph_stem(a.model or names()[0])
    out = Path(a.out or f"{stem}.engine")
    cache = Path(a.timing_cache) if a.timing_cache else out.parent
    return EngineOptions(Path(a.onnx or f"{stem}.onnx"), out, a.model, a.precision, profile, cache, a.workspace,
                         a.overwrite)


def run(opts: EngineOptions) -> int:
    from stylecam.graphs import check_stylecam_onnx
    from stylecam.safeio import check_input_file, check_output_file
    from stylecam.tensorrt_build import onnx2engine, tensorrt_or_error
    tensorrt_or_error()                # first: without it nothing else here can help
    from stylecam.networks import default_kind
    export = f"python -m export.onnx{f' --model {opts.model}' if opts.model else ''} -o {opts.onnx}"
    if not opts.onnx.exists():
        raise UserError(f"--onnx graph not found: {opts.onnx}; export it first: {export}")
    check_input_file(opts.onnx, "--onnx graph")
    model = check_stylecam_onnx(opts.onnx, "frame").get("stylecam.model", default_kind().name)
    if opts.model and model != opts.model:
        raise UserError(f"--onnx {opts.onnx} holds the {model} network, not the {opts.model} one; "
                        f"export that one with: {export}")
    check_output_file(opts.out, [opts.onnx], opts.overwrite)
    t0 = time.perf_counter()
    info = onnx2engine(opts.onnx, opts.out, opts.profile, opts.timing_cache, opts.workspace_gib, opts.precision,
                       overwrite=opts.overwrite)
    print(f"wrote {opts.out}  ({opts.out.stat().st_size / 1e6:.1f} MB, {model} network, {info['precision']}, "
          f"profile H×W {opts.profile}, built in {time.perf_counter() - t0:.0f} s; "
          f"timing cache {info['timing_cache']})")
    if info["precision"] == "fp32" and not opts.precision:
        print("note: that is the FP32 graph's engine; the fast one comes from the FP16 graph: "
              "python -m export.onnx --precision fp16")
    print(f"use it with: stylecam --camera 0 -s STYLE --backend tensorrt --engine {opts.out}")
    return 0


@entry_point("export.trt")
def main(argv: list[str] | None = None) -> int:
    return run(parse(argv))


if __name__ == "__main__":
    sys.exit(main())
