"""Style statistics: cache in memory and on disk, resolution of --style values, the bank."""
import shutil

import pytest
import torch

from stylecam.errors import UserError
from stylecam.styles import StyleLibrary, load_bank
from stylecam.vgg import load_encoder


@pytest.fixture(scope="module")
def encoder():
    return load_encoder()


def test_cache_hit_does_not_rerun_the_encoder(encoder, style_image, tmp_path):
    lib = StyleLibrary(encoder, cache_dir=tmp_path / "c")
    a = lib.from_image(style_image)
    b = lib.from_image(style_image)
    assert lib.encoder_runs == 1
    assert torch.equal(a.mean, b.mean) and a.mean.shape == (512,)
    fresh = StyleLibrary(encoder, cache_dir=tmp_path / "c")         # a new process: disk cache
    c = fresh.from_image(style_image)
    assert fresh.encoder_runs == 0 and torch.equal(c.std, a.std)


def test_cache_is_keyed_by_content_not_name(encoder, style_image, tmp_path):
    lib = StyleLibrary(encoder, cache_dir=tmp_path / "c")
    copy = tmp_path / "renamed.png"
    shutil.copy(style_image, copy)
    lib.from_image(style_image)
    assert lib.from_image(copy).name == "renamed" and lib.encoder_runs == 1


def test_damaged_cache_entry_is_recomputed(encoder, style_image, tmp_path):
    lib = StyleLibrary(encoder, cache_dir=tmp_path / "c")
    lib.from_image(style_image)
    for f in (tmp_path / "c").iterdir():
        f.write_bytes(b"garbage")
    fresh = StyleLibrary(encoder, cache_dir=tmp_path / "c")
    fresh.from_image(style_image)
    assert fresh.encoder_runs == 1


def test_resolve_path_folder_and_builtin(encoder, style_image, photo, tmp_path):
    lib = StyleLibrary(encoder, cache_dir=tmp_path / "c")
    assert [s.name for s in lib.resolve(str(style_image))] == ["painting"]
    assert sorted(s.name for s in lib.resolve(str(tmp_path))) == ["painting", "photo"]
    name = sorted(lib.bank)[0]
    assert lib.resolve(name)[0].mean.shape == (512,)
    with pytest.raises(UserError, match="unknown style 'no_such_style'"):
        lib.resolve("no_such_style")
    with pytest.raises(UserError, match="not found"):
        lib.resolve("missing.jpg")


def test_shipped_bank_matches_the_shipped_encoder(encoder):
    bank = load_bank()
    assert len(bank) >= 5
    lib = StyleLibrary(encoder)
    style = lib.builtin(sorted(bank)[0])
    assert torch.isfinite(style.mean).all() and (style.std > 0).all()
