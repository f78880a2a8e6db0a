"""What every command needs: the model, a backend, and the style library on the same encoder."""
from __future__ import annotations

import copy
import sys
from dataclasses import dataclass

from .adain import blend_stats
from .backends import BackendChoice, create
from .errors import UserError
from .loading import load_model
from .options import RuntimeOptions, StyleOptions
from .styles import Style, StyleLibrary


@dataclass
class Session:
    choice: BackendChoice
    library: StyleLibrary

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
        return [Style(name, mean, std)]


def open_session(rt: RuntimeOptions, quiet: bool = False, split: bool = False) -> Session:
    """split: the command runs the backend's encode/decode (``SmoothOptions.split``)."""
    model = load_model(rt.decoder)
    style_encoder = copy.deepcopy(model.style_encoder)   # float32 always; the backend may cast its own copy
    choice = create(rt.backend, model, rt.device, rt.precision, onnx=rt.onnx, engine=rt.engine,
                    compile=rt.compile, split=split)
    if not quiet:
        print(choice.report(), file=sys.stderr)
    device = "cuda" if "cuda" in choice.backend.device else "cpu"
    return Session(choice, StyleLibrary(style_encoder.to(device), model.config, device=device))
