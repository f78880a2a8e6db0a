"""TensorRT: the builder's pure parts (profiles, cache keys, the engine contract) everywhere;
engines themselves only where TensorRT and a CUDA GPU are (marked ``tensorrt`` and ``gpu``)."""
from __future__ import annotations

import importlib.util
import json
import re
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import synthetic_rgb
from stylecam.errors import UserError
from stylecam.safeio import OutputExists
from stylecam.images import to_tensor
from stylecam.tensorrt_build import (DECODER_IO, ENCODER_IO, FRAME_IO, SUPPORTED_MAJOR, Profile, engine_graph,
                                     engine_key, io_problems, output_shape_problem, timing_cache_path)

ROOT = Path(__file__).resolve().parent.parent
HAS_TRT = importlib.util.find_spec("tensorrt") is not None and torch.cuda.is_available()
needs_trt = pytest.mark.skipif(not HAS_TRT, reason="needs TensorRT and a CUDA GPU")


def _bgr(h, w, seed=0):
    return np.ascontiguousarray(synthetic_rgb(h, w, seed)[..., ::-1])


def _padded(h, w):
    return -(-h // 8) * 8, -(-w // 8) * 8


# ------------------------------------------------------------------------------ profiles and keys

def test_default_profile_takes_every_frame_the_other_backends_take():
    p = Profile()
    assert p.min == (16, 16)
    for h, w in [(16, 16), (17, 23), (45, 61), (480, 640), (720, 1280), (1080, 1920)]:
        assert p.why_not(*_padded(h, w)) is None, (h, w)
    assert p.why_not(2160, 3840) is not None


def test_out_of_profile_frame_names_a_profile_that_takes_it():
    p = Profile((64, 64), (128, 128), (256, 256))
    for h, w in [(304, 64), (24, 200), (32, 32)]:
        msg = p.why_not(h, w)
        assert msg and "outside the TensorRT engine's profile" in msg and str(p) in msg
        lo, hi = re.search(r"--min (\d+x\d+) --max (\d+x\d+)", msg).groups()      # WxH, as export.trt takes
        fix = Profile(tuple(map(int, lo.split("x")))[::-1], p.opt, tuple(map(int, hi.split("x")))[::-1])
        assert fix.contains(h, w) and fix.contains(*p.min) and fix.contains(*p.max)


def test_profile_refuses_sides_the_graph_cannot_take():
    with pytest.raises(UserError, match="multiples of 8 and at least 16"):
        Profile((12, 16))
    with pytest.raises(UserError, match="multiples of 8"):
        Profile((16, 16), (720, 1282))
    with pytest.raises(UserError, match="min <= opt <= max"):
        Profile((64, 64), (32, 32), (128, 128))
    assert Profile.from_shapes((16, 16, 3), (64, 64, 3), (128, 128, 3)) == Profile((16, 16), (64, 64), (128, 128))


def test_engine_key_and_timing_cache_follow_tensorrt_version_and_gpu(tmp_path):
    base = ("abc", "10.3.0", "NVIDIA H100 80GB HBM3", Profile(), "fp16")
    key = engine_key(*base)
    assert key == engine_key(*base)
    for i, other in enumerate(("abd", "10.4.0", "NVIDIA H200", Profile((16, 16), (64, 64), (128, 128)), "fp32")):
        changed = list(base)
        changed[i] = other
        assert engine_key(*changed) != key
    cache = timing_cache_path(tmp_path, "10.3.0", "NVIDIA H100 80GB HBM3")
    assert cache.parent == tmp_path and re.fullmatch(r"timing-[A-Za-z0-9.-]+\.cache", cache.name)
    assert cache == timing_cache_path(tmp_path, "10.3.0", "NVIDIA H100 80GB HBM3")
    assert cache != timing_cache_path(tmp_path, "10.4.0", "NVIDIA H100 80GB HBM3")
    assert cache != timing_cache_path(tmp_path, "10.3.0", "NVIDIA H200")


# --------------------------------------------------------------------------------- engine contract

def test_the_frame_contract_accepts_itself_in_any_order_and_static_sides():
    assert io_problems(FRAME_IO) == []
    assert io_problems(list(reversed(FRAME_IO))) == []
    static = [(n, m, d, (720, 1280, 3) if s == (-1, -1, 3) else s) for n, m, d, s in FRAME_IO]
    assert io_problems(static) == []


def test_the_frame_contract_names_what_a_foreign_engine_gets_wrong():
    nchw = [("images", "input", "float32", (1, 3, -1, -1)), ("output", "output", "float32", (1, 3, -1, -1))]
    problems = io_problems(nchw)
    assert "no input tensor 'frame'" in problems and "unexpected tensor 'images'" in problems
    half_out = [(n, m, "float16" if n == "stylized" else d, s) for n, m, d, s in FRAME_IO]
    assert io_problems(half_out) == ["'stylized' is float16, expected uint8"]
    no_alpha = [row for row in FRAME_IO if row[0] != "alpha"]
    assert io_problems(no_alpha) == ["no input tensor 'alpha'"]
    batched = [(n, m, d, (1, 512) if n == "style_mean" else s) for n, m, d, s in FRAME_IO]
    assert io_problems(batched) == ["'style_mean' has shape (1, 512), expected (512,) (-1: any)"]
    swapped = [(n, "output" if n == "frame" else m, d, s) for n, m, d, s in FRAME_IO]
    assert io_problems(swapped) == ["'frame' is an output, expected an input"]


def test_the_split_contracts_take_their_own_engines_and_refuse_each_others():
    full = {"features": (1, 512, -1, -1), "content_mean": (512,), "content_std": (512,)}
    for io in (ENCODER_IO, DECODER_IO):
        assert io_problems(io, io) == []
        assert io_problems([(n, m, d, full.get(n, s)) for n, m, d, s in io], io) == []   # C fixed by the net
    assert "no input tensor 'content_mean'" in io_problems(ENCODER_IO, DECODER_IO)
    assert "unexpected tensor 'features'" in io_problems(ENCODER_IO, FRAME_IO)
    assert "'features' is an output, expected an input" in io_problems(ENCODER_IO, DECODER_IO)
    assert "no input tensor 'frame'" in io_problems(DECODER_IO, ENCODER_IO)


def _onnx_with_meta(path: Path, meta: dict) -> Path:
    """A one-node ONNX file carrying ``meta``: what engine_graph reads, without an export."""
    import onnx
    from onnx import TensorProto, helper
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    model = helper.make_model(helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y]))
    for k, v in meta.items():
        model.metadata_props.add(key=k, value=v)
    onnx.save_model(model, str(path))
    return path


def test_engines_are_built_from_the_frame_encoder_and_decoder_graphs_only(tmp_path):
    from stylecam.graphs import FORMAT_VERSION, PRODUCER
    base = {"producer": PRODUCER, "stylecam.format": FORMAT_VERSION, "stylecam.precision": "fp16"}
    for graph in ("frame", "encoder", "decoder"):
        path = _onnx_with_meta(tmp_path / f"{graph}.onnx", base | {"stylecam.graph": graph})
        found, meta = engine_graph(path)
        assert found == graph and meta["stylecam.precision"] == "fp16"
    with pytest.raises(UserError, match="is the stylecam style graph, not the frame graph"):
        engine_graph(_onnx_with_meta(tmp_path / "style.onnx", base | {"stylecam.graph": "style"}))
    with pytest.raises(UserError, match="not exported by stylecam"):
        engine_graph(_onnx_with_meta(tmp_path / "other.onnx", {}))


def test_output_shape_must_be_the_input_shape():
    assert output_shape_problem((720, 1280, 3), (720, 1280, 3)) is None
    assert "(1280, 720, 3)" in output_shape_problem((720, 1280, 3), (1280, 720, 3))


# ----------------------------------------------------------------------------------- installation

def test_tensorrt_extra_is_bounded_to_the_supported_major():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert extras["tensorrt"] == [f"tensorrt>={SUPPORTED_MAJOR}.0,<{SUPPORTED_MAJOR + 1}"]


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="TensorRT is installed here")
def test_export_trt_without_tensorrt_is_one_line_and_exit_2(tmp_path, capfd):
    from export.trt import main
    assert main(["--onnx", str(tmp_path / "frame.onnx"), "-o", str(tmp_path / "x.engine")]) == 2
    err = capfd.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("export.trt: TensorRT is not installed")
    assert f"pip install tensorrt~={SUPPORTED_MAJOR}.0" in err
    assert not (tmp_path / "x.engine").exists()


# --------------------------------------------------------------------- engines (TensorRT + GPU only)

@pytest.fixture(scope="module")
def graphs(lively_model, tmp_path_factory):
    from stylecam.convert import torch2onnx
    folder = tmp_path_factory.mktemp("trt")
    return {p: torch2onnx(lively_model, folder / f"frame_{p}.onnx", p) for p in ("fp32", "fp16")}


@pytest.fixture(scope="module")
def split_graphs(lively_model, tmp_path_factory):
    from stylecam.convert import decoder2onnx, encoder2onnx
    folder = tmp_path_factory.mktemp("trt-split")
    return (encoder2onnx(lively_model, folder / "encoder_fp16.onnx", "fp16"),
            decoder2onnx(lively_model, folder / "decoder_fp16.onnx", "fp16"))


def _style(model):
    mean, std = model.style_stats(to_tensor(synthetic_rgb(64, 64, seed=3)[::-1].copy()))
    return mean[0], std[0]


@pytest.mark.tensorrt
@pytest.mark.gpu
@needs_trt
def test_strongly_typed_fp16_engine_matches_onnxruntime_on_small_frames(graphs, lively_model, tmp_path):
    import tensorrt as trt

    from stylecam.backends.onnxruntime_backend import OnnxRuntimeBackend
    from stylecam.backends.tensorrt_backend import TensorRTBackend
    from stylecam.tensorrt_build import onnx2engine
    profile = Profile((16, 16), (64, 64), (128, 128))
    logs = []
    info = onnx2engine(graphs["fp16"], tmp_path / "t.engine", profile, timing_cache=tmp_path, log=logs.append)
    assert info["precision"] == "fp16" and info["strongly_typed"]
    cache = timing_cache_path(tmp_path, trt.__version__, torch.cuda.get_device_name())
    assert cache.is_file() and info["timing_cache"] == str(cache)
    built = (tmp_path / "t.engine").read_bytes()
    with pytest.raises(OutputExists, match="appeared while"):   # as when another run wrote it during this build
        onnx2engine(graphs["fp16"], tmp_path / "t.engine", profile, timing_cache=tmp_path, log=logs.append,
                    overwrite=False)
    assert (tmp_path / "t.engine").read_bytes() == built and not list(tmp_path.glob(".*part*"))
    assert not any("starting a new one" in line for line in logs)       # the saved cache was taken
    backend, ref = TensorRTBackend(tmp_path / "t.engine"), OnnxRuntimeBackend(graphs["fp16"])
    mean, std = _style(lively_model)
    for h, w in [(16, 16), (17, 23), (45, 61), (128, 128)]:
        frame = _bgr(h, w, seed=h)
        out = backend.stylize(frame, mean, std)
        d = np.abs(out.astype(int) - ref.stylize(frame, mean, std))
        assert out.shape == frame.shape and d.max() <= 8 and d.mean() <= 0.5, (h, w)
    with pytest.raises(UserError, match="outside the TensorRT engine's profile.*--max 128x200"):
        backend.stylize(_bgr(200, 64), mean, std)


@pytest.mark.tensorrt
@pytest.mark.gpu
@needs_trt
def test_engine_precision_is_the_graphs(graphs, tmp_path):
    from stylecam.tensorrt_build import onnx2engine
    with pytest.raises(UserError, match="is the fp32 graph"):
        onnx2engine(graphs["fp32"], tmp_path / "x.engine", Profile((16, 16), (32, 32), (64, 64)), precision="fp16")
    assert not (tmp_path / "x.engine").exists()


@pytest.mark.tensorrt
@pytest.mark.gpu
@needs_trt
def test_a_foreign_engine_is_one_clear_line(tmp_path):
    import tensorrt as trt

    from stylecam.backends.tensorrt_backend import TensorRTBackend
    from stylecam.tensorrt_build import logger
    builder = trt.Builder(logger())
    network = builder.create_network(0)
    x = network.add_input("images", trt.float32, (1, 3, 8, 8))
    y = network.add_identity(x).get_output(0)
    y.name = "scores"
    network.mark_output(y)
    blob = builder.build_serialized_network(network, builder.create_builder_config())
    meta = {"tensorrt": trt.__version__, "gpu": torch.cuda.get_device_name(), "precision": "fp32"}
    foreign, garbage = tmp_path / "foreign.engine", tmp_path / "garbage.engine"
    foreign.write_bytes(bytes(blob))
    garbage.write_bytes(b"not an engine" * 100)
    for path in (foreign, garbage):
        path.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(UserError, match="not a stylecam frame engine: no input tensor 'frame'") as e:
        TensorRTBackend(foreign)
    assert "\n" not in str(e.value)
    with pytest.raises(UserError, match="could not be loaded by TensorRT") as e:
        TensorRTBackend(garbage)
    assert "\n" not in str(e.value)


@pytest.mark.tensorrt
@pytest.mark.gpu
@needs_trt
def test_fp16_split_engines_match_the_frame_graph(graphs, split_graphs, lively_model, tmp_path):
    from stylecam.adain import calc_mean_std
    from stylecam.backends.onnxruntime_backend import OnnxRuntimeBackend
    from stylecam.backends.tensorrt_split import SplitEngines
    from stylecam.tensorrt_build import onnx2engine
    profile = Profile((16, 16), (64, 64), (128, 128))
    engines = []
    for graph, onnx in zip(("encoder", "decoder"), split_graphs):
        info = onnx2engine(onnx, tmp_path / f"{graph}.engine", profile, timing_cache=tmp_path, log=lambda *_: None)
        assert info["graph"] == graph and info["precision"] == "fp16" and info["strongly_typed"]
        engines.append(tmp_path / f"{graph}.engine")
    split, ref = SplitEngines(*engines, torch.cuda.Stream()), OnnxRuntimeBackend(graphs["fp16"])
    mean, std = _style(lively_model)
    for h, w in [(16, 16), (45, 61), (128, 128)]:
        frame = _bgr(h, w, seed=h)
        feats = split.encode(frame[None])
        cm, cs = calc_mean_std(feats.float())
        out = split.decode(feats, cm, cs, mean, std, 1.0, (h, w))[0]
        d = np.abs(out.astype(int) - ref.stylize(frame, mean, std))
        assert out.shape == frame.shape and d.max() <= 8 and d.mean() <= 0.5, (h, w)
    with pytest.raises(UserError, match="not a stylecam decoder engine"):
        SplitEngines(engines[0], engines[0], torch.cuda.Stream())
