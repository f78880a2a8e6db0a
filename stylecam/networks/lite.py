"""stylecam-lite, the distilled student (``stylecam.lite``): its registration and its first files.

Its file holds everything but the VGG style encoder. Read as well: the first lite files (their own
"stylecam-lite" marker, the same fields), and a ``python -m train.lite`` checkpoint (its ``lite``).
"""
from __future__ import annotations

from ..lite import LiteConfig, LiteStyleTransfer
from . import FORMAT, NetworkKind, register

HINT = ("distil one with: python -m train.lite --content DIR --style DIR --out runs/lite "
        "(see docs/training.md), then copy runs/lite/lite.pt and runs/lite/lite.json into assets/")
FIRST_FORMAT = "stylecam-lite"


def legacy(obj: object) -> dict | None:
    if not isinstance(obj, dict):
        return None
    if obj.get("format") == FIRST_FORMAT:
        return {**obj, "format": FORMAT, "kind": LiteStyleTransfer.kind}
    if isinstance(obj.get("lite"), dict):          # a train.lite checkpoint
        return obj["lite"]
    return None


LITE = register(NetworkKind(
    name=LiteStyleTransfer.kind, model=LiteStyleTransfer, config=LiteConfig,
    build=lambda config, vgg: LiteStyleTransfer(vgg, config),
    asset="lite.pt", noun="stylecam-lite model", hint=HINT, option="lite", live_on_cpu=True, legacy=legacy,
    retired=("style_size", "eps")))    # in the first files' configs; the VGG's statistics use the runtime's
