"""ONNX export: the frame, encoder, decoder and style graphs, reloaded and run on ONNX Runtime
against PyTorch; what TensorRT needs of them; metadata checks; the export CLIs. TensorRT tests
are skipped where it is absent."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from conftest import synthetic_rgb
from stylecam.adain import calc_mean_std
from stylecam.errors import UserError
from stylecam.images import to_tensor

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from stylecam import convert, graphs  # noqa: E402

HAS_TRT = importlib.util.find_spec("tensorrt") is not None and torch.cuda.is_available()
FP16_MAX_LEVELS = 4          # FP16 graph vs FP32 graph: stated tolerance, 0-255 levels
FP16_MEAN_LEVELS = 0.5


@pytest.fixture(scope="session")
def frame_onnx(lively_model, exported):
    return exported(lively_model, "frame", "fp32")


@pytest.fixture(scope="session")
def frame_onnx_fp16(lively_model, exported):
    return exported(lively_model, "frame", "fp16")


def _style(model, seed=3):
    mean, std = model.style_stats(to_tensor(synthetic_rgb(64, 64, seed=seed)[::-1].copy()))
    return mean[0], std[0]


def _bgr(h, w, seed=0):
    return np.ascontiguousarray(synthetic_rgb(h, w, seed)[..., ::-1])


def test_frame_graph_is_valid_with_metadata_and_dynamic_sides(frame_onnx, lively_model):
    proto = onnx.load(str(frame_onnx))
    onnx.checker.check_model(proto)
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["producer"] == "stylecam" and meta["stylecam.graph"] == "frame"
    assert meta["stylecam.opset"] == "20" and "BGR" in meta["stylecam.input"]
    assert meta["stylecam.encoder_version"] == lively_model.encoder.version
    assert meta["stylecam.weights_hash"] == graphs.model_hash(lively_model) and meta["stylecam.model"] == "full"
    assert "vgg_normalised" in meta["stylecam.normalization"]
    assert proto.opset_import[0].version == 20
    inputs = {i.name: i for i in proto.graph.input}
    assert list(inputs) == list(graphs.FRAME_INPUTS)
    dims = inputs["frame"].type.tensor_type.shape.dim
    assert dims[0].dim_param and dims[1].dim_param and dims[2].dim_value == 3     # H, W symbolic
    assert inputs["frame"].type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert proto.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.UINT8


@pytest.mark.parametrize("h,w", [(48, 64), (16, 24), (45, 61), (17, 33)])   # incl. non-multiples of 8
def test_onnxruntime_matches_torch(frame_onnx, lively_model, h, w):
    from stylecam.backends.onnxruntime_backend import OnnxRuntimeBackend
    from stylecam.backends.torch_backend import TorchBackend
    mean, std = _style(lively_model)
    frame = _bgr(h, w)
    ours = OnnxRuntimeBackend(frame_onnx).stylize(frame, mean, std, 0.8)
    ref = TorchBackend(lively_model, torch.device("cpu")).stylize(frame, mean, std, 0.8)
    assert ours.shape == (h, w, 3) and ours.dtype == np.uint8
    assert ref.std() > 10                                  # a real picture, not a flat one
    d = np.abs(ours.astype(int) - ref)
    assert d.max() <= 1 and d.mean() < 0.01


def test_fp16_graph_keeps_statistics_fp32_and_matches(frame_onnx, frame_onnx_fp16, lively_model):
    from stylecam.backends.onnxruntime_backend import OnnxRuntimeBackend
    proto = onnx.shape_inference.infer_shapes(onnx.load(str(frame_onnx_fp16)))
    convs = [n for n in proto.graph.node if n.op_type == "Conv"]
    inits = {i.name: i for i in proto.graph.initializer}
    assert all(inits[c.input[1]].data_type == onnx.TensorProto.FLOAT16 for c in convs if c.input[1] in inits)
    reduce_inputs = [n for n in proto.graph.node if n.op_type == "ReduceMean"]
    assert reduce_inputs, "AdaIN's statistics are ReduceMean nodes"
    types = {v.name: v.type.tensor_type.elem_type for v in proto.graph.value_info}
    for n in reduce_inputs:                                # statistics computed in float32
        assert types[n.input[0]] == onnx.TensorProto.FLOAT
    assert any(types.get(c.input[0]) == onnx.TensorProto.FLOAT16 for c in convs)
    mean, std = _style(lively_model)
    frame = _bgr(64, 80, seed=4)
    a = OnnxRuntimeBackend(frame_onnx).stylize(frame, mean, std)
    b = OnnxRuntimeBackend(frame_onnx_fp16).stylize(frame, mean, std)
    d = np.abs(a.astype(int) - b)
    assert d.max() <= FP16_MAX_LEVELS and d.mean() <= FP16_MEAN_LEVELS


def test_style_graph_matches_style_stats(lively_model, exported):
    path = exported(lively_model, "style", "fp32")
    assert graphs.check_stylecam_onnx(path, "style")["stylecam.graph"] == "style"
    rgb = synthetic_rgb(40, 56, seed=5)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    mean, std = sess.run(None, {"image": np.ascontiguousarray(rgb[..., ::-1])})
    ref_mean, ref_std = lively_model.style_stats(to_tensor(rgb))
    assert mean.shape == (512,) and std.shape == (512,)
    np.testing.assert_allclose(mean, ref_mean[0].numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(std, ref_std[0].numpy(), rtol=1e-4, atol=1e-5)


# The networks whose graphs are checked; each factory gets the pytest request (the lite model joins here).
def _lite(request):
    from export.random_weights import random_lite
    return random_lite(request.getfixturevalue("lively_model").style_encoder)


MODEL_FACTORIES = {"full": lambda request: request.getfixturevalue("lively_model"), "lite": _lite}
GRAPH_VARIANTS = [("frame", "fp32"), ("frame", "fp16"), ("encoder", "fp32"), ("encoder", "fp16"),
                  ("decoder", "fp32"), ("decoder", "fp16"), ("style", "fp32")]


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    """(model, graph, precision) -> the graph's path, exported once per session (through the user
    cache that the backends use, so that their tests share the exports)."""
    from stylecam.backends.graph_cache import cached_onnx
    styles, folder = {}, tmp_path_factory.mktemp("graphs")

    def export(model, graph, precision):
        if graph != "style":
            return cached_onnx(model, precision, graph)
        if id(model) not in styles:
            styles[id(model)] = convert.style2onnx(model, folder / f"style-{len(styles)}.onnx")
        return styles[id(model)]
    return export


@pytest.fixture(params=sorted(MODEL_FACTORIES))
def network(request):
    return MODEL_FACTORIES[request.param](request)


@pytest.mark.parametrize("graph,precision", GRAPH_VARIANTS)
def test_only_casts_touch_uint8(network, exported, graph, precision):
    """TensorRT takes UINT8 only as a network input consumed by a Cast or an output produced by
    one: no other node may read or write a uint8 tensor (types from ONNX shape inference)."""
    model = network
    proto = onnx.shape_inference.infer_shapes(onnx.load(str(exported(model, graph, precision))))
    g = proto.graph
    dtype = {v.name: v.type.tensor_type.elem_type for v in [*g.input, *g.output, *g.value_info]}
    dtype.update({t.name: t.data_type for t in g.initializer})
    uint8 = onnx.TensorProto.UINT8
    assert any(dtype.get(v.name) == uint8 for v in [*g.input, *g.output])      # the frame is uint8
    for node in g.node:
        for tensor in [*node.input, *node.output]:
            assert tensor == "" or tensor in dtype, f"{node.op_type} {node.name}: no type for {tensor}"
        touched = [t for t in [*node.input, *node.output] if dtype.get(t) == uint8]
        assert node.op_type == "Cast" or not touched, f"{node.op_type} {node.name} touches uint8 {touched}"
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["stylecam.graph"] == graph and meta["stylecam.model"] == model.kind


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_split_graphs_reload_and_match_the_model(network, exported, precision):
    """encoder graph == model.encode and decoder graph == model.decode (clamped, rounded) at a tiny size."""
    model = network
    m = model.config.size_multiple
    h, w = 3 * m, 5 * m
    enc = ort.InferenceSession(str(exported(model, "encoder", precision)), providers=["CPUExecutionProvider"])
    dec = ort.InferenceSession(str(exported(model, "decoder", precision)), providers=["CPUExecutionProvider"])
    frame = _bgr(h, w, seed=6)
    (feat,) = enc.run(None, {"frame": frame})
    x = torch.from_numpy(frame[..., ::-1].copy()).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        ref = model.encode(x)
    assert feat.dtype == np.float32 and feat.shape == tuple(ref.shape) and feat.shape[-2:] == (3, 5)
    tol = 2e-2 if precision == "fp16" else 1e-4
    np.testing.assert_allclose(feat, ref.numpy(), rtol=tol, atol=tol * float(ref.abs().max()))
    mean, std = _style(model)
    c_mean, c_std = (v[0] * 1.1 for v in calc_mean_std(ref))      # statistics other than the features' own
    (out,) = dec.run(None, {"features": ref.numpy(), "content_mean": c_mean.numpy(), "content_std": c_std.numpy(),
                            "style_mean": mean.numpy(), "style_std": std.numpy(), "alpha": np.array(0.7, np.float32)})
    with torch.no_grad():
        y = model.decode(ref, c_mean[None], c_std[None], mean, std, 0.7)[0].clamp(0, 1)
    expected = (y * 255).round().permute(1, 2, 0).numpy()[..., ::-1].astype(np.uint8)
    assert out.shape == (h, w, 3) and out.dtype == np.uint8
    d = np.abs(out.astype(int) - expected)
    assert d.max() <= (FP16_MAX_LEVELS if precision == "fp16" else 1) and expected.std() > 10


@pytest.mark.parametrize("graph", ["frame", "encoder", "decoder"])
def test_dynamic_input_names_the_graph_input_a_profile_sets(network, exported, graph):
    """What a TensorRT optimization profile sets for a frame of H×W: the graph's one dynamic input."""
    path = exported(network, graph, "fp32")
    meta = graphs.check_stylecam_onnx(path, graph)
    name, shape = graphs.dynamic_input(graph, meta, 720, 1280)
    (given,) = [i for i in onnx.load(str(path)).graph.input if i.name == name]
    dims = given.type.tensor_type.shape.dim
    assert len(dims) == len(shape)
    assert all(d.dim_value == s for d, s in zip(dims, shape) if d.dim_value)      # the static sides agree
    m = network.config.size_multiple                  # the decoder's input: the features, H/m × W/m
    assert shape[-2:] == (720 // m, 1280 // m) if graph == "decoder" else shape == (720, 1280, 3)


def test_model_hash_names_the_trained_weights_not_the_frozen_vgg(model):
    import copy
    before = graphs.model_hash(model)
    m = copy.deepcopy(model)
    with torch.no_grad():
        m.style_encoder.convs["conv1_1"][1].bias.add_(1)      # the VGG is named by its version instead
    assert graphs.model_hash(m) == before
    m.style_encoder.version = "other"
    assert graphs.model_hash(m) != before
    m = copy.deepcopy(model)
    with torch.no_grad():
        next(m.decoder.parameters()).view(-1)[0] += 1
    assert graphs.model_hash(m) != before


def test_foreign_and_broken_files_are_refused(tmp_path, frame_onnx):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00not an onnx model at all" * 10)
    with pytest.raises(UserError, match="not an ONNX file"):
        graphs.check_stylecam_onnx(junk)
    from onnx import TensorProto, helper
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "other",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    foreign = tmp_path / "foreign.onnx"
    onnx.save(helper.make_model(graph), str(foreign))
    with pytest.raises(UserError, match="not exported by stylecam"):
        graphs.check_stylecam_onnx(foreign)
    with pytest.raises(UserError, match="not the style graph"):
        graphs.check_stylecam_onnx(frame_onnx, "style")
    with pytest.raises(UserError, match="not found"):
        graphs.check_stylecam_onnx(tmp_path / "missing.onnx")


def test_export_cli_writes_once_and_refuses_to_overwrite(random_decoder, tmp_path, capsys):
    from export.onnx import main
    out = tmp_path / "cli.onnx"
    assert main(["--decoder", str(random_decoder), "-o", str(out)]) == 0
    assert graphs.check_stylecam_onnx(out)["producer"] == "stylecam"
    assert "use it with" in capsys.readouterr().out
    assert main(["--decoder", str(random_decoder), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "already exists" in err and "--overwrite" in err and len(err.splitlines()) == 1
    assert not list(tmp_path.glob(".*part*"))             # no temporary file left behind


def test_trt_cli_checks_options_first(capsys):
    from export.trt import main
    assert main(["--min", "100x20"]) == 2
    assert "multiples of 8" in capsys.readouterr().err
    assert main(["--min", "512x512", "--opt", "256x256"]) == 2
    assert "min <= opt <= max" in capsys.readouterr().err
