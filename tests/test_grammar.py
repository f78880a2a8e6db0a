"""Issue 11 §3: one option grammar across the commands, and the usage the README promises, as written."""
from __future__ import annotations

import argparse
import shutil

import cv2
import pytest

from clips import make_clip
from stylecam.cli import main
from stylecam.options import DEFAULT_STYLE, frame_size, weights
from stylecam.styles import load_bank


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def last_line(code, err) -> str:
    assert code == 2 and "Traceback" not in err
    return err.strip().splitlines()[-1]


@pytest.fixture
def shipped_random_decoder(random_decoder, monkeypatch):
    """The random decoder found as the shipped one, so commands run exactly as a user types them."""
    monkeypatch.setenv("STYLECAM_ASSETS", str(random_decoder.parent))


def test_one_size_syntax_and_comma_lists():
    assert frame_size("640x480") == frame_size("640×480") == (640, 480)
    for bad in ("640", "8x8", "640x0", "9000x100", "big"):
        with pytest.raises(argparse.ArgumentTypeError):
            frame_size(bad)
    assert weights("0.7,0.3") == (0.7, 0.3)
    for bad in ("0,0", "1,-1", "nan", "1,inf", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            weights(bad)


def test_preserve_color_never_swallows_the_next_argument(capsys, photo, style_image, tmp_path, random_decoder):
    code, _, err = run(capsys, "image", "--preserve-color", photo, "-s", style_image, "-o", tmp_path / "o.png",
                       "--size", "32", "--decoder", random_decoder, "--backend", "torch")
    assert code == 0, err
    assert cv2.imread(str(tmp_path / "o.png")).shape == (24, 32, 3)


@pytest.mark.parametrize("command", ["video", "live"])
def test_coral_is_offered_only_by_image(capsys, command, tmp_path, style_image):
    code, _, err = run(capsys, command, *(["x.mp4"] if command == "video" else []), "-s", style_image,
                       "--color-transfer", "coral")
    assert "unrecognized arguments: --color-transfer coral" in last_line(code, err)


def test_backend_and_old_list_syntax_are_refused_before_the_model_loads(capsys, photo, style_image, tmp_path):
    base = ["image", photo, "-s", style_image, "-s", style_image, "-o", tmp_path / "o.png",
            "--decoder", tmp_path / "never_loaded.pt"]
    assert "invalid choice: 'banana'" in last_line(*run(capsys, *base, "--backend", "banana")[::2])
    assert "unexpected argument '0.3'" in last_line(*run(capsys, *base, "--weights", "0.7", "0.3")[::2])


@pytest.mark.parametrize("argv,message", [
    (["live", "foo"], "unexpected argument 'foo': not a camera, a style or an option"),
    (["live", "0"], "'0' is not an option; to use it as the camera write --camera 0"),
    (["live", "clip.mp4"], "to use it as the camera write --camera clip.mp4"),
    (["live", "--camera", "0", "picabia_udnie"], "to use it as a style write -s picabia_udnie"),
    (["photo.jpg"], "unknown command 'photo.jpg'; to stylize a picture: stylecam image photo.jpg"),
    (["foo"], "unknown command 'foo'; commands: live, image, video"),
])
def test_a_stray_word_is_explained(capsys, argv, message):
    code, _, err = run(capsys, *argv)
    assert message in last_line(code, err) and len(err.strip().splitlines()) == 1


def test_video_without_o_and_s_writes_beside_the_input(capsys, tmp_path, shipped_random_decoder):
    src = tmp_path / "in.mp4"
    make_clip(src, 32, 32, frames=4, fps=10, audio=None)
    code, out, err = run(capsys, "video", src, "--backend", "torch")
    assert code == 0, err
    expected = tmp_path / f"in.stylized-{DEFAULT_STYLE}.mp4"
    assert f"wrote {expected}" in out
    assert f"style {DEFAULT_STYLE} (the default; choose another with -s)" in err
    code, out, err = run(capsys, "video", src, "--backend", "torch")        # never replaces the first
    assert code == 0 and f"wrote {tmp_path / f'in.stylized-{DEFAULT_STYLE}-1.mp4'}" in out


def test_image_without_o_and_s_writes_beside_the_input(capsys, photo, tmp_path, shipped_random_decoder):
    code, out, err = run(capsys, "image", photo, "--backend", "torch", "--size", "32")
    assert code == 0, err
    written = tmp_path / f"photo.stylized-{DEFAULT_STYLE}.jpg"
    assert str(written) in out and f"style {DEFAULT_STYLE} (the default" in out
    assert cv2.imread(str(written)).shape == (24, 32, 3)


def test_live_without_s_cycles_through_the_built_in_bank(tmp_path, random_decoder, capsys):
    from stylecam.commands import live
    from stylecam.live.loop import run_live
    from stylecam.options import parser
    clip = tmp_path / "camera.mp4"
    make_clip(clip, 32, 32, frames=10, fps=60, audio=None)
    p = parser("stylecam live", "", "")
    live.add_arguments(p)
    opts = live.parse(p.parse_args(["--camera", str(clip), "--no-window", "--max-frames", "3", "--keys", "n@1,n@2",
                                    "--decoder", str(random_decoder), "--backend", "torch", "--size", "32"]))
    bank = sorted(load_bank())
    assert opts.style.styles == tuple(bank) and len(bank) > 2
    labels = []
    run_live(opts, on_frame=lambda loop: labels.append(loop.style_label))
    assert labels == bank[:3]


def test_json_outputs_are_never_replaced_silently(capsys, tmp_path):
    clip = tmp_path / "c.mp4"
    make_clip(clip, 32, 32, frames=3, fps=10, audio=None)
    report = tmp_path / "flicker.json"
    assert run(capsys, "flicker", clip, clip, "--json", report)[0] == 0
    first = report.read_text()
    code, _, err = run(capsys, "flicker", clip, clip, "--json", report)
    assert "already exists; pass --overwrite" in last_line(code, err)
    assert report.read_text() == first
    assert run(capsys, "flicker", clip, clip, "--json", report, "--overwrite")[0] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.mp4", "flicker.json"]


def test_demo_takes_styles_with_s(capsys, tmp_path, random_decoder, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(random_decoder, tmp_path / "d.pt")
    code, out, err = run(capsys, "demo", "-s", "picabia_udnie", "-s", "monet_etretat_cliffs", "--size", "64",
                         "--decoder", "d.pt", "--backend", "torch")
    assert code == 0, err
    assert "3 photos × 2 styles" in out
