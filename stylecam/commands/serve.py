"""The live stylizer in a browser tab: the page's camera, this machine's network."""
from __future__ import annotations

from ..options import (add_runtime_arguments, add_smooth_arguments, add_style_arguments, longer_side, number,
                       runtime_options, smooth_options, style_options)

HELP = ("Serve a page that stylizes the browser's camera in real time: open the printed address, allow the "
        "camera; styles, strength, colour, blend, split view, network, screenshots and recordings in the page.")
EXAMPLES = """  stylecam serve                                   (http://127.0.0.1:8765/; every built-in style)
  stylecam serve --port 9000 -s starry.jpg -s monet_water_lilies_1919
  stylecam serve --host 0.0.0.0                     (other machines too; prints the address with its token)
  stylecam serve --host 192.168.1.20 --token my-long-secret --max-clients 2
  stylecam serve --model lite --size 480            (a browser source for OBS: open the address there)

keys in the page: n/p or arrows next/previous style, 1-9 pick, +/- strength,
c keep colours, t the painting's colours, b blend current+next style, s split
view, m mirror, l full/lite network, g person mask, f HUD, space pause, k
screenshot (PNG), r record (WebM), h help.
Bound to 127.0.0.1 (the default) the page is for this machine only. Any other
--host needs a token: --token, or a new one printed in the address; every
request and connection is checked. Each tab has its own styles and settings; a
painting uploaded in the page stays in memory (at most --max-upload MB).
Browsers allow the camera only on https or on localhost: from another machine
open the address through an SSH tunnel (ssh -L 8765:127.0.0.1:8765 host) or
a TLS proxy.
"""


def add_arguments(p):
    net = p.add_argument_group("server")
    net.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    net.add_argument("--port", type=number(1, 65535, integer=True), default=8765, help="port (default 8765)")
    net.add_argument("--token", help="the token every request must carry (default: none on 127.0.0.1, "
                                     "a new random one on any other --host)")
    net.add_argument("--max-clients", type=number(1, 64, integer=True), default=4,
                     help="tabs connected at once (default 4)")
    net.add_argument("--max-upload", type=number(0.1, 100), default=16, metavar="MB",
                     help="largest painting the page may upload, in MB (default 16)")
    net.add_argument("--quality", type=number(10, 100, integer=True), default=85,
                     help="JPEG quality of the stylized frames sent to the page (default 85)")
    run = p.add_argument_group("run")
    run.add_argument("--size", type=longer_side, default=480,
                     help="processing size: longer side in pixels (default 480; 0 = the camera's size)")
    add_smooth_arguments(run)
    add_style_arguments(p, default="every built-in style")
    add_runtime_arguments(p)


def parse(args):
    from ..serve.access import check_host, choose_token
    from ..serve.server import ServeOptions
    from .live import _builtin_styles
    host = check_host(args.host)
    return ServeOptions(host=host, port=args.port, token=choose_token(host, args.token), max_clients=args.max_clients,
                        max_upload=int(args.max_upload * 1e6), size=args.size, quality=args.quality,
                        smooth=smooth_options(args), runtime=runtime_options(args),
                        style=style_options(args, _builtin_styles() if not args.style else ()))


def run(args) -> int:
    import importlib.util

    from ..errors import UserError
    from ..serve.server import run_server
    if importlib.util.find_spec("websockets") is None:
        raise UserError("stylecam serve needs the websockets package: pip install 'stylecam[serve]'")
    return run_server(parse(args))
