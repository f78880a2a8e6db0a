"""safeio: outputs appear complete or not at all, are never replaced by accident, and the
temporary files of killed runs are swept."""
from __future__ import annotations

import fcntl
import os

import pytest

from stylecam import safeio
from stylecam.safeio import OutputExists, atomic_output


@pytest.fixture(params=["renameat2", "link"])
def publish_path(request, monkeypatch):
    """Both ways of publishing without replacing: renameat2 (Linux) and link + unlink (elsewhere)."""
    if request.param == "link":
        monkeypatch.setattr(safeio, "_renameat2", None)
    elif safeio._renameat2 is None:
        pytest.skip("no renameat2 here")
    return request.param


def test_the_second_of_two_writers_fails_and_the_first_result_stays(tmp_path, publish_path):
    out = tmp_path / "o.txt"
    with pytest.raises(OutputExists, match="--overwrite"):
        with atomic_output(out, overwrite=False) as slow:
            slow.write_text("slow")
            with atomic_output(out, overwrite=False) as fast:    # starts later, finishes first
                fast.write_text("fast")
            assert out.read_text() == "fast"
    assert out.read_text() == "fast"
    assert os.listdir(tmp_path) == ["o.txt"]                     # no temporary file left


def test_overwrite_replaces_and_failure_leaves_nothing(tmp_path):
    out = tmp_path / "o.txt"
    out.write_text("old")
    with atomic_output(out, overwrite=True) as tmp:
        tmp.write_text("new")
    assert out.read_text() == "new"
    with pytest.raises(RuntimeError):
        with atomic_output(tmp_path / "never.txt", overwrite=False) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert os.listdir(tmp_path) == ["o.txt"]


def test_leftovers_of_killed_runs_are_removed_and_files_in_use_kept(tmp_path, capsys):
    stale = tmp_path / ".clip.stylecam-abcd1234.part.mp4"
    stale.write_bytes(b"\0" * 48)
    busy = tmp_path / ".other.stylecam-wxyz9876.part.mp4"      # another run is writing it right now
    busy.write_bytes(b"\0" * 48)
    mine = tmp_path / ".notes.part.mp4"                          # not one of ours: never touched
    mine.write_bytes(b"x")
    fd = os.open(busy, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        with atomic_output(tmp_path / "new.png", overwrite=False) as tmp:
            tmp.write_bytes(b"png")
    finally:
        os.close(fd)
    assert sorted(os.listdir(tmp_path)) == sorted([busy.name, mine.name, "new.png"])
    assert f"removed {stale}" in capsys.readouterr().err
