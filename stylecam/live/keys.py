"""Hotkeys as a pure state machine: ``press(state, key, n_styles) -> (state, action)``.

No OpenCV window is involved here, so tests (and ``--keys`` scripts) drive it
exactly as a user's keyboard does.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..errors import UserError
from ..mask import next_mode

ALPHA_STEP = 0.1

# one-shot actions the loop performs; everything else is state
SCREENSHOT, RECORD, VIRTUALCAM = "screenshot", "record", "virtualcam"

HELP_LINES = (
    ("n / p  or  ->/<-", "next / previous style"),
    ("1 - 9", "pick style directly"),
    ("+ / -", "style strength (alpha)"),
    ("c", "keep the camera's colours"),
    ("t", "the painting's colours (palette)"),
    ("b", "blend current + next style"),
    ("s", "split view: original | stylized"),
    ("m", "mirror"),
    ("l", "network: full / lite"),
    ("g", "mask: off / background / person stylized"),
    ("f", "HUD on/off"),
    ("space", "pause"),
    ("k", "screenshot (PNG)"),
    ("r", "start/stop recording"),
    ("v", "virtual camera on/off"),
    ("h", "this help"),
    ("q / Esc", "quit"),
)
TITLE_HINT = "[n/p style  +/- strength  c colour  t palette  b blend  s split  l full/lite  g mask  k shot  r rec  h help  q quit]"

# cv2.waitKeyEx codes of the arrow keys differ by GUI toolkit (GTK/Qt, Windows, macOS)
_ARROWS = {65361: "left", 65363: "right", 2424832: "left", 2555904: "right", 63234: "left", 63235: "right"}
_NAMED = {27: "esc", 32: "space", 13: "enter", ord("="): "+", ord("_"): "-"}
KNOWN = frozenset("npctbsmlgfkrvhq+-123456789") | {"left", "right", "space", "esc"}


@dataclass(frozen=True)
class LiveState:
    style: int = 0              # index into the style list
    alpha: float = 1.0
    keep_colors: bool = False
    palette: bool = False       # the painting's colours; never on with keep_colors (they contradict)
    blend: bool = False         # current and next style mixed 50/50
    split: bool = False         # left half original, right half stylized
    mirror: bool = False
    hud: bool = True
    paused: bool = False
    help: bool = False
    quit: bool = False
    model: str = ""             # the network asked for (the loop shows it once loaded)
    networks: tuple[str, ...] = ()   # what the l key cycles through: the registered kinds
    mask: str | None = None     # what is stylized: None (everything), "background" or "person"


def title(model: str | None = None) -> str:
    """The window title: the network on screen (once loaded) and the keys."""
    return f"stylecam{f' ({model})' if model else ''}  {TITLE_HINT}"


def key_name(code: int) -> str | None:
    """A cv2.waitKeyEx code -> the name ``press`` understands (None: no key or not ours)."""
    if code < 0:
        return None
    if code in _ARROWS:
        return _ARROWS[code]
    code_low = code & 0xFF
    if code_low in _NAMED:
        return _NAMED[code_low]
    ch = chr(code_low).lower()
    return ch if ch in KNOWN else None


def press(state: LiveState, key: str, n_styles: int) -> tuple[LiveState, str | None]:
    """Apply one key. Returns the new state and the one-shot action to perform, if any."""
    replace = dataclasses.replace
    if key in ("n", "right"):
        return replace(state, style=(state.style + 1) % n_styles), None
    if key in ("p", "left"):
        return replace(state, style=(state.style - 1) % n_styles), None
    if key.isdigit() and key != "0":
        index = int(key) - 1
        return (replace(state, style=index) if index < n_styles else state), None
    if key in ("+", "-"):
        step = ALPHA_STEP if key == "+" else -ALPHA_STEP
        return replace(state, alpha=round(min(1.0, max(0.0, state.alpha + step)), 2)), None
    if key == "c":          # the camera's colours and the painting's exclude each other
        return replace(state, keep_colors=not state.keep_colors, palette=False), None
    if key == "t":
        return replace(state, palette=not state.palette, keep_colors=False), None
    toggles = {"b": "blend", "s": "split", "m": "mirror", "f": "hud",
               "space": "paused", "h": "help"}
    if key in toggles:
        field = toggles[key]
        return replace(state, **{field: not getattr(state, field)}), None
    if key == "l" and state.model in state.networks:
        following = state.networks[(state.networks.index(state.model) + 1) % len(state.networks)]
        return replace(state, model=following), None
    if key == "g":
        return replace(state, mask=next_mode(state.mask)), None
    if key in ("q", "esc"):
        return replace(state, quit=True), None
    actions = {"k": SCREENSHOT, "r": RECORD, "v": VIRTUALCAM}
    return state, actions.get(key)


def parse_script(text: str) -> dict[int, list[str]]:
    """``"n@10,+@20,r@5"`` -> {frame: [keys pressed before that frame is shown]}."""
    script: dict[int, list[str]] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        key, sep, frame = item.rpartition("@")
        key = key.lower()
        if not sep or not frame.isdigit():
            raise UserError(f"--keys item '{item}': expected KEY@FRAME, e.g. n@10")
        if key not in KNOWN:
            raise UserError(f"--keys item '{item}': unknown key '{key}' "
                            f"(keys: {', '.join(sorted(KNOWN))})")
        script.setdefault(int(frame), []).append(key)
    return script
