"""Options shared by the commands: parsed once into frozen dataclasses and passed down."""
from __future__ import annotations

import argparse
from dataclasses import dataclass

from .errors import UserError


@dataclass(frozen=True)
class StyleOptions:
    styles: tuple[str, ...]               # paths, folders or built-in names
    weights: tuple[float, ...] | None     # blend weights, one per resolved style
    alpha: float                          # 0 = photo, 1 = full style
    preserve_color: str | None            # None, 'luminance' or 'coral'


@dataclass(frozen=True)
class RuntimeOptions:
    decoder: str | None                   # None: the shipped assets/decoder.pt
    backend: str
    device: str
    precision: str
    onnx: str | None = None               # exported frame graph for --backend onnxruntime/tensorrt
    engine: str | None = None             # built TensorRT engine for --backend tensorrt
    compile: bool | None = None           # torch.compile; None: where measured faster (CUDA)


def add_style_arguments(p: argparse.ArgumentParser, required: bool = True) -> None:
    g = p.add_argument_group("style")
    g.add_argument("-s", "--style", action="append", default=[], required=required, metavar="S",
                   help="style image, folder of images, or built-in name (see `stylecam styles`); repeatable")
    g.add_argument("--weights", type=float, nargs="+", metavar="W",
                   help="blend the styles with these weights (one per style, normalized to sum 1)")
    g.add_argument("--alpha", type=float, default=1.0, help="style strength in [0, 1] (default 1)")
    g.add_argument("--preserve-color", nargs="?", const="luminance", choices=["luminance", "coral"],
                   help="keep the photo's colours: 'luminance' (the default when the flag is given: "
                        "stylized luma + the photo's chroma, per frame) or 'coral' (style image recoloured "
                        "to the photo's palette before its statistics are taken; `stylecam image` only)")


def add_runtime_arguments(p: argparse.ArgumentParser) -> None:
    from .backends import NAMES
    g = p.add_argument_group("runtime")
    g.add_argument("--decoder", help="decoder weights (default: the shipped assets/decoder.pt)")
    g.add_argument("--backend", default="auto", help=f"inference backend: {', '.join(NAMES)} (default auto)")
    g.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] (default auto)")
    g.add_argument("--precision", default="auto", choices=["auto", "fp32", "fp16", "bf16", "int8"],
                   help="compute precision (default auto: fp16 on CUDA, fp32 on the CPU; int8: onnxruntime on the CPU)")
    g.add_argument("--onnx", metavar="PATH",
                   help="frame graph from `python -m export.onnx` for the onnxruntime/tensorrt backends "
                        "(default: exported once into the user cache)")
    g.add_argument("--engine", metavar="PATH",
                   help="TensorRT engine from `python -m export.trt` (default: built once into the user cache)")
    g.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                   help="torch.compile the network (torch backend; default: on with CUDA, 3x faster at 720p "
                        "after a compile of seconds per frame size; off on the CPU, 1.1x after a 35 s compile)")


def style_options(args: argparse.Namespace, allow_coral: bool = False) -> StyleOptions:
    if args.preserve_color == "coral" and not allow_coral:
        raise UserError("--preserve-color coral re-encodes the style for every picture and is only for "
                        "`stylecam image`; use --preserve-color (luminance) here")
    if not 0.0 <= args.alpha <= 1.0:
        raise UserError(f"--alpha {args.alpha}: must be between 0 and 1")
    if args.weights is not None and any(w < 0 for w in args.weights):
        raise UserError("--weights must be non-negative")
    return StyleOptions(tuple(args.style), tuple(args.weights) if args.weights else None,
                        args.alpha, args.preserve_color)


def runtime_options(args: argparse.Namespace) -> RuntimeOptions:
    return RuntimeOptions(args.decoder, args.backend, args.device, args.precision,
                          getattr(args, "onnx", None), getattr(args, "engine", None), getattr(args, "compile", None))


class OneLineErrorParser(argparse.ArgumentParser):
    """Usage mistakes are one line on stderr (the full usage is one --help away)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def parser(prog: str, description: str, examples: str) -> argparse.ArgumentParser:
    return OneLineErrorParser(prog=prog, description=description, epilog="examples:\n" + examples,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
