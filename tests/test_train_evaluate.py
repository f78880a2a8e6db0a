"""python -m train.evaluate on a tiny random decoder: JSON figures and a contact sheet."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2

from conftest import synthetic_rgb
from test_train import painting, write_images

ROOT = Path(__file__).resolve().parent.parent


def evaluate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "train.evaluate", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


def test_evaluate_prints_figures_and_writes_a_sheet(tmp_path, random_decoder):
    photos = write_images(tmp_path / "photos", [synthetic_rgb(40, 48, i) for i in range(2)])
    styles = write_images(tmp_path / "styles", [painting(32, 40, i) for i in range(3)])
    sheet, js = tmp_path / "sheet.png", tmp_path / "val.json"
    proc = evaluate("--decoder", str(random_decoder), "--content", str(photos), "--style", str(styles),
                    "--size", "32", "--style-size", "32", "--sheet", str(sheet), "--json", str(js),
                    "--cell", "48", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert len(result["pairs"]) == 6
    assert {p["content"] for p in result["pairs"]} == {"img0", "img1"}
    for row in result["pairs"] + [result["mean"]]:
        assert row["content_loss"] >= 0 and row["style_loss"] > 0 and row["style_loss_photo"] > 0
    assert result["mean"]["style_ratio"] > 0
    assert json.loads(js.read_text()) == result
    img = cv2.imread(str(sheet))
    # 1 header row of labels + (styles row + 2 photo rows) × (label + cell); 4 columns (photo + 3 styles)
    assert img.shape[1] == 4 * (48 + 4)
    assert img.shape[0] == 22 + 4 + 3 * (22 + 4 + 48 + 4)


def test_evaluate_bad_input_is_one_line(tmp_path, random_decoder):
    proc = evaluate("--decoder", str(tmp_path / "missing.pt"), "--content", str(tmp_path), "--style", str(tmp_path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "not found" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    sheet = tmp_path / "exists.png"
    sheet.write_bytes(b"keep me")
    proc = evaluate("--decoder", str(random_decoder), "--content", str(tmp_path), "--style", str(tmp_path),
                    "--sheet", str(sheet))
    assert proc.returncode == 2 and "--overwrite" in proc.stderr
    assert sheet.read_bytes() == b"keep me"
