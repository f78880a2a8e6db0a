"""Writes that the OS refuses: a full disk (simulated with RLIMIT_FSIZE, the kernel's file size
limit, in a child process), a read-only or misplaced cache, an output folder that cannot be made.
Each ends in one line naming the path (and the free space) and leaves nothing behind."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from clips import make_clip
from conftest import synthetic_rgb
from stylecam import safeio
from stylecam.cli import main
from stylecam.safeio import WriteFailed

ROOT = Path(__file__).resolve().parent.parent

# One child process, its file size limit 100 bytes (SIGXFSZ ignored, so a write past it fails with
# EFBIG, as a full disk fails with ENOSPC); stdout and stderr are pipes, which the limit spares.
FULL_DISK = r"""
import contextlib, io, json, os, resource, signal, sys
import numpy as np
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (100, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
from stylecam.cli import main
from stylecam import safeio
args = json.loads(sys.argv[1])
results = {}
for name, argv in args["commands"].items():
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    results[name] = [code, err.getvalue()]
import onnx
from onnx import TensorProto, helper, numpy_helper
graph = helper.make_graph([helper.make_node("Identity", ["w"], ["y"])], "g", [],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1000])],
                          [numpy_helper.from_array(np.zeros(1000, np.float32), "w")])
for name, write in (("torch", lambda p: safeio.save_torch({"w": np.zeros(1000)}, p)),
                    ("json", lambda p: safeio.write_json(p, {"x": "y" * 1000})),
                    ("onnx", lambda p: safeio.save_onnx(helper.make_model(graph), p))):
    try:
        write(os.path.join(args["folder"], "o." + name))
        results[name] = [0, ""]
    except safeio.WriteFailed as e:
        results[name] = [2, str(e)]
print(json.dumps(results))
"""


def test_a_full_disk_is_one_line_naming_the_path_and_leaves_nothing(tmp_path, random_decoder, style_image):
    photo, clip = tmp_path / "photo.jpg", tmp_path / "clip.mp4"
    cv2.imwrite(str(photo), cv2.cvtColor(synthetic_rgb(48, 64), cv2.COLOR_RGB2BGR))
    make_clip(clip, 32, 32, frames=4, fps=10, audio=None)
    full = tmp_path / "full"
    full.mkdir()
    dec = ["--decoder", str(random_decoder), "--backend", "torch"]
    commands = {
        "image": ["image", str(photo), "-o", str(full / "o.bmp"), "--size", "32", *dec],
        "styles": ["image", str(photo), "-s", str(style_image), "-s", "picabia_udnie", "-o", str(full / "new") + "/",
                   "--size", "32", *dec],
        "flicker": ["flicker", str(clip), str(clip), "--json", str(full / "f.json")],
        "live": ["live", "--camera", str(clip), "--no-window", "--max-frames", "3", "--size", "32", "--keys", "r@0",
                 "--out-dir", str(full), "-s", "picabia_udnie", *dec],
    }
    child = subprocess.run([sys.executable, "-c", FULL_DISK, json.dumps({"commands": commands, "folder": str(full)})],
                           cwd=ROOT, capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert child.returncode == 0, child.stderr
    results = json.loads(child.stdout.splitlines()[-1])
    for name in ("image", "styles", "flicker", "torch", "json", "onnx"):
        code, err = results[name]
        direct = name in ("torch", "json", "onnx")             # safeio's own writers: the message itself
        lines = [line for line in err.splitlines() if direct or line.startswith("stylecam")]
        assert code == 2 and len(lines) == 1 and "Traceback" not in err, (name, err)
        assert "file too large for the file size limit" in lines[0] and " free in " in lines[0], (name, err)
        assert str(full) in lines[0], (name, err)
    code, err = results["live"]            # the live loop keeps running and says why nothing was recorded
    assert code == 0 and "recording" in err and "Traceback" not in err, err
    assert list(full.iterdir()) == [], [p.name for p in full.iterdir()]     # no 0-byte file, no empty folder


def test_the_message_for_a_full_disk_names_the_free_space(tmp_path):
    import errno
    e = safeio.write_failed(OSError(errno.ENOSPC, "No space left on device"), tmp_path / "o.png")
    assert str(e).startswith(f"cannot write {tmp_path / 'o.png'}: the disk is full (")
    assert str(e).endswith(f" free in {tmp_path})") and isinstance(e, OSError)


@pytest.fixture
def a_file(tmp_path) -> Path:
    """A plain file: a folder 'under' it cannot exist for anyone, root included (ENOTDIR)."""
    f = tmp_path / "file"
    f.write_text("not a folder")
    return f


def _tmpfs(where: Path, options: str):
    """A small tmpfs at ``where``, unmounted afterwards; skipped where mounting is not allowed."""
    where.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root with CAP_SYS_ADMIN")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True, text=True)
    if r.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.fixture
def full_fs(tmp_path):
    """A real file system with no room left (ENOSPC, not a limit)."""
    for fs in _tmpfs(tmp_path / "full", "size=64k"):
        with open(fs / "filler", "wb", buffering=0) as f, pytest.raises(OSError):
            while True:
                f.write(b"\0" * 4096)
        yield fs


@pytest.fixture
def read_only_fs(tmp_path):
    yield from _tmpfs(tmp_path / "ro", "ro,size=64k")


def test_an_unwritable_cache_falls_back_to_a_temporary_folder_and_says_so(a_file, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(a_file))       # as a user's misconfigured environment would
    from stylecam.paths import user_cache_dir
    folder = safeio.writable_cache(user_cache_dir() / "onnx", "the exported graph")
    err = capsys.readouterr().err
    assert folder.is_dir() and not str(folder).startswith(str(a_file)) and folder.name == "onnx"
    assert err.count("\n") == 1 and "cannot be written" in err and "temporary folder" in err, err
    (folder / "probe").write_bytes(b"ok")                   # usable
    assert safeio.writable_cache(folder, "x") == folder     # a writable folder is used as it is


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc (Linux)")
def test_a_read_only_cache_falls_back_too(capsys):
    folder = safeio.writable_cache(Path("/proc/self/stylecam-cache"), "the INT8 graph")   # /proc: no new files
    assert folder.is_dir() and "cannot be written" in capsys.readouterr().err


def test_output_folders_that_cannot_be_made_are_one_line(a_file, tmp_path, random_decoder, photo, capsys):
    with pytest.raises(WriteFailed, match="cannot create folder .*a part of the path is a file"):
        safeio.make_folder(a_file / "sub")
    code = main(["image", str(photo), "-o", str(a_file / "sub") + "/", "--decoder", str(random_decoder),
                 "--backend", "torch"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and len([x for x in err.splitlines() if x.startswith("stylecam")]) == 1


def test_a_really_full_disk_says_so_with_the_free_space(full_fs, photo, random_decoder, capsys):
    code = main(["image", str(photo), "-o", str(full_fs / "o.bmp"), "--decoder", str(random_decoder),
                 "--backend", "torch"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    assert err.splitlines()[-1] == f"stylecam: cannot write {full_fs / 'o.bmp'}: the disk is full (0 bytes free in " \
                                   f"{full_fs})", err
    assert [p.name for p in full_fs.iterdir()] == ["filler"]


def test_a_read_only_file_system_as_cache_falls_back(read_only_fs, capsys):
    folder = safeio.writable_cache(read_only_fs / "stylecam" / "onnx", "the exported graph")
    err = capsys.readouterr().err
    assert folder.is_dir() and "read-only file system" in err and "temporary folder" in err, err


def test_train_out_that_cannot_be_made_is_one_line(a_file, tmp_path, random_decoder, capsys):
    from train.__main__ import main as train
    content, style = tmp_path / "content", tmp_path / "style"
    for folder, seed in ((content, 1), (style, 2)):
        folder.mkdir()
        cv2.imwrite(str(folder / "a.png"), synthetic_rgb(32, 40, seed))
    code = train(["--content", str(content), "--style", str(style), "--out", str(a_file / "run"), "--device", "cpu",
                  "--iterations", "1", "--crop", "16", "--short-side", "24", "--batch", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1].startswith(f"train: cannot create folder {a_file / 'run'}"), err


def test_train_lite_refused_for_junk_data_leaves_no_out_folder(tmp_path, random_decoder, capsys):
    from train.lite import main as lite
    content, style = tmp_path / "content", tmp_path / "style"
    content.mkdir(), style.mkdir()
    cv2.imwrite(str(content / "a.png"), synthetic_rgb(32, 40, 1))
    (style / "junk.png").write_bytes(b"not a png")
    out = tmp_path / "run"
    code = lite(["--content", str(content), "--style", str(style), "--out", str(out), "--device", "cpu",
                 "--crop", "16", "--short-side", "24", "--batch", "2", "--cache-pool", "8", "--style-size", "48",
                 "--teacher", str(random_decoder)])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err, err
    assert not out.exists()


def test_a_recording_that_cannot_be_completed_leaves_no_file(tmp_path):
    from stylecam.live.recorder import Recorder
    rec = Recorder(tmp_path / "r.mp4", 32, 32)
    rec.write(np.zeros((32, 32, 3), np.uint8), 0.0)
    shutil.rmtree(tmp_path)                     # the folder vanishes under it (as an unplugged disk)
    with pytest.raises(Exception):
        rec.close()
    assert not (tmp_path / "r.mp4").exists()


# Ctrl-C while torch.onnx.export runs (in a child: the exporter is left half-imported afterwards)
INTERRUPTED_EXPORT = r"""
import os, signal, sys, threading
import torch
from stylecam.convert import _export
from stylecam.entry import entry_point

def one():
    _export(torch.nn.Conv2d(3, 3, 3), (torch.zeros(1, 3, 8, 8),), ["x"], ["y"], None)

@entry_point("export.onnx")
def export(argv=None) -> int:
    one()                                  # the exporter's modules imported: the signal lands in an export
    threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
    for _ in range(50):
        one()
    return 0

sys.exit(export())
"""


def test_an_interrupt_inside_the_onnx_exporter_is_the_clean_interrupt():
    child = subprocess.run([sys.executable, "-c", INTERRUPTED_EXPORT], cwd=ROOT, capture_output=True, text=True,
                           timeout=120, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert child.returncode == 130 and child.stderr == "export.onnx: interrupted\n", child.stderr
