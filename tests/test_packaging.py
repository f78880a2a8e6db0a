"""pyproject.toml lists every package, so a non-editable install is complete."""
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_python_package_is_listed_for_installation():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for top in ("stylecam", "export", "train")
             for p in (ROOT / top).rglob("__init__.py") if "__pycache__" not in p.parts}
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    assert cfg["package-dir"]["stylecam.assets"] == "assets"


def test_shipped_assets_are_found():
    from stylecam.paths import shipped_dir
    assert (shipped_dir() / "vgg_norm.pt").is_file()
    assert (shipped_dir() / "styles.pt").is_file()


def test_the_shipped_decoder_loads_and_stylizes():
    """assets/decoder.pt of this checkout (what a wheel ships), on a tiny photo with a built-in style."""
    import torch

    from conftest import synthetic_rgb
    from stylecam.images import to_tensor
    from stylecam.loading import decoder_meta, load_model
    from stylecam.styles import load_bank
    shipped = ROOT / "assets" / "decoder.pt"
    assert decoder_meta(shipped)["iterations"] > 0                   # trained, and says so
    model = load_model(shipped)
    photo = to_tensor(synthetic_rgb(48, 64))
    style = load_bank()["van_gogh_starry_night_over_the_rhone"]
    with torch.no_grad():
        out = model(photo, style.mean, style.std)
    assert out.shape == photo.shape and torch.isfinite(out).all()
    assert (out - photo).abs().mean() > 0.05                        # stylized, not given back
    assert out.std((2, 3)).min() > 0.02                             # a picture, not a constant
