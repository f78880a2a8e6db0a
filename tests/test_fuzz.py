"""Fuzz: randomly corrupted tiny JPEGs, PNGs and MP4s through `stylecam image` and `stylecam video`,
in-process. Every case ends in a correct output, or in a non-zero exit with one line; never a
traceback, never a leftover file, never a changed input. A failure names the case (kind, seed)."""
from __future__ import annotations

import re

import cv2
import numpy as np
import pytest

from clips import make_clip
from conftest import synthetic_rgb
from stylecam.cli import main
from stylecam.video.io import inspect

STYLE = "picabia_udnie"            # a built-in style: no style image to encode per case
KINDS = ("flip", "truncate", "header", "zero", "insert", "splice")


def corrupt(data: bytes, seed: int) -> tuple[str, bytes]:
    """One random corruption of ``data``: bits flipped, cut short, a random header, a zeroed block,
    random bytes inserted, or a block copied over another."""
    rng = np.random.default_rng(seed)
    b = bytearray(data)
    kind = KINDS[seed % len(KINDS)]
    at = int(rng.integers(len(b)))
    if kind == "flip":
        for i in rng.integers(len(b), size=int(rng.integers(1, 17))):
            b[i] ^= 1 << int(rng.integers(8))
    elif kind == "truncate":
        b = b[:max(1, at)]
    elif kind == "header":
        n = int(rng.integers(2, 65))
        b[:n] = rng.bytes(n)
    elif kind == "zero":
        n = min(int(rng.integers(1, 257)), len(b) - at)
        b[at:at + n] = bytes(n)
    elif kind == "insert":
        b[at:at] = rng.bytes(int(rng.integers(1, 65)))
    else:
        n = int(rng.integers(1, 129))
        src = int(rng.integers(len(b)))
        chunk = b[src:src + n]
        b[at:at + len(chunk)] = chunk
    return kind, bytes(b)


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    d = tmp_path_factory.mktemp("originals")
    rgb = synthetic_rgb(24, 32, seed=5)
    clip = d / "clip.mp4"
    make_clip(clip, 32, 32, frames=5, fps=10, rate=8000)
    return {".jpg": cv2.imencode(".jpg", rgb)[1].tobytes(), ".png": cv2.imencode(".png", rgb)[1].tobytes(),
            ".mp4": clip.read_bytes()}


def check_cases(capfd, tmp_path, originals, decoder, ext: str, seeds: range) -> dict[str, int]:
    command = "video" if ext == ".mp4" else "image"
    src_dir, out_dir = tmp_path / "in", tmp_path / "out"
    src_dir.mkdir()
    out_dir.mkdir()
    out = out_dir / ("o.mp4" if command == "video" else "o.png")
    outcomes = {"written": 0, "refused": 0}
    for seed in seeds:
        kind, data = corrupt(originals[ext], seed)
        case = f"{command} {ext} {kind} seed {seed}"
        src = src_dir / f"case{ext}"
        src.write_bytes(data)
        code = main([command, str(src), "-s", STYLE, "-o", str(out), "--size", "32",
                     "--decoder", str(decoder), "--backend", "torch"])
        _, err = capfd.readouterr()                  # file descriptor 2: libjpeg, libpng, libav included
        assert "Traceback" not in err, case
        assert src.read_bytes() == data and [p.name for p in src_dir.iterdir()] == [src.name], case
        if code == 0:
            assert [p.name for p in out_dir.iterdir()] == [out.name], case
            if command == "image":
                assert max(cv2.imread(str(out)).shape[:2]) == 32, case
            else:
                (video,) = [s for s in inspect(out)["streams"] if s["type"] == "video"]
                assert video["packets"] >= 1 and max(video["width"], video["height"]) == 32, case
            out.unlink()
            outcomes["written"] += 1
        else:
            errors = [line for line in err.splitlines() if line.startswith("stylecam")]
            assert len(errors) == 1 and err.rstrip().endswith(errors[0]), (case, err)
            assert list(out_dir.iterdir()) == [], case
            outcomes["refused"] += 1
    return outcomes


@pytest.mark.parametrize("ext,seeds", [(".jpg", range(24)), (".png", range(24)), (".mp4", range(16))])
def test_corrupted_inputs_quick(capfd, tmp_path, originals, random_decoder, ext, seeds):
    outcomes = check_cases(capfd, tmp_path, originals, random_decoder, ext, seeds)
    assert sum(outcomes.values()) == len(seeds)


@pytest.mark.slow
@pytest.mark.parametrize("ext,seeds", [(".jpg", range(24, 124)), (".png", range(24, 124)), (".mp4", range(16, 116))])
def test_corrupted_inputs_many(capfd, tmp_path, originals, random_decoder, ext, seeds):
    outcomes = check_cases(capfd, tmp_path, originals, random_decoder, ext, seeds)
    assert outcomes["refused"] > 0                   # the corruptions do bite


# -- hostile command lines: every command, the awkward values a new user tries ----------------------

def _entry(prog: str):
    """The in-process main of each program a case names."""
    if prog == "flicker_report":
        from stylecam.tools.flicker_report import main as report
        return report
    if prog == "export.onnx":
        from export.onnx import main as export
        return export
    return lambda argv: main([prog, *argv])


# (program, argv with placeholders, a fragment of the one line it must print)
HOSTILE = [
    ("image", ["", "-o", "OUT/o.png"], "an empty name"),
    ("image", ["PHOTO", "-s", "", "-o", "OUT/o.png"], "an empty name"),
    ("image", ["PHOTOS", "-o", "OUT/o.png"], "make -o a folder"),
    ("image", ["PHOTO", "-s", "PAINTING", "-s", "./PAINTING", "-o", "OUT/"], "are the same style; give it once"),
    ("image", ["PHOTO", "-o", "DANGLING"], "is a symbolic link to"),
    ("video", ["PHOTO", "-o", "OUT/o.mp4"], "still image, not a video; stylize it with: stylecam image"),
    ("video", ["CLIP", "--preset", "banana"], "invalid choice: 'banana'"),
    ("flicker", ["CLIP", "OTHER_RATE"], "not the same frames (frame rates"),
    ("flicker", ["CLIP", "OTHER_COUNT"], "not the same frames (frame counts"),
    ("flicker", ["CLIP", "OTHER_SHAPE"], "not the same frames (shapes"),
    ("live", ["--camera", "", "--no-window"], "an empty name"),
    ("bench", ["--sizes", "4000x2200", "--backend", "torch"], "pass --sizes with a longer side of"),
    ("flicker_report", ["CLIP", "-s", "picabia_udnie"], "is a built-in style"),
    ("flicker_report", ["ONE_FRAME", "-s", "PAINTING"], "at least 2 frames"),
    ("export.onnx", ["-o", "OUT/x.onnx", "--model", "lite", "--decoder", "DECODER"], "is the full network's file"),
    ("export.onnx", ["-o", "OUT/x.onnx", "--decoder", "DECODER", "--check", "NOT_IMAGE"], "not a readable image"),
]


@pytest.fixture(scope="module")
def hostile_media(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile")
    rgb = synthetic_rgb(48, 64, seed=3)
    (d / "photos").mkdir()
    for name in ("a.jpg", "b.jpg"):
        cv2.imwrite(str(d / "photos" / name), rgb)
    cv2.imwrite(str(d / "photo.jpg"), rgb)
    cv2.imwrite(str(d / "painting.png"), synthetic_rgb(40, 40, seed=4)[:, ::-1])
    make_clip(d / "clip.mp4", 32, 24, frames=6, fps=10, audio=None)
    make_clip(d / "rate.mp4", 32, 24, frames=6, fps=25, audio=None)
    make_clip(d / "count.mp4", 32, 24, frames=9, fps=10, audio=None)
    make_clip(d / "shape.mp4", 24, 32, frames=6, fps=10, audio=None)
    make_clip(d / "one.mp4", 32, 24, frames=1, fps=10, audio=None)
    (d / "notes.txt").write_text("not an image\n")
    return d


@pytest.mark.parametrize("prog,argv,message", HOSTILE, ids=[f"{p} {' '.join(a)}" for p, a, _ in HOSTILE])
def test_hostile_command_lines_are_one_line_and_leave_nothing(hostile_media, tmp_path, monkeypatch, capfd,
                                                               random_decoder, prog, argv, message):
    d = hostile_media
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "dangling.png").symlink_to(tmp_path / "nowhere" / "x.png")
    monkeypatch.chdir(d)                              # ./PAINTING is a second spelling of the same file
    names = {"OUT": str(out), "PHOTO": str(d / "photo.jpg"), "PHOTOS": str(d / "photos"), "PAINTING": "painting.png",
             "CLIP": str(d / "clip.mp4"), "OTHER_RATE": str(d / "rate.mp4"), "OTHER_COUNT": str(d / "count.mp4"),
             "OTHER_SHAPE": str(d / "shape.mp4"), "ONE_FRAME": str(d / "one.mp4"), "DECODER": str(random_decoder),
             "NOT_IMAGE": str(d / "notes.txt"), "DANGLING": str(tmp_path / "dangling.png")}
    argv = [re.sub(r"[A-Z][A-Z_]+", lambda m: names.get(m[0], m[0]), a) for a in argv]
    if prog in ("image", "video", "live"):
        argv += ["--decoder", str(random_decoder), "--backend", "torch"]
    before = sorted(p.relative_to(d) for p in d.rglob("*"))
    code = _entry(prog)(argv)
    _, err = capfd.readouterr()
    assert code not in (0, None) and "Traceback" not in err, err
    last = err.rstrip().splitlines()[-1]
    assert message in last, err
    assert [line for line in err.splitlines() if message in line] == [last], err
    assert list(out.iterdir()) == [] and sorted(p.relative_to(d) for p in d.rglob("*")) == before


# -- awkward inputs that have a right result ------------------------------------------------------

def test_the_current_folder_as_input_writes_a_folder_named_after_it(hostile_media, tmp_path, monkeypatch, capsys,
                                                                     random_decoder):
    photos = tmp_path / "holiday"
    photos.mkdir()
    cv2.imwrite(str(photos / "a.jpg"), synthetic_rgb(48, 64, seed=3))
    monkeypatch.chdir(photos)
    assert main(["image", ".", "-s", "picabia_udnie", "--size", "32", "--decoder", str(random_decoder),
                 "--backend", "torch"]) == 0, capsys.readouterr().err
    assert [p.name for p in (tmp_path / "holiday.stylized-picabia_udnie").iterdir()] == ["a.png"]


def test_demo_at_size_0_uses_the_photos_own_sizes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)                      # the lite network: full-size photos in a second or two
    assert main(["demo", "--size", "0", "-s", "picabia_udnie", "--model", "lite", "--backend", "torch"]) == 0, \
        capsys.readouterr().err
    sheet = cv2.imread(str(tmp_path / "stylecam-demo.png"))
    assert sheet is not None and sheet.shape[1] > 2 * 300          # two columns: photo and style


def test_a_scripted_key_after_the_last_frame_is_reported(hostile_media, tmp_path, capsys, random_decoder):
    code = main(["live", "--camera", str(hostile_media / "one.mp4"), "--once", "--no-window", "--size", "32",
                 "--keys", "r@1", "--out-dir", str(tmp_path), "-s", "picabia_udnie",
                 "--decoder", str(random_decoder), "--backend", "torch"])
    err = capsys.readouterr().err
    assert code == 0 and "--keys r@1 had no effect: the run ended after 1 frames" in err, err
    assert list(tmp_path.iterdir()) == []
