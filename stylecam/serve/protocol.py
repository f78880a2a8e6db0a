"""What the page and the server say to each other over the WebSocket.

Binary messages, page -> server: ``FRAME`` + uint32 frame id + a JPEG camera frame, or
``UPLOAD`` + uint16 name length + the UTF-8 name + the painting's bytes.
Binary messages, server -> page: ``FRAME`` + the same frame id + the stylized JPEG.
Text messages are JSON: the page sends ``{"key": "n"}`` (the live window's keys, same
meaning) or ``{"set": {"alpha": 0.6, ...}}`` (its controls); the server sends ``hello``,
``hud``, ``style_added`` and ``error`` objects (see ``app.js``).
"""
from __future__ import annotations

import dataclasses
import json
import math
import struct

from ..live import keys as K

FRAME, UPLOAD = 1, 2
_ID = struct.Struct("<BI")
_NAME = struct.Struct("<BH")

# keys the server acts on; the page handles its own (f HUD, space pause, k screenshot, r record, h help)
SERVER_KEYS = frozenset("npctbsmlg+-123456789") | {"left", "right"}
# the page's toggles: (state field, key, label); a new one (a person mask, say) is one more row here
TOGGLES = (("keep_colors", "c", "preserve colour"), ("palette", "t", "the painting's colours"),
           ("blend", "b", "blend with the next style"),
           ("split", "s", "split view"), ("mirror", "m", "mirror"))
WINDOW_ONLY = ("v", "q / Esc")      # keys.HELP_LINES entries the page has no use for (no virtual camera, no quit)


class ProtocolError(ValueError):
    """A message the server cannot act on; its text goes back to the page."""


def frame_message(frame_id: int, jpeg: bytes) -> bytes:
    return _ID.pack(FRAME, frame_id & 0xFFFFFFFF) + jpeg


def upload_message(name: str, data: bytes) -> bytes:
    raw = name.encode()[:512]
    return _NAME.pack(UPLOAD, len(raw)) + raw + data


def parse_binary(message: bytes) -> tuple[int, int | str, bytes]:
    """-> (FRAME, frame id, JPEG) or (UPLOAD, name, bytes)."""
    if message[:1] == bytes([FRAME]) and len(message) > _ID.size:
        _, frame_id = _ID.unpack_from(message)
        return FRAME, frame_id, message[_ID.size:]
    if message[:1] == bytes([UPLOAD]) and len(message) >= _NAME.size:
        _, n = _NAME.unpack_from(message)
        name = message[_NAME.size:_NAME.size + n].decode("utf-8", "replace").strip() or "upload"
        return UPLOAD, name, message[_NAME.size + n:]
    raise ProtocolError("unknown binary message (expected a camera frame or an upload)")


def parse_text(message: str) -> dict:
    try:
        obj = json.loads(message)
    except ValueError:
        raise ProtocolError("control message is not JSON") from None
    if not isinstance(obj, dict):
        raise ProtocolError("control message is not a JSON object")
    return obj


def control_key(obj: dict) -> str | None:
    """The key of a ``{"key": ...}`` message (None: not one)."""
    key = obj.get("key")
    if key is None:
        return None
    if not isinstance(key, str) or key.lower() not in SERVER_KEYS:
        raise ProtocolError(f"unknown key {key!r} (keys: {' '.join(sorted(SERVER_KEYS))})")
    return key.lower()


def apply_settings(state: K.LiveState, settings: object, n_styles: int) -> K.LiveState:
    """The page's ``{"set": {...}}`` controls applied to the state, every value checked."""
    if not isinstance(settings, dict):
        raise ProtocolError("'set' takes an object, e.g. {\"alpha\": 0.5}")
    changes = {}
    for name, value in settings.items():
        if name == "style":
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < n_styles:
                raise ProtocolError(f"style {value!r}: choose 0 to {n_styles - 1}")
        elif name == "alpha":
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) \
                    or not 0 <= value <= 1:
                raise ProtocolError(f"alpha {value!r}: must be a number in [0, 1]")
            value = float(value)
        elif name == "model":
            if value not in state.networks:
                raise ProtocolError(f"network {value!r}: choose one of {', '.join(state.networks)}")
        elif name in {field for field, _, _ in TOGGLES}:
            if not isinstance(value, bool):
                raise ProtocolError(f"{name} {value!r}: must be true or false")
        else:
            raise ProtocolError(f"unknown setting {name!r}")
        changes[name] = value
    if changes.get("keep_colors") and changes.get("palette"):
        raise ProtocolError("keep_colors and palette contradict (the camera's colours or the painting's): "
                            "set one")
    for on, off in (("keep_colors", "palette"), ("palette", "keep_colors")):    # as the c and t keys
        if changes.get(on):
            changes[off] = False
    return dataclasses.replace(state, **changes)
