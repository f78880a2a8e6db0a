"""The ``stylecam`` command: a dispatcher over the modules in ``stylecam.commands``.

Each command module has ``HELP``, ``EXAMPLES``, ``add_arguments(parser)`` and
``run(args) -> int``; it is imported only when used. With no command name the
live mode runs (``stylecam --camera 0 --style art.jpg``).
"""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

from .entry import entry_point
from .errors import UserError

COMMANDS = {   # name -> (module, one-line help)
    "live": ("stylecam.commands.live", "real-time window on a camera or video file (the default command)"),
    "image": ("stylecam.commands.image", "stylize one image or a folder of images"),
    "video": ("stylecam.commands.video", "stylize a video file, sound kept"),
    "serve": ("stylecam.commands.serve", "the live stylizer in a browser tab (camera in the page)"),
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


@entry_point("stylecam")
def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_overview())
        return 0
    if argv[0] in ("-V", "--version"):
        from . import __version__
        print(f"stylecam {__version__}")
        return 0
    explicit = argv[0] in COMMANDS
    name = argv.pop(0) if explicit else "live"
    module = importlib.import_module(COMMANDS[name][0])
    from .options import parser
    p = parser(f"stylecam {name}", module.HELP, module.EXAMPLES)
    module.add_arguments(p)
    args, extra = p.parse_known_args(argv)
    if any(a.startswith("-") for a in extra):
        p.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra:
        raise UserError(_explain(extra[0], name, explicit))
    return module.run(args)


def _explain(arg: str, command: str, explicit: bool) -> str:
    """What a stray word on the command line probably meant."""
    from .images import IMAGE_EXTS
    from .styles import load_bank
    path = Path(arg)
    is_video = path.suffix.lower() in (".mp4", ".mov", ".m4v", ".mkv", ".avi", ".webm")
    if command == "live" and not explicit and path.suffix.lower() in IMAGE_EXTS:
        return f"unknown command '{arg}'; to stylize a picture: stylecam image {arg}"
    if command == "live" and (arg.isdigit() or "://" in arg or is_video):
        return f"'{arg}' is not an option; to use it as the camera write --camera {arg}"
    if path.suffix.lower() in IMAGE_EXTS or path.is_dir() or arg in load_bank():
        return f"'{arg}' is not an option; to use it as a style write -s {arg}"
    if not explicit:
        return f"unknown command '{arg}'; commands: {', '.join(COMMANDS)}"
    if command == "live":
        return (f"unexpected argument '{arg}': not a camera, a style or an option "
                "(a camera: --camera N|FILE|URL, a style: -s; see stylecam live --help)")
    return f"unexpected argument '{arg}' (see stylecam {command} --help)"


if __name__ == "__main__":
    sys.exit(main())
