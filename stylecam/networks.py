"""Which network runs: ``--model full|lite|auto``, the files given for each, and the measured default.

``auto`` (the default), first rule that applies:
1. an ``--onnx`` graph or ``--engine`` runs the network it was made from;
2. a file given for one network only picks that one (``--decoder``: full, ``--lite``: lite);
3. live on the CPU: lite. The full network runs the live loop at 3.0 frames/s at 480 px on the
   2-core development CPU (README, "Speed on the development machine"); the lite one is built to
   be real time there. Without the shipped assets/lite.pt: full, said so;
4. otherwise full: pictures and files, where quality comes first, and everything on CUDA, where the
   full network is real time already.
The choice is printed beside the backend report (``ModelChoice.report``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError
from .loading import default_lite_path, load_model
from .options import RuntimeOptions

TRAIN_LITE = "train one with python -m train.lite (README, 'stylecam-lite')"


@dataclass(frozen=True)
class ModelChoice:
    kind: str           # "full" | "lite"
    why: str            # how it was chosen, and how to choose the other

    def report(self) -> str:
        return f"model: {self.kind} ({self.why})"


def other(kind: str) -> str:
    return "lite" if kind == "full" else "full"


def lite_file(rt: RuntimeOptions) -> Path:
    return Path(rt.lite) if rt.lite else default_lite_path()


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
        from .graphs import read_metadata
        kind = read_metadata(rt.onnx).get("stylecam.model")
        return (f"--onnx {rt.onnx}", kind) if kind else None
    if rt.engine:
        try:
            kind = json.loads(Path(rt.engine).with_suffix(".json").read_text()).get("model")
        except (OSError, ValueError, AttributeError):
            return None          # the backend says what is wrong with it
        return (f"--engine {rt.engine}", kind) if kind else None
    return None


def choose_model(rt: RuntimeOptions, live: bool = False) -> ModelChoice:
    """The network to run (module docstring); live: the live loop, which auto runs lite on the CPU."""
    graph = graph_kind(rt)
    if rt.model != "auto":
        choice = ModelChoice(rt.model, f"--model {rt.model}")
    elif graph:
        choice = ModelChoice(graph[1], f"auto: {graph[0]} holds the {graph[1]} network")
    elif bool(rt.decoder) != bool(rt.lite):
        flag, kind = ("--decoder", "full") if rt.decoder else ("--lite", "lite")
        choice = ModelChoice(kind, f"auto: {flag} given; --model {other(kind)} for the {other(kind)} network")
    elif live and runs_on_cpu(rt):
        if rt.lite or lite_file(rt).is_file():          # a file named but missing is an error, not a fallback
            choice = ModelChoice("lite", "auto: live on the CPU; --model full for the full network")
        else:
            choice = ModelChoice("full", f"auto: live on the CPU would run lite, but there is no {lite_file(rt)}; "
                                         f"{TRAIN_LITE}")
    elif live:
        choice = ModelChoice("full", "auto: live on CUDA, where the full network is real time; "
                                     "--model lite for the student")
    else:
        choice = ModelChoice("full", "auto: the full network except live on the CPU; "
                                     "--model lite for the faster student")
    if graph and graph[1] != choice.kind:
        option = graph[0].split()[0]
        raise UserError(f"{graph[0]} holds the {graph[1]} network, and --model {choice.kind} asks for the "
                        f"{choice.kind} one: pass --model {graph[1]}, or leave out {option}")
    return choice


def load_network(rt: RuntimeOptions, kind: str):
    """The network of ``kind`` on the CPU, from --decoder / --lite or the shipped files."""
    if kind == "lite" and not lite_file(rt).is_file():
        raise UserError(f"no stylecam-lite model at {lite_file(rt)}: {TRAIN_LITE}, or use --model full")
    return load_model(rt.decoder, model=kind, lite_path=rt.lite)
