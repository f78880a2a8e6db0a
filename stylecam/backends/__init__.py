"""Inference backends behind one interface (``Backend``), created by name from one table.

``TABLE`` says what each backend can do (devices, precisions per device, --compile, the
split into encode/decode) and where it lives; ``create`` checks a request against it in one
place, then calls the backend module's ``make``. An explicit name that cannot run is an
error, never a silent fallback.

``auto`` walks the candidates fastest first and, when one runs, says which and why the
others were not used: on CUDA a TensorRT FP16 engine, then torch (fp16, CUDA graphs,
torch.compile); on the CPU the order measured for this kind of CPU and network
(``CPU_RANKING``), and where this kind was never measured the order measured first. A choice
whose one-time preparation costs more than one picture gains (``STREAMS_ONLY``) is taken only
for a stream of frames (video, live, serve) or when asked for by its precision.
"""
from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

from ..errors import UserError
from . import cpu
from .base import Backend, keep_content_colors
from .graph_cache import cached_onnx

__all__ = ["Backend", "BackendChoice", "BackendSpec", "TABLE", "create", "cached_onnx", "keep_content_colors",
           "NAMES"]


@dataclass(frozen=True, kw_only=True)
class BackendSpec:
    name: str
    module: str                                  # stylecam.backends.<module>: make() and INSTALL_HINT
    requires: str                                # the package it imports
    precisions: dict[str, tuple[str, ...]]       # device type -> precisions; the first is what auto means
    compile: bool = False                        # takes --compile (torch.compile)
    split: bool = True                           # runs encode/decode (temporal smoothing)

    @property
    def devices(self) -> tuple[str, ...]:
        return tuple(self.precisions)

    def factory(self):
        return importlib.import_module(f".{self.module}", __package__).make


TABLE = (
    BackendSpec(name="torch", module="torch_backend", requires="torch", compile=True,
                precisions={"cpu": ("fp32",), "cuda": ("fp16", "fp32", "bf16")}),
    BackendSpec(name="onnxruntime", module="onnxruntime_backend", requires="onnxruntime",
                precisions={"cpu": ("fp32", "int8", "fp16"), "cuda": ("fp32", "fp16")}),
    BackendSpec(name="tensorrt", module="tensorrt_backend", requires="tensorrt",
                precisions={"cuda": ("fp16", "fp32")}),
    BackendSpec(name="openvino", module="openvino_backend", requires="openvino",
                precisions={"cpu": ("fp32", "int8")}),
)
SPECS = {s.name: s for s in TABLE}
NAMES = ("auto",) + tuple(SPECS)

# (backend, precision) on the CPU, fastest first, per CPU kind (cpu.kind) and network, as measured
# with `export.cpu_bench` and `stylecam bench` (docs/benchmarks-cpu.md).
MEASURED_FIRST = (("onnxruntime", "fp32"), ("torch", "fp32"))       # measured first, on a 2-core AVX-512 EPYC
CPU_RANKING = {
    ("avx2", "lite"): (("openvino", "int8"), ("openvino", "fp32"), ("onnxruntime", "fp32"), ("torch", "fp32")),
    ("avx2", "full"): (("openvino", "fp32"), ("onnxruntime", "fp32"), ("torch", "fp32")),
    ("avx512-vnni", "lite"): (("openvino", "int8"), ("openvino", "fp32"), ("onnxruntime", "fp32"), ("torch", "fp32")),
    ("avx512-vnni", "full"): (("openvino", "int8"), ("openvino", "fp32"), ("onnxruntime", "fp32"), ("torch", "fp32")),
}
# (network, precision) whose one-time preparation pays only over many frames: calibrating the full
# network's INT8 graph takes about half a minute, more than one picture gains from it.
STREAMS_ONLY = {("full", "int8")}
ONE_PICTURE = ("its one-time INT8 calibration (about half a minute, then cached) pays over a video or the "
               "live loop, not one picture; --precision int8 uses it")


@dataclass(frozen=True)
class BackendChoice:
    backend: Backend
    notes: tuple[str, ...]       # why the faster ones were not used (for `auto`)

    def report(self) -> str:
        msg = f"backend: {self.backend.describe()}"
        return msg + "".join(f"\n  not used: {n}" for n in self.notes)


def _where(device_type: str) -> str:
    return "the CPU" if device_type == "cpu" else "CUDA"


def _device_type(spec: BackendSpec, device: str) -> str:
    """--device as a device type for ``spec``; auto: its first device that is here."""
    if device != "auto":
        return "cuda" if device.startswith("cuda") else device
    usable = [d for d in spec.devices if d == "cpu" or _cuda_available("auto")]
    return (usable or spec.devices)[0]


def refusal(spec: BackendSpec, device_type: str, precision: str, compile: bool | None) -> str | None:
    """Why the table says ``spec`` cannot run this request (None: it can); the one place these rules live."""
    if compile and not spec.compile:
        return f"--compile is for the torch backend, not {spec.name}; drop it or use --backend torch"
    if device_type not in spec.devices:
        if device_type == "cpu":
            return f"the {spec.name} backend needs a CUDA GPU; it does not run on the CPU (use --backend torch)"
        return f"the {spec.name} backend runs on the CPU only: use --device cpu"
    here = spec.precisions[device_type]
    if precision == "auto" or precision in here:
        return None
    elsewhere = [d for d, ps in spec.precisions.items() if precision in ps]
    if elsewhere == ["cpu"]:
        return f"--precision {precision} runs on the CPU only with {spec.name}: add --device cpu"
    if elsewhere:               # fp16 / bf16 asked of the CPU
        return f"--precision {precision} needs CUDA; on the CPU use --precision {here[0]}"
    for where in (device_type, *(d for d in ("cpu", "cuda") if d != device_type)):
        others = [s.name for s in TABLE if precision in s.precisions.get(where, ())]
        if others:
            move = " --device cpu" if where == "cpu" and device_type != "cpu" else ""
            return (f"--precision {precision} runs only with {' or '.join(others)} on {_where(where)}: "
                    f"add --backend {others[0]}{move}")
    return f"--precision {precision} is not available with {spec.name}; use {' or '.join(here)}"


def _missing(spec: BackendSpec) -> str | None:
    """The install hint when the backend's package is not here."""
    if importlib.util.find_spec(spec.requires) is not None:
        return None
    if spec.name == "tensorrt":             # its module says which version and index
        from ..tensorrt_build import tensorrt_or_error
        try:
            tensorrt_or_error()
        except UserError as e:
            return str(e)
    hint = importlib.import_module(f".{spec.module}", __package__).INSTALL_HINT
    return f"the {spec.name} backend needs {spec.requires}: {hint}"


def _make(spec: BackendSpec, model, device: str, precision: str, split: bool, **kw) -> Backend:
    why = _missing(spec)
    if why:
        raise UserError(why)
    dev_type = _device_type(spec, device)
    resolved = spec.precisions[dev_type][0] if precision == "auto" else precision
    backend = spec.factory()(model, dev_type if device == "auto" else device, resolved,
                             precision_asked=precision != "auto", **kw)
    if split:
        backend.prepare_split()
    return backend


def _cuda_available(device: str) -> bool:
    if device == "cpu":
        return False
    import torch
    return torch.cuda.is_available()


def cpu_ranking(network: str, flags: frozenset[str] | None = None, *,
                stream: bool = True) -> tuple[tuple[str, str], ...]:
    """The CPU candidates for ``auto``, fastest first, on this CPU (or one with ``flags``);
    stream False (one picture): without those that pay only over many frames (``STREAMS_ONLY``)."""
    flags = cpu.this_cpu().flags if flags is None else flags
    ranking = CPU_RANKING.get((cpu.kind(flags), network), MEASURED_FIRST)
    return ranking if stream else tuple(c for c in ranking if (network, c[1]) not in STREAMS_ONLY)


def _auto_cpu(model, device: str, precision: str, kw: dict, split: bool, stream: bool,
              notes: list[str]) -> BackendChoice:
    kind, network = cpu.kind(cpu.this_cpu().flags), getattr(model, "kind", "")
    measured = (kind, network) in CPU_RANKING
    source = f"measured on {kind} CPUs" if measured else f"measured on AVX-512 CPUs; {kind} ones not yet"
    verdict = "slower here than"
    ranking = cpu_ranking(network, stream=stream or precision != "auto")
    notes += [f"{n} {p}: {ONE_PICTURE}" for n, p in cpu_ranking(network) if (n, p) not in ranking]
    if kw.get("compile"):
        notes += [f"{name}: --compile asks for torch" for name in dict(ranking) if name != "torch"]
        ranking = (("torch", "fp32"),)
    if precision != "auto":     # the measured order of that precision, else the table's
        ranking = tuple((n, p) for n, p in ranking if p == precision)
        if not ranking:
            ranking = tuple((s.name, precision) for s in TABLE if precision in s.precisions.get("cpu", ()))
            source, verdict = f"{precision} not measured: the table's order", "tried after"
    for i, (name, prec) in enumerate(ranking):
        spec = SPECS[name]
        why = refusal(spec, "cpu", prec, kw.get("compile"))
        if not why:
            try:
                backend = _make(spec, model, "cpu", prec, split, **kw)
            except UserError as e:
                why = str(e)
        if why:
            notes.append(f"{name} {prec}: {why}")
            continue
        notes += [f"{n} {p} on CPU: {verdict} {name} {prec} ({source}, docs/benchmarks-cpu.md)"
                  for n, p in ranking[i + 1:]]
        return BackendChoice(backend, tuple(notes))
    raise UserError("no backend could run: " + "; ".join(notes))


def _auto(model, device: str, precision: str, kw: dict, split: bool, stream: bool) -> BackendChoice:
    notes: list[str] = []
    if _cuda_available(device):
        trt = SPECS["tensorrt"]
        why = refusal(trt, "cuda", precision, kw.get("compile"))
        if kw.get("compile"):
            why = "--compile asks for torch"
        if not why:
            try:
                return BackendChoice(_make(trt, model, device, precision, split, **kw), ())
            except (UserError, RuntimeError, OSError) as e:    # a failed engine build falls back, said so
                why = str(e)
        notes.append(f"tensorrt: {why}")
        notes.append("onnxruntime: not tried on CUDA (torch fp16 with CUDA graphs and torch.compile is the "
                     "measured GPU path)")
        why = refusal(SPECS["torch"], "cuda", precision, None)
        if why:
            raise UserError(why)
        return BackendChoice(_make(SPECS["torch"], model, device, precision, split, **kw), tuple(notes))
    if device.startswith("cuda"):
        from ..loading import pick_device
        pick_device(device)          # raises the one-line "CUDA is not available" error
    notes.append("tensorrt: needs a CUDA GPU" if device == "cpu" else "tensorrt: no CUDA GPU here")
    notes.append("torch on CUDA: " + ("--device cpu" if device == "cpu" else "no CUDA GPU here"))
    if precision not in ("auto", "fp32", "int8"):
        raise UserError(f"--precision {precision} needs CUDA; on the CPU use --precision fp32 or int8")
    return _auto_cpu(model, device, precision, kw, split, stream, notes)


def create(name: str, model, device: str = "auto", precision: str = "auto", *,
           onnx: str | None = None, engine: str | None = None, compile: bool | None = None,
           split: bool = False, stream: bool = False) -> BackendChoice:
    """model: a loaded network (the model API). Returns the backend and the notes on what was skipped.
    onnx / engine: an exported graph or a built engine to use instead of the cached ones.
    compile: torch.compile for the torch backend (None: where measured faster, i.e. on CUDA).
    split: the caller will run encode/decode (temporal smoothing): they are made ready now, and
    ``auto`` passes over a backend that cannot run them.
    stream: the caller stylizes many frames (video, live, serve), over which a slow one-time
    preparation pays (``STREAMS_ONLY``)."""
    if name not in NAMES:
        raise UserError(f"unknown backend '{name}'; choose one of: {', '.join(NAMES)}")
    kw = {"onnx": onnx, "engine": engine, "compile": compile}
    if name == "auto":
        return _auto(model, device, precision, kw, split, stream)
    spec = SPECS[name]
    why = refusal(spec, _device_type(spec, device), precision, compile)
    if why:
        raise UserError(why)
    return BackendChoice(_make(spec, model, device, precision, split, **kw), ())
