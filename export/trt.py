"""python -m export.trt: a TensorRT FP16 engine from the ONNX frame graph."""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

from stylecam.errors import UserError

EXAMPLES = """  python -m export.onnx -o stylecam.onnx
  python -m export.trt --onnx stylecam.onnx --fp16 -o stylecam.engine
  python -m export.trt --onnx stylecam.onnx --fp16 --min 256x256 --opt 720x1280 --max 1088x1920 -o hd.engine

Sizes are H×W (rows × columns) and multiples of 8; frames outside [min, max]
are refused with a message naming the profile. FP16 keeps AdaIN's statistics
(reductions, element-wise maths) in FP32 (precision constraints: obey). A timing
cache (--timing-cache) makes rebuilds fast. The engine only runs on the same
GPU model and TensorRT version: a JSON beside it records both.
"""


@dataclass(frozen=True)
class EngineOptions:
    onnx: Path
    out: Path
    precision: str
    profile: object             # stylecam.convert.Profile
    timing_cache: Path
    workspace_gib: float
    overwrite: bool


def _size(text: str, flag: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().replace("×", "x").split("x"))
    except ValueError:
        raise UserError(f"{flag} {text}: write it as HxW, e.g. 720x1280") from None
    if h < 16 or w < 16 or h % 8 or w % 8:
        raise UserError(f"{flag} {text}: both sides must be multiples of 8 and at least 16 "
                        f"(e.g. {max(16, -(-h // 8) * 8)}x{max(16, -(-w // 8) * 8)})")
    return h, w


def parse(argv: list[str] | None) -> EngineOptions:
    from stylecam.convert import Profile
    from stylecam.options import parser
    p = parser("python -m export.trt", "Build a TensorRT engine from stylecam's ONNX graph.", EXAMPLES)
    p.add_argument("--onnx", default="stylecam.onnx", help="frame graph from python -m export.onnx")
    p.add_argument("-o", "--out", default="stylecam.engine", help="engine file (default stylecam.engine)")
    prec = p.add_mutually_exclusive_group()
    prec.add_argument("--fp16", dest="precision", action="store_const", const="fp16",
                      help="FP16 with the AdaIN statistics in FP32 (the default)")
    prec.add_argument("--fp32", dest="precision", action="store_const", const="fp32", help="FP32 throughout")
    d = Profile()
    f = lambda s: f"{s[0]}x{s[1]}"  # noqa: E731
    p.add_argument("--min", default=f(d.min), help=f"smallest frame H×W (default {f(d.min)})")
    p.add_argument("--opt", default=f(d.opt), help=f"frame H×W the kernels are tuned for (default {f(d.opt)})")
    p.add_argument("--max", default=f(d.max), help=f"largest frame H×W (default {f(d.max)})")
    p.add_argument("--timing-cache", default=None, help="timing cache file (default: beside the engine)")
    p.add_argument("--workspace", type=float, default=4.0, help="builder workspace in GiB (default 4)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing engine")
    a = p.parse_args(argv)
    lo, opt, hi = _size(a.min, "--min"), _size(a.opt, "--opt"), _size(a.max, "--max")
    if not (lo[0] <= opt[0] <= hi[0] and lo[1] <= opt[1] <= hi[1]):
        raise UserError(f"profile must satisfy min <= opt <= max on each side; got --min {a.min} --opt {a.opt} "
                        f"--max {a.max}")
    if a.workspace <= 0:
        raise UserError(f"--workspace {a.workspace}: must be a positive number of GiB")
    out = Path(a.out)
    cache = Path(a.timing_cache) if a.timing_cache else out.with_name("stylecam-timing.cache")
    return EngineOptions(Path(a.onnx), out, a.precision or "fp16", Profile(lo, opt, hi), cache,
                         a.workspace, a.overwrite)


def run(opts: EngineOptions) -> int:
    from stylecam.convert import onnx2engine, tensorrt_or_error
    from stylecam.graphs import check_stylecam_onnx
    from stylecam.safeio import check_input_file, check_output_file
    if not opts.onnx.exists():
        raise UserError(f"--onnx graph not found: {opts.onnx}; export it first: python -m export.onnx -o {opts.onnx}")
    check_input_file(opts.onnx, "--onnx graph")
    check_stylecam_onnx(opts.onnx, "frame")
    check_output_file(opts.out, [opts.onnx], opts.overwrite)
    tensorrt_or_error()
    t0 = time.perf_counter()
    onnx2engine(opts.onnx, opts.out, opts.profile, opts.precision, opts.timing_cache, opts.workspace_gib)
    print(f"wrote {opts.out}  ({opts.out.stat().st_size / 1e6:.1f} MB, {opts.precision}, {opts.profile}, "
          f"built in {time.perf_counter() - t0:.0f} s; timing cache {opts.timing_cache})")
    print(f"use it with: stylecam --camera 0 -s STYLE --backend tensorrt --engine {opts.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return run(parse(argv))
    except UserError as e:
        print(f"export.trt: {e}", file=sys.stderr)
        return e.exit_code


if __name__ == "__main__":
    sys.exit(main())
