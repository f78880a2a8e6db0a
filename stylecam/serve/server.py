"""The server of ``stylecam serve``: the page's files, the style thumbnails, and one WebSocket per tab.

One process, one event loop (``websockets``) for the sockets, one inference thread for every
tab (the cores are shared anyway; each tab holds at most one frame waiting, so the work
in hand never exceeds one frame per tab).
"""
from __future__ import annotations

import asyncio
import contextlib
import errno
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http import HTTPStatus
from importlib import resources
from typing import Callable

import cv2

from .. import networks
from ..errors import UserError
from ..images import resize_longer
from ..live import keys as K
from ..live.modelslots import ModelSlots
from ..live.styleslots import StyleSlots
from ..options import RuntimeOptions, StyleOptions
from ..session import open_session
from ..temporal.smoothing import SmoothOptions
from . import access
from . import protocol as P

STATIC = {"/": ("index.html", "text/html; charset=utf-8"), "/app.js": ("app.js", "text/javascript; charset=utf-8"),
          "/style.css": ("style.css", "text/css; charset=utf-8")}
THUMB_SIDE = 96            # thumbnails: the sample photo in each style, longer side in pixels
THUMB_PHOTO = "chelsea"    # scikit-image's public-domain sample
# the socket's message limit: an upload a little over --max-upload is answered with a message (the page
# checks the size first); one far over it, or a camera frame over this, closes the connection
MAX_FRAME_BYTES = 8 << 20


@dataclass(frozen=True, kw_only=True)
class ServeOptions:
    host: str
    port: int
    token: str | None             # required on every request; None: none (loopback only)
    max_clients: int
    max_upload: int               # bytes of one uploaded painting
    size: int                     # processing size, as `stylecam live --size`
    quality: int                  # JPEG quality of the frames sent back
    smooth: SmoothOptions
    style: StyleOptions
    runtime: RuntimeOptions

    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/" + (f"?token={self.token}" if self.token else "")


class App:
    def __init__(self, opts: ServeOptions, session, models: ModelSlots, blended):
        self.opts, self.session, self.models, self.blended = opts, session, models, blended
        # one thread: every tab's frames, keys and thumbnails, in turn
        self.inference = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference")
        # thumbnails on their own thread: a page asking for all of them at once delays a frame by one
        # thumbnail at most; the lock keeps the two threads off the backend at the same moment
        self._thumbnailer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="thumbnails")
        self.backend_lock = threading.Lock()
        self.tabs: set = set()          # the tabs' connections
        self._thumbs: dict[int, bytes] = {}
        self._styles = StyleSlots(session.library, opts.style, blended)    # the list every tab starts with
        self._names = tuple(self._styles.names)

    def check_first_style(self) -> None:
        """Every tab starts on the first style: one that cannot be read fails at start, in one line."""
        self._styles.wait(0)

    def hello(self) -> dict:
        return {"type": "hello", "styles": list(self._names), "thumbs": len(self._names),
                "toggles": [{"field": f, "key": k, "label": label} for f, k, label in P.TOGGLES],
                "models": list(networks.names()), "help": [list(line) for line in K.HELP_LINES if line[0] not in P.WINDOW_ONLY],
                "max_upload": self.opts.max_upload, "size": self.opts.size}

    # -- HTTP -------------------------------------------------------------------------------
    async def process_request(self, connection, request):
        """Every request: access first; then the page's files and thumbnails, or the WebSocket."""
        headers = request.headers
        if not access.host_ok(self.opts.host, self.opts.port, headers.get("Host")):
            return _text(connection, HTTPStatus.FORBIDDEN, "stylecam: this server answers only at its own "
                         "address (the Host header names another)")
        if not access.token_ok(self.opts.token, request.path, headers.get("Cookie"), self.opts.port):
            return _text(connection, HTTPStatus.FORBIDDEN, "stylecam: wrong or missing token: open the address "
                         "`stylecam serve` printed (it ends in ?token=...)")
        path = request.path.split("?", 1)[0]
        if path == "/ws":
            if not access.origin_ok(headers.get("Origin"), headers.get("Host")):
                return _text(connection, HTTPStatus.FORBIDDEN, "stylecam: WebSocket from another site refused")
            if len(self.tabs) >= self.opts.max_clients:
                return _text(connection, HTTPStatus.SERVICE_UNAVAILABLE,
                             f"stylecam: {self.opts.max_clients} tabs are connected already (--max-clients)")
            return None                                       # go on with the handshake
        if path in STATIC:
            name, kind = STATIC[path]
            body = resources.files("stylecam.serve").joinpath("static", name).read_bytes()
            response = _bytes(connection, body, kind)
            if self.opts.token and path == "/":
                response.headers["Set-Cookie"] = (f"{access.cookie_name(self.opts.port)}={self.opts.token}; "
                                                  "Path=/; HttpOnly; SameSite=Strict")
            return response
        if path.startswith("/thumb/") and path.endswith(".jpg") and path[7:-4].isdigit():
            index = int(path[7:-4])
            if index < len(self._names):
                try:
                    body = await asyncio.get_running_loop().run_in_executor(self._thumbnailer, self.thumbnail, index)
                except UserError as e:           # a style image that cannot be read: the tab says so too
                    return _text(connection, HTTPStatus.NOT_FOUND, f"stylecam: {e}")
                return _bytes(connection, body, "image/jpeg")
        return _text(connection, HTTPStatus.NOT_FOUND, "stylecam: no such page")

    def thumbnail(self, index: int) -> bytes:
        """The sample photo in style ``index`` (made once)."""
        if index not in self._thumbs:
            import skimage.data
            style = self._styles.wait(index)
            photo = cv2.cvtColor(resize_longer(getattr(skimage.data, THUMB_PHOTO)(), THUMB_SIDE), cv2.COLOR_RGB2BGR)
            with self.backend_lock:
                out = self.models.get(self.models.first_kind).stylize(photo, style.mean, style.std, 1.0)
            self._thumbs[index] = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()
        return self._thumbs[index]

    # -- WebSocket --------------------------------------------------------------------------
    async def handle(self, ws) -> None:
        from .tab import Tab
        if len(self.tabs) >= self.opts.max_clients:       # two handshakes at once both passed the check
            await ws.close(1013, "too many tabs (--max-clients)")
            return
        self.tabs.add(ws)                                 # its place is taken from here on
        print(f"stylecam: a tab connected ({len(self.tabs)} now)", file=sys.stderr, flush=True)
        try:
            tab = await asyncio.to_thread(Tab, ws, self)  # a first style from an image may take a moment
            await tab.serve()
        except Exception as e:        # a tab that goes away mid-frame is no error of the server's
            if not _closed(e):
                print(f"stylecam: a tab failed: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        finally:
            self.tabs.discard(ws)
            print(f"stylecam: a tab disconnected ({len(self.tabs)} now)", file=sys.stderr, flush=True)

    def close(self) -> None:
        for pool in (self.inference, self._thumbnailer):
            pool.shutdown(wait=True, cancel_futures=True)
        self._styles.close()


def _closed(e: Exception) -> bool:
    from websockets.exceptions import ConnectionClosed
    return isinstance(e, (ConnectionClosed, asyncio.CancelledError))


def _text(connection, status: HTTPStatus, text: str):
    return connection.respond(status, text + "\n")


def _bytes(connection, body: bytes, kind: str):
    response = connection.respond(HTTPStatus.OK, "")
    response.body = body
    del response.headers["Content-Type"], response.headers["Content-Length"]
    response.headers["Content-Type"] = kind
    response.headers["Content-Length"] = str(len(body))
    response.headers["Cache-Control"] = "no-store"
    return response


async def _serve(opts: ServeOptions, ready: Callable[[App], None] | None) -> None:
    from websockets.asyncio.server import serve
    holder: dict = {}

    async def process_request(connection, request):
        app = holder.get("app")
        if app is None:
            return _text(connection, HTTPStatus.SERVICE_UNAVAILABLE, "stylecam: starting, try again in a moment")
        return await app.process_request(connection, request)

    async def handle(ws):
        await holder["app"].handle(ws)

    try:      # bind first: a port in use fails before the model loads
        server = await serve(handle, opts.host, opts.port, process_request=process_request,
                             max_size=2 * opts.max_upload + MAX_FRAME_BYTES, max_queue=4, compression=None)
    except OSError as e:
        raise UserError(_bind_error(opts, e)) from None
    async with server:
        with contextlib.ExitStack() as cleanup:
            app = await asyncio.to_thread(_open_app, opts, cleanup)
            holder["app"] = app
            print(f"stylecam: serving on {opts.address()}  (Ctrl-C stops)", flush=True)
            if ready is not None:
                ready(app)
            await server.serve_forever()


def _open_app(opts: ServeOptions, cleanup: contextlib.ExitStack) -> App:
    session = open_session(opts.runtime, split=opts.smooth.split, live=True)
    models = ModelSlots(session.backend, session.model.kind, lambda kind: session.open_backend(kind).backend)
    cleanup.callback(models.close)
    blended = session.styles(opts.style)[0] if opts.style.weights else None
    app = App(opts, session, models, blended)
    cleanup.callback(app.close)
    app.check_first_style()
    return app


def _bind_error(opts: ServeOptions, e: OSError) -> str:
    where = f"{opts.host}:{opts.port}"
    if e.errno == errno.EADDRINUSE:
        return f"port {opts.port} is in use on {opts.host}; choose another with --port"
    if e.errno in (errno.EACCES, errno.EPERM):
        return f"not allowed to listen on {where} (ports below 1024 need privileges); choose another --port"
    if e.errno == errno.EADDRNOTAVAIL:
        return f"--host {opts.host}: not an address of this machine"
    return f"cannot listen on {where}: {e.strerror or e}"


def run_server(opts: ServeOptions, ready: Callable[[App], None] | None = None) -> int:
    """Serve until Ctrl-C or SIGTERM (``entry_point`` turns both into ``Interrupted``)."""
    asyncio.run(_serve(opts, ready))
    return 0
