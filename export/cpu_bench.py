"""python -m export.cpu_bench: CPU variants of the frame graph timed side by side in one run; prints JSON.

    python -m export.cpu_bench --model lite --sizes 480x272 --variants ort-fp32,ov-fp32,ov-int8
    python -m export.cpu_bench --model lite --variants all --repeats 15 --json cpu.json

Each variant is a backend (ONNX Runtime or OpenVINO), its session settings and, for INT8, the
quantization recipe (which convolutions stay fp32, QDQ or QOperator). All are built first, then
timed in alternation (one call of each in turn, --repeats rounds), so load from other processes
hits them alike; figures are medians. INT8 parity: the variant's pictures against the fp32
graph's on four val photos (not calibration ones), 0-255 levels. Speed does not depend
on the weights; parity does: the shipped networks are used unless --random-weights.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from stylecam.entry import entry_point

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "val"
PARITY_PHOTOS = (f"{DATA}/content/chicago_skyline.jpg", f"{DATA}/content/golden_gate_bridge.jpg",
                 f"{DATA}/content/kodak_kodim04_girl_red_hat.jpg", f"{DATA}/people/man_face_indoor_portrait.jpg")
PARITY_STYLES = ("matisse_woman_with_a_hat", "turner_shipwreck_of_the_minotaur")


def narrow_convs(fp32_onnx, max_channels: int) -> tuple[str, ...]:
    """Names of the convolutions that read or write at most ``max_channels`` channels: lite's
    full-resolution ones, memory-bound rather than arithmetic-bound."""
    import onnx
    proto = onnx.load(str(fp32_onnx))
    weights = {i.name: tuple(i.dims) for i in proto.graph.initializer}
    return tuple(n.name for n in proto.graph.node if n.op_type == "Conv" and n.input[1] in weights
                 and min(weights[n.input[1]][:2]) <= max_channels)


# name -> (backend, precision, settings); settings: ONNX Runtime session options or an INT8 recipe
VARIANTS = {
    "torch-fp32": ("torch", "fp32", {}),
    "ort-fp32": ("onnxruntime", "fp32", {}),
    "ort-fp32-nospin": ("onnxruntime", "fp32", {"spinning": False}),
    "ort-fp32-1thread": ("onnxruntime", "fp32", {"threads": 1}),
    "ort-fp32-extended": ("onnxruntime", "fp32", {"optimization": "extended"}),
    "ort-fp32-layout": ("onnxruntime", "fp32", {"optimization": "layout"}),
    "ort-int8": ("onnxruntime", "int8", {}),
    "ort-int8-keep16": ("onnxruntime", "int8", {"keep": 16}),
    "ort-int8-qop": ("onnxruntime", "int8", {"operator_format": True}),
    "ov-fp32": ("openvino", "fp32", {}),
    "ov-int8": ("openvino", "int8", {}),
    "ov-int8-keep3": ("openvino", "int8", {"keep": 3}),
    "ov-int8-keep16": ("openvino", "int8", {"keep": 16}),
    "ov-int8-convs": ("openvino", "int8", {"ops": ["Conv"]}),
    "ov-int8-tensor": ("openvino", "int8", {"per_channel": False}),
    "ort-int8-w8": ("onnxruntime", "int8", {"reduce_range": False}),
    "ov-int8-w8": ("openvino", "int8", {"reduce_range": False}),
    "ov-int8-w7": ("openvino", "int8", {"reduce_range": True}),
    "ov-int8-w7-keep16": ("openvino", "int8", {"reduce_range": True, "keep": 16}),
}
INT8_KEYS = ("keep", "operator_format", "ops", "per_channel", "reduce_range")


def _int8_graph(fp32_path, recipe: dict, folder: Path, feeds) -> tuple[Path, float]:
    import hashlib

    from stylecam.quantize import QUANTIZED_OPS, onnx2int8, saturates_here
    recipe = {"reduce_range": saturates_here(), **recipe}       # the default, resolved: part of the key
    key = json.dumps(recipe, sort_keys=True) + str(fp32_path)
    out = folder / f"int8-{hashlib.sha256(key.encode()).hexdigest()[:12]}.onnx"
    t0 = time.perf_counter()
    if not out.is_file():
        exclude = narrow_convs(fp32_path, recipe["keep"]) if recipe.get("keep") else ()
        onnx2int8(fp32_path, out, feeds, ops=recipe.get("ops", QUANTIZED_OPS), exclude=exclude,
                  operator_format=recipe.get("operator_format", False), per_channel=recipe.get("per_channel", True),
                  reduce_range=recipe["reduce_range"])
    return out, time.perf_counter() - t0


def build(name: str, net, fp32_path, folder: Path, feeds):
    from stylecam.backends.onnxruntime_backend import OnnxRuntimeBackend, SessionSettings
    from stylecam.backends.openvino_backend import OpenVINOBackend
    backend, precision, settings = VARIANTS[name]
    if backend == "torch":
        import copy

        import torch

        from stylecam.backends.torch_backend import TorchBackend
        return TorchBackend(copy.deepcopy(net), torch.device("cpu")), 0.0
    path, built = fp32_path, 0.0
    if precision == "int8":
        path, built = _int8_graph(fp32_path, {k: v for k, v in settings.items() if k in INT8_KEYS}, folder, feeds)
    session = {k: v for k, v in settings.items() if k not in INT8_KEYS}
    if backend == "onnxruntime":
        return OnnxRuntimeBackend(path, settings=SessionSettings(**session)), built
    return OpenVINOBackend(path), built


def parity(ref, other, frames, styles) -> dict:
    d = np.stack([np.abs(other.stylize(f, s.mean, s.std, 1.0).astype(np.int16) -
                         ref.stylize(f, s.mean, s.std, 1.0).astype(np.int16)) for f in frames for s in styles])
    return {"max_levels": int(d.max()), "p999_levels": float(np.percentile(d, 99.9)),
            "mean_levels": round(float(d.mean()), 2)}


# ONNX Runtime's idle workers spin-wait after a call; without a pause they hold the cores while the
# next variant runs, which then measured up to 1.4× slower than the same variant after an OpenVINO one
PAUSE_S = 0.1


def alternate(calls: dict, repeats: int, warmup: int) -> dict[str, list[float]]:
    """Seconds per call of each function, called in turn (so other processes' load hits all alike)."""
    for _ in range(warmup):
        for f in calls.values():
            f()
    times = {k: [] for k in calls}
    for _ in range(repeats):
        for k, f in calls.items():
            time.sleep(PAUSE_S)
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return times


def timed(backends: dict, sizes, repeats: int, warmup: int, style) -> list[dict]:
    rng = np.random.default_rng(0)
    rows = []
    for w, h in sizes:
        frame = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        calls = {k: (lambda b=b: b.stylize(frame, style.mean, style.std, 1.0)) for k, b in backends.items()}
        times = alternate(calls, repeats, warmup)
        rows.append({"size": f"{w}x{h}", **{k: {"fps": round(1 / statistics.median(t), 2),
                                                  "median_ms": round(1000 * statistics.median(t), 1)}
                                              for k, t in times.items()}})
    return rows


@entry_point("export.cpu_bench")
def main(argv=None) -> int:
    from stylecam.options import OneLineErrorParser, frame_size, listed, number
    from stylecam.safeio import check_output_file, write_json
    p = OneLineErrorParser(prog="python -m export.cpu_bench", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    from stylecam.networks import names
    p.add_argument("--model", choices=names(), default="lite", help="the network (default lite)")
    p.add_argument("--variants", type=listed(str), default="ort-fp32,ov-fp32,ort-int8,ov-int8", metavar="V,V,...",
                   help=f"variants to compare, or all: {', '.join(VARIANTS)}")
    p.add_argument("--sizes", type=listed(frame_size), default="480x272", metavar="WxH,...")
    p.add_argument("--repeats", type=number(1, integer=True), default=11)
    p.add_argument("--warmup", type=number(0, integer=True), default=2)
    p.add_argument("--random-weights", action="store_true", help="random weights (speed only; parity meaningless)")
    p.add_argument("--no-parity", action="store_true", help="time only")
    p.add_argument("--graphs", metavar="DIR", help="keep the INT8 graphs here and reuse them (default: a temp folder)")
    p.add_argument("--json", metavar="FILE")
    p.add_argument("--overwrite", action="store_true")
    a = p.parse_args(argv)
    names = list(VARIANTS) if a.variants == ("all",) else list(a.variants)
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        p.error(f"unknown variants {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    if a.json:
        check_output_file(a.json, [], a.overwrite)
    result = run(a, names)
    print(json.dumps(result, indent=2))
    if a.json:
        write_json(a.json, result, a.overwrite)
    return 0


def _network(name: str, random_weights: bool):
    from stylecam.networks import get, load, random_network
    from stylecam.vgg import load_encoder
    kind = get(name)
    return random_network(kind, load_encoder()) if random_weights else load(kind)     # the shipped file


def run(a, names: list[str]) -> dict:
    from stylecam.backends import cpu
    from stylecam.backends.graph_cache import cached_onnx
    from stylecam.images import read_image
    from stylecam.quantize import calibration_frames, fit_frame
    from stylecam.styles import load_bank
    load = [round(os.getloadavg()[0], 2)]
    net = _network(a.model, a.random_weights)
    fp32_path = cached_onnx(net, "fp32")
    feeds = calibration_frames()
    bank = load_bank()
    styles = [bank[s] for s in PARITY_STYLES]
    frames = [fit_frame(read_image(p), (480, 272)) for p in PARITY_PHOTOS if Path(p).is_file()]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = a.graphs or tmp
        Path(tmp).mkdir(parents=True, exist_ok=True)
        backends, built = {}, {}
        for name in names:
            backends[name], built[name] = build(name, net, fp32_path, Path(tmp), feeds)
            print(f"{name}: ready ({backends[name].describe()})", file=sys.stderr)
        ref = None if a.no_parity else backends.get("ort-fp32") or build("ort-fp32", net, fp32_path, Path(tmp), feeds)[0]
        quality = {} if a.no_parity else {n: parity(ref, b, frames, styles) for n, b in backends.items()}
        load.append(round(os.getloadavg()[0], 2))
        rows = timed(backends, a.sizes, a.repeats, a.warmup, styles[0])
    load.append(round(os.getloadavg()[0], 2))
    here = cpu.this_cpu()
    return {"bench": "CPU variants, interleaved", "model": a.model,
            "weights": "random" if a.random_weights else "shipped",
            "machine": cpu.describe(here, cpu.peak(here)), "load_average_1min": load, "repeats": a.repeats,
            "int8_build_s": {n: round(t, 1) for n, t in built.items() if t},
            "parity_vs_fp32": {"photos": [Path(p).name for p in PARITY_PHOTOS], "styles": list(PARITY_STYLES),
                               "size": "480x272",
                               **quality},
            "results": rows}


if __name__ == "__main__":
    sys.exit(main())
