"""Issue 13, each repro as a test: nothing lost under signals and concurrent runs, one line (never a
traceback) for every bad value. Generated media only; a few subprocesses (signals, two runs at once),
the rest in-process through ``main``."""
from __future__ import annotations

import dataclasses
import os
import re
import signal
import struct
import subprocess
import sys
import time
import warnings
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch

from clips import make_clip
from conftest import synthetic_rgb
from stylecam.cli import main
from stylecam.errors import UserError

ROOT = Path(__file__).resolve().parent.parent


def error_line(code, err) -> str:
    """The one line of a failed command (info lines before it are allowed; no traceback)."""
    assert code not in (0, None) and "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("stylecam")]
    assert len(lines) == 1, err
    return lines[0]


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _stylecam(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "stylecam", *map(str, args)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ, OMP_NUM_THREADS="1"))


def _wait_for(condition, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"exited early ({proc.returncode}): {proc.communicate()[1]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("timed out")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    p = tmp_path_factory.mktemp("clips") / "clip.mp4"
    make_clip(p, 64, 48, frames=20, fps=10)
    return p


@pytest.fixture
def dec(random_decoder):
    return ["--decoder", random_decoder, "--backend", "torch"]


# -- 1. SIGTERM; 10. live exits 143 -----------------------------------------------------------------

def test_sigterm_during_video_removes_the_partial_file_and_says_how_far(tmp_path, style_image, random_decoder):
    src = tmp_path / "long.mp4"
    make_clip(src, 64, 48, frames=600, fps=30, audio=None)
    out_dir = tmp_path / "d"
    out_dir.mkdir()
    p = _stylecam("video", src, "-s", style_image, "-o", out_dir / "o.mp4", "--decoder", random_decoder,
                  "--backend", "torch", "--batch", "1")
    _wait_for(lambda: any(".part" in n for n in os.listdir(out_dir)), p)     # the work is under way
    time.sleep(0.5)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 143, err
    assert re.search(r"stylecam: stopped by SIGTERM after \d+ of about 600 frames; no output written", err), err
    assert "Traceback" not in err
    assert os.listdir(out_dir) == []


def test_sigterm_ends_live_with_143_and_a_finished_recording(tmp_path, style_image, random_decoder):
    src = tmp_path / "camera.mp4"
    make_clip(src, 64, 48, frames=30, fps=30, audio=None)                    # loops until the signal
    out_dir = tmp_path / "shots"
    out_dir.mkdir()
    p = _stylecam("live", "--camera", src, "-s", style_image, "--decoder", random_decoder, "--backend", "torch",
                  "--no-window", "--size", "32", "--keys", "r@0", "--out-dir", out_dir)
    _wait_for(lambda: any(".part" in n for n in os.listdir(out_dir)), p)     # recording
    time.sleep(1.0)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 143, err
    assert "stylecam: stopped by SIGTERM" in err and "Traceback" not in err
    [rec] = os.listdir(out_dir)
    assert rec.endswith(".mp4") and f"recorded {out_dir / rec}" in out
    with av.open(str(out_dir / rec)) as c:
        assert sum(1 for _ in c.decode(video=0)) >= 1


# -- 2. two runs writing the same output ------------------------------------------------------------

def test_two_runs_at_once_one_writes_the_other_says_so(tmp_path, style_image, random_decoder):
    clip = tmp_path / "short.mp4"
    make_clip(clip, 32, 32, frames=6, fps=10, audio=None)
    out_dir = tmp_path / "d"
    out_dir.mkdir()
    args = ("video", clip, "-s", style_image, "-o", out_dir / "o.mp4", "--decoder", random_decoder,
            "--backend", "torch")
    runs = [_stylecam(*args), _stylecam(*args)]
    results = [(p.wait(timeout=120), *p.communicate()) for p in runs]
    assert sorted(code for code, _, _ in results) == [0, 2], results
    (_, won, _), = [r for r in results if r[0] == 0]
    (code, _, err), = [r for r in results if r[0] != 0]
    assert "wrote" in won
    assert re.search(r"already exists|appeared while this run was working", error_line(code, err))
    assert os.listdir(out_dir) == ["o.mp4"]
    with av.open(str(out_dir / "o.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == 6


# -- 3. tracebacks that became one line ---------------------------------------------------------------

@pytest.mark.parametrize("command", ["image", "video", "live"])
def test_weights_that_sum_to_zero(capsys, command, photo, clip, style_image):
    target = {"image": [photo], "video": [clip], "live": ["--camera", clip, "--no-window"]}[command]
    code, _, err = run(capsys, command, *target, "-s", style_image, "-s", style_image, "--weights", "0,0")
    assert "the weights must not all be zero" in error_line(code, err)


@pytest.mark.parametrize("argv,message", [
    (["--duration", "inf"], "argument --duration: inf: must be a finite number"),
    (["--duration", "nan"], "argument --duration: nan: must be a finite number"),
    (["--duration", "0"], "argument --duration: 0: must be more than 0"),
    (["--start", "nan"], "argument --start: nan: must be a finite number"),
    (["--size", "100000"], "argument --size: 100000: must be at most 8192"),
    (["-o", "OUT/o.avi"], "'.avi' is not a supported video output; use one of .mp4, .mov, .m4v, .mkv"),
])
def test_video_values_refused_before_any_work(capsys, argv, message, clip, style_image, tmp_path, dec):
    argv = [str(tmp_path) + a[3:] if a.startswith("OUT/") else a for a in argv]
    code, _, err = run(capsys, "video", clip, "-s", style_image, *dec, *argv)
    assert message in error_line(code, err)
    assert "corrupt" not in err                                     # 8. the true cause, not the input
    assert sorted(p.name for p in tmp_path.iterdir()) == ["painting.png"]


def test_working_size_is_capped_with_the_fix_stated(capsys, style_image, tmp_path, dec):
    from stylecam.images import MAX_PIXELS, scaled_size
    big = tmp_path / "big.png"
    cv2.imwrite(str(big), np.zeros((2100, 4096, 3), np.uint8), [cv2.IMWRITE_PNG_COMPRESSION, 1])   # 8.6 MP
    code, _, err = run(capsys, "image", big, "-s", style_image, "--size", "0", "-o", tmp_path / "o.png", *dec)
    line = error_line(code, err)
    assert "4096×2100 (8.6 megapixels)" in line and "at most 8.4 megapixels" in line
    fits = int(re.search(r"pass --size (\d+) or less", line)[1])
    w, h = scaled_size(4096, 2100, fits)
    assert w * h <= MAX_PIXELS < np.prod(scaled_size(4096, 2100, fits + 1))
    assert not (tmp_path / "o.png").exists()


def test_damaged_style_cache_entries_are_recomputed(model, style_image, tmp_path):
    from stylecam.styles import StyleLibrary
    cache, config = tmp_path / "cache", dataclasses.replace(model.config, style_size=64)     # small: fast
    first = StyleLibrary(model.encoder, config, cache_dir=cache).from_image(style_image)
    [entry] = cache.glob("*.pt")
    for damage in ({"mean": torch.zeros(3), "std": torch.ones(3)},
                   {"mean": torch.full((512,), float("nan")), "std": torch.ones(512)}):
        torch.save(damage, entry)
        lib = StyleLibrary(model.encoder, config, cache_dir=cache)
        style = lib.from_image(style_image)
        assert lib.encoder_runs == 1                                  # recomputed, not used
        assert torch.equal(style.mean, first.mean) and torch.equal(style.std, first.std)
    assert torch.equal(torch.load(entry, weights_only=True)["mean"], first.mean)     # and repaired


# -- 5. EXIF orientation ---------------------------------------------------------------------------------

def _with_exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    """Insert an APP1 Exif segment holding only the Orientation tag (0x0112) after SOI."""
    ifd = struct.pack("<H", 1) + struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack("<I", 0)
    payload = b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + ifd
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def test_exif_orientation_is_applied(capsys, style_image, tmp_path, dec):
    img = np.full((48, 64, 3), 40, np.uint8)
    img[:, :16] = 250                                                  # a bright band on the left
    src = tmp_path / "phone.jpg"
    src.write_bytes(_with_exif_orientation(cv2.imencode(".jpg", img)[1].tobytes(), 6))   # 6: turn 90° clockwise
    from stylecam.images import read_image
    upright = read_image(src)
    assert upright.shape == (64, 48, 3) and upright.flags.writeable
    assert upright[:16].mean() > 200 > 100 > upright[32:].mean()      # the band is now at the top
    code, _, err = run(capsys, "image", src, "-s", style_image, "--size", "0", "-o", tmp_path / "o.png", *dec)
    assert code == 0, err
    assert cv2.imread(str(tmp_path / "o.png")).shape == (64, 48, 3)


# -- 9. folder batches: skip and report, resume ----------------------------------------------------------

def test_folder_batch_skips_bad_pictures_and_resumes(capsys, style_image, tmp_path, dec):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name, seed in (("a", 1), ("c", 3)):
        cv2.imwrite(str(photos / f"{name}.png"), synthetic_rgb(32, 40, seed))
    (photos / "b.jpg").write_bytes(b"\xff\xd8 not a picture \xff\xd9")
    out = tmp_path / "out"
    base = ["image", photos, "-s", style_image, "-o", out, "--size", "32", *dec]
    code, stdout, err = run(capsys, *base)
    assert code == 1 and "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "c.png"]
    assert re.search(r"skipped: .*b\.jpg: not a readable image", err)
    assert "1 of 3 outputs failed (see above); 2 written" in err
    code, _, err = run(capsys, *base)                                   # without --skip-existing: refused
    assert "already exists" in error_line(code, err)
    cv2.imwrite(str(photos / "b.jpg"), synthetic_rgb(32, 40, 2))        # repaired: resume
    code, stdout, err = run(capsys, *base, "--skip-existing")
    assert code == 0, err
    assert stdout.count("exists, skipped") == 2 and f"{out / 'b.png'}" in stdout
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png", "c.png"]


# -- 10. the small ones -----------------------------------------------------------------------------------

def test_unknown_device_is_refused_before_the_model_loads(capsys, photo, style_image, tmp_path):
    code, _, err = run(capsys, "image", photo, "-s", style_image, "-o", tmp_path / "o.png", "--device", "banana")
    assert "banana: not a device; use auto, cpu or cuda[:N]" in error_line(code, err)


def test_no_libav_or_library_noise_before_the_one_line(capfd, tmp_path, clip, style_image):
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clip.read_bytes()[:3000])                           # moov atom missing
    code = main(["live", "--camera", str(cut), "-s", str(style_image), "--no-window"])
    err = capfd.readouterr().err                                        # what reached file descriptor 2
    assert err.splitlines() == [f"stylecam: cannot open {cut.name} as a video source"] and code == 2

    from stylecam.entry import entry_point

    @entry_point("prog")
    def noisy():
        warnings.warn("a library's UserWarning", UserWarning)
        raise UserError("the one line")
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        assert noisy() == 2
    assert shown == [] and capfd.readouterr().err == "prog: the one line\n"


def test_output_without_extension_is_refused_not_made_a_folder(capsys, photo, style_image, tmp_path, clip):
    code, _, err = run(capsys, "image", photo, "-s", style_image, "-o", tmp_path / "out" / "o")
    assert "no file extension" in error_line(code, err)
    code, _, err = run(capsys, "video", clip, "-s", style_image, "-o", tmp_path / "o")
    assert "has no file extension; use one of .mp4" in error_line(code, err)
    assert not (tmp_path / "out").exists() and not (tmp_path / "o").exists()


def test_out_dir_that_is_a_file(capsys, clip, style_image, tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("x")
    code, _, err = run(capsys, "live", "--camera", clip, "-s", style_image, "--no-window", "--out-dir", f)
    assert "is a file, not a folder" in error_line(code, err)
