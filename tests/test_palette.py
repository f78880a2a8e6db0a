"""--palette style: the painting's colours on the output (stylecam.palette), its wiring into
`image`, `video`, live and the page, and its refusals."""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
import torch

from clips import make_clip, moving_pattern
from conftest import synthetic_rgb
from stylecam import palette as P
from stylecam.cli import main
from stylecam.live import keys as K
from stylecam.serve import protocol


def _cloud(seed: int, mean, mix, n: int = 6000) -> np.ndarray:
    """(n, 3) float32 RGB pixels with a correlated covariance."""
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, 3)) @ np.asarray(mix, np.float32).T + mean).astype(np.float32)


SOURCE = _cloud(0, [0.4, 0.35, 0.3], [[0.10, 0.02, 0.0], [0.01, 0.05, 0.01], [0.0, 0.02, 0.08]])
TARGET = _cloud(1, [0.6, 0.5, 0.2], [[0.15, 0.0, 0.0], [0.06, 0.08, 0.0], [0.02, 0.04, 0.05]])


# -- the pure functions -----------------------------------------------------------------------

def test_mapped_pixels_have_the_painting_mean_and_covariance():
    source, target = P.palette_of_pixels(SOURCE), P.palette_of_pixels(TARGET)
    a, b = P.transport_map(source, target)
    got = P.palette_of_pixels(P.map_pixels(SOURCE, a, b))
    np.testing.assert_allclose(got.mean, target.mean, atol=1e-5)
    np.testing.assert_allclose(got.cov, target.cov, atol=1e-5)
    np.testing.assert_allclose(a, a.T, atol=1e-6)           # the transport map: symmetric, no hue rotation
    assert (np.linalg.eigvalsh(a) > 0).all()


def test_identity_when_the_statistics_already_match():
    same = P.palette_of_pixels(SOURCE)
    a, b = P.transport_map(same, same)
    np.testing.assert_allclose(a, np.eye(3), atol=1e-4)
    np.testing.assert_allclose(b, 0, atol=1e-5)
    image = synthetic_rgb(24, 32)
    assert np.abs(P.apply_map(image, a, b).astype(int) - image).max() <= 1


def test_strength_zero_is_the_identity_and_one_the_map():
    a, b = P.transport_map(P.palette_of_pixels(SOURCE), P.palette_of_pixels(TARGET))
    a0, b0 = P.at_strength(a, b, 0.0)
    assert np.array_equal(a0, np.eye(3, dtype=np.float32)) and not b0.any()
    a1, b1 = P.at_strength(a, b, 1.0)
    np.testing.assert_allclose(a1, a) and np.testing.assert_allclose(b1, b)


def test_uint8_frames_in_bgr_are_mapped_as_the_same_rgb_picture():
    rgb = synthetic_rgb(48, 64)
    a, b = P.transport_map(P.palette_of(rgb), P.palette_of_pixels(TARGET))
    as_rgb = P.apply_map(rgb, a, b, bgr=False)
    as_bgr = P.apply_map(np.ascontiguousarray(rgb[..., ::-1]), a, b)
    assert np.array_equal(as_rgb, as_bgr[..., ::-1])
    assert P.palette_of_bgr(np.ascontiguousarray(rgb[..., ::-1])).mean == pytest.approx(P.palette_of(rgb).mean)
    # on the whole picture (the map is taken on a pixel grid, then clipped to uint8): near the target
    got = P.palette_of_pixels(as_rgb.reshape(-1, 3) / 255)
    assert np.abs(got.mean - P.palette_of_pixels(TARGET).mean).max() < 0.03


def test_the_grid_sample_is_bounded():
    image = np.zeros((1000, 1000, 3), np.uint8)
    assert len(P.grid_pixels(image)) <= P.SAMPLE
    assert len(P.grid_pixels(image[:20, :30])) == 600


def test_a_blend_has_the_colours_of_the_mixture_of_the_paintings():
    blended = P.blend_palettes([P.palette_of_pixels(SOURCE), P.palette_of_pixels(TARGET)], [0.25, 0.75])
    # the same as the statistics of a pixel pool with the paintings in those shares
    pool = P.palette_of_pixels(np.concatenate([SOURCE[:1500], TARGET[:4500]]))
    by_parts = P.blend_palettes([P.palette_of_pixels(SOURCE[:1500]), P.palette_of_pixels(TARGET[:4500])],
                                [0.25, 0.75])
    np.testing.assert_allclose(by_parts.mean, pool.mean, atol=1e-5)
    np.testing.assert_allclose(by_parts.cov, pool.cov, atol=1e-5)
    assert np.abs(blended.mean - pool.mean).max() < 0.01
    with pytest.raises(ValueError):
        P.blend_palettes([P.palette_of_pixels(SOURCE)], [0.0])


def _frame(shift: float) -> np.ndarray:
    """(48, 64, 3) uint8 BGR of the synthetic photo with its colours shifted."""
    return np.clip(synthetic_rgb(48, 64).astype(np.float32) + shift, 0, 255).astype(np.uint8)[..., ::-1].copy()


def test_the_running_statistics_do_not_jump_on_a_one_frame_outlier():
    target = P.palette_of_pixels(TARGET)
    camera = _frame(0)
    outputs = [_frame(0)] * 5 + [_frame(80)] + [_frame(0)] * 3         # one output frame far off
    steps = {}
    for momentum in (0.0, P.MOMENTUM):
        matcher, maps = P.PaletteMatcher(momentum), []
        for out in outputs:
            matcher(camera, out, target)
            maps.append(matcher.map[1])
        steps[momentum] = max(np.abs(q - p).max() for p, q in zip(maps, maps[1:]))
    assert steps[0.0] > 0.2                                  # each frame its own: the offset follows the outlier
    assert steps[P.MOMENTUM] < 0.15 * steps[0.0]             # smoothed: a tenth of that


def test_a_scene_cut_or_a_reset_starts_the_running_statistics_afresh():
    target = P.palette_of_pixels(TARGET)
    matcher = P.PaletteMatcher(P.MOMENTUM)
    for _ in range(4):
        matcher(_frame(0), _frame(0), target)
    other_shot = np.ascontiguousarray(_frame(0)[::-1, ::-1] // 3)
    assert P.scene_cut(P.thumbnail(_frame(0)), P.thumbnail(other_shot))
    assert not P.scene_cut(P.thumbnail(_frame(0)), P.thumbnail(_frame(6)))   # a change of light is no cut
    matcher(other_shot, _frame(60), target)
    np.testing.assert_allclose(matcher.stats.mean, P.palette_of_bgr(_frame(60)).mean, atol=1e-6)
    matcher(other_shot, _frame(0), target)                   # same shot: smoothed again
    assert not np.allclose(matcher.stats.mean, P.palette_of_bgr(_frame(0)).mean, atol=1e-3)
    matcher.reset()
    assert matcher.stats is None and matcher.map is None
    matcher(other_shot, _frame(0), target)
    np.testing.assert_allclose(matcher.stats.mean, P.palette_of_bgr(_frame(0)).mean, atol=1e-6)


# -- keys and the page --------------------------------------------------------------------------

def test_t_and_c_exclude_each_other():
    s, action = K.press(K.LiveState(), "t", 2)
    assert s.palette and not s.keep_colors and action is None
    s, _ = K.press(s, "c", 2)
    assert s.keep_colors and not s.palette
    s, _ = K.press(s, "t", 2)
    assert s.palette and not s.keep_colors
    assert not K.press(s, "t", 2)[0].palette
    assert K.key_name(ord("t")) == "t" and any(k == "t" for k, _ in K.HELP_LINES)


def test_the_page_has_the_palette_toggle_and_key():
    assert "t" in protocol.SERVER_KEYS and any(f == "palette" for f, _, _ in protocol.TOGGLES)
    s = protocol.apply_settings(K.LiveState(keep_colors=True), {"palette": True}, 2)
    assert s.palette and not s.keep_colors
    with pytest.raises(protocol.ProtocolError):
        protocol.apply_settings(K.LiveState(), {"palette": True, "keep_colors": True}, 2)


# -- the commands --------------------------------------------------------------------------------

def _one_line(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if not line.startswith(("backend:", "model:", "  not used"))]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_bad_palette_values_are_one_line(capsys, photo, style_image, tmp_path):
    line = _one_line(capsys, ["image", str(photo), "-s", str(style_image), "--palette", "nonsense",
                              "-o", str(tmp_path / "o.png")])
    assert "--palette" in line and "style" in line
    line = _one_line(capsys, ["image", str(photo), "-s", str(style_image), "--palette", "style",
                              "--preserve-color", "-o", str(tmp_path / "o.png")])
    assert "--preserve-color" in line and "choose one" in line
    assert not (tmp_path / "o.png").exists()


def test_a_builtin_style_without_colours_is_refused_in_one_line(capsys, photo, random_decoder, tmp_path):
    from stylecam.styles import load_bank
    lacking = [name for name, s in load_bank().items() if s.palette is None]
    if not lacking:
        pytest.skip("every built-in style has its colour statistics")
    line = _one_line(capsys, ["image", str(photo), "-s", lacking[0], "--palette", "style", "--decoder",
                              str(random_decoder), "--backend", "torch", "-o", str(tmp_path / "o.png")])
    assert lacking[0] in line and "-s" in line


def _colour_gap(bgr: np.ndarray, painting: P.Palette) -> float:
    got = P.palette_of_bgr(bgr)
    return float(np.abs(got.mean - painting.mean).sum() + np.abs(got.cov - painting.cov).sum())


def test_image_with_palette_has_the_painting_colours(capsys, photo, style_image, lively_decoder, tmp_path):
    painting = P.palette_of(cv2.imread(str(style_image))[..., ::-1].copy())
    outputs = {}
    for mode in ("off", "style"):
        out = tmp_path / f"{mode}.png"
        assert main(["image", str(photo), "-s", str(style_image), "--palette", mode, "-o", str(out),
                     "--decoder", str(lively_decoder), "--backend", "torch", "--size", "64"]) == 0
        outputs[mode] = cv2.imread(str(out))
    before, after = _colour_gap(outputs["off"], painting), _colour_gap(outputs["style"], painting)
    assert after < 0.5 * before, (before, after)
    got = P.palette_of_bgr(outputs["style"])
    assert np.abs(got.mean - painting.mean).max() < 0.05


def test_a_cached_style_from_before_palettes_gains_them(style_image, tmp_path):
    from stylecam.styles import StyleLibrary
    from stylecam.vgg import load_encoder
    lib = StyleLibrary(load_encoder(), cache_dir=tmp_path / "cache")
    first = lib.from_image(style_image)
    [entry] = (tmp_path / "cache").iterdir()
    stored = torch.load(entry, weights_only=True)
    assert set(stored) == {"mean", "std", "palette"}
    torch.save({"mean": stored["mean"], "std": stored["std"]}, entry)        # the entry as it was before
    again = StyleLibrary(load_encoder(), cache_dir=tmp_path / "cache").from_image(style_image)
    np.testing.assert_allclose(again.palette.cov, first.palette.cov)
    assert torch.equal(again.mean, first.mean)
    assert "palette" in torch.load(entry, weights_only=True)


def test_video_palette_flicker_is_bounded(tmp_path, lively_model):
    """The frame-to-frame change of the applied map on a clip whose square moves: the running statistics
    keep it a fraction of each frame's own."""
    from stylecam.backends.torch_backend import TorchBackend
    from stylecam.safeio import atomic_output
    from stylecam.styles import Style
    from stylecam.temporal.smoothing import SmoothOptions, TemporalSmoother
    from stylecam.video.io import output_size, probe
    from stylecam.video.pipeline import PipelineSettings, Progress, StyleSchedule, stylize_video

    def square_pattern(i, h, w):     # a moving square, light and dark in turn: each frame's colours move
        img = moving_pattern(0, h, w)
        x0 = (3 * i) % (w - 20)
        img[14:34, x0:x0 + 20] = (240, 240, 240) if i % 2 else (20, 20, 20)
        return img
    src = tmp_path / "in.mp4"
    make_clip(src, 64, 48, frames=12, fps=10, audio=None, pattern=square_pattern)
    info = probe(src)
    backend = TorchBackend(lively_model, torch.device("cpu"))
    painting = P.palette_of_pixels(TARGET)
    style = Style("s", torch.rand(512), torch.rand(512) + 0.5, None, painting)
    settings = PipelineSettings(size=output_size(info), start=0.0, duration=0.0, batch=1, alpha=1.0,
                                preserve_color=False, audio=False, crf=23, preset="ultrafast")
    steps, last = {}, {}
    for momentum in (0.0, P.MOMENTUM):
        matcher, maps = P.PaletteMatcher(momentum), []
        dst = tmp_path / f"out{momentum}.mp4"
        with atomic_output(dst) as tmp:
            stylize_video(info, tmp, str(dst), settings, TemporalSmoother(backend, SmoothOptions()),
                          StyleSchedule([style], info.frames), Progress(info.frames),
                          on_frame=lambda done: maps.append(np.concatenate([matcher.map[0].ravel(),
                                                                            matcher.map[1]])),
                          palette=matcher)
        assert len(maps) == info.frames
        steps[momentum] = [float(np.abs(q - p).max()) for p, q in zip(maps[2:], maps[3:])]
        last[momentum] = matcher.stats
    assert max(steps[P.MOMENTUM]) < 0.5 * max(steps[0.0]), steps
    assert max(steps[P.MOMENTUM]) < 0.1
    # the matched statistics are the painting's for the running statistics' pixels
    a, b = P.transport_map(last[P.MOMENTUM], painting)
    np.testing.assert_allclose(a @ last[P.MOMENTUM].mean + b, painting.mean, atol=1e-5)


def test_live_t_key_recolours_before_the_mask_and_resets_on_a_style_switch(tmp_path, style_image, lively_decoder):
    from stylecam.live.loop import LiveOptions, run_live
    from stylecam.options import RuntimeOptions, StyleOptions
    from stylecam.temporal.smoothing import SmoothOptions
    from pathlib import Path
    second = tmp_path / "second.png"
    cv2.imwrite(str(second), cv2.cvtColor(synthetic_rgb(48, 48, seed=3), cv2.COLOR_RGB2BGR))
    clip = tmp_path / "camera.mp4"
    make_clip(clip, w=64, h=48, frames=20, fps=60, audio=None)
    seen = {}

    def check(loop):
        st = loop.stylist
        small = cv2.resize(loop.frame.image, (32, 24), interpolation=cv2.INTER_AREA)
        plain = loop.backend.stylize(small, st.active.mean, st.active.std, loop.state.alpha)
        n = loop.summary.frames
        if n == 1:                    # palette from the command line: on from the first frame
            seen["first"] = np.allclose(st.palette.stats.mean, P.palette_of_bgr(plain).mean, atol=1e-6)
        if n == 4:                    # running: the past mixed in
            seen["running"] = not np.allclose(st.palette.stats.mean, P.palette_of_bgr(plain).mean, atol=1e-4)
            a, b = P.at_strength(*P.transport_map(st.palette.stats, st.active.palette), loop.state.alpha)
            seen["view"] = np.array_equal(loop.view, P.apply_map(plain, a, b))
        if n == 6:
            loop.slots.wait(1)        # the next style ready for n@6
        if n == 7:                    # n@6: a new style starts the statistics afresh
            seen["switched"] = st.active.name == "second"
            seen["reset"] = np.allclose(st.palette.stats.mean, P.palette_of_bgr(plain).mean, atol=1e-6)
        if n == 9:                    # t@8: off, the network's own colours
            seen["off"] = np.array_equal(loop.view, plain)
    opts = LiveOptions(camera=str(clip), camera_size=None, once=False, size=32, window=False, max_frames=9,
                       keys=((6, "n"), (8, "t")), out_dir=Path(tmp_path), smooth=SmoothOptions(),
                       style=StyleOptions((str(style_image), str(second)), None, 1.0, None, "style"),
                       runtime=RuntimeOptions(str(lively_decoder), "torch", "cpu", "fp32"))
    run_live(opts, on_frame=check)
    assert seen == {"first": True, "running": True, "view": True, "switched": True, "reset": True, "off": True}


def test_the_blend_of_two_styles_mixes_their_paintings_colours(style_image, tmp_path):
    from stylecam.options import StyleOptions
    from stylecam.session import mix_palettes
    from stylecam.styles import StyleLibrary
    from stylecam.vgg import load_encoder
    second = tmp_path / "second.png"
    cv2.imwrite(str(second), cv2.cvtColor(synthetic_rgb(48, 48, seed=3), cv2.COLOR_RGB2BGR))
    lib = StyleLibrary(load_encoder(), cache_dir=tmp_path / "cache")
    a, b = lib.from_image(style_image), lib.from_image(second)
    mixed = mix_palettes([a, b], (0.7, 0.3))
    expected = P.blend_palettes([a.palette, b.palette], [0.7, 0.3])
    np.testing.assert_allclose(mixed.cov, expected.cov)
    assert mix_palettes([dataclasses.replace(a, palette=None), b]) is None
    assert StyleOptions(("x",), None, 1.0, None).palette == "off"


def _video_last_frame(tmp_path, style_image, decoder, mode, capsys):
    import av
    src, dst = tmp_path / "in.mp4", tmp_path / f"out-{mode}.mp4"
    make_clip(src, 64, 48, frames=6, fps=10, audio=None)
    assert main(["video", str(src), "-s", str(style_image), "--palette", mode, "-o", str(dst),
                 "--decoder", str(decoder), "--backend", "torch", "--crf", "10"]) == 0
    assert ("painting's colours" in capsys.readouterr().err) == (mode == "style")
    with av.open(str(dst)) as c:
        return [f.to_ndarray(format="bgr24") for f in c.decode(video=0)][-1]


def test_video_command_with_palette_gives_the_frames_the_painting_colours(tmp_path, style_image, lively_decoder,
                                                                           capsys):
    painting = P.palette_of(cv2.imread(str(style_image))[..., ::-1].copy())
    gaps = {mode: _colour_gap(_video_last_frame(tmp_path, style_image, lively_decoder, mode, capsys), painting)
            for mode in ("off", "style")}
    assert gaps["style"] < 0.5 * gaps["off"], gaps
