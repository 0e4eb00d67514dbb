"""The output folder: created if missing, checked for write access, names and free space.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
from pathlib import Path

from .errors import OutputError, UsageError, printable
from .safe_open import create_new_fd

# Room kept free on the disk beyond the outputs themselves.
DISK_MARGIN_BYTES = 16 * 2**20
DISK_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG)


def output_error(path: os.PathLike | str, action: str, exc: OSError) -> OutputError:
    reason = exc.strerror or str(exc)
    if exc.errno == errno.EFBIG:
        reason = f"file size limit reached, see ulimit -f ({reason})"
    elif exc.errno in DISK_FULL:
        reason = f"disk full ({reason})"
    return OutputError(f"{printable(os.fspath(path))}: cannot {action}: {reason}")


def prepare_output_dir(folder: str | os.PathLike) -> Path:
    """Create ``folder`` if missing and check that files can be created in it.

    Returns its absolute path. Raises OutputError (one line) when it is a file, cannot be
    created, or is not writable.
    """
    path = Path(os.path.abspath(os.fspath(folder)))
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path}: output folder is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(path, "create the output folder", exc) from None
    probe = path / f".w2v-probe-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        fd = create_new_fd(probe, mode=0o600)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise output_error(path, "write in the output folder", exc) from None
    return path


# What file systems answer for a name they will not store (FAT/exFAT/SMB refuse ":" or "?",
# some refuse non-UTF-8 names, all limit the length).
_NAME_REFUSED = (errno.EINVAL, errno.ENAMETOOLONG, getattr(errno, "EILSEQ", errno.EINVAL))


def probe_basename(folder: Path, basename: str) -> None:
    """Create and remove a file named like the outputs of ``basename`` in ``folder``; raise
    UsageError when the file system refuses the name (OutputError for other problems)."""
    probe = Path(folder) / f".{basename}.npy.tmp-{os.getpid()}-probe"
    try:
        fd = create_new_fd(probe, mode=0o600)
    except FileExistsError:
        return
    except OSError as exc:
        if exc.errno in _NAME_REFUSED:
            raise UsageError(f"base name {basename!r} is refused by the file system of "
                             f"{folder} ({exc.strerror or exc}); choose another --basename"
                             ) from None
        raise output_error(folder, "write in the output folder", exc) from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)


def check_free_space(folder: Path, needed_bytes: int) -> None:
    """Raise OutputError when ``folder``'s disk has less than ``needed_bytes`` (plus a margin)."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if free < needed_bytes + DISK_MARGIN_BYTES:
        raise OutputError(
            f"{printable(str(folder))}: not enough free disk space: the outputs need "
            f"{human_size(needed_bytes)} plus a margin of {human_size(DISK_MARGIN_BYTES)}, and "
            f"{human_size(free)} is free")


def human_size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover

