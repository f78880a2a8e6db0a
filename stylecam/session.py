"""What every command needs: the network, a backend, and the style library on the VGG style encoder."""
from __future__ import annotations

import copy
import sys
from dataclasses import dataclass, replace

from .adain import blend_stats
from .backends import BackendChoice, create
from .errors import UserError
from .model import ModelConfig
from .networks import ModelChoice, choose_model, load_network
from .options import RuntimeOptions, StyleOptions
from .palette import blend_palettes
from .styles import Style, StyleLibrary


@dataclass
class Session:
    choice: BackendChoice
    library: StyleLibrary
    model: ModelChoice
    runtime: RuntimeOptions
    split: bool
    stream: bool = False

    @property
    def backend(self):
        return self.choice.backend

    def styles(self, opts: StyleOptions) -> list[Style]:
        """The styles to apply: all resolved ones, or one blend when --weights is given."""
        styles = self.library.resolve_all(list(opts.styles))
        if opts.weights is None:
            return styles
        if len(opts.weights) != len(styles):
            raise UserError(f"--weights has {len(opts.weights)} values but the --style values give "
                            f"{len(styles)} styles ({', '.join(s.name for s in styles)})")
        mean, std = blend_stats([s.mean for s in styles], [s.std for s in styles], opts.weights)
        name = "+".join(f"{s.name}:{w:g}" for s, w in zip(styles, opts.weights))
        return [Style(name, mean, std, None, mix_palettes(styles, opts.weights))]

    def open_backend(self, kind: str) -> BackendChoice:
        """A backend on the network of ``kind`` with this session's runtime options (the live key that
        switches networks); --onnx and --engine belong to the first network, so the other one runs
        its cached graphs."""
        if kind == self.model.kind:
            return self.choice
        rt = replace(self.runtime, onnx=None, engine=None)
        return create(rt.backend, load_network(rt, kind), rt.device, rt.precision, compile=rt.compile,
                      split=self.split, stream=self.stream)


def mix_palettes(styles: list[Style], weights=None):
    """The colours of a blend: the mixture of its paintings' (None if one has none)."""
    if any(s.palette is None for s in styles):
        return None
    return blend_palettes([s.palette for s in styles], weights)


def require_palettes(styles: list[Style], opts: StyleOptions) -> None:
    """--palette style needs every style's painting colours: say which style has none, before any frame."""
    if opts.palette != "style":
        return
    for s in styles:
        if s.palette is None:
            raise UserError(f"style {s.name} has no colour statistics for --palette style (the built-in bank "
                            "was made without its painting); give the painting's file with -s")


def open_session(rt: RuntimeOptions, quiet: bool = False, split: bool = False, live: bool = False,
                 stream: bool = False) -> Session:
    """split: the command runs the backend's encode/decode (``SmoothOptions.split``).
    live: the live loop (``--model auto`` runs lite there on the CPU); a stream too.
    stream: many frames (a video), over which a backend's slow one-time preparation pays."""
    stream = stream or live
    chosen = choose_model(rt, live)
    model = load_network(rt, chosen.kind)
    style_encoder = copy.deepcopy(model.style_encoder)   # float32 always; the backend may cast its own copy
    choice = create(rt.backend, model, rt.device, rt.precision, onnx=rt.onnx, engine=rt.engine,
                    compile=rt.compile, split=split, stream=stream)
    if not quiet:                                        # once it runs: a refusal stays one line
        print(f"{chosen.report()}\n{choice.report()}", file=sys.stderr)
    device = "cuda" if "cuda" in choice.backend.device else "cpu"
    # the full network's ModelConfig: style statistics are VGG's for both networks (padding included)
    library = StyleLibrary(style_encoder.to(device), ModelConfig(), device=device)
    return Session(choice, library, chosen, rt, split, stream)
