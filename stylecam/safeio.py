"""Never lose a user's file: output checks up front, writes through a temporary file.

An output is written to a hidden temporary file beside it (``.NAME.stylecam-XXXXXXXX.part.EXT``)
and given its name only when complete. Without ``overwrite`` that last step never replaces a
file, also not one that another run wrote while this one worked: of two runs writing the same
output, one says "wrote" and the other fails with one line. The temporary file is locked while
it is being written, so a later run can tell one left behind by a killed run (not locked) from
one in use, and removes the former, saying so.

Every file stylecam writes goes through ``atomic_output`` (or the writers built on it below), so
every write fails the same way: a full disk, a file size limit, a read-only or missing folder is
``WriteFailed``, one line naming the path (and the free space), never a traceback.
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import re
import shutil
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


class WriteFailed(UserError, OSError):
    """A file or folder could not be written (full disk, read-only, ...). An ``OSError`` too, so
    that code for which a write is optional (a cache) goes on as for any other OS error."""


FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})      # no room: the free space is worth saying


def write_failed(e: OSError, path: str | os.PathLike, doing: str = "write") -> WriteFailed:
    """The one line for an OS error while writing ``path`` (doing: "create folder" for a folder)."""
    folder = _existing_folder(Path(path))
    if e.errno in FULL:
        free = f"{human_bytes(shutil.disk_usage(folder).free)} free in {folder}"
        if e.errno == errno.EFBIG:
            return WriteFailed(f"cannot {doing} {path}: file too large for the file size limit ({free})")
        what = "disk quota exceeded" if e.errno == errno.EDQUOT else "the disk is full"
        return WriteFailed(f"cannot {doing} {path}: {what} ({free})")
    reasons = {errno.EROFS: f"{folder} is on a read-only file system",
               errno.EACCES: f"no permission to write in {folder}", errno.EPERM: f"no permission to write in {folder}",
               errno.ENOTDIR: "a part of the path is a file, not a folder"}
    return WriteFailed(f"cannot {doing} {path}: {reasons.get(e.errno, e.strerror or e)}")


def human_bytes(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


def _existing_folder(p: Path) -> Path:
    """The nearest folder above ``p`` that exists (for the free space and the message)."""
    p = p.absolute().parent
    while not p.is_dir() and p != p.parent:
        p = p.parent
    return p


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
    if out.is_symlink() and not out.exists() and not overwrite:
        raise UserError(f"output {out} is a symbolic link to {os.readlink(out)}, which does not exist; "
                        "remove the link, choose another name, or pass --overwrite to replace the link")
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
    try:
        fd, name = tempfile.mkstemp(prefix=f".{out.stem}{TEMP_MARK}", suffix=f".part{out.suffix}", dir=out.parent)
    except OSError as e:
        raise write_failed(e, out) from None
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
    except OSError as e:
        if isinstance(e, WriteFailed) or e.errno not in FULL:
            raise
        raise write_failed(e, out) from None
    finally:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_bytes(path: str | os.PathLike, data: bytes, overwrite: bool = True) -> Path:
    """``data`` written through ``atomic_output`` (overwrite=False never replaces a file)."""
    with atomic_output(path, overwrite) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_json(path: str | os.PathLike, data, overwrite: bool = True) -> Path:
    """``data`` as indented JSON, written through ``atomic_output`` (overwrite=False never replaces a file)."""
    return write_bytes(path, (json.dumps(data, indent=2) + "\n").encode(), overwrite)


def save_torch(obj, path: str | os.PathLike, overwrite: bool = True) -> Path:
    """``torch.save`` through ``atomic_output``. Serialized in memory first: torch's own file
    writer reports a full disk as an unexplained RuntimeError, Python's file as the OSError it is."""
    import io

    import torch
    buf = io.BytesIO()
    torch.save(obj, buf)
    return write_bytes(path, buf.getbuffer(), overwrite)


def save_onnx(proto, path: str | os.PathLike, overwrite: bool = True) -> Path:
    """An ONNX ModelProto written through ``atomic_output``."""
    import onnx
    with atomic_output(path, overwrite) as tmp:
        onnx.save_model(proto, str(tmp))
    return Path(path)


def make_folder(folder: str | os.PathLike) -> Path:
    """``folder`` and its parents, created if missing; ``WriteFailed`` (one line) if it cannot be."""
    p = Path(folder)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise WriteFailed(f"cannot create folder {p}: a file has that name") from None
    except OSError as e:
        raise write_failed(e, p, "create folder") from None
    return p


@contextlib.contextmanager
def new_folder(folder: str | os.PathLike) -> Iterator[Path]:
    """``folder`` for a run's outputs, made if missing (``make_folder``); if the run made it and
    leaves it empty (it failed, or wrote nothing), it is removed again at the end."""
    existed = os.path.lexists(folder)
    made = make_folder(folder)
    try:
        yield made
    finally:
        if not existed:
            with contextlib.suppress(OSError):
                os.rmdir(made)              # only ever removes an empty folder


_scratch: list[Path] = []                   # this process's stand-in for an unwritable cache


def writable_cache(folder: str | os.PathLike, what: str) -> Path:
    """``folder`` if files can be created in it (made if missing), else a temporary folder for this
    process, removed at exit, saying so: a read-only or misplaced cache costs time, not the run."""
    p = Path(folder)
    try:
        make_folder(p)
        with tempfile.TemporaryFile(dir=p):
            return p
    except OSError as e:
        if not _scratch:
            import atexit
            _scratch.append(Path(tempfile.mkdtemp(prefix="stylecam-cache-")))
            atexit.register(shutil.rmtree, _scratch[0], True)
        reason = str(e if isinstance(e, WriteFailed) else write_failed(e, p)).split(": ", 1)[-1]
        print(f"stylecam: the cache folder {p} cannot be written ({reason}); {what} goes to a temporary "
              f"folder for this run only", file=sys.stderr)
        return make_folder(_scratch[0] / p.name)


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
