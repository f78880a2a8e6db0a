"""The prepared GPU session (train/gpu_run.sh) dry-run on the CPU, its guards, and the benchmark's
cat reflection pad."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
import torch
import torch.nn as nn

from conftest import synthetic_rgb

ROOT = Path(__file__).resolve().parent.parent


def test_cat_reflection_pad_is_reflection_pad():
    from export.gpu_bench import CatReflectionPad2d, use_cat_pads
    x = torch.randn(2, 5, 7, 9)
    for pad in (1, 2):
        for fmt in (torch.contiguous_format, torch.channels_last):
            xi = x.contiguous(memory_format=fmt)
            assert torch.equal(CatReflectionPad2d(pad)(xi), nn.ReflectionPad2d(pad)(xi))
    from export.random_weights import random_decoder
    decoder = random_decoder()
    pads = sum(isinstance(m, nn.ReflectionPad2d) for m in decoder.modules())
    feat = torch.randn(1, 512, 4, 6)
    with torch.no_grad():
        before = decoder(feat)
        assert use_cat_pads(decoder) == pads > 0
        assert not any(isinstance(m, nn.ReflectionPad2d) for m in decoder.modules())
        assert torch.allclose(decoder(feat), before, atol=1e-6)


def _script(tmp_path, data, **env):
    run_env = {**os.environ, "OUT": str(tmp_path / "out"), "PY": sys.executable, **env}
    return subprocess.run(["bash", "train/gpu_run.sh", str(data)], capture_output=True, text=True, cwd=ROOT,
                          env=run_env, timeout=600)


def test_budgets_over_nine_minutes_are_refused_before_anything_runs(tmp_path):
    proc = _script(tmp_path, tmp_path, TEACHER_MIN="9")
    assert proc.returncode == 2 and "more than TOTAL_S=540" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_missing_data_is_one_line(tmp_path):
    proc = _script(tmp_path, tmp_path / "nowhere", DRY_RUN="1")
    assert proc.returncode == 2 and "missing folder" in proc.stdout


@pytest.fixture
def data(tmp_path):
    for folder, n, seed in [("train/content", 3, 0), ("train/style", 3, 10), ("val/content", 2, 20),
                            ("val/style", 2, 30)]:
        (tmp_path / "data" / folder).mkdir(parents=True)
        for i in range(n):
            img = synthetic_rgb(64, 80, seed + i)
            cv2.imwrite(str(tmp_path / "data" / folder / f"{i}.jpg"), img[:, ::-1] if "style" in folder else img)
    return tmp_path / "data"


@pytest.mark.slow
def test_dry_run_writes_every_output(tmp_path, data):
    from stylecam.loading import load_decoder
    # the student at the teacher's dry-run sizes: its own defaults (128-px crops, 512-px paintings,
    # 256-px validation) are most of a CPU dry run's time and prove nothing more about the script
    proc = _script(tmp_path, data, DRY_RUN="1",
                   EXTRA_LITE="--style-weight 1 --cache-pool 8 --crop 32 --short-side 48 --batch 2 "
                              "--style-size 64 --val-size 32 --val-style-size 32 --val-pairs 2")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = tmp_path / "out"
    summary = json.loads((out / "summary.json").read_text())
    steps = {s["step"]: s["status"] for s in summary["steps"]}
    assert steps["setup"] == steps["probe"] == steps["teacher"] == steps["bench"] == 0
    has_lite = subprocess.run([sys.executable, "-c", "import train.lite"], cwd=ROOT).returncode == 0
    assert steps["lite"] == (0 if has_lite else "skipped")
    assert set(summary["probe"]) == {"batch2"} and summary["dry_run"]
    load_decoder(out / "teacher" / "decoder.pt")                     # a real decoder was trained and written
    assert summary["teacher"]["iterations"] >= 1
    bench = json.loads((out / "bench" / "gpu_bench.json").read_text())
    assert bench["tiny_dry_run"] and bench["goal"]["fp32_eager_fps"] > 0
    assert bench["speed"]["results"]["full/720p/fp16_graphs/batch1"]["fps"] > 0
    assert all("fps" in v or "max_levels" in v for part in ("speed", "compile", "parity")
               for v in bench[part]["results"].values())
    assert (out / "run.log").is_file() and "bench/gpu_bench.json" in summary["files"]
