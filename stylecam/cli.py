"""The ``stylecam`` command: a dispatcher over the modules in ``stylecam.commands``.

Each command module has ``HELP``, ``EXAMPLES``, ``add_arguments(parser)`` and
``run(args) -> int``; it is imported only when used. With no command name the
live mode runs (``stylecam --camera 0 --style art.jpg``).
"""
from __future__ import annotations

import importlib
import sys

from .errors import UserError

COMMANDS = {   # name -> (module, one-line help)
    "live": ("stylecam.commands.live", "real-time window on a camera or video file (the default command)"),
    "image": ("stylecam.commands.image", "stylize one image or a folder of images"),
    "video": ("stylecam.commands.video", "stylize a video file, sound kept"),
    "styles": ("stylecam.commands.styles", "list the built-in styles"),
    "demo": ("stylecam.commands.demo", "sample photos × built-in styles -> one contact sheet"),
    "bench": ("stylecam.commands.bench", "frames/s per backend and size"),
    "flicker": ("stylecam.commands.flicker", "measure temporal flicker (warping error) of a stylized video"),
}

OVERVIEW = """usage: stylecam [COMMAND] [OPTIONS]

Real-time arbitrary style transfer (AdaIN) for cameras, videos and images.

commands:
{commands}

examples:
  stylecam demo
  stylecam --camera 0 --style art.jpg --style monet_water_lilies_1919
  stylecam image photo.jpg --style art.jpg -o out.png
  stylecam video in.mp4 --style art.jpg -o out.mp4
  stylecam styles

`stylecam COMMAND --help` shows each command's options and examples.
"""


def _overview() -> str:
    width = max(map(len, COMMANDS))
    return OVERVIEW.format(commands="\n".join(f"  {n:<{width}}  {h}" for n, (_, h) in COMMANDS.items()))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_overview())
        return 0
    if argv[0] in ("-V", "--version"):
        from . import __version__
        print(f"stylecam {__version__}")
        return 0
    name = argv.pop(0) if argv[0] in COMMANDS else "live"
    if name == "live" and not argv[:1] == ["live"] and argv and not argv[0].startswith("-"):
        print(f"stylecam: unknown command '{argv[0]}'; commands: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    from .options import parser
    p = parser(f"stylecam {name}", module.HELP, module.EXAMPLES)
    module.add_arguments(p)
    args = p.parse_args(argv)
    try:
        return int(module.run(args) or 0)
    except UserError as e:
        print(f"stylecam: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("stylecam: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
