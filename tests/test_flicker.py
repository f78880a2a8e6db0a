"""The warping-error metric, the reliable-pixel mask, the cures and `stylecam flicker`."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from clips import make_clip, moving_pattern
from conftest import HAS_ORT, SPLIT_BACKENDS
from stylecam.cli import main
from stylecam.errors import UserError
from stylecam.temporal.flicker import StyleLoss, WarpingError, warping_error
from stylecam.temporal.flow import Flow, reliable_mask
from stylecam.temporal.smoothing import FlowBlending, SmoothOptions, TemporalSmoother

H, W = 48, 64


def _moving(n=8):
    return [moving_pattern(i, H, W) for i in range(n)]


def _noisy(frames, seed=0, sigma=25):
    rng = np.random.default_rng(seed)
    return [np.clip(f + rng.normal(0, sigma, f.shape), 0, 255).astype(np.uint8) for f in frames]


def test_static_sequence_flickers_less_than_a_noisy_one():
    originals = _moving()
    static = [np.full((H, W, 3), 128, np.uint8)] * len(originals)
    steady = warping_error(originals, static)
    noisy = warping_error(originals, _noisy(static))
    assert steady["warping_error"] == pytest.approx(0, abs=1e-9)
    assert noisy["warping_error"] > 0.005          # σ = 25/255 noise: about 2·0.1² on average
    assert steady["pairs"] == noisy["pairs"] == len(originals) - 1
    assert "DIS" in noisy["flow"]


def test_content_that_moves_with_the_flow_is_not_flicker():
    originals = _moving()
    follows = warping_error(originals, originals)     # "stylized" = the input itself
    jumps = warping_error(originals, originals[::-1])
    assert follows["warping_error"] < 0.1 * jumps["warping_error"]


def _textured(shift: int) -> np.ndarray:
    """Grey (96, 128): a still random texture and a textured 32-px square ``shift`` px to the right."""
    rng = np.random.default_rng(5)
    img = (rng.random((96, 128)) * 255).astype(np.uint8)
    img = np.asarray(np.kron(img[::4, ::4], np.ones((4, 4))), np.uint8)     # 4-px blobs: trackable
    square = np.asarray(np.kron((rng.random((8, 8)) * 255).astype(np.uint8), np.ones((4, 4))), np.uint8)
    img[32:64, 40 + shift:72 + shift] = square
    return img


def test_mask_flags_occlusion_not_still_background():
    flow = Flow()
    a, b = _textured(0), _textured(4)                # the square moves 4 px right
    mask = reliable_mask(flow(a, b), flow(b, a))
    assert mask[:24].mean() > 0.95 and mask[72:].mean() > 0.95   # still background
    assert mask[36:60, 50:66].mean() > 0.9           # inside the moving square: tracked
    assert mask[36:60, 72:76].mean() < 0.2           # background the square's front edge covers


def test_stylized_video_smaller_than_original_is_compared_at_its_size():
    m = WarpingError()
    for f in _moving(3):
        m.add(np.kron(f, np.ones((2, 2, 1), np.uint8)), f)   # original twice the size
    assert m.result()["warping_error"] < 1e-3


def test_flow_blending_reduces_flicker_of_a_noisy_sequence():
    originals = _moving(10)
    noisy = _noisy(originals, seed=1)
    blend = FlowBlending(0.75)
    cured = [blend(c, s) for c, s in zip(originals, noisy)]
    before = warping_error(originals, noisy)["warping_error"]
    after = warping_error(originals, cured)["warping_error"]
    assert after < 0.6 * before


@pytest.fixture(params=SPLIT_BACKENDS)
def backend(request, make_backend):
    """Every cure runs on every backend, through its encode/decode."""
    return make_backend(request.param)


def _style():
    g = torch.Generator().manual_seed(3)
    return torch.rand(512, generator=g), torch.rand(512, generator=g) + 0.5


@pytest.mark.parametrize("options", [SmoothOptions("stats", stats_momentum=0.0),
                                     SmoothOptions("features", flow_weight=0.0)], ids=["stats", "features"])
def test_smoothing_without_memory_is_per_frame_adain_and_keeps_order(backend, options):
    frames = np.stack(_moving(3))
    mean, std = _style()
    plain = backend.stylize(frames, mean, std, 0.7)
    smoother = TemporalSmoother(backend, options)
    out = smoother.process_batch(frames, mean, std, 0.7)
    assert out.shape == frames.shape and np.abs(out.astype(int) - plain.astype(int)).max() <= 1
    smoother.reset()          # one at a time: the same, up to the rounding of a batched convolution
    assert np.abs(np.stack([smoother.process(f, mean, std, 0.7) for f in frames]).astype(int) - out).max() <= 1


def test_stats_smoothing_one_frame_at_a_time_equals_batches(backend):
    frames = _moving(4)
    mean, std = _style()
    smoother = TemporalSmoother(backend, SmoothOptions("both", stats_momentum=0.8))
    batched = smoother.process_batch(np.stack(frames), mean, std)
    smoother.reset()
    single = np.stack([smoother.process(f, mean, std) for f in frames])
    assert single.shape == (4, H, W, 3) and single.dtype == np.uint8
    assert np.abs(batched.astype(int) - single.astype(int)).max() <= 1


@pytest.mark.parametrize("mode", ["stats", "both", "features"])
def test_smoothing_on_the_features_runs_on_every_backend(backend, mode):
    frames = np.stack(_moving(4))
    mean, std = _style()
    plain = backend.stylize(frames, mean, std)
    steady = TemporalSmoother(backend, SmoothOptions(mode, stats_momentum=0.9, flow_weight=0.9))
    out = steady.process_batch(frames, mean, std)
    assert out.shape == frames.shape and out.dtype == np.uint8
    assert np.abs(out[0].astype(int) - plain[0]).max() <= 1       # no past yet: the frame itself
    assert np.abs(out[1:].astype(int) - plain[1:]).max() > 1      # then the past shows


@pytest.mark.skipif(not HAS_ORT, reason="needs onnxruntime")
def test_a_backend_that_cannot_split_says_why(make_backend):
    from stylecam.backends.onnxruntime_backend import OnnxRuntimeBackend
    graph_only = OnnxRuntimeBackend(make_backend("onnxruntime").path)     # no encoder/decoder graphs
    for mode in ("stats", "both", "features"):
        with pytest.raises(UserError, match="has no encoder and decoder graphs"):
            TemporalSmoother(graph_only, SmoothOptions(mode))
    assert TemporalSmoother(graph_only, SmoothOptions("flow")).process(_moving(1)[0], *_style()).shape == (H, W, 3)
    with pytest.raises(UserError):
        SmoothOptions("sometimes")


def test_style_loss_prefers_the_style_image_itself(model):
    style = _noisy([moving_pattern(3, 32, 32)], seed=2, sigma=60)[0][..., ::-1].copy()   # RGB
    loss = StyleLoss(model.encoder, style)
    content = np.stack([moving_pattern(0, 32, 32)])
    loss.add(content, style[None, ..., ::-1].copy())
    loss.add(content, np.full((1, 32, 32, 3), 128, np.uint8))
    assert loss.style[0] < 1e-6 < loss.style[1]


def test_flicker_command_prints_json_and_rejects_bad_input(tmp_path, capsys):
    src = tmp_path / "in.mp4"
    make_clip(src, W, H, frames=6, fps=10, audio=None)
    out = tmp_path / "flicker.json"
    assert main(["flicker", str(src), str(src), "--json", str(out), "--per-pair"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(out.read_text())
    assert printed["frames"] == 6 and len(printed["per_pair"]) == 5 and "DIS" in printed["flow"]
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 100)
    assert main(["flicker", str(src), str(bad)]) == 2
    assert capsys.readouterr().err.startswith("stylecam: ")


def test_flicker_report_runs_every_variant(tmp_path, lively_decoder, style_image, capsys):
    from stylecam.tools.flicker_report import main as report
    src = tmp_path / "in.mp4"
    make_clip(src, 32, 32, frames=3, fps=10, audio=None)
    out = tmp_path / "report.json"
    assert report([str(src), "-s", str(style_image), "--decoder", str(lively_decoder), "--size", "32",
                   "--backend", "onnxruntime" if HAS_ORT else "torch",
                   "--flow-weight", "0.5,0.8", "--json", str(out), "--save", str(tmp_path / "v")]) == 0
    rows = json.loads(out.read_text())["variants"]
    assert set(rows) == {"per-frame", "stats (momentum 0.9)", "flow (weight 0.5)", "flow (weight 0.8)",
                         "both (momentum 0.9, weight 0.5)", "both (momentum 0.9, weight 0.8)",
                         "features (weight 0.5)", "features (weight 0.8)"}
    warp = {name: r["warping_error"] for name, r in rows.items()}
    for r in rows.values():               # every change is against per-frame, and the target follows from them
        assert r["warping_error_change"] == pytest.approx(r["warping_error"] / warp["per-frame"] - 1)
        assert r["meets_target"] == (r["warping_error_change"] <= -0.40 and r["style_loss_change"] <= 0.10)
    # blending in the warped past lowers the flicker, the more the higher its weight
    assert warp["flow (weight 0.8)"] < warp["flow (weight 0.5)"] < 0.7 * warp["per-frame"]
    assert warp["features (weight 0.8)"] < warp["features (weight 0.5)"] < warp["per-frame"]
    assert all(r["style_loss"] > 0 and r["warping_error"] >= 0 for r in rows.values())
    assert len(list((tmp_path / "v").glob("*.mp4"))) == 8
    assert "warp err" in capsys.readouterr().err
    before = out.read_bytes()                  # the JSON is never replaced without --overwrite
    assert report([str(src), "-s", str(style_image), "--json", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "--overwrite" in err and out.read_bytes() == before


def test_feature_blending_of_a_still_scene_is_per_frame_adain(backend):
    still = np.stack([_moving(1)[0]] * 4)          # flow 0, every cell reliable: nothing to change
    mean, std = _style()
    plain = backend.stylize(still, mean, std)
    smoother = TemporalSmoother(backend, SmoothOptions("features", flow_weight=0.9))
    steady = smoother.process_batch(still, mean, std)
    assert np.abs(steady.astype(int) - plain.astype(int)).max() <= 1
