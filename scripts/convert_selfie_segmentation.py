"""Convert MediaPipe's selfie-segmentation .tflite models to the ONNX files in assets/ (run once).

    pip download mediapipe==0.10.21 --no-deps -d /tmp/mp && cd /tmp/mp && unzip -o mediapipe-*.whl \\
        'mediapipe/modules/selfie_segmentation/*'
    pip install ".[mask-convert]"
    python scripts/convert_selfie_segmentation.py /tmp/mp/mediapipe/modules/selfie_segmentation --check

Each .tflite is read with the ``tflite`` flatbuffer parser and rewritten op by op
as an ONNX graph (NCHW inside; the tflite's NHWC float input in [0, 1] and its
NHWC person probability as the graph's input and output). The general converters
fall short: tflite2onnx 0.4.1 stops at ``HARD_SWISH``, and tf2onnx has no handler
for MediaPipe's custom op ``Convolution2DTransposeBias`` (and needs TensorFlow);
the two models use twelve ops in all, each a short method here. ``--check`` runs
the .tflite on LiteRT (ai-edge-litert, whose XNNPACK delegate has the custom op)
and the .onnx on ONNX Runtime, on scikit-image's astronaut and on random images,
and fails if they differ by more than 1e-4.
The output is deterministic: the same .tflite gives the same bytes.
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from stylecam.entry import entry_point        # noqa: E402
from stylecam.errors import UserError         # noqa: E402
from stylecam.options import parser           # noqa: E402

OPSET = 17
NAMES = ("selfie_segmentation", "selfie_segmentation_landscape")
SOURCE = "mediapipe 0.10.21 (PyPI wheel), mediapipe/modules/selfie_segmentation/{name}.tflite"
TOLERANCE = 1e-4
NUMPY_TYPES = {0: np.float32, 1: np.float16, 2: np.int32}    # tflite.TensorType FLOAT32, FLOAT16, INT32
ACTIVATIONS = {0: None, 1: "Relu"}                           # tflite.ActivationFunctionType NONE, RELU


class Converter:
    def __init__(self, buf: bytes):
        import tflite
        self.tfl = tflite
        self.model = tflite.Model.GetRootAsModel(buf, 0)
        self.graph = self.model.Subgraphs(0)
        self.constants: dict[int, np.ndarray] = {}     # tensor index -> value (NHWC, as stored)
        self.nodes: list = []
        self.initializers: list = []

    # -- tensors ----------------------------------------------------------------------------
    def name(self, i: int) -> str:
        return f"t{i}"

    def shape(self, i: int) -> list[int]:
        return self.graph.Tensors(i).ShapeAsNumpy().tolist()

    def constant(self, i: int) -> np.ndarray | None:
        if i in self.constants:
            return self.constants[i]
        t = self.graph.Tensors(i)
        data = self.model.Buffers(t.Buffer()).DataAsNumpy()
        if isinstance(data, int) or data.size == 0:
            return None
        value = np.frombuffer(data.tobytes(), NUMPY_TYPES[t.Type()]).reshape(self.shape(i))
        self.constants[i] = value
        return value

    def weight(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, activation: int = 0, **attrs) -> None:
        act = ACTIVATIONS.get(activation, "unsupported")
        if act == "unsupported":
            raise UserError(f"fused activation {activation} is not supported")
        raw = output + "_pre" if act else output
        self.nodes.append(helper.make_node(op, inputs, [raw], name=raw, **attrs))
        if act:
            self.nodes.append(helper.make_node(act, [raw], [output], name=output))

    # -- ops --------------------------------------------------------------------------------
    def convert(self, label: str) -> onnx.ModelProto:
        g = self.graph
        codes = self.model
        for j in range(g.OperatorsLength()):
            op = g.Operators(j)
            code = codes.OperatorCodes(op.OpcodeIndex())
            kind = code.CustomCode().decode() if code.CustomCode() else \
                self.tfl.opcode2name(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()))
            ins, outs = op.InputsAsNumpy().tolist(), op.OutputsAsNumpy().tolist()
            handler = getattr(self, "op_" + kind.lower(), None)
            if handler is None:
                raise UserError(f"op {kind} is not supported by this converter")
            handler(op, ins, outs[0])
        (x,), (y,) = g.InputsAsNumpy().tolist(), g.OutputsAsNumpy().tolist()
        n, h, w, c = self.shape(x)
        self.nodes.insert(0, helper.make_node("Transpose", ["image"], [self.name(x)], perm=[0, 3, 1, 2]))
        self.nodes.append(helper.make_node("Transpose", [self.name(y)], ["mask"], perm=[0, 2, 3, 1]))
        graph = helper.make_graph(
            self.nodes, label,
            [helper.make_tensor_value_info("image", TensorProto.FLOAT, [n, h, w, c])],
            [helper.make_tensor_value_info("mask", TensorProto.FLOAT, [n, h, w, 1])], self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="stylecam scripts/convert_selfie_segmentation.py")
        model.ir_version = 8
        onnx.checker.check_model(model, full_check=True)
        return model

    def op_dequantize(self, op, ins, out):
        value = self.constant(ins[0])
        if value is None:
            raise UserError("DEQUANTIZE of a computed tensor is not supported")
        self.constants[out] = value.astype(np.float32)

    def _options(self, op, cls):
        opts = cls()
        table = op.BuiltinOptions()
        opts.Init(table.Bytes, table.Pos)
        return opts

    def _pads(self, padding: int, size: list[int], kernel: list[int], stride: list[int], dilation=(1, 1)):
        """TFLite SAME (0) / VALID (1) -> ONNX pads [top, left, bottom, right] (the odd pixel at the end)."""
        if padding == 1:
            return [0, 0, 0, 0]
        before, after = [], []
        for n, k, s, d in zip(size, kernel, stride, dilation):
            out = -(-n // s)
            total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
            before.append(total // 2)
            after.append(total - total // 2)
        return before + after

    def op_conv_2d(self, op, ins, out):
        o = self._options(op, self.tfl.Conv2DOptions)
        w = self.constant(ins[1])                                        # (O, kh, kw, I)
        stride, dil = [o.StrideH(), o.StrideW()], [o.DilationHFactor(), o.DilationWFactor()]
        pads = self._pads(o.Padding(), self.shape(ins[0])[1:3], list(w.shape[1:3]), stride, dil)
        inputs = [self.name(ins[0]), self.weight(f"w{out}", w.transpose(0, 3, 1, 2))]
        if len(ins) > 2 and ins[2] >= 0:
            inputs.append(self.weight(f"b{out}", self.constant(ins[2])))
        self.node("Conv", inputs, self.name(out), o.FusedActivationFunction(), strides=stride, dilations=dil,
                  pads=pads, kernel_shape=list(w.shape[1:3]))

    def op_depthwise_conv_2d(self, op, ins, out):
        o = self._options(op, self.tfl.DepthwiseConv2DOptions)
        w = self.constant(ins[1])                                        # (1, kh, kw, C·multiplier)
        channels = self.shape(ins[0])[3]
        stride, dil = [o.StrideH(), o.StrideW()], [o.DilationHFactor(), o.DilationWFactor()]
        pads = self._pads(o.Padding(), self.shape(ins[0])[1:3], list(w.shape[1:3]), stride, dil)
        inputs = [self.name(ins[0]), self.weight(f"w{out}", w.transpose(3, 0, 1, 2)),
                  self.weight(f"b{out}", self.constant(ins[2]))]
        self.node("Conv", inputs, self.name(out), o.FusedActivationFunction(), strides=stride, dilations=dil,
                  pads=pads, kernel_shape=list(w.shape[1:3]), group=channels)

    def op_average_pool_2d(self, op, ins, out):
        o = self._options(op, self.tfl.Pool2DOptions)
        kernel, stride = [o.FilterHeight(), o.FilterWidth()], [o.StrideH(), o.StrideW()]
        pads = self._pads(o.Padding(), self.shape(ins[0])[1:3], kernel, stride)
        # TFLite averages over the pixels inside the image only: count_include_pad=0
        self.node("AveragePool", [self.name(ins[0])], self.name(out), o.FusedActivationFunction(),
                  kernel_shape=kernel, strides=stride, pads=pads, count_include_pad=0)

    def op_mean(self, op, ins, out):
        o = self._options(op, self.tfl.ReducerOptions)
        nchw = {0: 0, 1: 2, 2: 3, 3: 1}
        axes = sorted(nchw[int(a) % 4] for a in self.constant(ins[1]).ravel())
        self.node("ReduceMean", [self.name(ins[0])], self.name(out), axes=axes, keepdims=int(o.KeepDims()))

    def op_resize_bilinear(self, op, ins, out):
        o = self._options(op, self.tfl.ResizeBilinearOptions)
        mode = "align_corners" if o.AlignCorners() else "half_pixel" if o.HalfPixelCenters() else "asymmetric"
        n, _, _, c = self.shape(ins[0])
        h, w = self.constant(ins[1]).tolist()
        sizes = self.weight(f"s{out}", np.array([n, c, h, w], np.int64))
        self.node("Resize", [self.name(ins[0]), "", "", sizes], self.name(out), mode="linear",
                  coordinate_transformation_mode=mode)

    def _binary(self, onnx_op, cls, op, ins, out):
        if any(self.constant(i) is not None for i in ins):
            raise UserError(f"{onnx_op} with a constant operand is not supported")
        self.node(onnx_op, [self.name(i) for i in ins], self.name(out),
                  self._options(op, cls).FusedActivationFunction())

    def op_add(self, op, ins, out):
        self._binary("Add", self.tfl.AddOptions, op, ins, out)

    def op_mul(self, op, ins, out):
        self._binary("Mul", self.tfl.MulOptions, op, ins, out)

    def op_relu(self, op, ins, out):
        self.node("Relu", [self.name(ins[0])], self.name(out))

    def op_hard_swish(self, op, ins, out):
        self.node("HardSwish", [self.name(ins[0])], self.name(out))

    def op_logistic(self, op, ins, out):
        self.node("Sigmoid", [self.name(ins[0])], self.name(out))

    def op_convolution2dtransposebias(self, op, ins, out):
        """MediaPipe's custom op: TfLiteTransposeConvParams (padding, stride_w, stride_h as int32) in the
        custom options; weights (O, kh, kw, I), bias (O)."""
        padding, stride_w, stride_h = np.frombuffer(bytes(op.CustomOptionsAsNumpy()), np.int32)[:3].tolist()
        w = self.constant(ins[1])
        kernel = list(w.shape[1:3])
        size = self.shape(ins[0])[1:3]
        out_size = self.shape(out)[1:3]
        stride = [stride_h, stride_w]
        totals = [max((n - 1) * s + k - o, 0) for n, s, k, o in zip(size, stride, kernel, out_size)]
        if padding == 1:
            totals = [0, 0]
        pads = [t // 2 for t in totals] + [t - t // 2 for t in totals]
        inputs = [self.name(ins[0]), self.weight(f"w{out}", w.transpose(3, 0, 1, 2)),
                  self.weight(f"b{out}", self.constant(ins[2]))]
        self.node("ConvTranspose", inputs, self.name(out), strides=stride, kernel_shape=kernel, pads=pads)


def convert(tflite_path: Path) -> onnx.ModelProto:
    buf = tflite_path.read_bytes()
    model = Converter(buf).convert(tflite_path.stem)
    helper.set_model_props(model, {
        "stylecam.kind": "person-mask",
        "stylecam.source": SOURCE.format(name=tflite_path.stem),
        "stylecam.source_sha256": hashlib.sha256(buf).hexdigest(),
        "stylecam.licence": "Apache-2.0 (Google LLC, MediaPipe); see selfie_segmentation.md beside this file",
        "stylecam.input": "RGB float32 in [0, 1], NHWC, the frame resized (stretched) to the input size",
        "stylecam.output": "person probability in [0, 1], NHWC",
    })
    return model


def check(tflite_path: Path, onnx_path: Path) -> float:
    """Largest |tflite - onnx| over the astronaut and three random images (both at the model's size)."""
    import cv2
    import onnxruntime as ort
    import skimage.data
    from ai_edge_litert.interpreter import Interpreter
    it = Interpreter(model_path=str(tflite_path))
    it.allocate_tensors()
    (inp,), (outp,) = it.get_input_details(), it.get_output_details()
    _, h, w, _ = inp["shape"].tolist()
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    images = [cv2.resize(skimage.data.astronaut(), (w, h), interpolation=cv2.INTER_AREA)]
    images += [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(3)]
    worst = 0.0
    for i, img in enumerate(images):
        x = (img.astype(np.float32) / 255)[None]
        it.set_tensor(inp["index"], x)
        it.invoke()
        ref = it.get_tensor(outp["index"])
        got = sess.run(None, {"image": x})[0]
        diff = float(np.abs(ref - got).max())
        label = "astronaut" if i == 0 else f"random {i}"
        print(f"  {label}: max |tflite - onnx| = {diff:.2e}, person share tflite {(ref > 0.5).mean():.4f} "
              f"onnx {(got > 0.5).mean():.4f}")
        worst = max(worst, diff)
    return worst


EXAMPLES = """  python scripts/convert_selfie_segmentation.py /tmp/mp/mediapipe/modules/selfie_segmentation --check
  python scripts/convert_selfie_segmentation.py FOLDER --out /tmp/onnx       (elsewhere than assets/)
"""


@entry_point("convert_selfie_segmentation")
def main(argv=None) -> int:
    p = parser("python scripts/convert_selfie_segmentation.py", __doc__, EXAMPLES)
    p.add_argument("folder", type=Path, help="mediapipe/modules/selfie_segmentation from the unpacked wheel")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "assets",
                   help="where the .onnx files go (default: assets/)")
    p.add_argument("--check", action="store_true", help="compare with the .tflite on LiteRT (ai-edge-litert)")
    args = p.parse_args(argv)
    failed = False
    for name in NAMES:
        src = args.folder / f"{name}.tflite"
        if not src.is_file():
            raise UserError(f"{src}: not found (unpack the mediapipe 0.10.21 wheel first, see --help)")
        dst = args.out / f"{name}.onnx"
        dst.write_bytes(convert(src).SerializeToString())
        print(f"{src} -> {dst} ({dst.stat().st_size} bytes, sha256 {hashlib.sha256(dst.read_bytes()).hexdigest()})")
        if args.check:
            worst = check(src, dst)
            failed |= worst > TOLERANCE
            print(f"  {'FAILED' if worst > TOLERANCE else 'ok'}: worst {worst:.2e} (tolerance {TOLERANCE:g})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
