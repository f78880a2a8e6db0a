"""DistributedDataParallel: two CPU processes on gloo, started by torchrun, train a few steps."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import synthetic_rgb
from test_train import painting, write_images


def test_two_cpu_processes_train_with_gloo(tmp_path):
    write_images(tmp_path / "content", [synthetic_rgb(32, 40, i) for i in range(2)])
    write_images(tmp_path / "style", [painting(32, 32, i) for i in range(2)])
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "train", "--content", str(tmp_path / "content"), "--style", str(tmp_path / "style"),
           "--out", str(out), "--device", "cpu", "--iterations", "3", "--log-every", "1",
           "--batch", "1", "--crop", "16", "--short-side", "24", "--checkpoint", ""]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}      # two processes on a small machine
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env,
                          cwd=Path(__file__).resolve().parent.parent)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "2 process(es)" in proc.stdout
    assert proc.stdout.count("it 3/3") == 1                 # only rank 0 reports
    assert "6 image-steps" in proc.stdout                  # 3 iterations × batch 1 × 2 processes
    assert (out / "decoder.pt").is_file()
