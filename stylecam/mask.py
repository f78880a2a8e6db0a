"""Person masks: stylize only the person, or only the background, and keep the photo elsewhere.

The mask comes from MediaPipe's selfie-segmentation models, converted once to ONNX
(scripts/convert_selfie_segmentation.py; provenance and licence in
assets/selfie_segmentation.md) and run on ONNX Runtime. The frame is shrunk to the
model's input (256×256, or 144×256 for frames wider than tall); the probability it
returns is smoothed over time (video, live), ramped and feathered at that small size,
and only then scaled up to the output for the composite, so the mask costs the same
at any output size. Everything here is per frame: the commands own the frames.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .errors import UserError
from .paths import asset_path

# what is stylized -> its weight from the person's weight; the key cycles off -> these, in this order
STYLED = {"background": lambda person: 1 - person, "person": lambda person: person}
MODES = tuple(STYLED)
GENERAL, LANDSCAPE = "selfie_segmentation.onnx", "selfie_segmentation_landscape.onnx"
INSTALL_HINT = "pip install onnxruntime"
REINSTALL_HINT = "reinstall stylecam (pip install --force-reinstall stylecam), or rebuild the file with " \
                 "scripts/convert_selfie_segmentation.py (docs/masks.md)"
OWN_MODEL_HINT = "--mask-model takes an ONNX graph from an N×H×W×3 RGB image in [0, 1] to an N×H×W×1 " \
                 "probability (docs/masks.md)"
# The model's probability -> the person's weight: a ramp, so that the inside of the person is
# exactly 1 (the photo stays the photo there) and the soft edge is a few pixels wide.
RAMP = (0.25, 0.75)
SNAP = 0.02


@dataclass(frozen=True, kw_only=True)
class MaskOptions:
    mode: str | None = None     # what is stylized: 'person' or 'background'; None: the whole frame
    feather: float = 2.0        # px at the output size: the Gaussian sigma of the edge (0: the model's own)
    momentum: float = 0.6       # video and live: share of the past in the running mask (0: per frame)
    model: str | None = None    # one ONNX graph for every frame; None: the shipped pair

    def __post_init__(self):
        if self.mode not in (None, *MODES):
            raise UserError(f"--mask {self.mode}: choose {' or '.join(MODES)}")
        if not 0 <= self.feather <= 100:
            raise UserError(f"--mask-feather {self.feather:g}: must be 0 to 100 pixels")
        if not 0 <= self.momentum < 1:
            raise UserError(f"--mask-momentum {self.momentum:g}: must be in [0, 1)")


def next_mode(mode: str | None) -> str | None:
    """The live key: off -> background -> person -> off."""
    order = (None, *MODES)
    return order[(order.index(mode) + 1) % len(order)]


class Segmenter:
    """One ONNX graph: a BGR frame of any size -> the person's probability at the graph's size."""

    def __init__(self, path: Path, fix: str = REINSTALL_HINT):
        """fix: what the user can do when the file is missing or damaged."""
        try:
            import onnxruntime as ort
        except ImportError:
            raise UserError(f"--mask needs ONNX Runtime: {INSTALL_HINT}") from None
        if not path.is_file():
            raise UserError(f"the person-mask model {path} is missing; {fix}")
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        # no busy-waiting between runs: the stylizer runs right after on the same cores
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as e:                         # onnxruntime's own exception types
            raise UserError(f"the person-mask model {path} is damaged ({str(e).splitlines()[0][:120]}); "
                            f"{fix}") from None
        [inp], [out] = self.session.get_inputs(), self.session.get_outputs()
        shape = inp.shape
        if len(shape) != 4 or shape[3] != 3 or not all(isinstance(s, int) for s in shape[1:3]):
            raise UserError(f"the person-mask model {path} takes {shape}, not an N×H×W×3 image; {fix}")
        self.input, self.output = inp.name, out.name
        self.size = (shape[2], shape[1])                 # (width, height)

    def __call__(self, bgr: np.ndarray) -> np.ndarray:
        small = cv2.resize(bgr, self.size, interpolation=cv2.INTER_AREA)
        rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB).astype(np.float32) * (1 / 255)
        prob = self.session.run([self.output], {self.input: rgb[None]})[0]
        return prob.reshape(self.size[1], self.size[0])


class Segmenters:
    """The graph for a frame: the shipped general (square) model, or the landscape one for frames wider
    than tall; or the one --mask-model gives. Each is loaded on first use."""

    def __init__(self, model: str | None = None):
        self.model = model
        self.loaded: dict[str, Segmenter] = {}

    def names(self) -> tuple[str, ...]:
        return (self.model,) if self.model else (GENERAL, LANDSCAPE)

    def for_frame(self, w: int, h: int) -> Segmenter:
        return self._get(self.model or (LANDSCAPE if w > h else GENERAL))

    def check(self) -> None:
        """Load every graph now (a command fails before its network loads, not on the first frame)."""
        for name in self.names():
            self._get(name)

    def _get(self, name: str) -> Segmenter:
        if name not in self.loaded:
            self.loaded[name] = Segmenter(Path(name), OWN_MODEL_HINT) if self.model else Segmenter(asset_path(name))
        return self.loaded[name]


def person_weight(prob: np.ndarray, out_size: tuple[int, int], feather: float) -> np.ndarray:
    """The model's probability -> the person's weight in [0, 1] at ``out_size`` (w, h), float32:
    ramped (inside exactly 1, outside exactly 0) and feathered at the model's size, then scaled up."""
    low, high = RAMP
    weight = np.clip((prob - low) * (1 / (high - low)), 0, 1).astype(np.float32)
    if feather > 0:
        sigma = feather * prob.shape[1] / out_size[0]       # output pixels -> model pixels
        weight = cv2.GaussianBlur(weight, (0, 0), sigma)
        # the Gaussian's tails cut at about 2 sigma, so the inside stays exactly 1 and the outside 0
        weight = np.clip(weight * (1 + 2 * SNAP) - SNAP, 0, 1)
    return cv2.resize(weight, out_size, interpolation=cv2.INTER_LINEAR)


def composite(photo: np.ndarray, stylized: np.ndarray, person: np.ndarray, mode: str) -> np.ndarray:
    """(H, W, 3) uint8 each, ``person`` (H, W) in [0, 1] -> the stylized frame on the ``mode`` part only."""
    styled = STYLED[mode](person)
    if not styled.any():                  # nobody in the frame (person) / a frame of person (background)
        return photo.copy()
    if (styled >= 1).all():
        return stylized.copy()
    return cv2.blendLinear(stylized, photo, np.ascontiguousarray(styled), np.ascontiguousarray(1 - styled))


class Masker:
    """The mask of one stream of frames: ``apply(photo, stylized)`` each frame, in order.

    temporal: an exponential moving average of the probability across frames (video, live), reset when
    the frame size changes or ``reset`` is called (a cut: the live loop's mirror key)."""

    def __init__(self, opts: MaskOptions, temporal: bool = False, segmenters: Segmenters | None = None):
        self.opts = opts
        self.momentum = opts.momentum if temporal else 0.0
        self.segmenters = segmenters or Segmenters(opts.model)
        self.running: np.ndarray | None = None
        self.person: np.ndarray | None = None      # the last frame's weight at the output size (tests, HUD)
        self.seconds: float | None = None          # what the last frame's mask took (the live benchmark)

    def reset(self) -> None:
        self.running = None

    def probability(self, photo: np.ndarray) -> np.ndarray:
        h, w = photo.shape[:2]
        prob = self.segmenters.for_frame(w, h)(photo)
        if self.running is not None and self.running.shape == prob.shape and self.momentum > 0:
            prob = self.momentum * self.running + (1 - self.momentum) * prob
        self.running = prob
        return prob

    def apply(self, photo: np.ndarray, stylized: np.ndarray, mode: str | None) -> np.ndarray:
        """photo: the BGR frame that was stylized, at the output size; mode: what is stylized (the live
        key changes it; None: the whole frame, and the running mask is dropped)."""
        if mode is None:
            self.running = self.person = self.seconds = None
            return stylized
        t0 = time.perf_counter()
        h, w = stylized.shape[:2]
        self.person = person_weight(self.probability(photo), (w, h), self.opts.feather)
        out = composite(photo, stylized, self.person, mode)
        self.seconds = time.perf_counter() - t0
        return out
