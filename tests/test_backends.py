"""Every available backend through the one interface, and the registry's choices and messages."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import HAS_ORT, HAS_OV, HAS_TRT, SPLIT_BACKENDS, synthetic_rgb
from stylecam.adain import calc_mean_std
from stylecam.backends import NAMES, create
from stylecam.errors import UserError
from stylecam.images import to_tensor

AVAILABLE = (["torch"] + (["onnxruntime"] if HAS_ORT else []) + (["openvino"] if HAS_OV else [])
             + (["tensorrt"] if HAS_TRT else []))
GRAPH_BACKENDS = ("onnxruntime", "openvino", "tensorrt")      # take --onnx


def _bgr(h, w, seed=0):
    return np.ascontiguousarray(synthetic_rgb(h, w, seed)[..., ::-1])


@pytest.fixture(scope="module")
def style(lively_model):
    mean, std = lively_model.style_stats(to_tensor(synthetic_rgb(64, 64, seed=3)[::-1].copy()))
    return mean[0], std[0]


@pytest.fixture(scope="module")
def onnx_path(make_backend):
    """The frame graph of lively_model, given by path as --onnx would give it."""
    return make_backend("onnxruntime").path if HAS_ORT else None


@pytest.fixture(scope="module", params=AVAILABLE)
def backend(request, lively_model, onnx_path):
    import copy
    onnx = onnx_path if request.param in GRAPH_BACKENDS else None
    return create(request.param, copy.deepcopy(lively_model), "auto", "auto", onnx=onnx).backend


def test_single_frame_keeps_shape_and_type(backend, style):
    frame = _bgr(40, 56)
    out = backend.stylize(frame, *style, 1.0)
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - frame).mean() > 5       # it did something
    assert backend.name in backend.describe()


def test_batch_equals_frame_by_frame(backend, style):
    frames = np.stack([_bgr(32, 48, seed=s) for s in range(3)])
    batch = backend.stylize(frames, *style, 0.7)
    single = np.stack([backend.stylize(f, *style, 0.7) for f in frames])
    assert batch.shape == frames.shape
    assert np.abs(batch.astype(int) - single).max() <= 1


def test_sizes_that_are_not_multiples_of_8(backend, style):
    for h, w in [(17, 23), (45, 61)]:
        assert backend.stylize(_bgr(h, w), *style).shape == (h, w, 3)


def test_alpha_changes_the_result(backend, style):
    frame = _bgr(32, 32)
    full, none = backend.stylize(frame, *style, 1.0), backend.stylize(frame, *style, 0.0)
    assert np.abs(full.astype(int) - none).mean() > 1


@pytest.mark.parametrize("alpha", [1.0, 0.3])    # 0.3: the decoder's strength modulation at work
def test_backends_agree(lively_model, style, onnx_path, alpha):
    """All available backends give the same picture (FP32 paths: within one level)."""
    import copy
    onnx = onnx_path
    frame = _bgr(45, 61, seed=9)
    outs = {n: create(n, copy.deepcopy(lively_model), "cpu", "fp32", onnx=onnx).backend.stylize(frame, *style, alpha)
            for n in AVAILABLE if n != "tensorrt"}
    ref = outs.pop("torch")
    for name, out in outs.items():
        assert np.abs(out.astype(int) - ref).max() <= 1, name


def test_unknown_backend_is_one_clear_error(model):
    with pytest.raises(UserError, match=f"unknown backend 'tensorflow'; choose one of: {', '.join(NAMES)}$"):
        create("tensorflow", model)


def test_every_listed_backend_is_created_by_its_name_or_says_how_to_get_it(lively_model, onnx_path):
    """NAMES is what --backend offers: each name makes that backend here, or says what it needs."""
    import copy
    assert NAMES[0] == "auto" and set(AVAILABLE) <= set(NAMES[1:])
    for name in NAMES[1:]:
        onnx = onnx_path if name != "torch" else None
        if name in AVAILABLE:
            assert create(name, copy.deepcopy(lively_model), "auto", "auto", onnx=onnx).backend.name == name
        else:
            with pytest.raises(UserError, match="pip install|needs a CUDA GPU"):
                create(name, lively_model, "auto", "auto")


@pytest.mark.skipif(HAS_TRT, reason="TensorRT is installed here")
def test_tensorrt_absent_says_how_to_install(model):
    with pytest.raises(UserError, match="pip install tensorrt"):
        create("tensorrt", model, "auto", "auto")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_requests_without_cuda_are_refused(model):
    with pytest.raises(UserError, match="CUDA is not available"):
        create("torch", model, "cuda", "fp16")
    with pytest.raises(UserError, match="needs CUDA"):
        create("torch", model, "cpu", "fp16")


def _first_installed(ranking):
    return next((n, p) for n, p in ranking if n in AVAILABLE)


@pytest.mark.skipif(not HAS_ORT or torch.cuda.is_available(), reason="checks the CPU-only choice")
def test_auto_on_cpu_picks_the_measured_fastest_exports_once_and_says_why(model, capsys):
    from stylecam.backends import cpu_ranking
    from stylecam.paths import user_cache_dir
    name, precision = _first_installed(cpu_ranking("full", stream=False))     # one picture
    choice = create("auto", model, "auto", "auto")
    assert (choice.backend.name, choice.backend.precision) == (name, precision)
    report = choice.report()
    assert report.startswith(f"backend: {name} on CPU {precision}")
    assert "not used: tensorrt:" in report and "not used: torch on CUDA" in report
    assert f"not used: torch fp32 on CPU: slower here than {name} {precision} (measured on" in report
    for n, p in set(cpu_ranking("full")) - set(cpu_ranking("full", stream=False)):   # where one exists
        assert f"not used: {n} {p}: its one-time INT8 calibration" in report
    assert "backend: exporting the network to ONNX once" in capsys.readouterr().err
    cached = list((user_cache_dir() / "onnx").glob("*.onnx"))
    assert len(cached) == 1 and cached[0].with_name(cached[0].name + ".json").is_file()   # size + sha256
    create("auto", model, "cpu", "auto")                        # second time: from the cache
    assert "exporting" not in capsys.readouterr().err


@pytest.mark.parametrize("flags,network,first", [
    ({"avx2", "fma"}, "lite", ("openvino", "int8")),           # measured: INT8 pays there with OpenVINO
    ({"avx2", "fma"}, "full", ("openvino", "fp32")),
    ({"avx2", "avx512f", "avx512_vnni"}, "lite", ("openvino", "int8")),      # VNNI: INT8 pays more
    ({"avx2", "avx512f", "avx512_vnni"}, "full", ("openvino", "int8")),
    ({"avx2", "avx512f"}, "lite", ("onnxruntime", "fp32")),                  # not measured: the first order
    (set(), "full", ("onnxruntime", "fp32")),
])
def test_cpu_ranking_is_keyed_by_the_cpu_kind(flags, network, first):
    from stylecam.backends import cpu_ranking
    ranking = cpu_ranking(network, frozenset(flags))
    assert ranking[0] == first and ("torch", "fp32") in ranking


def test_one_picture_skips_what_pays_only_over_many_frames():
    from stylecam.backends import STREAMS_ONLY, cpu_ranking
    vnni = frozenset({"avx2", "avx512f", "avx512_vnni"})
    assert ("full", "int8") in STREAMS_ONLY
    assert cpu_ranking("full", vnni, stream=False)[0] == ("openvino", "fp32")
    assert cpu_ranking("full", vnni, stream=True)[0] == ("openvino", "int8")
    assert cpu_ranking("lite", vnni, stream=False) == cpu_ranking("lite", vnni)   # lite calibrates in seconds


def test_the_table_checks_every_request_in_one_place():
    from stylecam.backends import SPECS, TABLE, refusal
    assert NAMES == ("auto", *(s.name for s in TABLE))
    for spec in TABLE:
        for device, precisions in spec.precisions.items():
            assert all(refusal(spec, device, p, None) is None for p in ("auto", *precisions))
    assert refusal(SPECS["openvino"], "cuda", "fp32", None) == "the openvino backend runs on the CPU only: use --device cpu"
    assert "needs CUDA" in refusal(SPECS["torch"], "cpu", "fp16", None)
    assert refusal(SPECS["openvino"], "cpu", "fp32", True).startswith("--compile is for the torch backend")


@pytest.mark.parametrize("name", SPLIT_BACKENDS)
def test_encode_then_decode_is_stylize(make_backend, style, name):
    """The split at the features (the frame's own statistics) gives the frame graph's picture."""
    backend = make_backend(name)
    frames = np.stack([_bgr(45, 61, seed=s) for s in (1, 2)])
    feat = backend.encode(frames)
    assert feat.ndim == 4 and feat.shape[0] == 2 and feat.shape[-2:] == (6, 8)     # padded 48×64, 1/8 scale
    out = backend.decode(feat, *calc_mean_std(feat), *style, 0.8, (45, 61))
    assert out.shape == frames.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - backend.stylize(frames, *style, 0.8)).max() <= 1


@pytest.mark.parametrize("name", SPLIT_BACKENDS)
def test_decode_normalizes_by_the_statistics_it_is_given(make_backend, style, name):
    backend = make_backend(name)
    frame = _bgr(32, 40, seed=4)[None]
    feat = backend.encode(frame)
    mean, std = calc_mean_std(feat)
    own = backend.decode(feat, mean, std, *style, 1.0, (32, 40))
    brighter = backend.decode(feat, mean * 0.5, std, *style, 1.0, (32, 40))     # as if the past were darker
    assert np.abs(own.astype(int) - brighter).mean() > 1
    assert np.array_equal(backend.decode(feat.half(), mean, std, *style, 1.0, (32, 40)).shape, own.shape)


@pytest.mark.skipif(not HAS_ORT, reason="needs onnxruntime")
def test_split_needs_the_weights_of_the_given_graph(lively_model, model, onnx_path):
    """--onnx from other weights: stylize works, the split (made from the loaded model) is refused."""
    import copy
    backend = create("onnxruntime", copy.deepcopy(model), "cpu", "fp32", onnx=onnx_path).backend
    assert backend.stylize(_bgr(16, 16), *_style_of(lively_model)).shape == (16, 16, 3)
    with pytest.raises(UserError, match="holds other weights than the loaded decoder"):
        backend.prepare_split()
    with pytest.raises(UserError, match="holds other weights"):
        create("onnxruntime", copy.deepcopy(model), "cpu", "fp32", onnx=onnx_path, split=True)
    choice = create("auto", copy.deepcopy(model), "cpu", "auto", onnx=onnx_path, split=True)
    assert choice.backend.name == "torch" and "onnxruntime fp32: --onnx" in choice.report()


def _style_of(model):
    mean, std = model.style_stats(to_tensor(synthetic_rgb(32, 32, seed=3)))
    return mean[0], std[0]


@pytest.mark.skipif(not HAS_ORT or torch.cuda.is_available(), reason="checks the CPU-only choice")
def test_damaged_cached_graph_is_exported_again_said_so(model, capsys):
    from stylecam.backends.graph_cache import cached_onnx
    path = cached_onnx(model)
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(size // 2)                      # as a full disk or a killed copy leaves it
    capsys.readouterr()
    choice = create("auto", model, "cpu", "auto")
    assert choice.backend.name != "torch"          # repaired, not a silent fall back to torch
    said = [line for line in capsys.readouterr().err.splitlines() if "damaged" in line]
    assert len(said) == 1 and str(path) in said[0] and f"{size // 2} bytes" in said[0]
    assert path.stat().st_size == size
    assert choice.backend.stylize(_bgr(16, 24), *_style_of(model)).shape == (16, 24, 3)


@pytest.mark.skipif(not HAS_ORT, reason="needs onnxruntime")
def test_onnxruntime_refuses_a_foreign_graph(model, tmp_path):
    bad = tmp_path / "x.onnx"
    bad.write_text("hello")
    with pytest.raises(UserError, match="not an ONNX file"):
        create("onnxruntime", model, "cpu", "fp32", onnx=str(bad))


@pytest.mark.skipif(not HAS_ORT, reason="needs onnxruntime")
def test_onnxruntime_refuses_frames_smaller_than_16(backend, style):
    if backend.name != "onnxruntime":
        pytest.skip("padding check of the graph backends")
    with pytest.raises(UserError, match="too small"):
        backend.stylize(_bgr(12, 40), *style)


def test_runtime_options_carry_onnx_and_engine():
    from stylecam.options import add_runtime_arguments, parser, runtime_options
    p = parser("t", "t", "")
    add_runtime_arguments(p)
    rt = runtime_options(p.parse_args(["--backend", "onnxruntime", "--onnx", "a.onnx", "--engine", "b.engine"]))
    assert (rt.backend, rt.onnx, rt.engine) == ("onnxruntime", "a.onnx", "b.engine")


def test_bench_command_writes_json_and_table(tmp_path, capsys):
    from stylecam.cli import main
    out = tmp_path / "bench.json"
    rc = main(["bench", "--backend", "torch", "--sizes", "32x24", "--batches", "1,2", "--repeats", "1",
               "--warmup", "0", "--random-decoder", "--device", "cpu", "--json", str(out)])
    assert rc == 0
    report = json.loads(out.read_text())
    assert report["machine"]["cores"] >= 1 and report["machine"]["torch"] == torch.__version__
    (row,) = report["results"]
    assert row["size"] == "32x24" and set(row["batches"]) == {"1", "2"} and row["best_fps"] > 0
    # the full network: ~483 K multiply-adds per pixel, counted at 32×24
    assert 0.4e6 < row["g_macs_per_frame"] * 1e9 / (32 * 24) < 0.6e6 and row["precision"] == "fp32"
    peak = report["machine"]["cpu_peak"]
    assert row["peak_g_macs_per_s"] == peak["peak_g_macs_per_s"]["fp32"]
    if row["peak_g_macs_per_s"]:
        assert row["pct_of_peak"] == pytest.approx(100 * row["g_macs_per_s"] / row["peak_g_macs_per_s"], abs=0.2)
    assert report["style_switch"]["memory_cached_ms"] < report["style_switch"]["new_image_ms"]
    out = capsys.readouterr().out
    assert "batch 1 fps" in out and "% of peak" in out and "CPU peak (estimate:" in out


def test_bench_bad_options_are_one_line(capsys):
    from stylecam.cli import main
    assert main(["bench", "--sizes", "big"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("stylecam bench: argument --sizes: big: write a size as WxH") and len(err.splitlines()) == 1
    assert main(["bench", "--backend", "torch,tensorflow"]) == 2
    assert "tensorflow: not a backend" in capsys.readouterr().err


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_fp16_graphs_match_fp32(lively_model, style):
    import copy

    from stylecam.backends.torch_backend import TorchBackend
    frame = _bgr(72, 128)
    ref = TorchBackend(copy.deepcopy(lively_model), torch.device("cpu")).stylize(frame, *style)
    fast = TorchBackend(copy.deepcopy(lively_model), torch.device("cuda"), torch.float16, cuda_graphs=True)
    for _ in range(2):                                   # capture, then replay
        out = fast.stylize(frame, *style)
    d = np.abs(out.astype(int) - ref)
    assert d.max() <= 8 and d.mean() <= 0.5
