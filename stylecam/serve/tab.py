"""One browser tab: its own styles and stylizing state, the newest camera frame, the frames sent back.

Latency stays one frame: the page sends camera frames as they come (none while its
socket still holds unsent data), and the tab keeps only the newest; the worker takes it
when the previous one is done, so a slow backend drops frames instead of queueing them,
and a slow network holds back the page's sends. Everything that touches the stylist runs
on the server's one inference thread, so keys and frames never race.
"""
from __future__ import annotations

import asyncio
import io
import json
import math
import time
from concurrent.futures import Executor

import cv2
import numpy as np

from .. import networks
from ..errors import UserError
from ..images import MAX_PIXELS, decode_image
from ..live import keys as K
from ..live.styleslots import StyleSlots
from ..live.stylist import Stylist
from ..mask import Masker, MaskOptions
from . import protocol as P


class Tab:
    def __init__(self, ws, app):
        self.ws, self.app = ws, app
        opts = app.opts
        self.slots = StyleSlots(app.session.library, opts.style, app.blended)
        state = K.LiveState(alpha=opts.style.alpha, keep_colors=opts.style.preserve_color is not None,
                            palette=opts.style.palette == "style",
                            networks=networks.names())
        # the g key's person mask, as in the live window; its model loads on first use
        self.stylist = Stylist(app.models, self.slots, state, opts.size, opts.smooth, self._say,
                               Masker(MaskOptions(), temporal=True))
        self._newest: tuple[int, bytes] | None = None
        self._arrived = asyncio.Event()
        self._messages: list[str] = []
        self._uploads: set[asyncio.Task] = set()      # uploads being read (kept referenced until done)
        self._sent_styles = 0             # how many style names the page has
        self.frames = self.dropped = 0
        self.render_ms = 0.0

    async def serve(self) -> None:
        await self._send_json(self.app.hello())
        await self._send_hud()
        worker = asyncio.create_task(self._work())
        try:
            async for message in self.ws:
                try:
                    await self._receive(message)
                except P.ProtocolError as e:
                    await self._send_json({"type": "error", "text": str(e)})
        finally:
            for task in (worker, *self._uploads):
                task.cancel()
            await asyncio.gather(worker, *self._uploads, return_exceptions=True)   # a send to a closed socket
            self.slots.close()

    # -- from the page --------------------------------------------------------------------
    async def _receive(self, message) -> None:
        if isinstance(message, str):
            await self._control(P.parse_text(message))
            return
        kind, key, payload = P.parse_binary(message)
        if kind == P.FRAME:
            if self._newest is not None:
                self.dropped += 1            # never rendered: a newer frame came first
            self._newest = (key, payload)
            self._arrived.set()
        else:      # on its own: frames keep coming while the painting is read
            task = asyncio.create_task(self._upload(key, payload))
            self._uploads.add(task)
            task.add_done_callback(self._uploads.discard)

    async def _control(self, obj: dict) -> None:
        key = P.control_key(obj)
        if key is not None:
            await self._run(self.stylist.press, key)
        if "set" in obj:
            await self._run(self._apply, obj["set"])
        await self._send_hud()

    def _apply(self, settings) -> None:
        """On the inference thread, where the stylist's state also changes."""
        self.stylist.change(P.apply_settings(self.stylist.state, settings, len(self.slots)))

    async def _upload(self, name: str, data: bytes) -> None:
        """A painting of the user's: checked as `stylecam image` checks a style image, then its
        statistics computed in the background; the page chooses it once they are ready."""
        limit = self.app.opts.max_upload
        try:
            if not data:
                raise UserError(f"{name}: the file is empty")
            if len(data) > limit:
                raise UserError(f"{name}: {len(data) / 1e6:.1f} MB; uploads are limited to {limit / 1e6:g} MB")
            await asyncio.to_thread(check_upload, data, name)
            index, done = await self._run(self.slots.add_bytes, data, name)
            await asyncio.wrap_future(done)
        except Exception as e:         # UserError from the checks, or the encoder's own
            await self._send_json({"type": "error", "text": str(e) if isinstance(e, UserError) else f"{name}: {e}"})
            return
        await self._send_json({"type": "style_added", "index": index, "name": name})

    # -- to the page ------------------------------------------------------------------------
    async def _work(self) -> None:
        while True:
            await self._arrived.wait()
            self._arrived.clear()
            frame_id, jpeg = self._newest
            self._newest = None
            try:
                out = await self._run(self._render, jpeg)
            except UserError as e:
                await self._send_json({"type": "error", "text": str(e)})
                continue
            except Exception as e:            # the backend failed on this frame: say so, try the next
                await self._send_json({"type": "error", "text": f"stylizing failed: {type(e).__name__}: {e}"})
                continue
            if out is not None:
                await self.ws.send(P.frame_message(frame_id, out))
                self.frames += 1
            await self._send_hud()

    def _render(self, jpeg: bytes) -> bytes | None:
        """On the inference thread: JPEG in -> stylized JPEG out."""
        t0 = time.perf_counter()
        if math.prod(header_size(jpeg)) > MAX_PIXELS:
            raise UserError(f"a camera frame of more than {MAX_PIXELS / 1e6:.1f} megapixels")
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        if image is None or min(image.shape[:2]) < 16:
            raise UserError("a camera frame could not be decoded as a JPEG")
        with self.app.backend_lock:
            view = self.stylist.render(image)
        ok, buf = cv2.imencode(".jpg", view, [cv2.IMWRITE_JPEG_QUALITY, self.app.opts.quality])
        self.render_ms = 1000 * (time.perf_counter() - t0)
        return buf.tobytes() if ok else None

    async def _send_hud(self) -> None:
        s = self.stylist
        hud = {"type": "hud", "style": s.style_label(), "style_index": s.state.style, "alpha": s.state.alpha,
               "model": s.model_label(), "backend": s.backend.describe(), "server_ms": round(self.render_ms, 1),
               "frames": self.frames, "dropped": self.dropped, "size": s.processed_size,
               "state": {field: getattr(s.state, field) for field, _, _ in P.TOGGLES}
               | {"model": s.state.model, "mask": s.state.mask},
               "messages": self._messages[:]}
        self._messages.clear()
        if len(self.slots) != self._sent_styles:
            hud["styles"] = list(self.slots.names)
            self._sent_styles = len(self.slots)
        await self._send_json(hud)

    async def _send_json(self, obj: dict) -> None:
        await self.ws.send(json.dumps(obj))

    def _say(self, text: str) -> None:
        self._messages.append(text)          # goes out with the next HUD message

    def _run(self, fn, *args):
        executor: Executor = self.app.inference
        return asyncio.get_running_loop().run_in_executor(executor, fn, *args)


def header_size(data: bytes) -> tuple[int, int]:
    """(width, height) from an image's header, without decoding it ((0, 0): no header Pillow reads)."""
    from PIL import Image
    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.size
    except Exception:
        return 0, 0


def check_upload(data: bytes, name: str) -> None:
    """The picture's size from its header first (a small file can hold a huge picture), then the
    decode every style image goes through (it says what is wrong with a file that is no picture)."""
    w, h = header_size(data)
    if w * h > MAX_PIXELS:
        raise UserError(f"{name}: {w}×{h} is too many pixels for a painting (at most {MAX_PIXELS / 1e6:.1f} megapixels)")
    decode_image(data, name)
