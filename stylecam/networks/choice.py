"""Which network runs: ``--model auto|NAME|PATH``, the files given for each kind, and the measured default.

``--model NAME`` runs that registered kind; ``--model PATH`` runs the kind the weights file says it
holds. ``auto`` (the default), first rule that applies:
1. an ``--onnx`` graph or ``--engine`` runs the network it was made from;
2. a file given for one kind only picks that one (``--decoder``: full, ``--lite``: lite);
3. live on the CPU: the kind registered as ``live_on_cpu`` (lite), built to be real time there,
   where the full network is not (docs/benchmarks.md). Without its shipped file: the default, said so;
4. otherwise the default kind (full): pictures and files, where quality comes first, and everything
   on CUDA, where the full network is real time already.
The choice is printed beside the backend report (``ModelChoice.report``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..options import RuntimeOptions
from . import AUTO, NetworkKind, default_kind, default_path, get, kinds, live_cpu_kind, names, read


@dataclass(frozen=True)
class ModelChoice:
    kind: str           # a registered kind's name
    why: str            # how it was chosen, and how to choose another

    def report(self) -> str:
        return f"model: {self.kind} ({self.why})"


def model_file(rt: RuntimeOptions) -> str | None:
    """--model PATH: the weights file given in place of a kind's name."""
    return rt.model if rt.model != AUTO and rt.model not in names() else None


def file_for(rt: RuntimeOptions, kind: NetworkKind) -> str | None:
    """The weights file the options name for ``kind`` (None: its shipped asset)."""
    own = getattr(rt, kind.option) if kind.option else None
    path = model_file(rt)
    if path and read(path)[0] is kind:
        if own:
            raise UserError(f"--model {path} and --{kind.option} {own} both name the {kind.name} network's "
                            f"file: give one")
        return path
    return own


def runs_on_cpu(rt: RuntimeOptions) -> bool:
    """Where the chosen backend will run: INT8 and ONNX Runtime without --device cuda run on the CPU."""
    if rt.device == "cpu" or rt.precision == "int8":
        return True
    if rt.backend == "onnxruntime" and not rt.device.startswith("cuda"):
        return True
    import torch
    return not torch.cuda.is_available()


def graph_kind(rt: RuntimeOptions) -> tuple[str, str] | None:
    """(option, network) of an --onnx graph or --engine given: it can run only the network it was made from."""
    if rt.onnx:
        from ..graphs import read_metadata
        kind = read_metadata(rt.onnx).get("stylecam.model")
        return (f"--onnx {rt.onnx}", kind) if kind else None
    if rt.engine:
        try:
            kind = json.loads(Path(rt.engine).with_suffix(".json").read_text()).get("model")
        except (OSError, ValueError, AttributeError):
            return None          # the backend says what is wrong with it
        return (f"--engine {rt.engine}", kind) if kind else None
    return None


def _others(name: str) -> str:
    return " or ".join(f"--model {k}" for k in names() if k != name)


def _auto(rt: RuntimeOptions, live: bool, graph: tuple[str, str] | None) -> ModelChoice:
    full, fast = default_kind(), live_cpu_kind()
    if graph:
        return ModelChoice(graph[1], f"auto: {graph[0]} holds the {graph[1]} network")
    given = [k for k in kinds() if k.option and getattr(rt, k.option)]
    if len(given) == 1:
        k = given[0]
        return ModelChoice(k.name, f"auto: --{k.option} given; {_others(k.name)} for another network")
    if live and runs_on_cpu(rt) and fast is not full:
        if file_for(rt, fast) or default_path(fast).is_file():   # a file named but missing is an error
            return ModelChoice(fast.name, f"auto: live on the CPU; --model {full.name} for the {full.name} network")
        return ModelChoice(full.name, f"auto: live on the CPU would run {fast.name}, but there is no "
                                      f"{default_path(fast)}; {fast.hint}")
    if live:
        return ModelChoice(full.name, f"auto: live on CUDA, where the {full.name} network is real time; "
                                      f"--model {fast.name} for the student")
    return ModelChoice(full.name, f"auto: the {full.name} network except live on the CPU; "
                                  f"--model {fast.name} for the faster student")


def choose_model(rt: RuntimeOptions, live: bool = False) -> ModelChoice:
    """The network to run (module docstring); live: the live loop, which auto runs lite on the CPU."""
    graph = graph_kind(rt)
    path = model_file(rt)
    if path:
        kind = read(path)[0].name
        choice = ModelChoice(kind, f"--model {path} holds the {kind} network")
    elif rt.model != AUTO:
        choice = ModelChoice(rt.model, f"--model {rt.model}")
    else:
        choice = _auto(rt, live, graph)
    if graph and graph[1] != choice.kind:
        option = graph[0].split()[0]
        raise UserError(f"{graph[0]} holds the {graph[1]} network, and --model {rt.model} asks for the "
                        f"{choice.kind} one: pass --model {graph[1]}, or leave out {option}")
    return choice


def load_network(rt: RuntimeOptions, name: str):
    """The network ``name`` on the CPU, from the file the options name for it or its shipped asset."""
    from . import load
    kind = get(name)
    path = file_for(rt, kind)
    if path is None and not default_path(kind).is_file() and kind is not default_kind():
        raise UserError(f"no {kind.noun} at {default_path(kind)}: {kind.hint}, or use --model {default_kind().name}")
    return load(kind, path)
