"""Temporary files that become outputs: written under a hidden name beside the target, renamed into
place when whole, and removed on every exit path the process can see.

The writers (VideoWriter, convert, Save Motion) remove their temporary file when an exception or
Ctrl-C passes through them. This registry adds the paths they cannot see from inside: a writer
dropped without being closed, and an interpreter that exits (`sys.exit`, an uncaught error, or a
signal that the command line turns into an exit) while a file is still being written.
A SIGKILL or a power cut can still leave one: it starts with "." and ends with ".part".
"""

from __future__ import annotations

import atexit
import errno
import os
import shutil
import stat
import threading
import uuid
from pathlib import Path

_pending: set[str] = set()
_SPECIAL = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
            (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


class OutputPathError(ValueError):
    """An output path that a finished file cannot replace (a pipe, a device, a socket, a folder)."""


def output_target(target: str | os.PathLike) -> Path:
    """The file that a finished output replaces.

    The rename that puts a finished file in place would replace a symbolic link, a named pipe or a
    device with a regular file. A link is therefore followed (its target is written, the link stays);
    anything that is not a regular file, once followed, is refused with OutputPathError."""
    path = Path(target)
    real = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        mode = os.stat(real).st_mode
    except (FileNotFoundError, NotADirectoryError):  # not there yet (a folder on the way is checked by callers)
        return real
    except OSError as err:
        why = ("a symbolic link that loops" if err.errno == errno.ELOOP
               else f"cannot be used ({err.strerror or err})")
        raise OutputPathError(f"{path}: {why}; give a plain file name") from None
    if stat.S_ISDIR(mode):
        raise OutputPathError(f"{path}: is a folder; give a file name inside it")
    for test, kind in _SPECIAL:
        if test(mode):
            via = f" (through the link to {real})" if real != path else ""
            raise OutputPathError(f"{path}: is {kind}{via}, not a regular file; FloatKit writes whole files "
                                  "only: give a plain file name")
    return real
_lock = threading.Lock()


def nearest_existing(path: Path) -> Path:
    """`path`, or its nearest parent that exists (a folder made later is judged by where it will go)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_free_space(target: str | os.PathLike, need: int, what: str) -> None:
    """Raise OSError(ENOSPC) before any writing when the folder that will hold `target` has less than
    `need` bytes free (`what` names the file, e.g. "the video"). Unknown free space passes."""
    folder = nearest_existing(Path(target).parent)  # created later: its nearest existing parent
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if need > free:
        raise OSError(errno.ENOSPC, f"not enough free space for {what}: about {_megabytes(need)} needed, "
                                    f"only {_megabytes(free)} free in {folder}", os.fspath(target))


def _megabytes(size: int) -> str:
    return f"{size / 1e9:.1f} GB" if size >= 1e9 else f"{max(size, 0) / 1e6:.1f} MB"


def part_path(target: str | os.PathLike, suffix: str = ".part") -> Path:
    """A fresh hidden name beside `target` (same folder, so the final rename is atomic), registered."""
    target = Path(target)
    path = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}{suffix}")
    register(path)
    return path


def register(path: str | os.PathLike) -> None:
    with _lock:
        _pending.add(os.fspath(path))


def release(path: str | os.PathLike) -> None:
    """Forget `path`: it was renamed into place or removed by its writer."""
    with _lock:
        _pending.discard(os.fspath(path))


def discard(path: str | os.PathLike) -> None:
    """Remove `path` if it exists and forget it."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    release(path)


@atexit.register
def _remove_leftovers() -> None:
    with _lock:
        leftovers = list(_pending)
    for path in leftovers:
        try:
            discard(path)
        except OSError:
            pass
