"""Where the shipped data files live.

``assets/`` is installed as the package ``stylecam.assets``. ``STYLECAM_ASSETS``
points at another folder (tests use it for a throw-away decoder); files missing
there are looked up in the shipped folder.
"""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

ENV = "STYLECAM_ASSETS"


def shipped_dir() -> Path:
    try:
        return Path(str(resources.files("stylecam.assets")))
    except ModuleNotFoundError:     # run from a source tree that was never pip-installed (GPU machine)
        return Path(__file__).resolve().parent.parent / "assets"


def asset_path(name: str) -> Path:
    override = os.environ.get(ENV)
    if override and (Path(override) / name).exists():
        return Path(override) / name
    return shipped_dir() / name


def user_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "stylecam"
