"""The live style list: built-in styles at once, style images reduced to statistics in the background.

Switching to a style whose statistics are still being computed keeps the
previous style on screen (the HUD says 'loading'); a style that fails to load
is reported in the HUD and skipped, and the previous style stays.
"""
from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from ..errors import UserError
from ..images import list_images
from ..options import StyleOptions
from ..safeio import check_input_file
from ..styles import Style, StyleLibrary


class StyleSlots:
    def __init__(self, library: StyleLibrary, opts: StyleOptions, blended: Style | None = None):
        """blended: the one --weights blend (then it is the only slot)."""
        self._library = library
        self.names: list[str] = []
        self._slots: list[Future[Style]] = []
        # one worker: the encoder runs on the same cores as the loop; one image at a time is enough
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="style-stats")
        if blended is not None:
            self._add_ready(blended)
            return
        for spec in opts.styles:
            for item in self._expand(library, spec):
                if isinstance(item, Style):
                    self._add_ready(item)
                else:
                    self.names.append(item.stem)
                    self._slots.append(self._pool.submit(library.from_image, item))

    @staticmethod
    def _expand(library: StyleLibrary, spec: str) -> list[Style | Path]:
        """Everything that can fail at once (missing files, unknown names) fails here, at start."""
        p = Path(spec)
        if p.is_dir():
            files = list_images(p)
            if not files:
                raise UserError(f"style folder {p} holds no images")
            return list(files)
        if p.exists() or os.sep in spec or "/" in spec or p.suffix:   # as StyleLibrary.resolve
            return [check_input_file(p, "style image")]
        return [library.builtin(spec)]

    def add_bytes(self, data: bytes, name: str) -> tuple[int, Future[Style]]:
        """A style image's bytes (an upload), reduced to statistics in the background, decoded with
        the same checks as any style image; held in memory only. Returns its index and its future."""
        self.names.append(name)
        self._slots.append(self._pool.submit(self._library.from_bytes, data, name, name, persist=False))
        return len(self._slots) - 1, self._slots[-1]

    def _add_ready(self, style: Style) -> None:
        done: Future[Style] = Future()
        done.set_result(style)
        self.names.append(style.name)
        self._slots.append(done)

    def __len__(self) -> int:
        return len(self._slots)

    def get(self, i: int) -> Style | None:
        """The style if its statistics are ready, None while loading; raises if it failed."""
        slot = self._slots[i]
        return slot.result() if slot.done() else None

    def error(self, i: int) -> str | None:
        slot = self._slots[i]
        if not slot.done() or slot.exception() is None:
            return None
        return str(slot.exception())

    def wait(self, i: int) -> Style:
        """Block until style i is ready (used once, for the first style at start)."""
        try:
            return self._slots[i].result()
        except UserError:
            raise
        except Exception as e:
            raise UserError(f"style {self.names[i]}: {e}") from None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
