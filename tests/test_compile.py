"""--compile: torch.compile for the torch backend, chosen by the registry where it measured faster."""
from __future__ import annotations

import copy
import importlib.util

import numpy as np
import pytest
import torch

from conftest import synthetic_rgb
from stylecam.backends import create
from stylecam.errors import UserError
from stylecam.images import to_tensor


def _bgr(h, w, seed=0):
    return np.ascontiguousarray(synthetic_rgb(h, w, seed)[..., ::-1])


def _style(model):
    mean, std = model.style_stats(to_tensor(synthetic_rgb(64, 64, seed=3)[::-1].copy()))
    return mean[0], std[0]


def test_runtime_options_carry_compile():
    from stylecam.options import add_runtime_arguments, parser, runtime_options
    p = parser("t", "t", "")
    add_runtime_arguments(p)
    assert [runtime_options(p.parse_args(a)).compile for a in ([], ["--compile"], ["--no-compile"])] == \
        [None, True, False]


def test_compile_is_for_the_torch_backend(model):
    for name in ("onnxruntime", "tensorrt"):
        with pytest.raises(UserError, match=f"--compile is for the torch backend, not {name}"):
            create(name, model, "cpu", "fp32", compile=True)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU choice")
def test_on_the_cpu_compile_is_used_only_when_asked(model):
    assert not create("torch", copy.deepcopy(model), "cpu", "fp32").backend.compile
    choice = create("auto", copy.deepcopy(model), "cpu", "auto", compile=True)
    assert choice.backend.name == "torch" and choice.backend.compile
    report = choice.report()
    assert "torch.compile" in report.splitlines()[0]
    assert "not used: onnxruntime: --compile asks for torch" in report


def test_asked_compile_without_its_compiler_is_one_line(model, monkeypatch):
    monkeypatch.setenv("CXX", "no-such-compiler-here")
    with pytest.raises(UserError, match=r"--compile on cpu needs a C\+\+ compiler \(no-such-compiler-here\)"):
        create("torch", model, "cpu", "fp32", compile=True)
    assert not create("torch", model, "cpu", "fp32").backend.compile       # not asked: nothing to refuse


@pytest.mark.slow
def test_compiled_cpu_frames_match_eager(lively_model, capsys):
    from stylecam.backends.torch_backend import TorchBackend
    mean, std = _style(lively_model)
    frame = _bgr(40, 56)
    eager = TorchBackend(copy.deepcopy(lively_model), torch.device("cpu")).stylize(frame, mean, std)
    compiled = TorchBackend(copy.deepcopy(lively_model), torch.device("cpu"), compile=True)
    out = compiled.stylize(frame, mean, std)
    assert compiled.compile, capsys.readouterr().err           # compiled, not fallen back
    assert "torch.compile: compiling for (1, 40, 56, 3)" in capsys.readouterr().err
    assert np.abs(out.astype(int) - eager).max() <= 1
    compiled.stylize(frame, mean, std)
    assert "compiling" not in capsys.readouterr().err            # once per frame size


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available() or importlib.util.find_spec("triton") is None,
                    reason="needs a CUDA GPU and triton")
def test_cuda_torch_backend_compiles_by_default_and_matches_fp32(lively_model):
    mean, std = _style(lively_model)
    frame = _bgr(72, 128)
    ref = create("torch", copy.deepcopy(lively_model), "cpu", "fp32").backend.stylize(frame, mean, std)
    backend = create("torch", copy.deepcopy(lively_model), "cuda", "fp16").backend
    assert backend.compile and backend.cuda_graphs
    for _ in range(2):                                   # compile + capture, then replay
        out = backend.stylize(frame, mean, std)
    assert backend.compile                               # did not fall back
    d = np.abs(out.astype(int) - ref)
    assert d.max() <= 8 and d.mean() <= 0.5
