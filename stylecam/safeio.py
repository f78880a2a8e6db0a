"""Never lose a user's file: output checks up front, writes through a temporary file.

An output is written to a hidden temporary file beside it (``.NAME.stylecam-XXXXXXXX.part.EXT``)
and given its name only when complete. Without ``overwrite`` that last step never replaces a
file, also not one that another run wrote while this one worked: of two runs writing the same
output, one says "wrote" and the other fails with one line. The temporary file is locked while
it is being written, so a later run can tell one left behind by a killed run (not locked) from
one in use, and removes the former, saying so.
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

from .errors import UserError

try:
    import fcntl
except ImportError:          # Windows: no locks, so leftovers are not swept
    fcntl = None

TEMP_MARK = ".stylecam-"
_TEMP_NAME = re.compile(r"^\..*\.stylecam-[a-z0-9_]{8}\.part(\.[^.]*)?$")
_swept: set[str] = set()     # folders already checked for leftovers by this process


class OutputExists(UserError):
    """The output appeared while this run worked and ``overwrite`` was not given."""


def check_input_file(path: str | os.PathLike, what: str = "input") -> Path:
    p = Path(path)
    if not p.exists():
        raise UserError(f"{what} not found: {p}")
    if p.is_dir():
        raise UserError(f"{what} is a directory, expected a file: {p}")
    if not os.access(p, os.R_OK):
        raise UserError(f"{what} is not readable: {p}")
    if p.stat().st_size == 0:
        raise UserError(f"{what} is empty (0 bytes): {p}")
    return p


def check_output_file(path: str | os.PathLike, inputs: Iterable[str | os.PathLike] = (),
                      overwrite: bool = False) -> Path:
    """Fail before any work if the output cannot or must not be written."""
    out = Path(path)
    for src in inputs:
        src = Path(src)
        if out.resolve() == src.resolve() or (out.exists() and src.exists() and out.samefile(src)):
            raise UserError(f"output {out} is the input file; choose another output path")
    if out.is_dir():
        raise UserError(f"output {out} is a directory; give a file name")
    parent = out.parent
    if parent.exists() and not parent.is_dir():
        raise UserError(f"output {out}: {parent} is a file, not a folder")
    if not parent.is_dir():
        raise UserError(f"output folder does not exist: {parent}")
    if not os.access(parent, os.W_OK):
        raise UserError(f"output folder is not writable: {parent}")
    if out.exists() and not overwrite:
        raise UserError(f"output {out} already exists; pass --overwrite to replace it")
    return out


def next_free(path: str | os.PathLike) -> Path:
    """``path`` if no file has that name, else the first free ``STEM-N.EXT`` beside it."""
    p, n = Path(path), 1
    free = p
    while os.path.lexists(free):
        free, n = p.with_name(f"{p.stem}-{n}{p.suffix}"), n + 1
    return free


def safe_name(text: str, limit: int = 80) -> str:
    """``text`` as a file-name part: letters, digits and - _ . + kept, the rest '_'."""
    return "".join(c if c.isalnum() or c in "-_.+" else "_" for c in text)[:limit]


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix); give it the name ``path`` only on success.
    overwrite=False: an existing ``path`` is never replaced (``OutputExists`` instead); True suits
    files a program keeps up to date itself (caches, checkpoints)."""
    out = Path(path)
    sweep_leftovers(out.parent)
    fd, name = tempfile.mkstemp(prefix=f".{out.stem}{TEMP_MARK}", suffix=f".part{out.suffix}", dir=out.parent)
    tmp = Path(name)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)     # "in use" for sweep_leftovers
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)     # mkstemp makes 0600; give the file normal permissions
        if overwrite:
            os.replace(tmp, out)
        else:
            try:
                rename_noreplace(tmp, out)
            except FileExistsError:
                raise OutputExists(f"output {out} appeared while this run was working (another run?); "
                                   "it was not replaced: pass --overwrite to replace it") from None
    finally:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()



def write_json(path: str | os.PathLike, data, overwrite: bool = True) -> Path:
    """``data`` as indented JSON, written through ``atomic_output`` (overwrite=False never replaces a file)."""
    with atomic_output(path, overwrite) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")
    return Path(path)

def sweep_leftovers(folder: Path) -> list[Path]:
    """Remove the temporary files that killed runs left in ``folder`` (once per folder and process)."""
    key = os.path.abspath(folder)
    if fcntl is None or key in _swept:
        return []
    _swept.add(key)
    removed = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            if _TEMP_NAME.match(entry.name) and entry.is_file(follow_symlinks=False) and _unused(entry.path):
                try:
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
                    print(f"stylecam: removed {entry.path}, a temporary file left by an interrupted run",
                          file=sys.stderr)
                except OSError as e:
                    print(f"stylecam: {entry.path} was left by an interrupted run and could not be removed "
                          f"({e.strerror}); delete it", file=sys.stderr)
    return removed


def _unused(path: str) -> bool:
    """True when no process holds the lock that ``atomic_output`` takes while writing."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def rename_noreplace(src: Path, dst: Path) -> None:
    """Rename that raises FileExistsError instead of replacing ``dst``, atomically: Linux's
    renameat2(RENAME_NOREPLACE); elsewhere (or on a file system without it) a hard link, which
    fails if ``dst`` exists, then unlink; without hard links (FAT) check, then rename."""
    if _renameat2 is not None:
        if _renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE) == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):     # EEXIST included
            raise OSError(err, os.strerror(err), str(dst))
    try:
        os.link(src, dst)
    except FileExistsError:
        raise
    except OSError:                      # no hard links here
        if os.path.lexists(dst):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(dst)) from None
        os.rename(src, dst)
        return
    os.unlink(src)


def _load_renameat2():
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2        # glibc >= 2.28
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_AT_FDCWD, _RENAME_NOREPLACE = -100, 1
_renameat2 = _load_renameat2()
