"""The AdaIN maths: statistics, strength, blending, CORAL."""
import torch

from stylecam.adain import adain, adain_with_strength, blend_stats, calc_mean_std, coral


def test_calc_mean_std_is_biased_and_fp32():
    x = torch.randn(2, 3, 5, 7, dtype=torch.float64)
    mean, std = calc_mean_std(x, eps=0.0)
    assert mean.dtype == torch.float32 and mean.shape == (2, 3)
    ref = x.flatten(2).std(dim=2, unbiased=False)
    assert torch.allclose(std.double(), ref, atol=1e-5)


def test_adain_output_carries_style_statistics_exactly():
    torch.manual_seed(0)
    content = torch.randn(2, 512, 9, 11) * 3 + 1
    s_mean, s_std = torch.rand(2, 512) * 4, torch.rand(2, 512) + 0.5
    out = adain(content, s_mean, s_std)
    mean, std = calc_mean_std(out, eps=0.0)
    assert torch.allclose(mean, s_mean, atol=1e-4)
    assert torch.allclose(std, s_std, rtol=1e-4, atol=1e-4)


def test_alpha_zero_returns_content_features_and_one_full_adain():
    content = torch.randn(1, 512, 4, 4).abs()
    s_mean, s_std = torch.rand(512), torch.rand(512) + 0.1
    assert torch.equal(adain_with_strength(content, s_mean, s_std, 0.0), content)
    assert torch.allclose(adain_with_strength(content, s_mean, s_std, 1.0), adain(content, s_mean, s_std))
    half = adain_with_strength(content, s_mean, s_std, 0.5)
    assert torch.allclose(half, 0.5 * content + 0.5 * adain(content, s_mean, s_std), atol=1e-6)


def test_blend_weights_normalize_and_equal_interpolated_adain():
    torch.manual_seed(1)
    means = [torch.rand(512) for _ in range(3)]
    stds = [torch.rand(512) + 0.1 for _ in range(3)]
    m, s = blend_stats(means, stds, [1, 0, 0])
    assert torch.equal(m, means[0]) and torch.equal(s, stds[0])
    m, s = blend_stats(means[:2], stds[:2], [2, 2])              # weights are normalized
    assert torch.allclose(m, (means[0] + means[1]) / 2)
    # mixing statistics == the paper's interpolation of AdaIN outputs (AdaIN is affine in μ, σ)
    w = [0.2, 0.3, 0.5]
    content = torch.randn(1, 512, 6, 6)
    mixed = adain(content, *blend_stats(means, stds, w))
    interpolated = sum(wi * adain(content, mi, si) for wi, mi, si in zip(w, means, stds))
    assert torch.allclose(mixed, interpolated, atol=1e-5)


def test_blend_rejects_bad_weights():
    import pytest
    with pytest.raises(ValueError):
        blend_stats([torch.zeros(4)], [torch.ones(4)], [0.0])
    with pytest.raises(ValueError):
        blend_stats([torch.zeros(4)] * 2, [torch.ones(4)] * 2, [1.0])


def _cov(x: torch.Tensor) -> torch.Tensor:
    """(3, H, W) -> the 3×3 colour covariance (biased, float64)."""
    c = x.double().flatten(1)
    c = c - c.mean(1, keepdim=True)
    return c @ c.T / c.shape[1]


def test_coral_matches_target_colour_mean_and_covariance():
    torch.manual_seed(2)
    src = torch.rand(3, 20, 30) * 0.5
    mix = torch.tensor([[0.20, 0.00, 0.00],        # correlated target channels: off-diagonal terms to match
                        [0.12, 0.10, 0.00],
                        [-0.08, 0.05, 0.08]])
    tgt = (mix @ torch.rand(3, 100)).reshape(3, 10, 10) + torch.tensor([0.5, 0.3, 0.5])[:, None, None]
    assert 0 < tgt.min() and tgt.max() < 1           # nothing clamped: the statistics can match exactly
    out = coral(src, tgt)
    assert out.shape == src.shape
    assert torch.allclose(out.flatten(1).mean(1), tgt.flatten(1).mean(1), atol=1e-4)
    assert torch.allclose(_cov(out), _cov(tgt), atol=2e-5)     # up to the 1e-5·I coral adds to each covariance
    assert (_cov(tgt) - _cov(src)).abs().max() > 1e-3          # the source's own covariance was different
