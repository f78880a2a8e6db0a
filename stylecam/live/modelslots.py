"""The live loop's two networks: the one it starts with, and the other one (the ``l`` key) built in the
background the first time it is asked for; both are kept, so later switches are instant.

While the other network loads (seconds; tens of seconds when its ONNX graphs are exported, once per
machine) the current one stays on screen and the HUD says so. If it cannot load (no lite file, say)
the HUD says why and the current one stays. Style statistics do not change: both networks take the
same VGG style code.
"""
from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

from ..backends import Backend


class ModelSlots:
    def __init__(self, first: Backend, kind: str, build: Callable[[str], Backend] | None = None):
        """first: the backend the loop starts with, running the ``kind`` network; build: kind -> a backend
        on that network (None: only the first one exists)."""
        self.first_kind = kind
        self._build = build
        self._slots: dict[str, Future[Backend]] = {kind: Future()}
        self._slots[kind].set_result(first)
        # one worker: loading runs on the cores the loop uses; one network at a time is enough
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="network")

    def request(self, kind: str) -> None:
        """Start loading ``kind`` unless it is loaded, loading or failed."""
        if kind not in self._slots:
            self._slots[kind] = self._pool.submit(self._load, kind)

    def _load(self, kind: str) -> Backend:
        if self._build is None:
            raise RuntimeError("this loop was given one network only")
        return self._build(kind)

    def get(self, kind: str) -> Backend | None:
        """The backend if ready, None while loading (or not requested)."""
        slot = self._slots.get(kind)
        return slot.result() if slot is not None and slot.done() and slot.exception() is None else None

    def error(self, kind: str) -> str | None:
        slot = self._slots.get(kind)
        if slot is None or not slot.done() or slot.exception() is None:
            return None
        return str(slot.exception())

    def wait(self, kind: str) -> Backend | None:
        """Block until ``kind`` has loaded or failed (tests make a switch exact with it)."""
        self.request(kind)
        self._slots[kind].exception()
        return self.get(kind)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
