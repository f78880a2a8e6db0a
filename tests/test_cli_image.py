"""`stylecam image`, `styles`, `demo` and the CLI's handling of bad input."""
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from conftest import synthetic_rgb
from stylecam.cli import COMMANDS, main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, err):
    assert code != 0
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if not line.startswith(("backend:", "model:", "  not used"))]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("command", list(COMMANDS))
def test_help_has_examples(capsys, command):
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: stylecam {command}") and "examples:" in out


def test_overview_lists_every_command(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and all(name in out for name in COMMANDS)


def test_image_end_to_end_with_a_random_decoder(capsys, photo, style_image, random_decoder, tmp_path, monkeypatch):
    monkeypatch.setenv("STYLECAM_ASSETS", str(random_decoder.parent))     # decoder found as the "shipped" one
    out = tmp_path / "out.png"
    code, stdout, err = run(capsys, "image", str(photo), "--style", str(style_image), "-o", str(out), "--size", "0")
    assert code == 0, err
    img = cv2.imread(str(out))
    assert img.shape == (48, 64, 3)
    assert "backend: " in err
    assert not [p for p in tmp_path.iterdir() if ".part" in p.name]


@pytest.fixture
def stylize(capsys, photo, lively_decoder, tmp_path):
    """(name, *style options) -> `stylecam image photo.jpg ...` as int BGR pixels, with a decoder
    whose output spreads over [0, 1] (a raw random one is near-constant)."""
    def run_image(name, *args):
        out = tmp_path / f"{name}.png"
        code, _, err = run(capsys, "image", str(photo), *args, "-o", str(out), "--decoder", str(lively_decoder),
                           "--backend", "torch", "--size", "64")
        assert code == 0, err
        return cv2.imread(str(out)).astype(int)
    return run_image


def _ycc(bgr):
    return cv2.cvtColor(np.asarray(bgr, np.uint8), cv2.COLOR_BGR2YCrCb).astype(int)


def test_blend_lies_with_its_heavier_style(stylize, style_image):
    builtin = sorted(__import__("stylecam.styles").styles.load_bank())[0]
    a, b = stylize("a", "-s", str(style_image)), stylize("b", "-s", builtin)
    assert np.abs(a - b).mean() > 5                              # two styles that look different
    assert np.abs(stylize("w10", "-s", str(style_image), "-s", builtin, "--weights", "1,0") - a).max() <= 1
    blend = stylize("blend", "-s", str(style_image), "-s", builtin, "--weights", "0.7,0.3")
    near_a, near_b = np.abs(blend - a).mean(), np.abs(blend - b).mean()
    assert 0.5 < near_a < near_b, (near_a, near_b)               # a mix, nearer the style weighted 0.7


def test_preserve_color_keeps_the_photo_chroma_and_the_stylized_luma(stylize, style_image, photo):
    plain = stylize("plain", "-s", str(style_image))
    kept = stylize("kept", "-s", str(style_image), "--preserve-color")
    own = _ycc(cv2.imread(str(photo)))                             # 64×48: the working size at --size 64
    chroma = np.abs(_ycc(kept)[..., 1:] - own[..., 1:])
    # the photo's Cr, Cb; off only where that colour at the stylized luma leaves the RGB cube (clipped)
    assert np.median(chroma) <= 1 and chroma.mean() < 5, (np.percentile(chroma, [50, 90, 99]), chroma.mean())
    assert np.abs(_ycc(plain)[..., 1:] - own[..., 1:]).mean() > 20           # which the plain output does not keep
    assert np.abs(_ycc(kept)[..., 0] - _ycc(plain)[..., 0]).mean() < 2       # the stylized Y
    from stylecam.backends import keep_content_colors
    assert np.abs(kept - keep_content_colors(np.uint8(plain), cv2.imread(str(photo)))).max() <= 1


def test_coral_stylizes_with_the_painting_recoloured_to_the_photo(stylize, style_image, photo, tmp_path):
    from stylecam.adain import coral
    from stylecam.images import read_image, resize_longer, to_tensor
    from stylecam.model import ModelConfig
    painting = resize_longer(read_image(style_image), ModelConfig().style_size)
    recoloured = coral(to_tensor(painting)[0], to_tensor(read_image(photo))[0])
    path = tmp_path / "recoloured.png"
    cv2.imwrite(str(path), (recoloured.permute(1, 2, 0) * 255).round().byte().numpy()[..., ::-1])
    out = stylize("coral", "-s", str(style_image), "--color-transfer", "coral")
    assert np.abs(out - stylize("same", "-s", str(path))).max() <= 1
    assert np.abs(out - stylize("plain", "-s", str(style_image))).mean() > 2   # not the painting's own colours


def test_several_styles_give_one_output_each_in_a_folder(capsys, photo, style_image, random_decoder, tmp_path):
    builtin = sorted(__import__("stylecam.styles").styles.load_bank())[0]
    code, out, err = run(capsys, "image", str(photo), "-s", str(style_image), "-s", builtin,
                         "-o", str(tmp_path / "many"), "--decoder", str(random_decoder), "--backend", "torch",
                         "--size", "64")
    assert code == 0, err
    assert len(list((tmp_path / "many").glob("photo__*.png"))) == 2


def test_no_decoder_says_how_to_train_one(capsys, photo, style_image, tmp_path, monkeypatch):
    code, _, err = run(capsys, "image", str(photo), "-s", str(style_image), "-o", str(tmp_path / "o.png"),
                       "--decoder", str(tmp_path / "absent.pt"))
    assert "python -m train" in one_line_error(code, err)


def _bad_inputs(tmp_path):
    d = tmp_path / "bad"
    d.mkdir()
    (d / "empty.jpg").write_bytes(b"")
    good = cv2.imencode(".jpg", synthetic_rgb(32, 32))[1].tobytes()
    (d / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (d / "text.png").write_text("this is not a picture\n")
    cv2.imwrite(str(d / "tiny.png"), np.zeros((1, 1, 3), np.uint8))
    return {
        "missing file": str(d / "nope.jpg"),
        "directory": str(d),
        "zero bytes": str(d / "empty.jpg"),
        "truncated jpeg": str(d / "truncated.jpg"),
        "text named png": str(d / "text.png"),
        "1x1": str(d / "tiny.png"),
    }


@pytest.mark.parametrize("case", ["missing file", "zero bytes", "truncated jpeg", "text named png", "1x1"])
def test_bad_content_image(capsys, case, style_image, random_decoder, tmp_path):
    src = _bad_inputs(tmp_path)[case]
    out = tmp_path / "out.png"
    code, _, err = run(capsys, "image", src, "-s", str(style_image), "-o", str(out), "--decoder", str(random_decoder))
    one_line_error(code, err)
    assert not out.exists()


@pytest.mark.parametrize("case", ["zero bytes", "truncated jpeg", "text named png", "1x1", "directory"])
def test_bad_style_image(capsys, case, photo, random_decoder, tmp_path):
    bad = _bad_inputs(tmp_path)
    style = bad[case] if case != "directory" else str(tmp_path / "emptydir")
    if case == "directory":
        os.mkdir(style)
    out = tmp_path / "out.png"
    code, _, err = run(capsys, "image", str(photo), "-s", style, "-o", str(out), "--decoder", str(random_decoder))
    one_line_error(code, err)
    assert not out.exists()


@pytest.mark.parametrize("kind", ["grey", "rgba", "16bit"])
def test_grey_rgba_and_16bit_pngs_are_converted(capsys, kind, style_image, random_decoder, tmp_path):
    rgb = synthetic_rgb(40, 40)
    img = {"grey": cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY),
           "rgba": cv2.cvtColor(rgb, cv2.COLOR_RGB2BGRA),
           "16bit": rgb.astype(np.uint16) * 257}[kind]
    src = tmp_path / f"{kind}.png"
    cv2.imwrite(str(src), img)
    out = tmp_path / "out.png"
    code, _, err = run(capsys, "image", str(src), "-s", str(style_image), "-o", str(out), "--size", "0",
                       "--decoder", str(random_decoder))
    assert code == 0, err
    assert cv2.imread(str(out)).shape == (40, 40, 3)


def test_unknown_style_name(capsys, photo, random_decoder, tmp_path):
    code, _, err = run(capsys, "image", str(photo), "-s", "no_such_painting", "-o", str(tmp_path / "o.png"),
                       "--decoder", str(random_decoder))
    assert "unknown style 'no_such_painting'" in one_line_error(code, err)


def test_output_equal_to_input_is_refused_and_input_untouched(capsys, photo, style_image, random_decoder):
    before = photo.read_bytes()
    code, _, err = run(capsys, "image", str(photo), "-s", str(style_image), "-o", str(photo), "--overwrite",
                       "--decoder", str(random_decoder))
    assert "is the input" in one_line_error(code, err)
    assert photo.read_bytes() == before


def test_existing_output_needs_overwrite(capsys, photo, style_image, random_decoder, tmp_path):
    out = tmp_path / "out.png"
    out.write_bytes(b"keep me")
    args = ["image", str(photo), "-s", str(style_image), "-o", str(out), "--decoder", str(random_decoder)]
    code, _, err = run(capsys, *args)
    assert "--overwrite" in one_line_error(code, err)
    assert out.read_bytes() == b"keep me"
    code, _, err = run(capsys, *args, "--overwrite")
    assert code == 0 and cv2.imread(str(out)) is not None


def test_bad_option_values_are_one_line(capsys, photo, style_image, random_decoder, tmp_path):
    base = ["image", str(photo), "-s", str(style_image), "-o", str(tmp_path / "o.png"), "--decoder", str(random_decoder)]
    one_line_error(*run(capsys, *base, "--alpha", "2")[::2])
    one_line_error(*run(capsys, *base, "--weights", "1,2")[::2])
    assert main([*base, "--alpha", "much"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_styles_lists_the_bank(capsys):
    code, out, _ = run(capsys, "styles")
    assert code == 0 and "built-in styles" in out and len(out.splitlines()) > 5


def test_demo_writes_a_contact_sheet_without_user_files(capsys, random_decoder, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "demo", "--decoder", str(random_decoder), "--size", "64")
    assert code == 0, err
    sheet = cv2.imread(str(tmp_path / "stylecam-demo.png"))
    assert sheet is not None and sheet.shape[0] > 3 * 64
    code, out, _ = run(capsys, "demo", "--decoder", str(random_decoder), "--size", "64")
    assert (tmp_path / "stylecam-demo-1.png").exists()            # never replaces the first sheet


def test_process_level_error_has_no_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "stylecam", "image", str(tmp_path / "x.jpg"), "-s", "a", "-o",
                        str(tmp_path / "y.png")], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip().startswith("stylecam:") and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
