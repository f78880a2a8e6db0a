"""INT8 frame graphs (stylecam.quantize) on ONNX Runtime, and who may ask for them."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from conftest import synthetic_rgb
from stylecam.backends import create
from stylecam.errors import UserError
from stylecam.images import to_tensor

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from stylecam import quantize  # noqa: E402
from stylecam.backends.onnxruntime_backend import OnnxRuntimeBackend  # noqa: E402

HAS_OV = importlib.util.find_spec("openvino") is not None
INT8_BACKENDS = ["onnxruntime", pytest.param("openvino", marks=pytest.mark.skipif(not HAS_OV, reason="needs openvino"))]


def _graph_backend(name, path):
    if name == "onnxruntime":
        return OnnxRuntimeBackend(path)
    from stylecam.backends.openvino_backend import OpenVINOBackend
    return OpenVINOBackend(path)

# INT8 vs fp32 on 64×48 synthetic frames with the rescaled random decoder, 0-255 levels: stated
# bounds, about 2× what was measured here (max 35, mean 6.4; the rescaled decoder amplifies the
# rounding: the shipped one on real photos gives mean 2.9, export/int8_bench.py). A wrong scale or
# zero point gives tens of levels on average.
INT8_MAX_LEVELS = 80
INT8_MEAN_LEVELS = 12.0


def _bgr(h, w, seed):
    return np.ascontiguousarray(synthetic_rgb(h, w, seed)[..., ::-1])


@pytest.fixture(scope="module")
def style(lively_model):
    mean, std = lively_model.style_stats(to_tensor(synthetic_rgb(64, 64, seed=3)[::-1].copy()))
    return mean[0].numpy(), std[0].numpy()


@pytest.fixture(scope="module")
def graphs(lively_model, style, tmp_path_factory):
    """(fp32, int8) frame graphs of the random decoder; calibrated on 3 synthetic frames."""
    from stylecam.convert import torch2onnx
    folder = tmp_path_factory.mktemp("int8")
    fp32 = torch2onnx(lively_model, folder / "frame.onnx")
    feeds = [{"frame": _bgr(48, 64, seed), "style_mean": style[0], "style_std": style[1],
              "alpha": np.asarray(a, np.float32).reshape(())} for seed, a in ((10, 1.0), (11, 0.6), (12, 1.0))]
    return fp32, quantize.onnx2int8(fp32, folder / "int8.onnx", feeds)


def test_int8_graph_is_quantized_and_keeps_the_stylecam_metadata(graphs):
    from stylecam.graphs import check_stylecam_onnx, file_hash
    fp32, int8 = graphs
    meta = check_stylecam_onnx(int8, "frame")
    assert meta["stylecam.precision"] == "int8" and meta["stylecam.int8_from"] == file_hash(fp32)
    assert meta["stylecam.weights_hash"] == check_stylecam_onnx(fp32)["stylecam.weights_hash"]
    proto = onnx.load(str(int8))
    onnx.checker.check_model(proto)
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count("Conv") == 18 and ops.count("QuantizeLinear") > 0
    assert "ReduceMean" in ops                            # AdaIN's statistics stay float
    assert [i.name for i in proto.graph.input] == ["frame", "style_mean", "style_std", "alpha"]


@pytest.mark.parametrize("name", INT8_BACKENDS)
@pytest.mark.parametrize("h,w", [(48, 64), (45, 61)])      # incl. a size that is not a multiple of 8
def test_int8_runs_close_to_fp32(graphs, style, name, h, w):
    fp32, int8 = OnnxRuntimeBackend(graphs[0]), _graph_backend(name, graphs[1])
    assert int8.device == "CPU int8" and int8.precision == "int8"
    frame = _bgr(h, w, seed=0)                           # not one of the calibration frames
    ref, out = fp32.stylize(frame, *style, 1.0), int8.stylize(frame, *style, 1.0)
    assert out.shape == (h, w, 3) and out.dtype == np.uint8
    assert ref.std() > 10                                # a real picture, so the comparison means something
    d = np.abs(out.astype(int) - ref)
    assert d.max() <= INT8_MAX_LEVELS and d.mean() <= INT8_MEAN_LEVELS, (d.max(), d.mean())


def test_int8_is_made_from_fp32_only(graphs, tmp_path):
    with pytest.raises(UserError, match="INT8 is made from the fp32 one"):
        quantize.onnx2int8(graphs[1], tmp_path / "again.onnx", [{}])
    assert quantize.cached_int8(graphs[1]) == graphs[1]     # an INT8 graph passed in is used as it is


def test_calibration_frames_are_shipped_photos_and_styles():
    feeds = quantize.calibration_frames(size=(40, 24))
    assert len(feeds) == len(quantize.CALIBRATION_PHOTOS)
    for f in feeds:
        assert f["frame"].shape == (24, 40, 3) and f["frame"].dtype == np.uint8 and f["frame"].std() > 10
        assert f["style_mean"].shape == (512,) and f["style_std"].dtype == np.float32 and f["alpha"].shape == ()
    assert len({f["style_mean"].tobytes() for f in feeds}) == len(quantize.CALIBRATION_STYLES)


@pytest.mark.parametrize("name", INT8_BACKENDS)
def test_graph_backends_take_precision_int8_on_the_cpu(model, graphs, name):
    backend = create(name, model, "auto", "int8", onnx=str(graphs[1])).backend
    assert (backend.name, backend.device) == (name, "CPU int8")


def test_int8_weights_are_7_bit_where_the_cpu_would_saturate_8(graphs):
    """Without VNNI, u8 × s8 pair sums saturate 16 bits (vpmaddubsw): 7-bit weights there."""
    from stylecam.graphs import check_stylecam_onnx
    expected = "7-bit" if quantize.saturates_here() else "8-bit"
    assert check_stylecam_onnx(graphs[1], "frame")["stylecam.int8_weights"] == expected


@pytest.mark.parametrize("backend,device,fix", [("torch", "cpu", "add --backend onnxruntime"),
                                                ("tensorrt", "cuda", "add --backend onnxruntime"),
                                                ("onnxruntime", "cuda", "add --device cpu")])
def test_int8_elsewhere_is_one_clear_line(model, backend, device, fix):
    with pytest.raises(UserError, match=fix) as e:
        create(backend, model, device, "int8")
    assert "\n" not in str(e.value)


def test_int8_on_the_torch_backend_is_one_line_from_the_cli(capsys, photo, style_image, random_decoder, tmp_path):
    from stylecam.cli import main
    out = tmp_path / "o.png"
    code = main(["image", str(photo), "-s", str(style_image), "-o", str(out), "--decoder", str(random_decoder),
                 "--backend", "torch", "--precision", "int8"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "--backend onnxruntime" in err
    assert not out.exists()
