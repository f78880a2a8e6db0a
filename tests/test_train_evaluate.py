"""python -m train.evaluate (in-process) on a tiny random decoder: JSON figures and a contact sheet."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from conftest import synthetic_rgb
from test_train import Ran, painting, run_cli, write_images


def evaluate(capfd, *args: str) -> Ran:
    return run_cli(capfd, *args, module="train.evaluate")


def test_evaluate_prints_figures_per_folder_and_writes_a_sheet(tmp_path, random_decoder, capfd):
    photos = write_images(tmp_path / "photos", [synthetic_rgb(40, 48, i) for i in range(2)])
    people = write_images(tmp_path / "people", [synthetic_rgb(48, 40, 7)])
    styles = write_images(tmp_path / "styles", [painting(32, 40, i) for i in range(3)])
    sheet, js = tmp_path / "sheet.png", tmp_path / "val.json"
    proc = evaluate(capfd, "--decoder", str(random_decoder), "--content", str(photos), str(people),
                    "--style", str(styles), "--size", "32", "--style-size", "32", "--sheet", str(sheet),
                    "--json", str(js), "--cell", "48", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert len(result["pairs"]) == 9
    assert {p["content"] for p in result["pairs"]} == {"img0", "img1"}
    assert {p["set"] for p in result["pairs"]} == {"photos", "people"}
    assert list(result["sets"]) == ["photos", "people"]
    assert [s["photos"] for s in result["sets"].values()] == [2, 1]
    for row in result["pairs"] + [result["mean"]] + list(result["sets"].values()):
        assert row["content_loss"] >= 0 and row["style_loss"] > 0 and row["style_loss_photo"] > 0
        assert -1 <= row["ssim_alpha1"] <= 1
    for figures in [result["mean"]] + list(result["sets"].values()):
        assert -1 <= figures["ssim_alpha0"] <= 1 and figures["style_ratio"] > 0
    assert len(result["photos"]) == 3
    assert json.loads(js.read_text()) == result
    img = cv2.imread(str(sheet))
    # 1 header row of labels + (styles row + 3 photo rows) × (label + cell); 5 columns (photo, α 0, 3 styles)
    assert img.shape[1] == 5 * (48 + 4)
    assert img.shape[0] == 22 + 4 + 4 * (22 + 4 + 48 + 4)


def test_ssim_is_skimage_s_greyscale_ssim():
    from skimage.metrics import structural_similarity
    from train.evaluate import ssim
    a = synthetic_rgb(40, 48, 1)
    b = np.clip(a.astype(int) + np.random.default_rng(0).integers(-40, 40, a.shape), 0, 255).astype(np.uint8)
    grey = lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2GRAY).astype(np.float64) / 255   # noqa: E731
    assert ssim(a, a) == pytest.approx(1.0)
    assert ssim(a, b) == pytest.approx(structural_similarity(grey(a), grey(b), data_range=1.0), abs=1e-6)
    assert ssim(a, b) < 0.9


def test_evaluate_bad_input_is_one_line(tmp_path, random_decoder, capfd):
    proc = evaluate(capfd, "--decoder", str(tmp_path / "missing.pt"), "--content", str(tmp_path),
                    "--style", str(tmp_path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "not found" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    sheet = tmp_path / "exists.png"
    sheet.write_bytes(b"keep me")
    proc = evaluate(capfd, "--decoder", str(random_decoder), "--content", str(tmp_path), "--style", str(tmp_path),
                    "--sheet", str(sheet))
    assert proc.returncode == 2 and "--overwrite" in proc.stderr
    assert sheet.read_bytes() == b"keep me"
