"""stylecam-lite: the model API at odd sizes, α = 0 as a plain autoencoder, the MAC budget, the
lite file (round trip and every bad-file case), distillation on tiny generated folders, ONNX."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from conftest import synthetic_rgb
from stylecam.errors import UserError
from stylecam.images import to_tensor
from stylecam.lite import LiteConfig, LiteStyleTransfer
from stylecam.networks import FORMAT
from stylecam.networks.lite import LITE
from stylecam.loading import (load_decoder, load_lite, load_model, read_lite,
                              save_lite)
from test_train import painting, write_images

MAC_BUDGET = 30_000          # multiply-adds per output pixel, per frame (issue 10)


@pytest.fixture(scope="session")
def lite(model):
    """A lite network with random weights whose output spreads over [0, 1] (a raw random one is
    near-constant, useless for comparisons), around the full model's VGG."""
    from export.random_weights import random_lite, spread_output
    return spread_output(random_lite(model.encoder), to_tensor(synthetic_rgb(64, 64, seed=1)),
                         to_tensor(painting(64, 64, 2)))


def feat_stats(feat):
    from stylecam.adain import calc_mean_std
    return calc_mean_std(feat)


def style_of(m, seed: int):
    return m.style_stats(to_tensor(painting(48, 64, seed)))


# --- the model API ---------------------------------------------------------------------------------

def test_api_shapes_at_odd_sizes(lite):
    mean, std = style_of(lite, 1)
    x = torch.rand(2, 3, 37, 53)
    out = lite(x, mean, std, torch.tensor([0.3, 1.0]))
    assert out.shape == (2, 3, 37, 53) and 0 <= out.min() and out.max() <= 1
    out1 = lite(x[1:], mean[0], std[0], 1.0)              # (512,) style and a float alpha
    assert (out1 - out[1:]).abs().max() < 1e-5
    feat = lite.encode(torch.rand(1, 3, 36, 52))
    assert feat.shape == (1, LiteConfig().channels[-1], 9, 13)
    dec = lite.decode(feat, *feat_stats(feat), mean, std, 0.5)
    assert dec.shape == (1, 3, 36, 52)
    assert lite.kind == "lite" and lite.config.size_multiple == 4


def test_style_statistics_are_the_full_models(lite, model):
    painting_rgb = to_tensor(painting(45, 61, 3))          # odd: padded to the VGG's multiple of 8
    for a, b in zip(lite.style_stats(painting_rgb), model.style_stats(painting_rgb)):
        assert a.shape == (1, 512) and torch.equal(a, b)


def test_alpha_zero_is_a_style_independent_autoencoder(lite):
    x = to_tensor(synthetic_rgb(40, 56, seed=4))
    (m1, s1), (m2, s2) = style_of(lite, 1), style_of(lite, 7)
    a0, b0 = lite(x, m1, s1, 0.0), lite(x, m2, s2, 0.0)
    assert torch.equal(a0, b0)
    # the mapping is never consulted: a network whose mapping is wrecked gives the same photo back
    wrecked = copy.deepcopy(lite)
    with torch.no_grad():
        wrecked.decoder.mapping[-1].bias.add_(3.0)
    assert torch.equal(wrecked(x, m1, s1, 0.0), a0)
    a1, b1 = lite(x, m1, s1, 1.0), lite(x, m2, s2, 1.0)
    assert (a1 - b1).abs().mean() > 1e-3                   # and at α = 1 the style matters
    both = lite(x.expand(2, -1, -1, -1), torch.cat([m1, m2]), torch.cat([s1, s2]), torch.tensor([0.0, 1.0]))
    assert (both[0] - a0[0]).abs().max() < 1e-5 and (both[1] - b1[0]).abs().max() < 1e-5


def test_per_frame_cost_is_within_the_budget(lite):
    x, (mean, std) = torch.rand(1, 3, 64, 64), style_of(lite, 1)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        lite(x, mean, std, 1.0)
    macs_per_pixel = counter.get_total_flops() / 2 / (64 * 64)
    assert 10_000 < macs_per_pixel <= MAC_BUDGET, macs_per_pixel


# --- the lite file ---------------------------------------------------------------------------------

def test_save_load_round_trip(lite, tmp_path):
    path = save_lite(lite, tmp_path / "lite.pt", {"note": "test"}, half=False)
    raw = torch.load(path, weights_only=True)
    assert (raw["format"], raw["kind"], raw["version"]) == (FORMAT, "lite", LITE.version)
    assert not any(k.startswith("style_encoder.") for k in raw["weights"])
    assert json.loads((tmp_path / "lite.json").read_text()) == {"note": "test"}
    loaded = load_model(model="lite", lite_path=path)
    assert isinstance(loaded, LiteStyleTransfer) and loaded.config == lite.config
    x, (mean, std) = to_tensor(synthetic_rgb(32, 44, seed=2)), style_of(lite, 1)
    assert torch.equal(loaded(x, mean, std, 0.8), lite(x, mean, std, 0.8))
    half = load_lite(save_lite(lite, tmp_path / "half.pt", {}))          # the shipped form: fp16
    assert (half(x, mean, std, 0.8) - lite(x, mean, std, 0.8)).abs().max() < 2 / 255


def _tampered(lite, tmp_path, name, change):
    path = save_lite(lite, tmp_path / f"{name}.pt", {})
    state = torch.load(path, weights_only=True)
    change(state)
    torch.save(state, path)
    return path


@pytest.mark.parametrize("name, change, words", [
    ("version", lambda s: s.update(version=LITE.version + 1), ("version 2", "python -m train.lite")),
    ("config", lambda s: s["config"].update(heads=4), ("another architecture", "python -m train.lite")),
    ("tensors", lambda s: s["config"].update(channels=(8, 16, 32)), ("another architecture", "train.lite")),
    ("format", lambda s: s.update(format="someone-else"), ("not a stylecam-lite model", "train.lite")),
])
def test_a_lite_file_of_another_architecture_or_version_is_refused(lite, tmp_path, name, change, words):
    path = _tampered(lite, tmp_path, name, change)
    with pytest.raises(UserError) as e:
        load_lite(path)
    assert all(w in str(e.value) for w in words), str(e.value)


def test_lite_file_as_decoder_and_decoder_as_lite_file_name_the_fix(lite, random_decoder, tmp_path):
    path = save_lite(lite, tmp_path / "lite.pt", {})
    with pytest.raises(UserError, match="stylecam-lite model, not a decoder.*--model lite"):
        load_decoder(path)
    with pytest.raises(UserError, match="decoder of the full model.*--model full"):
        read_lite(random_decoder)


def test_missing_or_garbage_lite_file_names_the_fix(tmp_path):
    with pytest.raises(UserError, match="no stylecam-lite model at .*python -m train.lite"):
        load_model(model="lite", lite_path=tmp_path / "absent.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(UserError, match="not a loadable stylecam-lite model"):
        read_lite(junk)
    with pytest.raises(UserError, match="--model huge: choose one of full, lite"):
        load_model(model="huge")


# --- distillation ----------------------------------------------------------------------------------

@pytest.fixture
def folders(tmp_path):
    write_images(tmp_path / "content", [synthetic_rgb(32 + 8 * i, 40, i) for i in range(3)])
    write_images(tmp_path / "style", [painting(40, 40, i) for i in range(2)])
    write_images(tmp_path / "val", [synthetic_rgb(32, 40, 9)])
    write_images(tmp_path / "val_style", [painting(32, 32, 5)])
    return tmp_path


def tiny_args(d, out, *extra):
    return ["--content", str(d / "content"), "--style", str(d / "style"), "--out", str(out), "--device", "cpu",
            "--crop", "16", "--short-side", "24", "--batch", "2", "--cache-pool", "8", "--style-size", "48",
            "--log-every", "1", "--teacher", str(d / "teacher.pt"), *extra]


def test_ten_steps_write_the_student_and_resume_continues_exactly(folders, random_decoder, tmp_path, capsys):
    import shutil

    from train.lite import main
    from train.lite_config import build_parser, config_from_args
    from train.lite_loop import LiteTrainer
    shutil.copy(random_decoder, folders / "teacher.pt")
    out = tmp_path / "run"
    assert main(tiny_args(folders, out, "--iterations", "10", "--val-content", str(folders / "val"),
                          "--val-style", str(folders / "val_style"), "--val-size", "32",
                          "--val-style-size", "32", "--style-weight", "1", "--colour-weight", "10")) == 0
    meta = json.loads((out / "lite.json").read_text())
    assert meta["iterations"] == 10 and meta["model"] == "lite" and meta["data"]["content_images"] == 3
    assert meta["teacher"]["sha256"] and set(meta["loss"]) >= {"pixel", "feature", "style", "stability", "colour"}
    assert meta["loss"]["colour"] >= 0 and meta["recipe"]["colour_weight"] == 10
    val = meta["val"]["sets"]["val"]
    assert {"student_ssim_alpha0", "student_colour_ratio", "teacher_relu1_1_ratio"} <= set(val)
    assert (out / "val_val.png").is_file()
    assert isinstance(load_lite(out / "lite.pt"), LiteStyleTransfer)
    assert "img/s" in capsys.readouterr().out

    def trainer(run, *extra):
        return LiteTrainer(config_from_args(build_parser().parse_args(tiny_args(folders, run, *extra))),
                           lambda *a: None)
    straight = trainer(tmp_path / "a", "--iterations", "4", "--colour-weight", "10").run()["history"]
    assert any(h["colour"] > 0 for h in straight)
    trainer(tmp_path / "b", "--iterations", "2", "--colour-weight", "10").run()
    resumed = trainer(tmp_path / "b", "--iterations", "4", "--colour-weight", "10",
                      "--resume", str(tmp_path / "b" / "checkpoint.pt"))
    assert resumed.iteration == 2
    continued = resumed.run()["history"]
    assert [h["iteration"] for h in continued] == [3, 4]
    for a, b in zip(straight[2:], continued):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-5)


@pytest.mark.parametrize("extra, message", [
    (["--lr", "nan"], "argument --lr: nan: must be a finite number"),
    (["--alpha-zero", "1"], "argument --alpha-zero: 1: must be less than 1"),
    (["--stability-weight", "-1"], "argument --stability-weight: -1: must be at least 0"),
    (["--minutes", "inf"], "argument --minutes: inf: must be a finite number"),
    (["--init-from", "TEACHER"], "decoder of the full model, not a stylecam-lite model"),
    (["--teacher", "LITE"], "stylecam-lite model, not a decoder"),
])
def test_bad_options_and_files_stop_before_anything_is_written(folders, random_decoder, lite, tmp_path,
                                                                capsys, extra, message):
    import shutil

    from train.lite import main
    shutil.copy(random_decoder, folders / "teacher.pt")
    save_lite(lite, folders / "lite.pt", {})
    extra = [{"TEACHER": str(folders / "teacher.pt"), "LITE": str(folders / "lite.pt")}.get(a, a) for a in extra]
    out = tmp_path / "never"
    assert main(tiny_args(folders, out, *extra)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not out.exists()


# --- ONNX ------------------------------------------------------------------------------------------

def test_student_exports_to_onnx_and_matches_torch(lite, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from stylecam import convert, graphs
    from stylecam.model import from_bgr_uint8, to_bgr_uint8
    path = convert.torch2onnx(lite, tmp_path / "lite.onnx")
    meta = graphs.check_stylecam_onnx(path)
    assert meta["stylecam.model"] == "lite" and meta["stylecam.weights_hash"] == graphs.model_hash(lite)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    mean, std = style_of(lite, 1)
    for h, w in ((32, 48), (40, 24)):
        frame = np.ascontiguousarray(synthetic_rgb(h, w, seed=h)[..., ::-1])
        got = session.run(None, {"frame": frame, "style_mean": mean[0].numpy(), "style_std": std[0].numpy(),
                                 "alpha": np.array(0.7, np.float32)})[0]
        with torch.no_grad():
            want = to_bgr_uint8(lite(from_bgr_uint8(torch.from_numpy(frame)[None]), mean, std, 0.7))[0].numpy()
        assert got.shape == (h, w, 3) and want.std() > 10
        assert np.abs(got.astype(int) - want).max() <= 1


def test_help_names_the_recipe(capsys):
    from train.lite import main
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    assert "--teacher" in text and "--cache-pool" in text and "cp OUT/lite.pt OUT/lite.json assets/" in text


def test_teacher_palette_gives_the_targets_their_paintings_colours_at_their_strength():
    from train.colour import moments
    from train.lite_teacher import with_painting_colours
    rng = np.random.default_rng(0)
    grey = torch.from_numpy(rng.integers(60, 120, (2, 3, 32, 32), dtype=np.uint8))   # a drab output
    warm = rng.normal((200, 120, 60), 20, (32, 32, 3)).clip(0, 255).astype(np.uint8)      # a warm painting
    art = torch.from_numpy(warm).permute(2, 0, 1)[None].float() / 255
    mean, second = moments(art.expand(2, -1, -1, -1))
    out = with_painting_colours(grey, (mean, second), torch.tensor([1.0, 0.0]))
    got_mean, got_second = moments(out.float() / 255)
    cov = lambda m, s: s - m[:, :, None] * m[:, None, :]  # noqa: E731
    assert torch.allclose(got_mean[0], mean[0], atol=0.01)                  # α = 1: the painting's colours
    assert torch.allclose(cov(got_mean, got_second)[0], cov(mean, second)[0], atol=0.01)
    assert torch.equal(out[1], grey[1])                                      # α = 0: the picture as it was


def test_teacher_palette_is_part_of_the_pool_key_and_the_recipe(folders, random_decoder, tmp_path):
    import shutil

    from train.lite import main
    shutil.copy(random_decoder, folders / "teacher.pt")
    out = tmp_path / "run"
    assert main(tiny_args(folders, out, "--iterations", "2", "--teacher-palette")) == 0
    assert json.loads((out / "lite.json").read_text())["recipe"]["teacher_palette"] is True
    assert torch.load(out / "teacher_pool.pt", weights_only=True)["key"]["teacher_palette"] is True
