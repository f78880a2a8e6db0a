"""The decoder's strength modulation: exact at α = 1, per-sample α, older decoder files unchanged."""
import pytest
import torch

from export.random_weights import random_decoder
from stylecam.errors import UserError
from stylecam.loading import load_decoder, save_decoder
from stylecam.model import Decoder


@pytest.fixture(scope="module")
def features():
    return torch.randn(3, 512, 4, 6, generator=torch.Generator().manual_seed(0))


def plain(decoder: Decoder) -> Decoder:
    """The same convolutions with no modulation: the decoder as it was before the modulation existed."""
    import copy
    d = copy.deepcopy(decoder)
    for p in (*d.photo_gain, *d.photo_bias):
        p.zero_()
    return d


@torch.no_grad()
def test_alpha_one_is_exactly_the_plain_decoder(features):
    d = random_decoder(3)
    assert torch.equal(d(features, 1.0), plain(d)(features))
    assert torch.equal(d(features), plain(d)(features, 0.0))      # no modulation: α does not matter


@torch.no_grad()
def test_modulation_changes_lower_alpha_and_moves_smoothly(features):
    d = random_decoder(3)
    outs = [d(features, a) for a in (0.0, 0.5, 1.0)]
    assert (outs[0] - outs[2]).abs().mean() > 1e-3                # the photo end differs
    # halfway is between the ends (not identical to either)
    mid = (outs[1] - outs[2]).abs().mean()
    assert 0 < mid < (outs[0] - outs[2]).abs().mean()


@torch.no_grad()
def test_per_sample_alpha_equals_one_at_a_time(features):
    d = random_decoder(4)
    alpha = torch.tensor([0.0, 0.3, 1.0])
    batched = d(features, alpha)
    for i, a in enumerate(alpha.tolist()):
        torch.testing.assert_close(batched[i:i + 1], d(features[i:i + 1], a), rtol=1e-5, atol=1e-5)


@torch.no_grad()
def test_decoder_file_without_modulation_loads_as_before(tmp_path, features):
    d = plain(random_decoder(5))
    old = {k: v for k, v in d.state_dict().items() if not k.startswith("photo_")}
    path = tmp_path / "old.pt"
    torch.save(old, path)
    loaded = load_decoder(path)
    assert all(not p.any() for p in (*loaded.photo_gain, *loaded.photo_bias))
    for a in (0.0, 0.4, 1.0):
        assert torch.equal(loaded(features, a), d(features, a))


@torch.no_grad()
def test_modulation_round_trips_through_a_decoder_file(tmp_path, features):
    d = random_decoder(6)
    path = save_decoder(d, tmp_path / "decoder.pt", {}, half=False)
    torch.testing.assert_close(load_decoder(path)(features, 0.0), d(features, 0.0))


def test_decoder_file_with_foreign_modulation_is_refused(tmp_path):
    state = random_decoder(7).state_dict()
    state["photo_gain.0"] = torch.zeros(7)                         # wrong width
    path = tmp_path / "bad.pt"
    torch.save(state, path)
    with pytest.raises(UserError, match="decoder of the full model of another architecture"):
        load_decoder(path)
