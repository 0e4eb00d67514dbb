"""Opening the files w2v creates without following symbolic links.

Every file w2v writes (temporary outputs, the summary's temporary, the lock file) is opened
through this module: a new file is created with ``O_CREAT | O_EXCL | O_NOFOLLOW`` (it must not
exist, not even as a dangling link, so a planted link is never followed and its target never
created or truncated), and the lock file, which must be re-openable, with ``O_NOFOLLOW`` and a
check that what was opened is a regular file.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import IO

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


class NotRegularFileError(OSError):
    """The path is a symbolic link, a folder, a FIFO or a device, not a regular file."""

    def __init__(self, path: os.PathLike | str, what: str = "not a regular file"):
        super().__init__(errno.ELOOP, f"{what}; it is not followed", os.fspath(path))


def create_new_fd(path: os.PathLike | str, *, read: bool = False, mode: int = 0o644) -> int:
    """Create ``path``, which must not exist (not even as a link), and return its descriptor
    (write-only, or read-write with ``read``). Raises FileExistsError when anything is there,
    including a symbolic link."""
    flags = (os.O_RDWR if read else os.O_WRONLY) | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC
    return os.open(path, flags, mode)


def open_new(path: os.PathLike | str, mode: str = "wb", *, encoding: str | None = None,
             newline: str | None = None) -> IO:
    """:func:`open` for a file that must not exist yet (see :func:`create_new_fd`).
    ``mode``: ``"wb"``, ``"w"``, ``"w+b"`` (text modes take ``encoding`` and ``newline``)."""
    if mode not in ("wb", "w", "w+b"):
        raise ValueError(f"open_new: unsupported mode {mode!r}")
    fd = create_new_fd(path, read="+" in mode)
    try:
        if "b" in mode:
            return os.fdopen(fd, mode)
        return os.fdopen(fd, mode, encoding=encoding or "utf-8", newline=newline)
    except BaseException:
        os.close(fd)
        raise


def open_regular(path: os.PathLike | str, *, write: bool = True, create: bool = True,
                 mode: int = 0o644) -> int:
    """Open (and with ``create``, create if missing) the regular file ``path`` without
    following a symbolic link; returns the descriptor. Raises NotRegularFileError for a link
    (dangling or not; its target is never created), a folder, a FIFO or a device."""
    flags = (os.O_RDWR if write else os.O_RDONLY) | _NOFOLLOW | _CLOEXEC | _NONBLOCK
    if create:
        flags |= os.O_CREAT
    try:
        fd = os.open(path, flags, mode)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK) and os.path.islink(path):
            raise NotRegularFileError(path, "is a symbolic link") from None
        if exc.errno == errno.EISDIR:
            raise NotRegularFileError(path, "is a folder") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFileError(path)
        if _NONBLOCK:
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def is_same_file(fd: int, path: os.PathLike | str) -> bool:
    """Whether ``path`` (not followed if a link) is still the file open as ``fd``."""
    try:
        return os.path.samestat(os.fstat(fd), os.lstat(path))
    except OSError:
        return False


def check_still_regular(fd: int, path: Path) -> None:
    """Raise NotRegularFileError unless ``path`` is still the regular file open as ``fd`` (for
    files that a library reopens by name after they were created safely)."""
    if not is_same_file(fd, path):
        raise NotRegularFileError(path, "was replaced while being written")
