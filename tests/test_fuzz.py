"""Fuzz: randomly corrupted tiny JPEGs, PNGs and MP4s through `stylecam image` and `stylecam video`,
in-process. Every case ends in a correct output, or in a non-zero exit with one line; never a
traceback, never a leftover file, never a changed input. A failure names the case (kind, seed)."""
from __future__ import annotations

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
