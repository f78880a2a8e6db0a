"""GPU benchmark steps for export/gpu_bench.sh (one step per process, each bounded by `timeout`).

    python3 -m export.gpu_bench speed   --out DIR   torch CUDA fp32 eager / fp16 channels_last /
                                                    CUDA graphs (fp16, bf16), batch 1 and a larger batch
    python3 -m export.gpu_bench compile --out DIR   torch.compile fp16 (only if it compiles in time)
    python3 -m export.gpu_bench parity  --out DIR   fp16 / bf16 vs fp32 on real photos at 1280×720
    python3 -m export.gpu_bench report  --out DIR   merge into DIR/gpu_bench.json and print a table

GPU_BENCH_TINY=1 runs everything on the CPU at 64×48 (a dry run that proves the script works).
GPU_BENCH_DECODER: trained decoder weights (default: a random decoder, rescaled so its output
spreads over [0, 1]; speed does not depend on the weights). Nothing here imports PyAV.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

TINY = os.environ.get("GPU_BENCH_TINY") == "1"
W, H = (64, 48) if TINY else (1280, 720)
BIG_BATCH = 2 if TINY else 8
ROUND_S = 0.05 if TINY else 0.25      # each timing round lasts about this long
ROUNDS = 3 if TINY else 5
GOAL_FPS, GOAL_SPEEDUP = 500, 8


def device() -> torch.device:
    if TINY:
        return torch.device("cpu")
    if not torch.cuda.is_available():
        sys.exit("gpu_bench: no CUDA GPU visible (set GPU_BENCH_TINY=1 for a CPU dry run)")
    return torch.device("cuda")


def sync():
    if torch.cuda.is_available() and not TINY:
        torch.cuda.synchronize()


def load_model():
    from stylecam.loading import load_model as load
    from stylecam.model import Decoder, StyleTransfer
    from stylecam.vgg import load_encoder
    path = os.environ.get("GPU_BENCH_DECODER")
    if path:
        return load(path), f"trained ({path})"
    torch.manual_seed(0)
    model = StyleTransfer(load_encoder(), Decoder().eval().requires_grad_(False))
    _spread(model)
    return model, "random (output rescaled to spread over [0, 1])"


@torch.no_grad()
def _spread(model) -> None:
    """Rescale the random decoder's last conv so its output covers [0, 1] (parity needs real pixels)."""
    from stylecam.adain import adain
    x = torch.rand(1, 3, 64, 64)
    y = model.decoder(adain(model.encoder(x), *model.style_stats(torch.rand(1, 3, 64, 64))))
    conv = model.decoder.net[-1][1]
    k = 0.25 / y.std((0, 2, 3))
    conv.weight.mul_(k[:, None, None, None])
    conv.bias.copy_((conv.bias - y.mean((0, 2, 3))) * k + 0.5)


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
    return {"fps": round(statistics.median(rates), 1), "ms_per_frame": round(1000 / statistics.median(rates), 3),
            "calls_per_round": calls, "rounds": ROUNDS}


def _variants():
    """name -> (dtype, channels_last, cuda_graphs, tf32)."""
    v = {"fp32_eager": (torch.float32, False, False, True),
         "fp32_eager_no_tf32": (torch.float32, False, False, False),
         "fp16_eager": (torch.float16, False, False, True),
         "fp16_graphs": (torch.float16, False, True, True),
         "fp16_channels_last": (torch.float16, True, False, True),
         "fp16_channels_last_graphs": (torch.float16, True, True, True),
         "bf16_channels_last_graphs": (torch.bfloat16, True, True, True)}
    return v     # on the CPU (tiny dry run) channels_last and CUDA graphs are ignored by TorchBackend


def step_speed(out: Path) -> dict:
    import copy

    from stylecam.backends.torch_backend import TorchBackend
    dev = device()
    model, decoder = load_model()
    mean, std = torch.rand(512) * 2, torch.rand(512) + 0.5
    results = {}
    for name, (dtype, cl, graphs, tf32) in _variants().items():
        if dev.type == "cuda":
            torch.backends.cudnn.allow_tf32 = tf32
            torch.backends.cuda.matmul.allow_tf32 = tf32
        backend = TorchBackend(copy.deepcopy(model), dev, dtype, cuda_graphs=graphs, channels_last=cl)
        m, s, a = mean.to(dev), std.to(dev), torch.ones((), device=dev)
        for n in (1, BIG_BATCH):
            if name == "fp32_eager_no_tf32" and n != 1:
                continue
            x = torch.randint(0, 256, (n, H, W, 3), dtype=torch.uint8, device=dev)
            if backend.cuda_graphs:
                with torch.inference_mode():
                    g = backend._graph_for(tuple(x.shape))
                    g.run(x, m, s, a)
                fn = g.graph.replay
            else:
                def fn(x=x, backend=backend):
                    with torch.inference_mode():
                        backend.forward_uint8(x, m, s, a)
            results[f"{name}/batch{n}"] = throughput(fn, n)
            _print(name, n, results[f"{name}/batch{n}"])
        if name == "fp16_graphs":      # the CUDA default, end to end: numpy frames in and out (PCIe copies)
            frames = np.random.default_rng(0).integers(0, 256, (BIG_BATCH, H, W, 3), dtype=np.uint8)
            for n in (1, BIG_BATCH):
                r = throughput(lambda f=frames[:n] if n > 1 else frames[0], b=backend: b.stylize(f, mean, std, 1.0), n)
                results[f"{name}_numpy_io/batch{n}"] = r
                _print(name + "_numpy_io", n, r)
        del backend
        if dev.type == "cuda":
            torch.cuda.empty_cache()
    if dev.type == "cuda":
        torch.backends.cudnn.allow_tf32 = True
    return {"size": f"{W}x{H}", "decoder": decoder, "speed": results}


def step_compile(out: Path) -> dict:
    import copy

    from stylecam.backends.torch_backend import TorchBackend
    dev = device()
    model, _ = load_model()
    dtype = torch.float32 if TINY else torch.float16
    backend = TorchBackend(copy.deepcopy(model), dev, dtype, channels_last=True)   # as measured on the H100
    backend.model = torch.compile(backend.model, dynamic=False)    # default mode: the quickest to compile
    m, s, a = (t.to(dev) for t in (torch.rand(512), torch.rand(512) + 0.5, torch.ones(())))
    x = torch.randint(0, 256, (1, H, W, 3), dtype=torch.uint8, device=dev)
    t0 = time.perf_counter()
    with torch.inference_mode():
        backend.forward_uint8(x, m, s, a)
    sync()
    compile_s = time.perf_counter() - t0

    def fn():
        with torch.inference_mode():
            backend.forward_uint8(x, m, s, a)
    r = throughput(fn, 1)
    _print("fp16_channels_last_compile", 1, r)
    return {"compile": {"compile_seconds": round(compile_s, 1), "batch1": r}}


def _photos() -> list[np.ndarray]:
    import cv2
    folder = Path(os.environ.get("GPU_BENCH_PHOTOS", ".gpu/data/val/content"))
    files = sorted(p for p in folder.glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:8]
    photos = []
    for f in files:
        img = cv2.imread(str(f))
        if img is not None:
            photos.append(_cover(img, W, H))
    if not photos:       # no photos there: synthetic gradients, said so in the JSON
        y, x = np.mgrid[0:H, 0:W].astype(np.float32)
        photos = [np.clip(np.stack([x / W, y / H, 1 - x / W], -1) * 255, 0, 255).astype(np.uint8)]
    return photos


def _cover(img: np.ndarray, w: int, h: int) -> np.ndarray:
    """Scale to cover w×h and centre-crop (BGR uint8)."""
    import cv2
    s = max(w / img.shape[1], h / img.shape[0])
    img = cv2.resize(img, (round(img.shape[1] * s + 0.5), round(img.shape[0] * s + 0.5)),
                     interpolation=cv2.INTER_AREA)
    y0, x0 = (img.shape[0] - h) // 2, (img.shape[1] - w) // 2
    return np.ascontiguousarray(img[y0:y0 + h, x0:x0 + w])


def step_parity(out: Path) -> dict:
    import copy

    from stylecam.backends.torch_backend import TorchBackend
    from stylecam.styles import load_bank
    dev = device()
    model, decoder = load_model()
    photos = _photos()
    bank = load_bank()
    styles = [(s.name, s.mean, s.std) for s in list(bank.values())[:2]] or [("random", torch.rand(512), torch.rand(512))]
    torch.backends.cudnn.allow_tf32 = False            # the reference is true fp32
    ref = TorchBackend(copy.deepcopy(model), dev, torch.float32, channels_last=False)
    refs = [[ref.stylize(p, m, s) for p in photos] for _, m, s in styles]
    del ref
    torch.backends.cudnn.allow_tf32 = True
    variants = {"fp32_tf32": torch.float32, "fp16_channels_last_graphs": torch.float16,
                "bf16_channels_last_graphs": torch.bfloat16}
    parity = {}
    for name, dtype in variants.items():
        b = TorchBackend(copy.deepcopy(model), dev, dtype, cuda_graphs=dev.type == "cuda",
                         channels_last="channels_last" in name)
        diffs = [np.abs(b.stylize(p, m, s).astype(np.int16) - r)
                 for (_, m, s), rs in zip(styles, refs) for p, r in zip(photos, rs)]
        parity[name] = {"max_levels": int(max(d.max() for d in diffs)),
                        "mean_levels": round(float(np.mean([d.mean() for d in diffs])), 4),
                        "share_over_2_levels": round(float(np.mean([(d > 2).mean() for d in diffs])), 6)}
        print(f"parity {name:<28} vs fp32 (no TF32): max {parity[name]['max_levels']} levels, "
              f"mean {parity[name]['mean_levels']}", flush=True)
    return {"parity": parity, "parity_images": len(photos) * len(styles), "parity_size": f"{W}x{H}",
            "parity_styles": [n for n, _, _ in styles], "decoder": decoder}


def _print(name: str, n: int, r: dict) -> None:
    print(f"{name:<34} batch {n:<2} {r['fps']:>9.1f} frames/s  ({r['ms_per_frame']:.3f} ms/frame)", flush=True)


def step_report(out: Path) -> dict:
    merged = {"machine": _machine(), "tiny_dry_run": TINY}
    for part in ("speed", "compile", "parity"):
        f = out / f"gpu_bench_{part}.json"
        merged.update(json.loads(f.read_text()) if f.is_file() else {f"{part}_missing": "step failed or timed out"})
    speed = merged.get("speed", {})
    base = speed.get("fp32_eager/batch1", {}).get("fps")
    fp16 = [v["fps"] for k, v in speed.items() if k.startswith("fp16") and "numpy" not in k]
    if base and fp16:
        best = max(fp16)
        merged["goal"] = {"best_fp16_fps": best, "speedup_vs_fp32_eager_batch1": round(best / base, 1),
                          "fps_goal": GOAL_FPS, "speedup_goal": GOAL_SPEEDUP,
                          "met": best >= GOAL_FPS and best / base >= GOAL_SPEEDUP}
    print(f"\n{merged['machine']['gpu'] or merged['machine']['cpu']}, torch {merged['machine']['torch']}, "
          f"{merged.get('size', '?')}")
    print(f"{'variant':<44} {'frames/s':>10} {'ms/frame':>9}")
    for k, v in speed.items():
        print(f"{k:<44} {v['fps']:>10.1f} {v['ms_per_frame']:>9.3f}")
    if "compile" in merged:
        c = merged["compile"]
        print(f"{'fp16_channels_last_compile/batch1':<44} {c['batch1']['fps']:>10.1f} "
              f"{c['batch1']['ms_per_frame']:>9.3f}  (compiled in {c['compile_seconds']} s)")
    for k, v in merged.get("parity", {}).items():
        print(f"parity {k}: max {v['max_levels']} / mean {v['mean_levels']} levels vs fp32")
    if "goal" in merged:
        g = merged["goal"]
        print(f"goal: {g['best_fp16_fps']} frames/s fp16 (>= {GOAL_FPS}), {g['speedup_vs_fp32_eager_batch1']}x "
              f"fp32 eager (>= {GOAL_SPEEDUP}x): {'met' if g['met'] else 'NOT met'}")
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
    return {"gpu": gpu, "cpu": cpu, "cores": os.cpu_count(), "torch": torch.__version__,
            "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version() if gpu else None,
            "python": platform.python_version()}


STEPS = {"speed": step_speed, "compile": step_compile, "parity": step_parity, "report": step_report}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m export.gpu_bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("step", choices=list(STEPS))
    p.add_argument("--out", default=os.environ.get("OUT", "."), help="folder for the JSON files")
    a = p.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    result = STEPS[a.step](out)
    result[f"{a.step}_seconds"] = round(time.perf_counter() - t0, 1)
    assert "av" not in sys.modules, "the GPU machine has no PyAV: nothing on this path may import av"
    name = "gpu_bench.json" if a.step == "report" else f"gpu_bench_{a.step}.json"
    (out / name).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
