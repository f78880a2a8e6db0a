"""GPU benchmark steps for export/gpu_bench.sh and train/gpu_run.sh (one step per process, each under `timeout`).

    python3 -m export.gpu_bench speed    --out DIR   torch eager fp32 / fp16, CUDA graphs, channels_last with
                                                     the cat reflection pad; full and lite; 720p, 1080p; batch 1, 8
    python3 -m export.gpu_bench compile  --out DIR   torch.compile: modes and layouts on full 720p batch 1 first,
                                                     then the backend's own setting on the other cases
    python3 -m export.gpu_bench tensorrt --out DIR   FP16 engines (only where TensorRT is importable)
    python3 -m export.gpu_bench parity   --out DIR   fp16 / compiled fp16 vs true fp32 on photos at 720p
    python3 -m export.gpu_bench report   --out DIR   merge into DIR/gpu_bench.json and print a table

Every step rewrites its JSON after each measurement, so a step cut by `timeout` keeps what it
measured. Cases run in order of importance (full 720p batch 1, the goal's case, first).
GPU_BENCH_TINY=1 runs on the CPU at 64×48 in float32 (a dry run that proves the steps work; half
precision on a CPU is slow, and torch.compile uses its "eager" backend, which traces but generates no code).
GPU_BENCH_DECODER / GPU_BENCH_LITE: trained weights (default: random networks, the full one
rescaled so its output spreads over [0, 1]; speed does not depend on the weights).
GPU_BENCH_MODELS (full,lite), GPU_BENCH_PHOTOS (val photos for parity). Nothing here imports PyAV.
"""
from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from stylecam.entry import entry_point
from stylecam.errors import UserError
from stylecam.options import OneLineErrorParser

TINY = os.environ.get("GPU_BENCH_TINY") == "1"
SIZES = {"720p": (64, 48)} if TINY else {"720p": (1280, 720), "1080p": (1920, 1080)}
BATCHES = (1, 2) if TINY else (1, 8)
ROUND_S = 0.05 if TINY else 0.15     # each timing round lasts about this long
ROUNDS = 3                           # the median of these
GOAL_FPS, GOAL_SPEEDUP = 500, 8      # the project's goal: full model, 720p, fp16, batch 1, against fp32 eager


@dataclass(frozen=True)
class Variant:
    dtype: torch.dtype
    channels_last: bool = False
    graphs: bool = False
    cat_pad: bool = False
    compile_mode: str | None = None       # torch.compile mode; None: eager
    tf32: bool = True


def device() -> torch.device:
    if TINY:
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise UserError("no CUDA GPU visible (set GPU_BENCH_TINY=1 for a CPU dry run)")
    return torch.device("cuda")


def sync():
    if torch.cuda.is_available() and not TINY:
        torch.cuda.synchronize()


# ------------------------------------------------------------------------------------------- models

def models() -> dict:
    """kind -> (model, how its weights were made), for the kinds in GPU_BENCH_MODELS that load here."""
    from stylecam.networks import names
    wanted = os.environ.get("GPU_BENCH_MODELS", ",".join(names())).split(",")
    return {kind: _model(kind) for kind in names() if kind in wanted}


def _model(kind: str):
    """GPU_BENCH_DECODER / GPU_BENCH_LITE (GPU_BENCH_<its file option>): trained weights; else random."""
    from stylecam import networks
    from .random_weights import random_model
    spec = networks.get(kind)
    path = os.environ.get(f"GPU_BENCH_{(spec.option or kind).upper()}")
    if path and Path(path).is_file():
        return networks.load(spec, path), f"trained ({path})"
    spread = spec is networks.default_kind()
    return random_model(kind, spread=spread), "random" + (" (output rescaled to spread over [0, 1])" if spread else "")


class CatReflectionPad2d(nn.Module):
    """nn.ReflectionPad2d as slices and cats: in channels_last the reflection-pad kernel is slow
    (fp16 at 720p: 65 frames/s NHWC against 118 NCHW on an H100); these are plain copies."""

    def __init__(self, pad: int):
        super().__init__()
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.pad
        x = torch.cat([x[..., 1:p + 1, :].flip(-2), x, x[..., -p - 1:-1, :].flip(-2)], dim=-2)
        return torch.cat([x[..., 1:p + 1].flip(-1), x, x[..., -p - 1:-1].flip(-1)], dim=-1)


def use_cat_pads(model: nn.Module) -> int:
    """Replace every symmetric ReflectionPad2d in ``model`` by CatReflectionPad2d; returns how many."""
    swapped = 0
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.ReflectionPad2d) and len(set(child.padding)) == 1:
                setattr(module, child_name, CatReflectionPad2d(child.padding[0]))
                swapped += 1
    return swapped


# ------------------------------------------------------------------------------------------ timing

def throughput(fn, frames: int) -> dict:
    """frames/s of ``fn`` (which processes ``frames`` frames): median over rounds of many calls."""
    for _ in range(3):
        fn()
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    one = max(time.perf_counter() - t0, 1e-6)
    calls = max(1, int(ROUND_S / one))
    rates = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        sync()
        rates.append(frames * calls / (time.perf_counter() - t0))
    fps = statistics.median(rates)
    return {"fps": round(fps, 1), "ms_per_frame": round(1000 / fps, 3), "calls_per_round": calls, "rounds": ROUNDS}


def make_backend(model, v: Variant):
    from stylecam.backends.torch_backend import COMPILE_MODE, TorchBackend
    dev = device()
    if dev.type == "cuda":
        torch.backends.cudnn.allow_tf32 = v.tf32
        torch.backends.cuda.matmul.allow_tf32 = v.tf32
    model = copy.deepcopy(model)
    if v.cat_pad:
        use_cat_pads(model)
    if v.compile_mode:
        torch._dynamo.reset()       # a fresh cache per variant: the bench never hits the recompile limit
    own = v.compile_mode == COMPILE_MODE and not TINY
    dtype = torch.float32 if TINY else v.dtype
    b = TorchBackend(model, dev, dtype, cuda_graphs=v.graphs, channels_last=v.channels_last, compile=own)
    if v.compile_mode and not own:
        options = {"backend": "eager"} if TINY else {"mode": v.compile_mode}
        b.infer, b.compile = torch.compile(b.forward_uint8, dynamic=False, **options), True
    return b


def measure(model, v: Variant, size: tuple[int, int], n: int) -> dict:
    """One (variant, size, batch) on GPU-resident uint8 frames; compile time reported apart."""
    dev = device()
    b = make_backend(model, v)
    w, h = size
    x = torch.randint(0, 256, (n, h, w, 3), dtype=torch.uint8, device=dev)
    m, s, a = torch.rand(512, device=dev) * 2, torch.rand(512, device=dev) + 0.5, torch.ones((), device=dev)
    result = {}
    with torch.inference_mode():
        if b.compile:
            t0 = time.perf_counter()
            b.infer(x, m, s, a)
            sync()
            result["compile_seconds"] = round(time.perf_counter() - t0, 1)
        if b.cuda_graphs:
            g = b._graph_for(tuple(x.shape))
            g.run(x, m, s, a)
            fn = g.graph.replay
        else:
            def fn():
                b.infer(x, m, s, a)
        result.update(throughput(fn, n))
    return result


# ------------------------------------------------------------------------------------------- steps

SPEED = {   # name -> variant; measured for every model, size and batch (fp32 at batch 1 only)
    "fp32_eager": Variant(torch.float32),
    "fp16_eager": Variant(torch.float16),
    "fp16_graphs": Variant(torch.float16, graphs=True),
    "fp16_channels_last_catpad_graphs": Variant(torch.float16, channels_last=True, graphs=True, cat_pad=True),
}
SPEED_FULL_720P = {   # only on the full model at 720p: what the cat pad is compared with
    "fp32_eager_no_tf32": Variant(torch.float32, tf32=False),
    "fp16_channels_last_graphs": Variant(torch.float16, channels_last=True, graphs=True),
}


def _default() -> str:
    """The full network: the one the 720p comparisons are made on."""
    from stylecam.networks import default_kind
    return default_kind().name


def _cases():
    """(model kind, size name) in order of importance."""
    from stylecam.networks import names
    return [(kind, size) for size in SIZES for kind in names()]


class Results:
    """A step's results, rewritten to DIR/gpu_bench_STEP.json after every measurement."""

    def __init__(self, out: Path, step: str, **head):
        self.path, self.data = out / f"gpu_bench_{step}.json", {**head, "results": {}}
        self.t0 = time.perf_counter()

    def add(self, key: str, value: dict) -> None:
        self.data["results"][key] = value
        self.data["seconds"] = round(time.perf_counter() - self.t0, 1)
        _write(self.path, self.data)
        if "fps" in value:
            print(f"{key:<58} {value['fps']:>9.1f} frames/s  ({value['ms_per_frame']:.3f} ms/frame)"
                  + (f"  compiled in {value['compile_seconds']} s" if "compile_seconds" in value else ""), flush=True)
        else:
            print(f"{key:<58} {value}", flush=True)

    def run(self, key: str, fn) -> None:
        try:
            self.add(key, fn())
        except Exception as e:        # one failed case (out of memory, an op without a kernel) costs only itself
            self.add(key, {"error": f"{type(e).__name__}: {' '.join(str(e).split())[:300]}"})
        finally:
            if torch.cuda.is_available() and not TINY:
                torch.cuda.empty_cache()


def step_speed(out: Path) -> dict:
    nets = models()
    r = Results(out, "speed", models={k: note for k, (_, note) in nets.items()},
                sizes={k: f"{w}x{h}" for k, (w, h) in SIZES.items()})
    for kind, size in _cases():
        if kind not in nets:
            continue
        variants = {**SPEED, **(SPEED_FULL_720P if (kind, size) == (_default(), "720p") and not TINY else {})}
        for name, v in variants.items():
            for n in BATCHES:
                if v.dtype == torch.float32 and n != 1:
                    continue
                r.run(f"{kind}/{size}/{name}/batch{n}", lambda v=v, n=n: measure(nets[kind][0], v, SIZES[size], n))
    return r.data


def step_compile(out: Path) -> dict:
    from stylecam.backends.torch_backend import COMPILE_CHANNELS_LAST, COMPILE_MODE
    nets = models()
    own = Variant(torch.float16, channels_last=COMPILE_CHANNELS_LAST, graphs=True, compile_mode=COMPILE_MODE)
    first = {   # on full 720p batch 1: the backend's setting, then the alternatives the constants were chosen over
        f"fp16_compile_{COMPILE_MODE}_{'cl' if COMPILE_CHANNELS_LAST else 'nchw'}_graphs": own,
        f"fp16_compile_{COMPILE_MODE}_cl": Variant(torch.float16, channels_last=True, compile_mode=COMPILE_MODE),
        f"fp16_compile_{COMPILE_MODE}_nchw_graphs": Variant(torch.float16, graphs=True, compile_mode=COMPILE_MODE),
        "fp16_compile_reduce-overhead_cl": Variant(torch.float16, channels_last=True, compile_mode="reduce-overhead"),
    }
    last = {"fp16_compile_max-autotune-no-cudagraphs_cl_graphs":    # minutes of autotuning: last
            Variant(torch.float16, channels_last=True, graphs=True, compile_mode="max-autotune-no-cudagraphs")}
    r = Results(out, "compile", backend_mode=COMPILE_MODE, backend_channels_last=COMPILE_CHANNELS_LAST,
                tiny_uses_eager_backend=TINY)
    full = _default()
    plan = [(full, "720p", name, v, 1) for name, v in first.items()]
    plan += [(kind, size, "fp16_compile_backend", own, n) for kind, size in _cases() for n in BATCHES
             if (kind, size, n) != (full, "720p", 1)]
    plan += [(full, "720p", name, v, 1) for name, v in last.items()]
    if TINY:
        plan = plan[:1]          # the dry run proves the path; tracing every case costs the CPU minutes
    for kind, size, name, v, n in plan:
        if kind in nets:
            r.run(f"{kind}/{size}/{name}/batch{n}", lambda v=v, n=n, kind=kind, size=size:
                  measure(nets[kind][0], v, SIZES[size], n))
    return r.data


def step_tensorrt(out: Path) -> dict:
    if importlib.util.find_spec("tensorrt") is None:
        return _write(out / "gpu_bench_tensorrt.json", {"skipped": "tensorrt is not importable here"})
    from stylecam.backends.tensorrt_backend import TensorRTBackend
    from stylecam.convert import torch2onnx
    from stylecam.tensorrt_build import Profile, onnx2engine
    nets = models()
    work = Path(tempfile.mkdtemp(prefix="stylecam-trt-"))       # engines stay out of OUT (tens of MB)
    r = Results(out, "tensorrt", profile=str(Profile()))
    for kind in nets:
        def build(kind=kind):
            onnx = torch2onnx(nets[kind][0], work / f"{kind}_fp16.onnx", "fp16")
            info = onnx2engine(onnx, work / f"{kind}.engine", Profile(), timing_cache=out, log=lambda *_: None)
            return {k: info[k] for k in ("tensorrt", "gpu", "precision", "build_seconds")}
        r.run(f"{kind}/build", build)
        r.run(f"{kind}/load", lambda kind=kind: {"engine": TensorRTBackend(work / f"{kind}.engine").describe()})
        if "error" in r.data["results"][f"{kind}/load"]:
            continue
        backend = TensorRTBackend(work / f"{kind}.engine")
        for size, (w, h) in SIZES.items():
            r.run(f"{kind}/{size}/tensorrt_fp16/batch1", lambda w=w, h=h: _engine_speed(backend, h, w))
            r.run(f"{kind}/{size}/tensorrt_fp16_numpy_io/batch1", lambda w=w, h=h: throughput(
                lambda f=np.zeros((h, w, 3), np.uint8): backend.stylize(f, torch.zeros(512), torch.ones(512)), 1))
    return r.data


def _engine_speed(backend, h: int, w: int) -> dict:
    """execute_async_v3 alone on the backend's stream and device buffers (h, w padded to 8)."""
    h, w = -(-h // 8) * 8, -(-w // 8) * 8
    ctx, stream = backend.context, backend.stream
    ctx.set_input_shape(backend.input, (h, w, 3))
    ctx.set_tensor_address(backend.input, backend.frame_in.data_ptr())
    ctx.set_tensor_address(backend.output, backend.frame_out.data_ptr())

    def fn():
        ctx.execute_async_v3(stream.cuda_stream)
    return throughput(fn, 1)      # sync() waits for every stream, the backend's too


def _photos(w: int, h: int) -> list[np.ndarray]:
    import cv2

    from stylecam.quantize import fit_frame
    folder = Path(os.environ.get("GPU_BENCH_PHOTOS", ".gpu/data/val/content"))
    files = sorted(p for p in folder.glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:8]
    photos = [fit_frame(img[..., ::-1], (w, h)) for img in (cv2.imread(str(f)) for f in files) if img is not None]
    if not photos:       # no photos there: synthetic gradients, said so in the JSON
        y, x = np.mgrid[0:h, 0:w].astype(np.float32)
        photos = [np.clip(np.stack([x / w, y / h, 1 - x / w], -1) * 255, 0, 255).astype(np.uint8)]
    return photos


def step_parity(out: Path) -> dict:
    from stylecam.backends.torch_backend import COMPILE_CHANNELS_LAST, COMPILE_MODE
    from stylecam.styles import load_bank
    nets = models()
    w, h = SIZES["720p"]
    photos = _photos(w, h)
    bank = list(load_bank().values())[:2]
    styles = [(s.name, s.mean, s.std) for s in bank] or [("random", torch.rand(512), torch.rand(512) + 0.5)]
    variants = {"fp16_graphs": Variant(torch.float16, graphs=True),
                "fp16_channels_last_catpad_graphs": Variant(torch.float16, channels_last=True, graphs=True,
                                                            cat_pad=True),
                "fp16_compile_backend": Variant(torch.float16, channels_last=COMPILE_CHANNELS_LAST, graphs=True,
                                                compile_mode=COMPILE_MODE)}
    r = Results(out, "parity", images=len(photos) * len(styles), size=f"{w}x{h}",
                styles=[n for n, _, _ in styles], photos="synthetic" if len(photos) == 1 else "val photos",
                reference="fp32, TF32 off")
    for kind, (model, _) in nets.items():
        ref = make_backend(model, Variant(torch.float32, tf32=False))
        refs = [[ref.stylize(p, m, s) for p in photos] for _, m, s in styles]
        del ref
        for name, v in variants.items():
            def compare(v=v, model=model, refs=refs):
                b = make_backend(model, v)
                d = [np.abs(b.stylize(p, m, s).astype(np.int16) - rr)
                     for (_, m, s), rs in zip(styles, refs) for p, rr in zip(photos, rs)]
                return {"max_levels": int(max(x.max() for x in d)),
                        "mean_levels": round(float(np.mean([x.mean() for x in d])), 4),
                        "share_over_2_levels": round(float(np.mean([(x > 2).mean() for x in d])), 6)}
            r.run(f"{kind}/{name}", compare)
    return r.data


def step_report(out: Path) -> dict:
    merged = {"machine": _machine(), "tiny_dry_run": TINY, "sizes": {k: f"{w}x{h}" for k, (w, h) in SIZES.items()}}
    fps = {}
    for part in ("speed", "compile", "tensorrt", "parity"):
        f = out / f"gpu_bench_{part}.json"
        merged[part] = json.loads(f.read_text()) if f.is_file() else {"missing": "step skipped, failed or timed out"}
        fps.update({k: v["fps"] for k, v in merged[part].get("results", {}).items() if "fps" in v})
    base = fps.get("full/720p/fp32_eager/batch1")
    fp16 = {k: v for k, v in fps.items() if k.startswith("full/720p/") and k.endswith("/batch1")
            and "fp32" not in k and "numpy" not in k}
    if base and fp16:
        best = max(fp16, key=fp16.get)
        merged["goal"] = {"case": "full model, 720p, batch 1", "best": best, "best_fps": fp16[best],
                          "fp32_eager_fps": base, "speedup": round(fp16[best] / base, 1),
                          "fps_goal": GOAL_FPS, "speedup_goal": GOAL_SPEEDUP,
                          "met": fp16[best] >= GOAL_FPS and fp16[best] / base >= GOAL_SPEEDUP}
    m = merged["machine"]
    print(f"\n{m['gpu'] or m['cpu']}, torch {m['torch']}, sizes {merged['sizes']}")
    print(f"{'case':<62} {'frames/s':>10}")
    for k, v in fps.items():
        print(f"{k:<62} {v:>10.1f}")
    for k, v in merged["parity"].get("results", {}).items():
        print(f"parity {k}: " + (f"max {v['max_levels']} / mean {v['mean_levels']} levels vs fp32"
                                 if "max_levels" in v else str(v)))
    if "goal" in merged:
        g = merged["goal"]
        print(f"goal ({g['case']}): {g['best_fps']} frames/s by {g['best']} (>= {GOAL_FPS}), {g['speedup']}x fp32 "
              f"eager (>= {GOAL_SPEEDUP}x): {'met' if g['met'] else 'NOT met'}")
    merged["imported_av"] = "av" in sys.modules
    return merged


def _machine() -> dict:
    import platform
    cpu = platform.processor()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() and not TINY else None
    trt = importlib.util.find_spec("tensorrt")
    return {"gpu": gpu, "cpu": cpu, "cores": os.cpu_count(), "torch": torch.__version__,
            "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version() if gpu else None,
            "tensorrt": importlib.import_module("tensorrt").__version__ if trt else None,
            "python": platform.python_version()}


def _write(path: Path, data: dict) -> dict:
    from stylecam.safeio import write_json
    write_json(path, data)
    return data


STEPS = {"speed": step_speed, "compile": step_compile, "tensorrt": step_tensorrt, "parity": step_parity,
         "report": step_report}


@entry_point("gpu_bench")
def main(argv=None) -> int:
    p = OneLineErrorParser(prog="python3 -m export.gpu_bench", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("step", choices=list(STEPS))
    p.add_argument("--out", default=os.environ.get("OUT", "."), help="folder for the JSON files")
    a = p.parse_args(argv)
    if a.step != "report":
        device()                   # no GPU: one line now, not an error in every case
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    result = STEPS[a.step](out)
    assert "av" not in sys.modules, "the GPU machine has no PyAV: nothing on this path may import av"
    if a.step == "report":
        _write(out / "gpu_bench.json", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
