"""The user cache of exported graphs: each exported once per network and exporter, then verified
against the size and sha256 recorded beside it on every use, so that a damaged file (a full disk,
a crash, a hand edit) is exported again, said so, instead of failing every run."""
from __future__ import annotations

import json
import sys
from pathlib import Path

_EXPORTED: dict[str, Path] = {}          # key -> graph exported by this process (a cache dir may change)


def cached_onnx(model, precision: str = "fp32", graph: str = "frame") -> Path:
    """The frame, encoder or decoder graph of ``model`` in the user cache, keyed by the weights'
    hash and the exporter settings; exported when missing or damaged."""
    import torch

    from ..convert import EXPORTERS
    from ..graphs import FORMAT_VERSION, OPSET, model_hash
    from ..paths import user_cache_dir
    from ..safeio import writable_cache
    key = f"{model_hash(model)}-op{OPSET}-f{FORMAT_VERSION}-{graph}-{precision}-torch{torch.__version__.split('+')[0]}"
    path = user_cache_dir() / "onnx" / f"stylecam-{key}.onnx"
    if not path.is_file() and key in _EXPORTED and _EXPORTED[key].is_file():
        path = _EXPORTED[key]
    damage = damage_of(path) if path.is_file() else None
    if damage or not path.is_file():
        path = writable_cache(path.parent, "the exported graph") / path.name
        what = "network" if graph == "frame" else f"{graph} graph"
        # starts with "backend:" like the choice report, which follows it
        print(f"backend: the cached ONNX {what} {path} is damaged ({damage}); exporting it again" if damage else
              f"backend: exporting the {what} to ONNX once ({precision}, about 10 s) -> {path}", file=sys.stderr)
        EXPORTERS[graph](model, path, precision)
        _record(path)
    _EXPORTED[key] = path
    return path


def _record_path(graph: Path) -> Path:
    return graph.with_name(graph.name + ".json")


def _record(graph: Path) -> None:
    from ..graphs import file_hash
    from ..safeio import atomic_output
    with atomic_output(_record_path(graph)) as tmp:
        tmp.write_text(json.dumps({"size": graph.stat().st_size, "sha256": file_hash(graph, 64)}) + "\n")


def damage_of(graph: Path) -> str | None:
    """None if a cached graph is the file that was exported; otherwise what is wrong with it."""
    from ..graphs import file_hash
    try:
        record = json.loads(_record_path(graph).read_text())
        size, digest = int(record["size"]), str(record["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return "no valid record of its size and sha256 beside it"
    if graph.stat().st_size != size:
        return f"{graph.stat().st_size} bytes, {size} when exported"
    if file_hash(graph, 64) != digest:
        return "its sha256 differs from the one recorded at export"
    return None
