"""Frames per second per available backend × frame size, and the style-switch time."""
from __future__ import annotations

import json
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import UserError
from ..images import MAX_PIXELS, check_pixels
from ..options import RuntimeOptions, add_runtime_arguments, frame_size, listed, number, runtime_options
from ..safeio import check_output_file, write_json

HELP = "Measure frames/s of every available backend at a few frame sizes, and the style-switch time."
EXAMPLES = """  stylecam bench                                   (every available backend, 3 sizes)
  stylecam bench --backend torch --sizes 256x256 --repeats 2 --random-decoder
  stylecam bench --backend onnxruntime,torch --batches 1,2 --json bench.json
  stylecam bench --model lite --backend onnxruntime --sizes 480x272,640x480

Sizes are W×H. Each figure is the median of --repeats timed runs after --warmup
untimed ones; batch N counts N frames per call. "best batch" is the batch size
with the most frames/s. Each row gives the network's multiply-adds per frame
(counted with torch's FlopCounterMode at that size), the multiply-adds per second
that makes at the best batch, and that as a share of this CPU's peak in the
row's precision (cores × clock × multiply-adds per cycle, from /proc/cpuinfo's
flags; the JSON names every input: an estimate, not a measurement). Style switch: a new style image (decode + encoder at
512 px), the same image again (memory cache) and from the disk cache. The
machine (CPU model, cores, GPU, torch/ONNX Runtime versions) goes into the JSON.
Speed does not depend on the weights: --random-decoder needs no trained decoder
(or lite file). --model picks the network (default auto: the full one here).
"""
DEFAULT_SIZES = ((256, 256), (640, 480), (1280, 720))


@dataclass(frozen=True)
class BenchOptions:
    backends: tuple[str, ...]
    sizes: tuple[tuple[int, int], ...]       # (W, H)
    batches: tuple[int, ...]
    repeats: int
    warmup: int
    json_out: Path | None
    random_decoder: bool
    overwrite: bool
    runtime: RuntimeOptions


def add_arguments(p):
    p.add_argument("--sizes", type=listed(frame_size), default=DEFAULT_SIZES, metavar="WxH,WxH,...",
                   help="frame sizes (default 256x256,640x480,1280x720)")
    p.add_argument("--batches", type=listed(number(1, integer=True)), metavar="N,N,...",
                   help="batch sizes (default 1,2 on the CPU, 1,4,8 on CUDA)")
    p.add_argument("--repeats", type=number(1, integer=True),
                   help="timed runs per figure (default 3 on the CPU, 20 on CUDA)")
    p.add_argument("--warmup", type=number(0, integer=True), default=1, help="untimed runs first (default 1)")
    p.add_argument("--json", dest="json_out", help="also write the results here as JSON")
    p.add_argument("--random-decoder", action="store_true",
                   help="time random weights of the chosen network (no trained decoder or lite file needed)")
    p.add_argument("--overwrite", action="store_true", help="replace --json if it exists")
    add_runtime_arguments(p, several_backends=True)


def parse(args) -> BenchOptions:
    cuda = args.device != "cpu" and torch.cuda.is_available()
    json_out = Path(args.json_out) if args.json_out else None
    if json_out:
        check_output_file(json_out, (), args.overwrite)
    for w, h in args.sizes:                  # the memory cap of image and video, before any model loads
        check_pixels(w, h, f"--sizes {w}x{h}", "--sizes with a longer side of")
    return BenchOptions(args.backends, args.sizes, args.batches or ((1, 4, 8) if cuda else (1, 2)),
                        args.repeats or (20 if cuda else 3), args.warmup, json_out, args.random_decoder,
                        args.overwrite, runtime_options(args))


def fitting_batches(batches: tuple[int, ...], w: int, h: int) -> list[int]:
    """The batch sizes whose frames stay within the pixels of one backend call (as in video), else
    the largest that does."""
    fit = [n for n in batches if n * w * h <= MAX_PIXELS]
    if len(fit) < len(batches):
        print(f"  batch {', '.join(str(n) for n in batches if n not in fit)} left out at {w}x{h}: over "
              f"{MAX_PIXELS / 1e6:.1f} megapixels per call (memory)", file=sys.stderr)
    return fit or [max(1, MAX_PIXELS // (w * h))]


def machine() -> dict:
    from ..backends import cpu
    here = cpu.this_cpu()
    info = {"cpu": cpu_model(), "cores": _cores(), "torch": torch.__version__,
            "cpu_peak": cpu.describe(here, cpu.peak(here)),
            "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
            "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None}
    try:
        import onnxruntime
        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        info["onnxruntime"] = None
    for package in ("openvino", "tensorrt"):
        try:
            info[package] = __import__(package).__version__
        except ImportError:
            info[package] = None
    return info


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cores() -> int:
    import os
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def multiply_adds(model, w: int, h: int) -> int:
    """The network's multiply-adds for one (w, h) frame, as ``FlopCounterMode`` counts them
    (convolutions and matrix products; 2 flops each), at the sides the graphs pad to."""
    from torch.utils.flop_counter import FlopCounterMode

    from ..model import SIZE_MULTIPLE
    pw, ph = (-(-w // SIZE_MULTIPLE) * SIZE_MULTIPLE, -(-h // SIZE_MULTIPLE) * SIZE_MULTIPLE)
    x = torch.rand(1, 3, ph, pw)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x, torch.rand(512), torch.rand(512) + 0.5, 1.0)
    return counter.get_total_flops() // 2


def speed_of_light(macs: int, fps: float, peak_g: float | None) -> dict:
    """A row's multiply-adds per frame, per second, and the share of ``peak_g`` (G/s) that is."""
    achieved = macs * fps / 1e9
    return {"g_macs_per_frame": round(macs / 1e9, 3), "g_macs_per_s": round(achieved, 1),
            "peak_g_macs_per_s": peak_g, "pct_of_peak": round(100 * achieved / peak_g, 1) if peak_g else None}


def time_calls(fn, repeats: int, warmup: int) -> list[float]:
    """Wall-clock seconds of ``fn()`` per call (CUDA work is finished before the clock stops)."""
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return times


def _frames(w: int, h: int, n: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (h // 4 + 1, w // 4 + 1, 3), dtype=np.uint8)
    import cv2
    frame = cv2.resize(base, (w, h), interpolation=cv2.INTER_LINEAR)          # (H, W, 3) smooth-ish
    return np.repeat(frame[None], n, axis=0)                                  # (N, H, W, 3)


def _load_model(opts: BenchOptions, kind: str):
    from ..networks import get, load_network, random_network
    from ..vgg import load_encoder
    if not opts.random_decoder:
        return load_network(opts.runtime, kind)
    return random_network(get(kind), load_encoder())


def _backends(opts: BenchOptions, model) -> tuple[list, list[str]]:
    import copy

    from ..backends import NAMES, create
    names = opts.backends or NAMES[1:]
    made, skipped = [], []
    rt = opts.runtime
    for name in names:
        try:
            choice = create(name, copy.deepcopy(model), rt.device, rt.precision, onnx=rt.onnx, engine=rt.engine)
            made.append(choice.backend)
        except UserError as e:
            if opts.backends:            # asked for explicitly: its error is the answer
                raise
            skipped.append(f"{name}: {e}")
    return made, skipped


def style_switch(model, device: str) -> dict:
    """Milliseconds to switch to a new style image, to the same again (memory), and from disk."""
    import copy

    import cv2

    from ..model import ModelConfig
    from ..styles import StyleLibrary
    encoder = copy.deepcopy(model.style_encoder).float().to(device)
    with tempfile.TemporaryDirectory() as tmp:
        painting = Path(tmp) / "painting.png"
        cv2.imwrite(str(painting), _frames(512, 384, 1)[0])
        lib = StyleLibrary(encoder, ModelConfig(), cache_dir=Path(tmp) / "cache", device=device)
        ms = lambda f: 1000 * time_calls(f, 1, 0)[0]    # noqa: E731
        new = ms(lambda: lib.from_image(painting))
        cached = statistics.median(ms(lambda: lib.from_image(painting)) for _ in range(5))
        fresh = StyleLibrary(encoder, ModelConfig(), cache_dir=Path(tmp) / "cache", device=device)
        disk = ms(lambda: fresh.from_image(painting))
    return {"new_image_ms": round(new, 1), "memory_cached_ms": round(cached, 2), "disk_cached_ms": round(disk, 1),
            "style_image_size": "512x384"}


def run(args) -> int:
    import copy

    from ..networks import choose_model, get
    from ..networks.choice import file_for
    opts = parse(args)
    chosen = choose_model(opts.runtime)
    model = _load_model(opts, chosen.kind)
    backends, skipped = _backends(opts, model)
    if not backends:
        raise UserError("no backend could run: " + "; ".join(skipped))
    print(chosen.report(), file=sys.stderr)
    mean, std = torch.rand(512) * 2, torch.rand(512) + 0.5
    results = []
    here = machine()
    print(f"machine: {json.dumps(here)}", file=sys.stderr)
    peaks = here["cpu_peak"]["peak_g_macs_per_s"]
    macs = {(w, h): multiply_adds(copy.deepcopy(model).float().cpu().eval(), w, h) for w, h in opts.sizes}
    for s in skipped:
        print(f"skipped {s}", file=sys.stderr)
    for backend in backends:
        for w, h in opts.sizes:
            row = {"backend": f"{backend.name} on {backend.device}", "size": f"{w}x{h}", "batches": {}}
            for n in fitting_batches(opts.batches, w, h):
                frames = _frames(w, h, n)
                secs = time_calls(lambda: backend.stylize(frames, mean, std, 1.0), opts.repeats, opts.warmup)
                fps = n / statistics.median(secs)
                row["batches"][n] = {"fps": round(fps, 3), "median_s": round(statistics.median(secs), 4),
                                     "runs_s": [round(t, 4) for t in secs]}
                print(f"  {backend.name:<12} {w}x{h:<5} batch {n:<3} {fps:8.2f} frames/s  "
                      f"(median of {len(secs)}: {statistics.median(secs):.3f} s per call)", file=sys.stderr)
            best = max(row["batches"], key=lambda k: row["batches"][k]["fps"])
            row["batch1_fps"] = row["batches"][opts.batches[0]]["fps"] if 1 in opts.batches else None
            row["best_batch"], row["best_fps"] = best, row["batches"][best]["fps"]
            on_cpu = "cuda" not in backend.device
            peak = peaks.get(backend.precision, peaks["fp32"]) if on_cpu else None
            row.update(precision=backend.precision, **speed_of_light(macs[w, h], row["best_fps"], peak))
            results.append(row)
    device = "cuda" if any("cuda" in b.device for b in backends) else "cpu"
    switch = style_switch(model, device)
    weights = file_for(opts.runtime, get(chosen.kind))
    report = {"machine": machine(), "model": chosen.kind, "repeats": opts.repeats, "warmup": opts.warmup,
              "results": results, "skipped": skipped, "style_switch": switch,
              "weights": "random" if opts.random_decoder else (weights or "shipped")}
    print(table(report))
    if opts.json_out:
        write_json(opts.json_out, report, opts.overwrite)
        print(f"wrote {opts.json_out}")
    return 0


def table(report: dict) -> str:
    m, p = report["machine"], report["machine"]["cpu_peak"]
    peaks = p["peak_g_macs_per_s"]
    ghz = f"{p['ghz']:.2f} GHz" if p["ghz"] else "clock unknown"
    lines = [f"machine: {m['cpu']}, {m['cores']} cores" + (f", GPU {m['gpu']}" if m["gpu"] else "") +
             f"; torch {m['torch']}, onnxruntime {m['onnxruntime']}, openvino {m['openvino']}; "
             f"{report['model']} network",
             f"CPU peak (estimate: {p['physical_cores']} cores × {ghz} × {p['vector_bits']}-bit × "
             f"{p['fma_units']} FMA; "
             f"INT8 {p['int8_via']}): fp32 {peaks['fp32']} G, int8 {peaks['int8']} G, bf16 {peaks['bf16']} G "
             "multiply-adds/s",
             f"{'backend':<44} {'size':>10} {'batch 1 fps':>12} {'best batch':>11} {'best fps':>9} "
             f"{'G MAC/frame':>12} {'G MAC/s':>8} {'% of peak':>10}"]
    for r in report["results"]:
        b1 = f"{r['batch1_fps']:.2f}" if r["batch1_fps"] is not None else "-"
        pct = f"{r['pct_of_peak']:.1f} %" if r["pct_of_peak"] is not None else "-"
        lines.append(f"{r['backend'][:44]:<44} {r['size']:>10} {b1:>12} {r['best_batch']:>11} {r['best_fps']:>9.2f} "
                     f"{r['g_macs_per_frame']:>12.3f} {r['g_macs_per_s']:>8.1f} {pct:>10}")
    s = report["style_switch"]
    lines.append(f"style switch: new image {s['new_image_ms']} ms, cached {s['memory_cached_ms']} ms "
                 f"(memory), {s['disk_cached_ms']} ms (disk)")
    return "\n".join(lines)
