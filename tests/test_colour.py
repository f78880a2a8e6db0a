"""The colour figures and the colour training term (train/colour.py), on small synthetic images."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import synthetic_rgb
from stylecam.images import to_tensor
from test_train import painting
from train.colour import colour_distance, directions, mix_moments, moment_loss, moments


def test_an_image_against_itself_is_0_and_a_shuffled_copy_nearly():
    a = synthetic_rgb(60, 80, 3)
    shuffled = np.random.default_rng(1).permutation(a.reshape(-1, 3)).reshape(a.shape)
    assert colour_distance(a, a) == 0.0
    assert colour_distance(a, shuffled) < 0.01 < colour_distance(a, painting(60, 80, 2))


def test_two_flat_colours_are_the_mean_projection_of_their_difference():
    x, y = np.array([200, 30, 90]), np.array([20, 140, 90])
    a, b = (np.broadcast_to(c, (16, 24, 3)).astype(np.uint8) for c in (x, y))
    expected = np.abs(directions() @ ((x - y) / 255)).mean()
    assert colour_distance(a, b) == pytest.approx(expected, abs=1e-12)
    assert colour_distance(b, a) == pytest.approx(expected, abs=1e-12)       # symmetric


def test_moments_of_a_blend_are_those_of_the_mixed_pixels():
    a, b = to_tensor(synthetic_rgb(16, 16, 1)), to_tensor(painting(16, 16, 4))
    both = moments(torch.cat([a, b], 3))                                       # the two side by side
    mixed = mix_moments(moments(torch.cat([a, b])), torch.tensor([[0, 1]]), torch.tensor([[0.5, 0.5]]))
    for got, want in zip(mixed, both):
        assert torch.allclose(got, want, atol=1e-6)
    assert moment_loss(a, moments(a)).item() == pytest.approx(0, abs=1e-12)


def test_the_colour_term_moves_pixels_towards_the_painting_s_palette():
    photo, art = synthetic_rgb(32, 32, 5), painting(32, 32, 6)
    target = moments(to_tensor(art))
    x = torch.logit(to_tensor(photo).clamp(0.02, 0.98)).requires_grad_(True)
    opt = torch.optim.Adam([x], lr=0.05)
    for _ in range(150):
        opt.zero_grad()
        moment_loss(torch.sigmoid(x), target).backward()
        opt.step()
    out = (torch.sigmoid(x)[0].permute(1, 2, 0).detach().numpy() * 255).round().astype(np.uint8)
    assert colour_distance(out, art) < 0.7 * colour_distance(photo, art)     # two moments of a blocky palette


def test_the_unstylized_photo_scores_ratio_1_and_ssim_1(model):
    from train.evaluate import paintings, reconstruct, score_pairs, summarize
    photos = [synthetic_rgb(32, 40, 0), synthetic_rgb(40, 32, 1)]
    styles = paintings(model.encoder, [painting(32, 32, 2), painting(40, 48, 3)], torch.device("cpu"))
    as_is = lambda photo, painting, alpha: photo                                    # noqa: E731
    rows, _ = score_pairs(model.encoder, as_is, photos, styles, [(0, 0), (0, 1), (1, 1)], torch.device("cpu"))
    ssim0, _ = reconstruct(as_is, photos, styles[0], torch.device("cpu"))
    mean = summarize(rows, ssim0)
    for ratio in ("style_ratio", "relu1_1_ratio", "colour_ratio"):
        assert mean[ratio] == pytest.approx(1.0, abs=1e-6)
    assert mean["ssim_alpha1"] == pytest.approx(1.0) and mean["ssim_alpha0"] == pytest.approx(1.0)
    assert mean["content_loss"] == pytest.approx(np.mean([r["content_loss"] for r in rows]))
