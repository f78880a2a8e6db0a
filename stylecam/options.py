"""Options shared by the commands: one grammar, parsed once into frozen dataclasses and passed down.

The grammar is the same in every command:
- a list is one comma-separated value (``--weights 0.7,0.3``, ``--sizes 256x256,640x480``); only
  ``-s/--style`` is repeated instead, since a file name may hold a comma;
- a frame size is ``WxH`` (one parser, ``frame_size``); ``--size N`` is always the longer side
  in pixels, 0 meaning the input's own;
- every value (numbers finite and in range, --model, --backend, --device, --precision) is checked
  when the command line is read, before any model loads; a mistake is one line and exit status 2.
"""
from __future__ import annotations

import argparse
import math
import os
import re
from dataclasses import dataclass
from typing import Callable

from .errors import UserError
from .model import MIN_SIDE
from .palette import MODES as PALETTE_MODES, MOMENTUM as PALETTE_MOMENTUM

DEFAULT_STYLE = "van_gogh_starry_night_over_the_rhone"   # image and video without -s
MAX_SIDE = 8192         # longest side anything runs at (the exported graphs' limit, H.264 level 6.2)


@dataclass(frozen=True)
class StyleOptions:
    styles: tuple[str, ...]               # paths, folders or built-in names
    weights: tuple[float, ...] | None     # blend weights, one per resolved style
    alpha: float                          # 0 = photo, 1 = full style
    preserve_color: str | None            # None, 'luminance' or 'coral'
    palette: str = "off"                  # 'off' or 'style': the output given the painting's colours (palette.py)


@dataclass(frozen=True)
class RuntimeOptions:
    decoder: str | None                   # None: the shipped assets/decoder.pt
    backend: str
    device: str
    precision: str
    onnx: str | None = None               # exported frame graph for --backend onnxruntime/tensorrt
    engine: str | None = None             # built TensorRT engine for --backend tensorrt
    compile: bool | None = None           # torch.compile; None: where measured faster (CUDA)
    model: str = "auto"                   # auto, a network kind or a weights file (stylecam.networks.choice)
    lite: str | None = None               # None: the shipped assets/lite.pt


# -- value parsers (argparse types: a bad value is a one-line usage error) ----------------------

def number(low: float | None = None, high: float | None = None, *, integer: bool = False,
           above: bool = False) -> Callable[[str], float]:
    """A finite number in [low, high] (``above``: strictly more than ``low``)."""
    def parse(text: str):
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text}: not a{' whole' if integer else ''} number") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text}: must be a finite number")
        if low is not None and (value <= low if above else value < low):
            raise argparse.ArgumentTypeError(f"{text}: must be {'more than' if above else 'at least'} {low:g}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"{text}: must be at most {high:g}")
        return value
    return parse


def name(text: str) -> str:
    """A file, folder or built-in name; never empty (the OS would read an empty one as the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty name; give a file, a folder (. for the current one) or a name")
    return text


def longer_side(text: str) -> int:
    """--size: the longer side in pixels, 0 (the input's own) or MIN_SIDE … MAX_SIDE."""
    value = number(0, MAX_SIDE, integer=True)(text)
    if 0 < value < MIN_SIDE:
        raise argparse.ArgumentTypeError(f"{text}: must be 0 (the input's size) or at least {MIN_SIDE}")
    return value


def frame_size(text: str) -> tuple[int, int]:
    """``WxH`` (or W×H) -> (width, height), each side MIN_SIDE … MAX_SIDE."""
    m = re.fullmatch(r"\s*(\d+)\s*[x×]\s*(\d+)\s*", text.lower())
    if not m:
        raise argparse.ArgumentTypeError(f"{text}: write a size as WxH, e.g. 640x480")
    w, h = int(m[1]), int(m[2])
    if not (MIN_SIDE <= min(w, h) and max(w, h) <= MAX_SIDE):
        raise argparse.ArgumentTypeError(f"{text}: each side must be {MIN_SIDE} to {MAX_SIDE} pixels")
    return w, h


def listed(item: Callable[[str], object]) -> Callable[[str], tuple]:
    """A comma-separated list of ``item`` values (at least one)."""
    def parse(text: str) -> tuple:
        values = tuple(item(v.strip()) for v in text.split(",") if v.strip())
        if not values:
            raise argparse.ArgumentTypeError(f"'{text}': give one or more values separated by commas")
        return values
    return parse


def weights(text: str) -> tuple[float, ...]:
    values = listed(number(0))(text)
    if not 0 < sum(values) < math.inf:
        raise argparse.ArgumentTypeError(f"{text}: the weights must not all be zero")
    return values


def device_name(text: str) -> str:
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", text):
        raise argparse.ArgumentTypeError(f"{text}: not a device; use auto, cpu or cuda[:N]")
    return text


def model_name(text: str) -> str:
    """--model: auto, a registered network kind, or a weights file (its kind is read from it when it loads)."""
    from .networks import AUTO, names
    if text == AUTO or text in names() or text.endswith(".pt") or "/" in text or os.path.exists(text):
        return text
    raise argparse.ArgumentTypeError(f"{text}: not a network; choose {AUTO}, {', '.join(names())} "
                                     f"or a weights file (.pt)")


def backend_names(text: str) -> tuple[str, ...]:
    """bench: the backends to time (``auto`` is not one: it picks one of these)."""
    from .backends import NAMES
    names = listed(str)(text)
    for name in names:
        if name not in NAMES[1:]:
            raise argparse.ArgumentTypeError(f"{name}: not a backend; choose from {', '.join(NAMES[1:])}")
    return names


# -- the shared option groups -------------------------------------------------------------------

def add_style_arguments(p: argparse.ArgumentParser, default: str, color_transfer: bool = False) -> None:
    """default: what happens without -s (said in --help). color_transfer: offer CORAL (`image` only:
    it re-encodes the style image for every picture)."""
    g = p.add_argument_group("style")
    g.add_argument("-s", "--style", action="append", default=[], metavar="S", type=name,
                   help="style image, folder of images, or built-in name (see `stylecam styles`); "
                        f"repeat for several (default: {default})")
    g.add_argument("--weights", type=weights, metavar="W,W,...",
                   help="blend the styles with these weights, one per style (normalized to sum 1)")
    g.add_argument("--alpha", type=number(0, 1), default=1.0, help="style strength in [0, 1] (default 1)")
    g.add_argument("--preserve-color", action="store_true",
                   help="keep the photo's colours: stylized luminance with the photo's chroma")
    add_palette_argument(g)
    if color_transfer:
        g.add_argument("--color-transfer", choices=["luminance", "coral"],
                       help="how --preserve-color keeps the colours (implies it): luminance (the default), "
                            "or coral: each style image recoloured to the photo's palette before its "
                            "statistics are taken (style image files only)")


def add_palette_argument(g) -> None:
    """--palette: the painting's colours (stylecam.palette)."""
    g.add_argument("--palette", choices=PALETTE_MODES, default="off",
                   help="style: give the output the painting's colours (its pixels' mean and covariance "
                        "matched to the painting's, after the network; in video and live the output's "
                        f"statistics are a running average, share of the past {PALETTE_MOMENTUM:g}); "
                        "off: the network's own (default); cannot go with --preserve-color")


def add_model_arguments(g) -> None:
    """--model and, as aliases kept for scripts, the file options of the two shipped networks; a file
    given for one network only picks that one under auto (docs/cli.md)."""
    from .networks import names
    g.add_argument("--model", default="auto", type=model_name, metavar="NAME|PATH",
                   help=f"the network: {' or '.join(names())} (the distilled student, far cheaper per frame), "
                        "or a weights file, which says which network it holds; default auto: lite for live "
                        "on the CPU, full otherwise (the choice is printed)")
    g.add_argument("--decoder", metavar="PATH",
                   help="the full network's weights, as --model PATH (default: the shipped assets/decoder.pt)")
    g.add_argument("--lite", metavar="PATH",
                   help="the lite network's weights, as --model PATH (default: the shipped assets/lite.pt)")


def add_runtime_arguments(p: argparse.ArgumentParser, several_backends: bool = False) -> None:
    """several_backends: `bench`, which times a list of backends instead of picking one."""
    from .backends import NAMES
    g = p.add_argument_group("runtime")
    add_model_arguments(g)
    if several_backends:
        g.add_argument("--backend", dest="backends", type=backend_names, default=(), metavar="B,B,...",
                       help=f"the backends to time: {', '.join(NAMES[1:])} (default: every available one)")
    else:
        g.add_argument("--backend", default="auto", choices=NAMES,
                       help="inference backend (default auto: the fastest that runs here, saying why)")
    g.add_argument("--device", type=device_name, default="auto", help="auto, cpu or cuda[:N] (default auto)")
    g.add_argument("--precision", default="auto", choices=["auto", "fp32", "fp16", "bf16", "int8"],
                   help="compute precision (default auto: fp16 on CUDA, fp32 on the CPU, where --backend auto takes int8 "
                        "if measured faster on this kind of CPU; int8: onnxruntime or openvino on the CPU)")
    g.add_argument("--onnx", metavar="PATH",
                   help="frame graph from `python -m export.onnx` for the onnxruntime/openvino/tensorrt backends "
                        "(default: exported once into the user cache)")
    g.add_argument("--engine", metavar="PATH",
                   help="TensorRT engine from `python -m export.trt` (default: built once into the user cache)")
    g.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                   help="torch.compile the network (torch backend; default: on with CUDA, where it is several times "
                        "faster after a compile of seconds per frame size; off on the CPU, where it gains little "
                        "after a long first compile)")


def add_smooth_arguments(g) -> None:
    """--smooth, --smooth-momentum, --flow-weight: the same switch in every command."""
    from .temporal.smoothing import MODES, SmoothOptions
    d = SmoothOptions()
    g.add_argument("--smooth", default=d.mode, choices=MODES,
                   help="flicker reduction: off (default), stats, flow, both or features (any backend)")
    g.add_argument("--smooth-momentum", type=float, default=d.stats_momentum,
                   help=f"--smooth stats/both: share of the past in the running μ, σ (default {d.stats_momentum})")
    g.add_argument("--flow-weight", type=float, default=d.flow_weight,
                   help=f"--smooth flow/both/features: share of the warped past (default {d.flow_weight})")


def smooth_options(args: argparse.Namespace):
    """The SmoothOptions of --smooth, --smooth-momentum, --flow-weight (checked by SmoothOptions)."""
    from .temporal.smoothing import SmoothOptions
    return SmoothOptions(mode=args.smooth, stats_momentum=args.smooth_momentum, flow_weight=args.flow_weight)


def add_mask_arguments(g, temporal: bool) -> None:
    """--mask, --mask-feather, --mask-model, and (temporal: video and live) --mask-momentum."""
    from .mask import MODES, MaskOptions
    d = MaskOptions()
    g.add_argument("--mask", choices=MODES, help="stylize only the background (the person stays as in the photo) "
                                                 "or only the person (default: the whole frame)")
    g.add_argument("--mask-feather", type=number(0, 100), default=d.feather, metavar="PX",
                   help=f"soft edge of the mask: the blur's sigma in output pixels (default {d.feather:g}; "
                        "0: the model's own)")
    if temporal:
        g.add_argument("--mask-momentum", type=number(0, 1), default=d.momentum, metavar="M",
                       help=f"share of the past in the running mask, so its edge does not boil "
                            f"(default {d.momentum:g}; 0: each frame's own; below 1)")
    g.add_argument("--mask-model", metavar="PATH",
                   help="a person-segmentation ONNX graph (default: the shipped MediaPipe selfie models)")


def mask_options(args: argparse.Namespace):
    """The MaskOptions of --mask, --mask-feather, --mask-momentum, --mask-model (checked by MaskOptions)."""
    from .mask import MaskOptions
    momentum = getattr(args, "mask_momentum", MaskOptions().momentum)
    return MaskOptions(mode=args.mask, feather=args.mask_feather, momentum=momentum, model=args.mask_model)


def style_options(args: argparse.Namespace, default: tuple[str, ...] = ()) -> StyleOptions:
    """default: the styles used without -s."""
    preserve = getattr(args, "color_transfer", None) or ("luminance" if args.preserve_color else None)
    if preserve and args.palette == "style":
        raise UserError("--palette style gives the painting's colours and --preserve-color keeps the photo's: "
                        "choose one")
    return StyleOptions(tuple(args.style) or default, args.weights, args.alpha, preserve, args.palette)


def runtime_options(args: argparse.Namespace) -> RuntimeOptions:
    return RuntimeOptions(args.decoder, getattr(args, "backend", "auto"), args.device, args.precision,
                          getattr(args, "onnx", None), getattr(args, "engine", None), getattr(args, "compile", None),
                          args.model, args.lite)


class OneLineErrorParser(argparse.ArgumentParser):
    """Usage mistakes are one line on stderr (the full usage is one --help away)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def parser(prog: str, description: str, examples: str) -> argparse.ArgumentParser:
    return OneLineErrorParser(prog=prog, description=description, epilog="examples:\n" + examples,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
