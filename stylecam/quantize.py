"""INT8 frame graphs for ONNX Runtime on the CPU, one function per conversion.

``onnx2int8``: the fp32 frame graph (``convert.torch2onnx``) -> the same graph with
ONNX Runtime static quantization: QDQ format, per-channel INT8 weights and
per-tensor UINT8 activations. The convolutions are the only INT8 arithmetic; the
ReLU, padding, pooling and upsampling between them are quantized too because
in UINT8 they are exact (ReLU folds into the convolution's output range, the
others move values), so each activation is rounded once, to a range that starts
at 0: closer to fp32 than quantizing the convolutions alone (``--ops Conv``), as
export/int8_bench.py measures (figures in docs/benchmarks.md). AdaIN's statistics, the
frame casts and the clamp stay float32, so the graph keeps the frame contract
and its metadata (``stylecam.precision`` int8).

Activation ranges come from real photos stylized with built-in styles: the
photos are scikit-image's bundled test images (a dependency; ``skimage.data``
ships them, no download) and the styles come from the shipped bank, so a user's
machine can build the INT8 graph offline, once (``cached_int8``).
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from .errors import UserError

CALIBRATION_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "stereo_motorcycle")   # skimage.data
CALIBRATION_STYLES = ("van_gogh_starry_night_over_the_rhone", "monet_water_lilies_1919",
                      "kandinsky_small_worlds_i")                                        # assets/styles.pt
CALIBRATION_SIZE = (480, 272)        # (W, H): the live loop's size; multiples of 8
CALIBRATION_ALPHAS = (1.0, 0.6)      # the decoder's input range moves with α
CALIBRATION_METHOD = "percentile"    # measured against minmax and entropy: export/int8_bench.py
CALIBRATION_PERCENTILE = 99.99       # measured against 99.9, 99.95 and 99.999
QUANTIZED_OPS = ["Conv", "Relu", "Pad", "MaxPool", "Resize"]
CALIBRATION_VERSION = "1"            # bump when anything above changes: the cached graphs are rebuilt


def skimage_photo(name: str) -> np.ndarray:
    """One of scikit-image's bundled photos as (H, W, 3) uint8 RGB."""
    from skimage import data
    img = getattr(data, name)()
    return img[0] if isinstance(img, tuple) else img      # stereo_motorcycle: (left, right, disparity)


def fit_frame(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) RGB -> (size[1], size[0], 3) BGR: scaled to cover, centre-cropped (no distortion)."""
    w, h = size
    scale = max(w / rgb.shape[1], h / rgb.shape[0])
    resized = cv2.resize(rgb, (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)),
                         interpolation=cv2.INTER_AREA)
    y, x = (resized.shape[0] - h) // 2, (resized.shape[1] - w) // 2
    return np.ascontiguousarray(resized[y:y + h, x:x + w, ::-1])


def calibration_frames(size: tuple[int, int] = CALIBRATION_SIZE, photos=CALIBRATION_PHOTOS,
                       styles=CALIBRATION_STYLES, alphas=CALIBRATION_ALPHAS) -> list[dict[str, np.ndarray]]:
    """Feeds for the frame graph: every photo with one style and α, the styles and α taken in turn."""
    from .styles import load_bank
    bank = load_bank()
    missing = [s for s in styles if s not in bank]
    if missing:
        raise UserError(f"INT8 calibration needs the built-in styles {', '.join(missing)} (assets/styles.pt); "
                        "reinstall stylecam, or use --precision fp32")
    feeds = []
    for i, name in enumerate(photos):
        style = bank[styles[i % len(styles)]]
        feeds.append({"frame": fit_frame(skimage_photo(name), size),
                      "style_mean": style.mean.numpy().astype(np.float32),
                      "style_std": style.std.numpy().astype(np.float32),
                      "alpha": np.asarray(alphas[i % len(alphas)], np.float32).reshape(())})
    return feeds


class _Feeds:
    """ONNX Runtime's CalibrationDataReader over a list of feeds, in slices (``set_range``) so
    the calibrator holds one frame's activations at a time, not all of them."""

    def __init__(self, feeds: list[dict]):
        self.feeds, self._it = feeds, iter(feeds)

    def get_next(self):
        return next(self._it, None)

    def __len__(self):
        return len(self.feeds)

    def set_range(self, start_index: int, end_index: int):
        self._it = iter(self.feeds[start_index:end_index])


def saturates_here() -> bool:
    """Without VNNI, x86 INT8 kernels multiply u8 × s8 with vpmaddubsw, whose 16-bit pair sums
    saturate with 8-bit weights: ONNX Runtime and OpenVINO both gave a mean error twice the
    INT8 bounds on such a CPU, and within them with 7-bit weights (``reduce_range``)."""
    from .backends.cpu import this_cpu
    flags = this_cpu().flags
    return ("avx2" in flags or "avx512bw" in flags) and not flags & {"avx512_vnni", "avx_vnni", "amx_int8"}


def onnx2int8(fp32_onnx, out, calibration_frames: list[dict[str, np.ndarray]],
              method: str = CALIBRATION_METHOD, ops: list[str] = QUANTIZED_OPS, *,
              exclude: tuple[str, ...] = (), operator_format: bool = False, per_channel: bool = True,
              reduce_range: bool | None = None) -> Path:
    """Quantize the fp32 frame graph ``fp32_onnx`` into ``out`` (written atomically).
    calibration_frames: feeds of the frame graph (frame, style_mean, style_std, alpha).
    method: activation calibration, 'minmax', 'percentile' or 'entropy'; ops: the ONNX op types
    to quantize; exclude: node names left fp32; operator_format: QOperator (QLinearConv …) instead of
    QDQ pairs; reduce_range: 7-bit weights (None: where this CPU needs them, ``saturates_here``)
    (the benchmarks compare these: export/cpu_bench.py, export/int8_bench.py)."""
    import contextlib
    import io

    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from .graphs import check_stylecam_onnx, file_hash
    from .safeio import save_onnx
    methods = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
               "entropy": CalibrationMethod.Entropy}
    if method not in methods:
        raise UserError(f"INT8 calibration method {method}: choose one of {', '.join(methods)}")
    meta = check_stylecam_onnx(fp32_onnx, "frame")
    if meta.get("stylecam.precision") != "fp32":
        raise UserError(f"{fp32_onnx} is a {meta.get('stylecam.precision')} graph; INT8 is made from the fp32 one "
                        "(python -m export.onnx --precision fp32)")
    if not calibration_frames:
        raise UserError("INT8 calibration needs at least one frame")
    reduce_range = saturates_here() if reduce_range is None else reduce_range
    with tempfile.TemporaryDirectory(prefix="stylecam-int8-") as tmp:
        prepared, quantized = Path(tmp) / "prepared.onnx", Path(tmp) / "int8.onnx"
        # CalibStridedMinMax 1: one frame's activations at a time (any method: hundreds of MB per 480×272 frame)
        extra = {"CalibStridedMinMax": 1, "CalibPercentile": CALIBRATION_PERCENTILE}
        with contextlib.redirect_stdout(io.StringIO()):        # the histogram calibrators print progress
            quant_pre_process(str(fp32_onnx), str(prepared), skip_symbolic_shape=True)
            quantize_static(str(prepared), str(quantized), _Feeds(list(calibration_frames)),
                            quant_format=QuantFormat.QOperator if operator_format else QuantFormat.QDQ,
                            op_types_to_quantize=list(ops), per_channel=per_channel, nodes_to_exclude=list(exclude),
                            reduce_range=reduce_range,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            calibrate_method=methods[method], extra_options=extra)
        proto = onnx.load_model(str(quantized))
    del proto.metadata_props[:]
    calibration = method + (f" {CALIBRATION_PERCENTILE}" if method == "percentile" else "")
    meta.update({"stylecam.precision": "int8", "stylecam.int8_from": file_hash(fp32_onnx),
                 "stylecam.int8_ops": ", ".join(ops), "stylecam.int8_weights": "7-bit" if reduce_range else "8-bit",
                 "stylecam.int8_calibration": f"{calibration}, {len(calibration_frames)} frames, "
                                              f"version {CALIBRATION_VERSION}"})
    for k, v in meta.items():
        proto.metadata_props.add(key=k, value=v)
    out = Path(out)
    save_onnx(proto, out)
    return out


def cached_int8(fp32_path) -> Path:
    """The INT8 graph of the fp32 frame graph ``fp32_path``, built once into the user cache
    (keyed by the fp32 file, ONNX Runtime's version and the calibration); an INT8 graph
    passed in is returned as it is."""
    import onnxruntime

    from .graphs import check_stylecam_onnx, file_hash
    from .paths import user_cache_dir
    from .safeio import writable_cache
    if check_stylecam_onnx(fp32_path, "frame").get("stylecam.precision") == "int8":
        return Path(fp32_path)
    weights = "-w7" if saturates_here() else ""
    key = f"{file_hash(fp32_path)}-ort{onnxruntime.__version__}-c{CALIBRATION_VERSION}{weights}"
    path = user_cache_dir() / "onnx" / f"stylecam-int8-{key}.onnx"
    if not path.is_file():
        path = writable_cache(path.parent, "the INT8 graph") / path.name
        print(f"backend: quantizing the network to INT8 once ({len(CALIBRATION_PHOTOS)} calibration photos, "
              f"up to a minute) -> {path}", file=sys.stderr)
        onnx2int8(fp32_path, path, calibration_frames())
    return path
