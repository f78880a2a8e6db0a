"""The live loop, headless: generated clips stand in for the camera; no window, no camera.

Every run uses the random decoder, the torch backend on the CPU and tiny frames.
"""
from __future__ import annotations

import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from clips import make_clip
from conftest import HAS_ORT
from stylecam.cli import main
from stylecam.live import keys as K
from stylecam.live.capture import Capture, SourceInfo, open_source, pacing_period
from stylecam.live.loop import LiveLoop, LiveOptions, run_live
from stylecam.live.styleslots import StyleSlots
from stylecam.options import RuntimeOptions, StyleOptions
from stylecam.session import open_session
from stylecam.temporal.smoothing import SmoothOptions


# -- the key state machine --------------------------------------------------------------

def test_style_keys_wrap_and_pick():
    s = K.LiveState()
    s, _ = K.press(s, "n", 3)
    s, _ = K.press(s, "right", 3)
    assert s.style == 2
    s, _ = K.press(s, "n", 3)
    assert s.style == 0                                   # wraps forward
    s, _ = K.press(s, "p", 3)
    assert s.style == 2                                   # and backward
    s, _ = K.press(s, "left", 3)
    assert s.style == 1
    assert K.press(s, "3", 3)[0].style == 2               # 1-9 pick directly
    assert K.press(s, "9", 3)[0].style == 1               # beyond the list: ignored


def test_alpha_steps_and_clamps():
    s = K.LiveState(alpha=1.0)
    assert K.press(s, "+", 2)[0].alpha == 1.0
    for _ in range(12):
        s, _ = K.press(s, "-", 2)
    assert s.alpha == 0.0
    s, _ = K.press(s, "+", 2)
    assert s.alpha == pytest.approx(0.1)


@pytest.mark.parametrize("key,field", [("c", "keep_colors"), ("b", "blend"), ("s", "split"), ("m", "mirror"),
                                       ("f", "hud"), ("space", "paused"), ("h", "help")])
def test_toggles_flip_and_flip_back(key, field):
    s0 = K.LiveState()
    s1, action = K.press(s0, key, 2)
    assert action is None and getattr(s1, field) != getattr(s0, field)
    assert K.press(s1, key, 2)[0] == s0


def test_actions_and_quit():
    s = K.LiveState()
    assert K.press(s, "k", 1) == (s, K.SCREENSHOT)
    assert K.press(s, "r", 1) == (s, K.RECORD)
    assert K.press(s, "v", 1) == (s, K.VIRTUALCAM)
    assert K.press(s, "q", 1)[0].quit and K.press(s, "esc", 1)[0].quit


def test_key_codes_from_opencv():
    assert K.key_name(-1) is None
    assert K.key_name(ord("n")) == "n" and K.key_name(ord("N")) == "n"
    assert K.key_name(27) == "esc" and K.key_name(32) == "space"
    assert K.key_name(65363) == "right" and K.key_name(2424832) == "left"   # GTK/Qt and Windows arrows
    assert K.key_name(ord("=")) == "+"                                       # '+' without shift
    assert K.key_name(ord("x")) is None


def test_key_script_parsing():
    assert K.parse_script("n@10, +@20,r@5,r@40,space@3") == {10: ["n"], 20: ["+"], 5: ["r"], 40: ["r"], 3: ["space"]}
    from stylecam.errors import UserError
    for bad in ("n10", "x@3", "n@-1", "n@a"):
        with pytest.raises(UserError):
            K.parse_script(bad)


# -- headless runs ------------------------------------------------------------------------

@pytest.fixture
def clip(tmp_path):
    path = tmp_path / "camera.mp4"
    make_clip(path, w=64, h=48, frames=40, fps=60, audio=None)   # paced at 60 fps when played
    return path


@pytest.fixture
def second_style(tmp_path):
    img = np.zeros((48, 48, 3), np.uint8)
    img[::6] = (0, 0, 255)
    p = tmp_path / "stripes.png"
    cv2.imwrite(str(p), img)
    return p


def _options(clip, styles, decoder, out_dir, keys="", max_frames=30, **kw) -> LiveOptions:
    script = K.parse_script(keys)
    return LiveOptions(camera=str(clip), camera_size=None, once=kw.pop("once", False), size=32, window=False,
                       max_frames=max_frames, keys=tuple((f, k) for f in sorted(script) for k in script[f]),
                       out_dir=Path(out_dir), smooth=kw.pop("smooth", SmoothOptions()),
                       style=StyleOptions(tuple(map(str, styles)), None, 1.0, None),
                       runtime=RuntimeOptions(str(decoder), "torch", "cpu", "fp32"))


def _decoded_frames(path):
    with av.open(str(path)) as c:
        frames = [(f.pts, f.to_ndarray(format="bgr24")) for f in c.decode(video=0)]
    return frames


def test_headless_run_switches_styles_splits_and_records(clip, style_image, second_style, random_decoder, tmp_path,
                                                         capsys):
    out = tmp_path / "out"
    out.mkdir()
    seen = []
    opts = _options(clip, [style_image, second_style], random_decoder, out, max_frames=30,
                    keys="r@5,n@8,s@12,k@14,h@16,k@17,c@18,b@19,m@20,-@21,r@25")

    def watch(loop):
        seen.append((loop.style_label, loop.state.split))
        if loop.summary.frames == 7:
            loop.slots.wait(1)        # statistics come from a background thread; make the switch exact
    summary = run_live(opts, on_frame=watch)

    assert summary.frames == 30 and summary.exit_code == 0
    assert seen[7] == ("painting", False)                 # the 8th frame: still the first style
    assert seen[8][0] == "stripes"                        # n@8: the second style from the 9th frame on
    assert seen[19][0] == "stripes + painting"            # b@19: current and next style blended
    assert seen[12][1] and not seen[11][1]                # s@12
    # the recording: frames 5..24 -> 20 frames, H.264, playable, real (increasing) timestamps
    [rec] = summary.recordings
    frames = _decoded_frames(rec)
    assert len(frames) == 20
    pts = [p for p, _ in frames]
    assert pts == sorted(pts) and len(set(pts)) == len(pts)
    assert frames[0][1].shape == (24, 32, 3)              # processing size 32 (longer side), even sides
    with av.open(str(rec)) as c:
        assert c.streams.video[0].codec_context.name == "h264"
    # two screenshots with the HUD drawn at display size, paths printed
    assert len(summary.screenshots) == 2
    printed = capsys.readouterr().out
    for shot in summary.screenshots:
        assert str(shot) in printed
        img = cv2.imread(str(shot))
        assert img is not None and img.shape[0] >= 540
    assert sorted(p.name for p in out.iterdir()) == sorted([rec.name] + [s.name for s in summary.screenshots])


def test_split_view_left_half_is_the_camera(clip, style_image, random_decoder, tmp_path):
    opts = _options(clip, [style_image], random_decoder, tmp_path, keys="s@0,r@0", max_frames=6)
    [rec] = run_live(opts).recordings
    _, frame = _decoded_frames(rec)[-1]
    left = frame[:, :14].astype(int)
    # the left half is the photo's gradient (not a random-decoder texture): its columns brighten left to right
    assert np.corrcoef(np.arange(14), left[..., 0].mean(0))[0, 1] > 0.8   # blue = x gradient


def test_colour_and_mirror_keys_change_the_picture(clip, style_image, random_decoder, tmp_path):
    from stylecam.backends import keep_content_colors
    checked = {}

    def check(loop):
        small = cv2.resize(loop.frame.image, (32, 24), interpolation=cv2.INTER_AREA)
        plain = loop.backend.stylize(small, loop.active.mean, loop.active.std, loop.state.alpha)
        if loop.summary.frames == 2:      # before c: the plain stylized frame
            checked["plain"] = np.array_equal(loop.view, plain)
        if loop.summary.frames == 3:      # c@2: stylized luma with the camera's chroma
            checked["colour"] = np.array_equal(loop.view, keep_content_colors(plain, small))
        if loop.summary.frames == 5:      # m@4 + s@4: left half is the camera, flipped left-right
            checked["mirror"] = np.array_equal(loop.view[:, :16], cv2.flip(small, 1)[:, :16])
    opts = _options(clip, [style_image], random_decoder, tmp_path, keys="c@2,m@4,s@4", max_frames=5)
    run_live(opts, on_frame=check)
    assert checked == {"plain": True, "colour": True, "mirror": True}


def test_pause_holds_the_frame(clip, style_image, random_decoder, tmp_path):
    shown = []
    opts = _options(clip, [style_image], random_decoder, tmp_path, keys="space@5,space@10", max_frames=14)
    run_live(opts, on_frame=lambda loop: shown.append(loop.frame.index))
    assert len(set(shown[4:10])) == 1                     # frames 5..9 repeat the paused one
    assert shown[10] > shown[9]


def test_once_stops_at_the_end_of_the_file(clip, style_image, random_decoder, tmp_path, capsys):
    summary = run_live(_options(clip, [style_image], random_decoder, tmp_path, max_frames=None, once=True))
    assert summary.exit_code == 0 and 1 <= summary.frames <= 40
    assert "end of camera.mp4" in capsys.readouterr().err


def test_a_file_plays_at_its_own_rate_unless_read_on_demand():
    clip = SourceInfo("clip.mp4", is_file=True, width=64, height=48, fps=20.0)
    assert pacing_period(clip) == pytest.approx(0.05)
    assert pacing_period(clip, fast_file=True) == 0.0
    assert pacing_period(SourceInfo("camera 0", False, 64, 48, 30.0)) == 0.0      # a camera paces itself
    assert pacing_period(SourceInfo("x.mp4", True, 64, 48, 0.0)) == 0.0          # rate unknown


def test_fast_file_hands_over_every_frame_when_asked(tmp_path):
    path = tmp_path / "slow.mp4"
    make_clip(path, w=64, h=48, frames=12, fps=5, audio=None)        # 2.2 s from first to last frame when played
    cap, info = open_source(str(path))
    capture = Capture(cap, info, loop_file=False, fast_file=True).start()
    seen, t0 = [], time.perf_counter()
    try:
        while (frame := capture.newest(seen[-1] if seen else -1)) is not None:
            seen.append(frame.index)
            time.sleep(0.01)        # a consumer slower than decoding: still no frame skipped
    finally:
        capture.stop()
    assert seen == list(range(12)) and capture.ended
    assert time.perf_counter() - t0 < 11 / 5                          # not at the clip's 5 fps


def test_fast_file_from_the_command_line_shows_every_frame(clip, style_image, random_decoder, tmp_path, capsys):
    rc = main(["live", "--camera", str(clip), "-s", str(style_image), "--decoder", str(random_decoder),
               "--backend", "torch", "--no-window", "--once", "--fast-file", "--size", "32",
               "--out-dir", str(tmp_path)])
    assert rc == 0
    assert "40 frames in" in (err := capsys.readouterr().err) and "0 camera frames dropped" in err


def test_broken_style_keeps_the_previous_one(clip, style_image, random_decoder, tmp_path, capsys):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    names = []
    opts = _options(clip, [style_image, broken], random_decoder, tmp_path, keys="n@3,v@4", max_frames=8)
    summary = run_live(opts, on_frame=lambda loop: names.append(loop.active.name))
    assert summary.frames == 8 and set(names) == {"painting"}
    err = capsys.readouterr().err
    assert "style broken failed" in err and "keeping painting" in err
    assert "virtual camera" in err                        # v without pyvirtualcam/driver: a message, no crash


def test_unwritable_output_folder_mid_run(clip, style_image, random_decoder, tmp_path, capsys):
    out = tmp_path / "shots"
    out.mkdir()

    def remove_folder(loop):
        if loop.summary.frames == 3:
            out.rmdir()
    opts = _options(clip, [style_image], random_decoder, out, keys="k@5,r@6", max_frames=10)
    summary = run_live(opts, on_frame=remove_folder)
    assert summary.frames == 10 and not summary.screenshots and not summary.recordings
    err = capsys.readouterr().err
    assert "screenshot not saved" in err and "cannot record" in err


def test_camera_that_stops_delivering_finalizes_the_recording(clip, style_image, random_decoder, tmp_path, capsys):
    # a real capture of the clip, described as a camera: after its last frame read() fails for good
    cap = cv2.VideoCapture(str(clip))
    info = SourceInfo("camera 9", is_file=False, width=64, height=48, fps=60.0)
    session = open_session(RuntimeOptions(str(random_decoder), "torch", "cpu", "fp32"), quiet=True)
    opts = _options(clip, [style_image], random_decoder, tmp_path, keys="r@0", max_frames=None)
    slots = StyleSlots(session.library, opts.style)
    loop = LiveLoop(opts, session.backend, slots, Capture(cap, info).start())
    try:
        summary = loop.run()
    finally:
        loop.close()
        loop.capture.stop()
        slots.close()
    assert summary.exit_code == 1
    assert "camera 9 stopped delivering frames" in capsys.readouterr().err
    [rec] = summary.recordings
    assert len(_decoded_frames(rec)) == summary.frames >= 1


# -- the command line -----------------------------------------------------------------------

def test_absent_camera_is_one_line(style_image, random_decoder, capsys):
    rc = main(["--camera", "7", "--style", str(style_image), "--decoder", str(random_decoder), "--no-window"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and err.startswith("stylecam: no camera at index 7")


def test_command_line_headless_run(clip, style_image, random_decoder, tmp_path, capsys):
    rc = main(["live", "--camera", str(clip), "-s", str(style_image), "--decoder", str(random_decoder),
               "--backend", "torch", "--no-window", "--max-frames", "6", "--size", "32", "--out-dir", str(tmp_path),
               "--keys", "k@2", "--smooth", "flow"])
    captured = capsys.readouterr()
    assert rc == 0
    assert "camera.mp4: 64×48, 60.00 fps" in captured.err          # the source as OpenCV reports it
    [shot] = tmp_path.glob("stylecam-*.png")
    assert str(shot) in captured.out


@pytest.mark.skipif(not HAS_ORT, reason="needs onnxruntime")
def test_feature_smoothing_runs_live_on_onnxruntime(clip, style_image, lively_decoder, tmp_path, capsys):
    rc = main(["live", "--camera", str(clip), "-s", str(style_image), "--decoder", str(lively_decoder),
               "--backend", "onnxruntime", "--no-window", "--max-frames", "8", "--size", "32",
               "--smooth", "features", "--flow-weight", "0.3", "--smooth-momentum", "0.5", "--out-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 0 and "backend: onnxruntime on CPU" in err and "8 frames in" in err


@pytest.mark.parametrize("argv,msg", [
    (["--keys", "z@1"], "unknown key 'z'"),
    (["--out-dir", "/nonexistent/dir"], "no such folder"),
    (["--size", "8"], "argument --size: 8: must be 0"),
    (["--camera-size", "big"], "argument --camera-size: big: write a size as WxH"),
    (["--smooth-momentum", "1"], "--smooth-momentum 1.0: must be in [0, 1)"),
    (["--flow-weight", "-0.5"], "--flow-weight -0.5: must be in [0, 1)"),
])
def test_bad_options_are_one_line(clip, style_image, argv, msg, capsys):
    rc = main(["live", "--camera", str(clip), "-s", str(style_image), "--no-window", "--max-frames", "1"] + argv)
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and msg in err


@pytest.mark.slow
def test_memory_stays_flat_over_a_long_run(tmp_path, style_image, random_decoder):
    clip = tmp_path / "long.mp4"
    make_clip(clip, w=64, h=48, frames=50, fps=200, audio=None)    # loops; fast pacing
    rss = {}

    def sample(loop):
        if loop.summary.frames in (100, 600):
            rss[loop.summary.frames] = _rss_mb()
    opts = _options(clip, [style_image], random_decoder, tmp_path, keys="r@1,s@50,b@60", max_frames=600)
    summary = run_live(opts, on_frame=sample)
    assert summary.frames == 600
    assert rss[600] - rss[100] < 20, rss                  # MB; a leak of one frame each step would be far more


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    pytest.skip("no /proc/self/status here")
