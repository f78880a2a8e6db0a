"""--model full|lite|auto on every surface: the measured default and how it prints, the live l key,
and the bad-input cases, all through the real entry points (main) on tiny generated inputs.

Networks: the session's random decoder and a tiny random lite student saved here (save_lite),
found as the "shipped" files through STYLECAM_ASSETS. Torch on the CPU unless a test is about ONNX.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import pytest
import torch

from clips import make_clip
from conftest import HAS_ORT
from stylecam import paths
from stylecam.cli import main
from stylecam.live import keys as K
from stylecam.live.loop import LiveOptions, run_live
from stylecam.options import RuntimeOptions, StyleOptions
from stylecam.temporal.smoothing import SmoothOptions

MODELS = ("full", "lite")


@pytest.fixture(scope="module")
def shipped(random_decoder, tmp_path_factory):
    """A folder holding both networks' files as the shipped assets would: decoder.pt and lite.pt."""
    from stylecam.lite import LiteStyleTransfer
    from stylecam.loading import save_lite
    from stylecam.model import Encoder
    folder = tmp_path_factory.mktemp("shipped")
    shutil.copy(random_decoder, folder / "decoder.pt")
    torch.manual_seed(0)
    save_lite(LiteStyleTransfer(Encoder()), folder / "lite.pt", {"note": "random, for tests"}, half=False)
    return folder


@pytest.fixture
def assets(shipped, monkeypatch):
    monkeypatch.setenv("STYLECAM_ASSETS", str(shipped))
    return shipped


@pytest.fixture
def no_lite_installed(random_decoder, tmp_path, monkeypatch):
    """An install without assets/lite.pt: the shipped files but that one (links), the random decoder."""
    folder = tmp_path / "install"
    folder.mkdir()
    for f in paths.shipped_dir().iterdir():
        if f.is_file() and not f.name.startswith(("lite.", "decoder.")):
            (folder / f.name).symlink_to(f)
    shutil.copy(random_decoder, folder / "decoder.pt")
    monkeypatch.setattr(paths, "shipped_dir", lambda: folder)
    monkeypatch.delenv("STYLECAM_ASSETS", raising=False)
    return folder


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    p = tmp_path_factory.mktemp("clip") / "camera.mp4"
    make_clip(p, w=64, h=48, frames=12, fps=60, audio=None)
    return p


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# -- the key ------------------------------------------------------------------------------------

def test_l_key_toggles_the_network_and_is_listed():
    s0 = K.LiveState(model="full", networks=("full", "lite"))
    s1, action = K.press(s0, "l", 3)
    assert action is None and s1.model == "lite" and s1.style == s0.style
    assert K.press(s1, "l", 3)[0] == s0
    assert K.parse_script("l@2,l@5") == {2: ["l"], 5: ["l"]}
    assert K.key_name(ord("L")) == "l"
    assert ("l", "network: full / lite") in K.HELP_LINES
    assert "l full/lite" in K.title("lite") and K.title("lite").startswith("stylecam (lite)")


# -- image, video, live on each network -------------------------------------------------------------

@pytest.mark.parametrize("model", MODELS)
def test_image_runs_the_chosen_network(capsys, assets, photo, style_image, tmp_path, model):
    out = tmp_path / "out.png"
    code, _, err = run(capsys, "image", photo, "-s", style_image, "-o", out, "--size", "64",
                       "--backend", "torch", "--model", model)
    assert code == 0, err
    assert cv2.imread(str(out)).shape == (48, 64, 3)
    assert f"model: {model} (--model {model})\nbackend: torch on cpu" in err


@pytest.mark.parametrize("model", MODELS)
def test_video_runs_the_chosen_network(capsys, assets, clip, style_image, tmp_path, model):
    from stylecam.video.io import inspect
    out = tmp_path / "out.mp4"
    code, stdout, err = run(capsys, "video", clip, "-s", style_image, "-o", out, "--backend", "torch",
                            "--model", model, "--smooth", "features")       # the split path too
    assert code == 0, err
    [video] = [s for s in inspect(out)["streams"] if s["type"] == "video"]
    assert video["packets"] == 12 and (video["width"], video["height"]) == (64, 48)
    assert f"model: {model} (--model {model})" in err and "wrote" in stdout


def _live(clip, style, out_dir, keys, runtime, max_frames=10) -> LiveOptions:
    script = K.parse_script(keys)
    return LiveOptions(camera=str(clip), camera_size=None, once=False, size=32, window=False,
                       max_frames=max_frames, keys=tuple((f, k) for f in sorted(script) for k in script[f]),
                       out_dir=Path(out_dir), smooth=SmoothOptions(),
                       style=StyleOptions((str(style),), None, 1.0, None), runtime=runtime)


@pytest.mark.parametrize("first", MODELS)
def test_live_l_key_switches_the_network_and_back(assets, clip, style_image, tmp_path, capsys, first):
    second = "lite" if first == "full" else "full"
    seen, hud = [], []

    def watch(loop):
        seen.append((loop.model, loop.backend))
        hud.append(loop._hud_info(loop.style_label).model)
        if loop.summary.frames == 2:
            loop.models.wait(second)          # loads in the background; make the switch exact
    runtime = RuntimeOptions(None, "torch", "cpu", "fp32", model=first)
    summary = run_live(_live(clip, style_image, tmp_path, "l@2,k@4,l@6", runtime), on_frame=watch)
    assert summary.frames == 10 and summary.exit_code == 0
    models = [m for m, _ in seen]
    assert models == [first] * 2 + [second] * 4 + [first] * 4     # l@2: from the 3rd frame; l@6: back
    assert hud == models                                          # the HUD names the network on screen
    assert seen[0][1] is seen[-1][1] and seen[2][1] is not seen[0][1]   # both kept: the first one again
    [shot] = summary.screenshots                                  # the HUD drawn with the second network
    assert cv2.imread(str(shot)).shape[0] >= 540
    err = capsys.readouterr().err
    assert f"model: {first} (--model {first})" in err
    assert f"switched to the {second} network" in err and f"switched to the {first} network" in err


def test_live_l_key_without_the_lite_file_says_why_and_keeps_running(no_lite_installed, clip, style_image,
                                                                      tmp_path, capsys):
    def watch(loop):
        if loop.summary.frames == 2:
            loop.models.wait("lite")
    summary = run_live(_live(clip, style_image, tmp_path, "l@2", RuntimeOptions(None, "torch", "cpu", "fp32",
                                                                                model="full"), max_frames=5),
                       on_frame=watch)
    assert summary.frames == 5 and summary.exit_code == 0
    err = capsys.readouterr().err
    assert "the lite network is not available: no stylecam-lite model at" in err
    assert "python -m train.lite" in err and "keeping full" in err


def test_live_command_line_headless_with_the_key(capsys, assets, clip, style_image, tmp_path):
    code, _, err = run(capsys, "--camera", clip, "-s", style_image, "--model", "lite", "--backend", "torch",
                       "--no-window", "--max-frames", "4", "--size", "32", "--keys", "l@2", "--out-dir", tmp_path)
    assert code == 0, err
    assert "model: lite (--model lite)" in err and "4 frames in" in err


# -- the default, and how it prints ----------------------------------------------------------------

def test_auto_runs_lite_live_on_the_cpu_and_full_for_pictures(capsys, assets, clip, photo, style_image, tmp_path):
    code, _, err = run(capsys, "--camera", clip, "-s", style_image, "--backend", "torch", "--device", "cpu",
                       "--no-window", "--max-frames", "2", "--size", "32", "--out-dir", tmp_path)
    assert code == 0, err
    assert "model: lite (auto: live on the CPU; --model full for the full network)\nbackend: torch" in err
    code, _, err = run(capsys, "image", photo, "-s", style_image, "-o", tmp_path / "a.png", "--size", "32",
                       "--backend", "torch", "--device", "cpu")
    assert code == 0, err
    assert "model: full (auto: the full network except live on the CPU; --model lite for the faster student)" in err


def test_auto_without_the_lite_file_runs_full_live_saying_so(capsys, no_lite_installed, clip, style_image, tmp_path):
    code, _, err = run(capsys, "--camera", clip, "-s", style_image, "--backend", "torch", "--device", "cpu",
                       "--no-window", "--max-frames", "2", "--size", "32", "--out-dir", tmp_path)
    assert code == 0, err
    line = next(t for t in err.splitlines() if t.startswith("model:"))
    assert line.startswith("model: full (auto: live on the CPU would run lite, but there is no ")
    assert str(no_lite_installed / "lite.pt") in line and "python -m train.lite" in line


def test_a_file_for_one_network_picks_it_under_auto(shipped):
    from stylecam.networks import choose_model
    decoder, lite = str(shipped / "decoder.pt"), str(shipped / "lite.pt")
    assert choose_model(RuntimeOptions(decoder, "torch", "cpu", "fp32"), live=True).kind == "full"
    assert choose_model(RuntimeOptions(None, "torch", "cpu", "fp32", lite=lite)).kind == "lite"
    both = RuntimeOptions(decoder, "torch", "cpu", "fp32", lite=lite)
    assert choose_model(both, live=True).kind == "lite" and choose_model(both).kind == "full"


# -- bad input: one line, exit 2, nothing written ------------------------------------------------------

@pytest.mark.parametrize("argv, message", [
    (["--decoder", "LITE"], "is a stylecam-lite model, not a decoder of the full model: use it with --model lite"),
    (["--lite", "DECODER"], "is a decoder of the full model, not a stylecam-lite model: use it with --model full"),
    (["--model", "huge"], "argument --model: huge: not a network; choose auto, full, lite or a weights file"),
    (["--model", "lite", "--precision", "int8", "--backend", "torch"],
     "--precision int8 runs only with onnxruntime or openvino on the CPU: add --backend onnxruntime"),
])
def test_bad_model_options_are_one_line_and_write_nothing(capsys, assets, photo, style_image, tmp_path, argv,
                                                          message):
    files = {"LITE": assets / "lite.pt", "DECODER": assets / "decoder.pt"}
    out = tmp_path / "never.png"
    code, _, err = run(capsys, "image", photo, "-s", style_image, "-o", out, "--size", "32",
                       *[files.get(a, a) for a in argv])
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert not out.exists()


def test_lite_without_the_file_names_the_fix(capsys, no_lite_installed, photo, style_image, tmp_path):
    out = tmp_path / "never.png"
    code, _, err = run(capsys, "image", photo, "-s", style_image, "-o", out, "--model", "lite")
    assert code == 2 and err.count("\n") == 1 and not out.exists()
    assert f"no stylecam-lite model at {no_lite_installed / 'lite.pt'}" in err
    assert "python -m train.lite" in err and "--model full" in err


# -- export, reports, benches ----------------------------------------------------------------------------

@pytest.mark.skipif(not HAS_ORT, reason="needs onnxruntime")
def test_export_onnx_lite_keeps_the_frame_contract_and_runs(capsys, assets, photo, style_image, tmp_path,
                                                             monkeypatch):
    import numpy as np

    from export.onnx import main as export
    from stylecam import graphs
    from stylecam.backends.onnxruntime_backend import OnnxRuntimeBackend
    monkeypatch.chdir(tmp_path)
    assert export(["--model", "lite"]) == 0                      # -> stylecam-lite.onnx
    graph = tmp_path / "stylecam-lite.onnx"
    meta = graphs.check_stylecam_onnx(graph)
    assert meta["stylecam.model"] == "lite" and meta["stylecam.size_multiple"] == "4"
    assert "model: lite (--model lite)" in capsys.readouterr().err
    frame = np.zeros((36, 52, 3), np.uint8)                      # multiples of 4, not of 8
    out = OnnxRuntimeBackend(graph).stylize(frame, torch.zeros(512), torch.ones(512), 1.0)
    assert out.shape == (36, 52, 3) and out.dtype == np.uint8
    # the graph picks its network under auto, and refuses the other one
    code, _, err = run(capsys, "image", photo, "-s", style_image, "-o", tmp_path / "a.png", "--size", "32",
                       "--backend", "onnxruntime", "--onnx", graph)
    assert code == 0 and f"model: lite (auto: --onnx {graph} holds the lite network)" in err
    code, _, err = run(capsys, "image", photo, "-s", style_image, "-o", tmp_path / "b.png",
                       "--backend", "onnxruntime", "--onnx", graph, "--model", "full")
    assert code == 2 and err.count("\n") == 1 and "holds the lite network" in err and "--model lite" in err
    assert not (tmp_path / "b.png").exists()


def test_export_trt_names_follow_the_model():
    from export.trt import parse
    lite, full = parse(["--model", "lite"]), parse([])
    assert (lite.onnx, lite.out, lite.model) == (Path("stylecam-lite.onnx"), Path("stylecam-lite.engine"), "lite")
    assert (full.onnx, full.out, full.model) == (Path("stylecam.onnx"), Path("stylecam.engine"), None)


def test_flicker_report_on_the_lite_network(capsys, assets, clip, style_image, tmp_path):
    from stylecam.tools.flicker_report import main as report
    out = tmp_path / "report.json"
    assert report([str(clip), "-s", str(style_image), "--model", "lite", "--backend", "torch", "--size", "32",
                   "--seconds", "0.05", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["model"] == "lite" and result["weights"] == "assets/lite.pt" and result["frames"] == 3
    assert result["variants"]["per-frame"]["warping_error"] >= 0
    assert "lite network" in capsys.readouterr().err


def test_bench_times_the_lite_network(capsys, assets, tmp_path):
    out = tmp_path / "bench.json"
    code, stdout, err = run(capsys, "bench", "--model", "lite", "--backend", "torch", "--device", "cpu",
                            "--sizes", "32x32", "--batches", "1", "--repeats", "1", "--warmup", "0", "--json", out)
    assert code == 0, err
    report = json.loads(out.read_text())
    assert report["model"] == "lite" and report["results"][0]["size"] == "32x32"
    assert "model: lite (--model lite)" in err and "lite network" in stdout


def test_live_bench_on_the_lite_network(capsys, assets, clip):
    from stylecam.live.bench import main as bench
    assert bench(["--camera", str(clip), "--model", "lite", "--backend", "torch", "--device", "cpu",
                  "--size", "32", "--frames", "3", "--fast-file"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["model"] == "lite" and result["results"][0]["model_used"] == "lite"
