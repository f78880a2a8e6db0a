"""Person masks: the shipped segmentation model on a real person (scikit-image's public-domain astronaut),
the composite inside and outside the mask in `image`, `video` and the live loop, and bad input."""
from __future__ import annotations

import fnmatch
import sys
import tomllib
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from clips import make_clip, moving_pattern, person
from conftest import HAS_ORT
from stylecam.cli import main
from stylecam.errors import UserError
from stylecam.live import keys as K
from stylecam.live.bench import with_and_without_mask
from stylecam.live.loop import LiveOptions, run_live
from stylecam.mask import MaskOptions, Masker, Segmenters, composite, next_mode
from stylecam.options import RuntimeOptions, StyleOptions
from stylecam.temporal.smoothing import SmoothOptions

pytestmark = pytest.mark.skipif(not HAS_ORT, reason="the person mask runs on onnxruntime")


def _face(h: int, w: int):
    """A box on the astronaut's face (rows, columns) in a frame made by ``clips.person``."""
    return slice(int(0.15 * h), int(0.25 * h)), slice(int(0.45 * w), int(0.55 * w))


def _sky(h: int, w: int):
    """A box of background: the flag's stars, top left."""
    return slice(0, int(0.15 * h)), slice(0, int(0.1 * w))


# -- the model and the composite ------------------------------------------------------------------

def test_the_model_finds_the_astronaut_and_no_one_in_an_empty_room():
    segmenters = Segmenters()
    photo = person(0, 192, 256)
    prob = segmenters.for_frame(256, 192)(photo)
    assert prob.shape == (144, 256)                                  # the landscape graph for a wide frame
    assert 0.3 < (prob > 0.5).mean() < 0.8
    assert prob[_face(144, 256)].min() > 0.9 and prob[_sky(144, 256)].max() < 0.1
    square = segmenters.for_frame(192, 192)(cv2.resize(photo, (192, 192)))
    assert square.shape == (256, 256) and square[_face(256, 256)].min() > 0.9
    for empty in (moving_pattern(0, 192, 256), np.full((192, 256, 3), 128, np.uint8)):
        assert segmenters.for_frame(256, 192)(empty).max() < 0.1


@pytest.mark.parametrize("mode", ["background", "person"])
def test_composite_keeps_the_photo_exactly_where_it_should(mode):
    photo = person(0, 192, 256)
    stylized = 255 - photo
    masker = Masker(MaskOptions(mode=mode))
    out = masker.apply(photo, stylized, mode)
    inside, outside = masker.person >= 1, masker.person <= 0
    assert inside.mean() > 0.3 and outside.mean() > 0.2
    assert inside[_face(192, 256)].all() and outside[_sky(192, 256)].all()
    kept, painted = (inside, outside) if mode == "background" else (outside, inside)
    assert np.array_equal(out[kept], photo[kept]) and np.array_equal(out[painted], stylized[painted])
    edge = ~(inside | outside)                                       # the feathered edge: in between
    assert edge.any() and (np.abs(out[edge].astype(int) - photo[edge]) <= np.abs(stylized[edge].astype(int) - photo[edge])).all()


def test_an_empty_frame_gives_the_photo_or_the_full_stylization():
    room = moving_pattern(3, 96, 128)
    stylized = 255 - room
    assert np.array_equal(Masker(MaskOptions(mode="person")).apply(room, stylized, "person"), room)
    assert np.array_equal(Masker(MaskOptions(mode="background")).apply(room, stylized, "background"), stylized)
    assert np.array_equal(composite(room, stylized, np.ones((96, 128), np.float32), "person"), stylized)


def test_the_running_mask_is_an_exponential_moving_average():
    photo, room = person(0, 96, 128), moving_pattern(0, 96, 128)
    masker = Masker(MaskOptions(mode="person", momentum=0.75), temporal=True)
    first = masker.probability(photo)
    second = masker.probability(room)                     # the person left: the mask fades, it does not jump
    np.testing.assert_allclose(second, 0.75 * first + 0.25 * Segmenters().for_frame(128, 96)(room), atol=1e-6)
    masker.reset()
    assert masker.probability(room).max() < 0.1
    assert Masker(MaskOptions(mode="person", momentum=0.75)).momentum == 0        # a still image: no history


def test_the_running_mask_holds_the_edge_still_on_a_noisy_camera():
    rng = np.random.default_rng(0)
    still = person(0, 96, 128)
    frames = [np.clip(still + rng.normal(0, 6, still.shape), 0, 255).astype(np.uint8) for _ in range(10)]
    change = {}
    for momentum in (0.0, 0.6):
        masker = Masker(MaskOptions(mode="background", momentum=momentum), temporal=True)
        weights = []
        for f in frames:
            masker.apply(f, f, "background")
            weights.append(masker.person)
        change[momentum] = np.abs(np.diff(np.array(weights[3:]), axis=0)).mean()
    assert change[0.6] < 0.5 * change[0.0]             # the edge boils less than half as much


def test_the_key_cycles_off_background_person():
    s = K.LiveState()
    seen = []
    for _ in range(4):
        s, action = K.press(s, "g", 1)
        seen.append(s.mask)
        assert action is None
    assert seen == ["background", "person", None, "background"]
    assert next_mode(None) == "background" and K.key_name(ord("g")) == "g"


def test_the_models_and_their_licence_notice_are_packaged():
    root = Path(__file__).resolve().parent.parent
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    for name in ("selfie_segmentation.onnx", "selfie_segmentation_landscape.onnx", "selfie_segmentation.md",
                 "LICENSE-mediapipe.txt"):
        assert (root / "assets" / name).is_file()
        assert any(fnmatch.fnmatch(name, pat) for pat in patterns["stylecam.assets"]), name
    assert "Apache License" in (root / "assets" / "LICENSE-mediapipe.txt").read_text()


# -- the commands -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def portrait(tmp_path_factory):
    p = tmp_path_factory.mktemp("photos") / "portrait.png"
    cv2.imwrite(str(p), person(0, 48, 64))
    return p


def test_image_background_keeps_the_face_and_paints_the_room(portrait, style_image, lively_decoder, tmp_path):
    outs = {}
    for mode in ("background", "person"):
        out = tmp_path / f"{mode}.png"
        assert main(["image", str(portrait), "-s", str(style_image), "--decoder", str(lively_decoder),
                     "--backend", "torch", "--size", "0", "--mask-feather", "1", "-o", str(out), "--mask", mode]) == 0
        outs[mode] = cv2.imread(str(out)).astype(int)
    photo = cv2.imread(str(portrait)).astype(int)
    masker = Masker(MaskOptions(mode="background", feather=1))
    masker.apply(photo.astype(np.uint8), photo.astype(np.uint8), "background")
    inside, outside = masker.person >= 1, masker.person <= 0
    assert masker.person[_face(48, 64)].min() == 1 and inside.mean() > 0.2 and outside.mean() > 0.2
    assert np.array_equal(outs["background"][inside], photo[inside])              # background: the face as shot
    assert np.abs(outs["background"] - photo)[outside].mean() > 10                # and the room painted
    assert np.array_equal(outs["person"][outside], photo[outside])                # person: the reverse
    assert np.abs(outs["person"] - photo)[inside].mean() > 10


def test_video_person_mask_over_a_moving_clip(tmp_path, style_image, lively_decoder, capsys):
    clip, out = tmp_path / "talk.mp4", tmp_path / "out.mp4"
    make_clip(clip, 64, 48, frames=4, fps=10, audio=None, pattern=person)
    assert main(["video", str(clip), "-o", str(out), "--mask", "person", "--mask-momentum", "0.5", "-s",
                 str(style_image), "--decoder", str(lively_decoder), "--backend", "torch"]) == 0
    assert "person stylized (mask)" in capsys.readouterr().err
    with av.open(str(clip)) as a, av.open(str(out)) as b:
        pairs = list(zip((f.to_ndarray(format="bgr24").astype(int) for f in a.decode(video=0)),
                         (f.to_ndarray(format="bgr24").astype(int) for f in b.decode(video=0))))
    assert len(pairs) == 4
    for src, got in pairs:
        diff = np.abs(src - got).mean(-1)
        assert diff[_sky(48, 64)].mean() < 6               # the room as filmed (H.264 twice: not exact)
        assert diff[_face(48, 64)].mean() > 15             # the person painted


def test_live_key_cycles_the_mask_and_the_hud_says_which(tmp_path, style_image, lively_decoder):
    clip = tmp_path / "camera.mp4"
    make_clip(clip, 64, 48, frames=20, fps=60, audio=None, pattern=person)
    opts = LiveOptions(camera=str(clip), camera_size=None, once=False, size=64, window=False, max_frames=9,
                       keys=((3, "g"), (6, "g")), out_dir=tmp_path, smooth=SmoothOptions(),
                       style=StyleOptions((str(style_image),), None, 1.0, None),
                       runtime=RuntimeOptions(str(lively_decoder), "torch", "cpu", "fp32"),
                       mask=MaskOptions(feather=1, momentum=0.5))
    seen = []

    def check(loop):
        small = loop.frame.image                           # the camera's own size: no resize
        flags = loop._hud_info(loop.style_label).flags
        weight = loop.masker.person
        kept = None if weight is None else (weight >= 1 if loop.state.mask == "background" else weight <= 0)
        seen.append((loop.state.mask, [f for f in flags if f.startswith("mask")],
                     None if kept is None else (kept.mean() > 0.2 and np.array_equal(loop.view[kept], small[kept]))))
    run_live(opts, on_frame=check)
    assert [s[0] for s in seen] == [None] * 3 + ["background"] * 3 + ["person"] * 3
    assert seen[0][1:] == ([], None)
    assert seen[4][1:] == (["mask: background stylized"], True)        # the person as filmed
    assert seen[7][1:] == (["mask: person stylized"], True)            # the room as filmed


# -- bad input ---------------------------------------------------------------------------------

def _image(portrait, tmp_path, *extra):
    return main(["image", str(portrait), "-o", str(tmp_path / "out.png"), "--backend", "torch", *extra])


def test_an_unknown_mask_is_a_usage_error(portrait, tmp_path, capsys):
    assert _image(portrait, tmp_path, "--mask", "face") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "invalid choice: 'face'" in err


def test_a_missing_model_is_one_line_with_the_fix(portrait, tmp_path, capsys):
    assert _image(portrait, tmp_path, "--mask", "person", "--mask-model", str(tmp_path / "mask.onnx")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "mask.onnx is missing; --mask-model takes an ONNX graph" in err
    assert not (tmp_path / "out.png").exists()


def test_a_damaged_shipped_model_is_one_line_with_the_fix(portrait, tmp_path, capsys, monkeypatch):
    (tmp_path / "selfie_segmentation.onnx").write_bytes(b"\x08\x07 not a model at all")
    monkeypatch.setenv("STYLECAM_ASSETS", str(tmp_path))       # found before the shipped file
    assert _image(portrait, tmp_path, "--mask", "person") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "selfie_segmentation.onnx is damaged (" in err
    assert "reinstall stylecam (pip install --force-reinstall stylecam)" in err
    assert not (tmp_path / "out.png").exists()


def test_a_damaged_model_turns_the_live_mask_off_with_a_message(tmp_path, style_image, random_decoder, capsys):
    clip, model = tmp_path / "camera.mp4", tmp_path / "mask.onnx"
    make_clip(clip, 64, 48, frames=10, fps=60, audio=None)
    model.write_bytes(b"\x08\x07garbage")
    rc = main(["live", "--camera", str(clip), "-s", str(style_image), "--decoder", str(random_decoder),
               "--backend", "torch", "--no-window", "--max-frames", "5", "--size", "32", "--keys", "g@2",
               "--mask-model", str(model), "--out-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 0 and "no person mask: the person-mask model" in err and "5 frames in" in err


def test_without_onnxruntime_the_mask_says_how_to_get_it(portrait, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)          # as if it were not installed
    assert _image(portrait, tmp_path, "--mask", "background") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--mask needs ONNX Runtime: pip install onnxruntime" in err


def test_bad_mask_numbers_are_usage_errors(portrait, tmp_path, capsys):
    assert _image(portrait, tmp_path, "--mask", "person", "--mask-feather", "-1") == 2
    assert main(["video", "x.mp4", "--mask", "person", "--mask-momentum", "1"]) == 2
    err = capsys.readouterr().err
    assert "--mask-feather: -1: must be at least 0" in err and "--mask-momentum 1: must be in [0, 1)" in err
    with pytest.raises(UserError):
        MaskOptions(mode="face")


def test_the_bench_alternates_with_and_without_the_mask():
    calls = []

    def measure_one(mask):
        calls.append(mask.mode)
        return {"median_fps": 10.0 if mask.mode is None else 9.0, "median_latency_ms": 50.0, "size": 480,
                "median_cpu_ms_per_frame": 90.0 if mask.mode is None else 100.0,
                "median_mask_ms": None if mask.mode is None else 10.0}
    result = with_and_without_mask(measure_one, MaskOptions(mode="background"), 3)
    assert calls == [None, "background"] * 3
    assert result["median_fps_with_mask"] == 9.0 and result["mask_cost_percent_of_fps"] == 10.0
    assert result["mask_cost_percent_of_cpu"] == 10.0 and "median_fps" not in result
    assert result["median_mask_ms"] == 10.0 and result["mask_share_of_frame_time_percent"] == 9.0   # 10 ms of 111
