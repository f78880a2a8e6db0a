"""What turns one camera frame into the stylized view, and the state it keeps between frames.

The live window and the served page (``stylecam serve``, one per browser tab) both run
camera frames through a ``Stylist``: the style on screen (kept while another loads or
fails), the network on screen (kept while the other one loads), temporal smoothing and
the running colour statistics of ``t`` (the painting's colours; both reset whenever the
look changes), and the keys that change any of them (``keys.press``).
Everything about showing, recording and pacing stays with the caller.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import cv2
import numpy as np

from ..adain import blend_stats
from ..backends import keep_content_colors
from ..errors import UserError
from ..images import resize_longer
from ..mask import Masker
from ..palette import MOMENTUM as PALETTE_MOMENTUM, PaletteMatcher, blend_palettes
from ..temporal.smoothing import SmoothOptions, TemporalSmoother
from . import keys as K
from .hud import split_view
from .modelslots import ModelSlots
from .styleslots import StyleSlots


class Stylist:
    def __init__(self, models: ModelSlots, slots: StyleSlots, state: K.LiveState, size: int,
                 smooth: SmoothOptions, say: Callable[[str], None], masker: Masker | None = None):
        """models: the networks (shared between stylists: a backend keeps no per-frame state);
        slots: this stylist's styles; size: the processing size (longer side, 0: the frame's);
        say: where messages go (the window's HUD, the page); masker: the person mask that
        ``state.mask`` asks for (None: no mask offered)."""
        self.models, self.slots, self.size, self.smooth, self.say = models, slots, size, smooth, say
        self.masker = masker
        self.model = models.first_kind            # the network on screen
        self.backend = models.get(self.model)
        self.smoother = TemporalSmoother(self.backend, smooth)
        self.palette = PaletteMatcher(PALETTE_MOMENTUM)
        self.state = dataclasses.replace(state, model=self.model)
        self.active = slots.wait(0)               # the style on screen; kept while another loads or fails
        self.active_index = 0
        self.label = self.active.name             # the style name on screen
        self.processed_size = (0, 0)              # (width, height) of the stylized frames
        self._look: tuple | None = None           # what the last view was rendered as
        self._reported_failures: set[int] = set()
        self._reported_no_palette: set[str] = set()

    def press(self, key: str) -> str | None:
        """One key (``keys.press``); returns the one-shot action for the caller, if any."""
        state, action = K.press(self.state, key, len(self.slots))
        self.change(state)
        return action

    def change(self, state: K.LiveState) -> None:
        """A new state (a key, or the page's controls); a network asked for starts loading."""
        self.state = state
        if state.model != self.model:
            self.models.request(state.model)

    def render(self, image: np.ndarray, again: bool = False) -> np.ndarray | None:
        """Camera frame (H, W, 3) BGR -> the clean view at the processing size, without overlays.
        again: the frame was rendered before (paused): rendered anew only if the look changed,
        else None (keep the previous view)."""
        self._network()
        label, mean, std, palette = self._styles()
        s = self.state
        look = (label, s.alpha, s.keep_colors, s.palette, s.split, s.mirror, self.model, s.mask)
        changed = look != self._look
        if changed:
            self.smoother.reset()                 # no blending of the old look into the new one
            self.palette.reset()
            if self.masker is not None:
                self.masker.reset()
        self._look, self.label = look, label
        if again and not changed:
            return None
        return self._render(image, mean, std, self._palette(label, palette))

    def style_label(self) -> str:
        """The style on screen, with its place in the list or the one still loading."""
        i = self.state.style
        if self.slots.get(i) is None and self.slots.error(i) is None:
            return f"{self.label}  (loading {self.slots.names[i]}...)"
        return f"{self.label}  ({self.active_index + 1}/{len(self.slots)})"

    def model_label(self) -> str:
        wanted = self.state.model
        return self.model + (f" (loading {wanted}...)" if wanted != self.model else "")

    # -- networks ---------------------------------------------------------------------
    def _network(self) -> None:
        """Switch to the network asked for once it has loaded; if it cannot load, say why and keep
        the one on screen."""
        wanted = self.state.model
        if wanted == self.model:
            return
        error = self.models.error(wanted)
        if error is not None:
            self.say(f"the {wanted} network is not available: {error}; keeping {self.model}")
            self.state = dataclasses.replace(self.state, model=self.model)
            return
        backend = self.models.get(wanted)
        if backend is None:
            return                                   # still loading: the HUD says so
        self.model, self.backend = wanted, backend
        self.smoother = TemporalSmoother(backend, self.smooth)     # features of one network only
        self.say(f"switched to the {wanted} network ({backend.describe()})")

    # -- styles -----------------------------------------------------------------------
    def _styles(self):
        """(label, mean, std, painting colours) to apply now; the previous style stays while the chosen one
        is not ready."""
        i = self.state.style
        error = self.slots.error(i)
        if error is not None:
            if i not in self._reported_failures:
                self._reported_failures.add(i)
                self.say(f"style {self.slots.names[i]} failed: {error}; keeping {self.active.name}")
        elif (style := self.slots.get(i)) is not None:
            self.active, self.active_index = style, i
        label, mean, std, palette = self.active.name, self.active.mean, self.active.std, self.active.palette
        if self.state.blend and len(self.slots) > 1:
            j = (self.active_index + 1) % len(self.slots)
            partner = self.slots.get(j) if self.slots.error(j) is None else None
            if partner is not None:
                mean, std = blend_stats([mean, partner.mean], [std, partner.std])
                palette = None if palette is None or partner.palette is None else \
                    blend_palettes([palette, partner.palette])
                label = f"{self.active.name} + {partner.name}"
        return label, mean, std, palette

    def _palette(self, label: str, palette):
        """The painting colours the state asks for (None: off); a style without them is said once."""
        if not self.state.palette:
            return None
        if palette is None and label not in self._reported_no_palette:
            self._reported_no_palette.add(label)
            self.say(f"style {label} has no colour statistics (the built-in bank was made without its "
                     "painting); its colours stay the network's")
        return palette

    # -- one frame ----------------------------------------------------------------------
    def _render(self, image: np.ndarray, mean, std, palette) -> np.ndarray:
        small = resize_longer(image, self.size)
        if self.state.mirror:
            small = cv2.flip(small, 1)
        out = self.smoother.process(small, mean, std, self.state.alpha)   # = backend.stylize when --smooth off
        if self.state.keep_colors:
            out = keep_content_colors(out, small)
        if palette is not None:                   # before the mask: a person kept as filmed stays so
            out = self.palette(small, out, palette, self.state.alpha)
        out = self._masked(small, out)
        self.processed_size = (out.shape[1], out.shape[0])
        return split_view(small, out) if self.state.split else out

    def _masked(self, small: np.ndarray, out: np.ndarray) -> np.ndarray:
        """The person mask the state asks for; if its model cannot load, say why once and turn it off."""
        if self.masker is None:
            return out
        try:
            return self.masker.apply(small, out, self.state.mask)
        except UserError as e:
            self.say(f"no person mask: {e}")
            self.state = dataclasses.replace(self.state, mask=None)
            return out
