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
