"""`stylecam video`: timing, sound, sizes, ranges and bad input, on clips generated here."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from clips import make_clip, moving_pattern
from stylecam.cli import main
from stylecam.errors import UserError
from stylecam.safeio import atomic_output
from stylecam.temporal.smoothing import SmoothOptions, TemporalSmoother
from stylecam.video.pipeline import PipelineSettings, Progress, StyleSchedule, stylize_video
from stylecam.video.io import inspect, output_size, probe, read_frames, Frame


def _run(tmp_path, random_decoder, style_image, *args):
    return main(["video", *map(str, args), "-s", str(style_image), "--decoder", str(random_decoder),
                 "--backend", "torch"])


def _streams(path):
    info = inspect(path)
    video = [s for s in info["streams"] if s["type"] == "video"]
    audio = [s for s in info["streams"] if s["type"] == "audio"]
    return info, video, audio


def _leftovers(folder: Path):
    return [p.name for p in folder.iterdir() if ".part" in p.name]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    p = tmp_path_factory.mktemp("clips") / "clip.mp4"
    make_clip(p, 64, 48, frames=20, fps=10)
    return p


def test_full_clip_keeps_frames_rate_duration_and_sound(tmp_path, clip, random_decoder, style_image, capsys):
    out = tmp_path / "out.mp4"
    assert _run(tmp_path, random_decoder, style_image, clip, "-o", out) == 0
    info, (v,), (a,) = _streams(out)
    _, (v_in,), (a_in,) = _streams(clip)
    assert v["packets"] == v_in["packets"] == 20
    assert v["fps"] == pytest.approx(10)
    assert v["codec"] == "h264" and (v["width"], v["height"]) == (64, 48)
    assert v["duration"] == pytest.approx(2.0, abs=0.01)
    assert a["codec"] == "aac" and a["packets"] == a_in["packets"]
    assert a["duration"] == pytest.approx(a_in["duration"], abs=0.05)
    err = capsys.readouterr()
    assert "frame 20/20" in err.err and "wrote" in err.out
    assert not _leftovers(tmp_path)
    # the output is really stylized, and an existing output is not replaced without --overwrite
    frames = [f for f in read_frames(probe(out), (64, 48), audio=False) if isinstance(f, Frame)]
    assert np.abs(frames[0].bgr.astype(int) - moving_pattern(0, 48, 64)).mean() > 10
    before = out.read_bytes()
    assert _run(tmp_path, random_decoder, style_image, clip, "-o", out) == 2
    assert out.read_bytes() == before
    assert "--overwrite" in capsys.readouterr().err


def test_partial_range_and_odd_size_and_smoothing(tmp_path, random_decoder, style_image):
    src = tmp_path / "odd.mkv"
    make_clip(src, 53, 37, frames=20, fps=10, vcodec="ffv1")       # odd sides: H.264 needs even ones
    out = tmp_path / "part.mp4"
    assert _run(tmp_path, random_decoder, style_image, src, "-o", out, "--start", "0.5", "--duration", "1",
                "--smooth", "both") == 0
    _, (v,), (a,) = _streams(out)
    assert (v["width"], v["height"]) == (52, 36)
    assert v["packets"] == 10
    assert v["duration"] == pytest.approx(1.0, abs=0.01)
    assert a["duration"] == pytest.approx(1.0, abs=0.15)


def test_rotation_metadata_is_applied(tmp_path, model):
    src = tmp_path / "rot.mp4"
    make_clip(src, 64, 48, frames=3, fps=10, audio=None, rotation=90)
    info = probe(src)
    assert info.rotation == 90 and (info.width, info.height) == (48, 64)
    frames = [f.bgr for f in read_frames(info, output_size(info)) if isinstance(f, Frame)]
    assert frames[0].shape == (64, 48, 3)
    # 90° counter-clockwise: the source's top row becomes the left column
    assert np.abs(frames[0][:, 0].astype(int) - moving_pattern(0, 48, 64)[0, ::-1].astype(int)).mean() < 12


def test_variable_frame_rate_keeps_timestamps(tmp_path, model):
    src = tmp_path / "vfr.mkv"
    pts = [0, 1, 2, 5, 6, 10, 11, 12]                   # in 1/10 s: gaps of 0.1 to 0.4 s
    with av.open(str(src), "w") as out:
        vs = out.add_stream("libx264", rate=10)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        vs.codec_context.time_base = Fraction(1, 10)
        for i, p in enumerate(pts):
            f = av.VideoFrame.from_ndarray(moving_pattern(i, 48, 64), format="bgr24")
            f.pts, f.time_base = p, Fraction(1, 10)
            for pk in vs.encode(f):
                out.mux(pk)
        for pk in vs.encode(None):
            out.mux(pk)
    dst = tmp_path / "vfr_out.mp4"
    _stylize(src, dst, model)
    times = [round(f.time, 3) for f in read_frames(probe(dst), (64, 48), audio=False) if isinstance(f, Frame)]
    assert times == [p / 10 for p in pts]


def _stylize(src, dst, model, on_frame=None, smooth="off"):
    from stylecam.backends.torch_backend import TorchBackend
    from stylecam.styles import Style
    info = probe(src)
    size = output_size(info)
    settings = PipelineSettings(size=size, start=0.0, duration=0.0, batch=2, alpha=1.0, preserve_color=False,
                                audio=True, crf=23, preset="ultrafast")
    smoother = TemporalSmoother(TorchBackend(model, torch.device("cpu")), SmoothOptions(smooth))
    style = Style("s", torch.rand(512), torch.rand(512) + 0.5)
    with atomic_output(dst) as tmp:
        return stylize_video(info, tmp, str(dst), settings, smoother, StyleSchedule([style], info.frames),
                             Progress(info.frames), on_frame)


def test_audio_the_container_refuses_is_transcoded_to_aac(tmp_path, model):
    src = tmp_path / "opus.mkv"
    make_clip(src, 32, 32, frames=5, fps=10, audio="libopus", rate=48000)
    dst = tmp_path / "out.mov"                        # MOV cannot hold Opus
    assert _stylize(src, dst, model) == 5
    _, _, (a,) = _streams(dst)
    assert a["codec"] == "aac" and a["duration"] == pytest.approx(0.5, abs=0.1)


def test_interrupt_leaves_no_partial_file(tmp_path, clip, model):
    def interrupt(done):
        if done >= 4:
            raise KeyboardInterrupt
    dst = tmp_path / "never.mp4"
    with pytest.raises(KeyboardInterrupt):
        _stylize(clip, dst, model, on_frame=interrupt)
    assert list(tmp_path.iterdir()) == []


def test_style_schedule_morphs_first_to_last():
    from stylecam.styles import Style
    a = Style("a", torch.zeros(512), torch.ones(512))
    b = Style("b", torch.ones(512), torch.full((512,), 3.0))
    s = StyleSchedule([a, b], 11)
    assert torch.allclose(s.at(0)[0], a.mean) and torch.allclose(s.at(10)[1], b.std)
    assert torch.allclose(s.at(5)[0], torch.full((512,), 0.5))


def _bad_inputs(tmp_path, clip):
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("this is not a video\n")
    audio_only = tmp_path / "sound.m4a"
    with av.open(str(audio_only), "w") as out:
        s = out.add_stream("aac", rate=8000)
        for k in range(4):
            f = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.int16), format="s16", layout="mono")
            f.sample_rate, f.pts = 8000, k * 1024
            for pk in s.encode(f):
                out.mux(pk)
        for pk in s.encode(None):
            out.mux(pk)
    empty = tmp_path / "empty.mkv"
    with av.open(str(empty), "w") as out:
        s = out.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        out.start_encoding()
    long = tmp_path / "long.mkv"
    make_clip(long, 64, 48, frames=30, fps=10)
    data = long.read_bytes()
    truncated = tmp_path / "truncated.mkv"
    truncated.write_bytes(data[: len(data) * 6 // 10])
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    existing = out_dir / "exists.mp4"
    existing.write_bytes(b"keep me")
    return {
        "not a video": ([not_video, "-o", out_dir / "a.mp4"], "not a readable video"),
        "no video stream": ([audio_only, "-o", out_dir / "b.mp4"], "no video stream"),
        "zero-length": ([empty, "-o", out_dir / "c.mp4"], "zero-length"),
        "truncated": ([truncated, "-o", out_dir / "d.mp4"], "truncated"),
        "unknown extension": ([clip, "-o", out_dir / "e.xyz"], "not a supported video output"),
        "no such folder": ([clip, "-o", tmp_path / "nowhere" / "f.mp4"], "does not exist"),
        "exists": ([clip, "-o", existing], "already exists"),
        "input as output": ([clip, "-o", clip, "--overwrite"], "is the input"),
    }


def test_bad_input_one_line_no_output(tmp_path, clip, random_decoder, style_image, capsys):
    cases = _bad_inputs(tmp_path, clip)
    before = clip.read_bytes()
    for name, (args, expected) in cases.items():
        rc = _run(tmp_path, random_decoder, style_image, *args)
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2, name
        assert err[-1].startswith("stylecam: ") and expected in err[-1], (name, err[-1])
        assert "Traceback" not in "\n".join(err)
    out_dir = tmp_path / "out"
    assert sorted(p.name for p in out_dir.iterdir()) == ["exists.mp4"]
    assert (out_dir / "exists.mp4").read_bytes() == b"keep me"
    assert clip.read_bytes() == before
    assert not _leftovers(tmp_path)


def test_truncated_file_names_the_frame(tmp_path):
    long = tmp_path / "long.mkv"
    make_clip(long, 32, 32, frames=30, fps=10, audio=None)
    data = long.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 2])
    info = probe(cut)
    with pytest.raises(UserError, match=r"after frame \d+ \(\d+\.\d\d s\)"):
        list(read_frames(info, output_size(info)))
