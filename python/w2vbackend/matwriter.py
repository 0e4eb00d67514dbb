"""The MAT-file next to the ``.npy``: MAT v5 (scipy) or v7.3 (HDF5, :mod:`w2vbackend.matfile`).
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from .errors import UsageError
from .npystore import NpyStore
from .outdir import DISK_FULL, human_size, output_error
from .safe_open import open_new

MAT_VERSIONS = ("auto", "5", "7.3")


# MATLAB refuses variables over 2^31 bytes in MAT v5/v7 files (scipy only stops at 2^32).
V5_MAX_VARIABLE_BYTES = 2**31 - 1
# `auto` writes MAT v5 only for embeddings up to this size. scipy.io.savemat needs the whole
# array in memory and makes one more copy while writing (Fortran-order bytes), so v5 costs up to
# twice this much RAM for a moment; 128 MiB (XLSR-53, one layer: about 11 minutes of audio) keeps
# that below a tenth of what a large model needs anyway. Anything bigger is written as v7.3,
# block by block, which MATLAB's load() and matfile() read just as well.
V5_AUTO_MAX_BYTES = 128 * 2**20


def choose_mat_version(requested: str, nbytes: int) -> str:
    """``"5"`` or ``"7.3"`` for embeddings of ``nbytes`` bytes.

    ``auto`` picks v5 up to V5_AUTO_MAX_BYTES (scipy.io.savemat holds the array in memory) and
    v7.3 (written block by block) above; ``"5"`` and ``"7.3"`` force either.
    """
    requested = normalize_mat_version(requested)
    if requested != "auto":
        return requested
    return "5" if nbytes <= V5_AUTO_MAX_BYTES else "7.3"


def normalize_mat_version(value: object) -> str:
    """``auto``, ``5`` or ``7.3`` from a string or number (MATLAB may send 7.3 as a number)."""
    text = str(value).strip().lower() if value is not None else "auto"
    aliases = {"5": "5", "5.0": "5", "v5": "5", "7": "5", "7.0": "5", "v7": "5",
               "7.3": "7.3", "v7.3": "7.3", "auto": "auto"}
    if text not in aliases:
        raise UsageError(f"mat version {value!r} is not one of auto, 5, 7.3")
    return aliases[text]


def matlab_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """MATLAB size of ``embeddings`` for a ``.npy`` of ``shape``: ``(F, H)`` stays ``[F H]``,
    ``(L, F, H)`` becomes ``[F H L]``."""
    return tuple(shape) if len(shape) == 2 else (shape[1], shape[2], shape[0])


def write_mat_v5(path: Path, store: NpyStore, variables: dict[str, Any]) -> None:
    """Write ``path`` as a MAT v5 file with scipy.io.savemat (the whole array in memory).

    ``variables``: the small variables (see :func:`w2vbackend.metadata.mat_variables`);
    ``embeddings`` comes from ``store``."""
    import scipy.io

    if store.nbytes > V5_MAX_VARIABLE_BYTES:
        raise MatFormatError(
            f"embeddings are {human_size(store.nbytes)}, over MAT v5's 2 GiB per-variable "
            "limit; use --mat-version 7.3 (or auto)")
    # Build MATLAB's [frames x hidden (x layers)] array in Fortran order, so that savemat's
    # column-major write sees contiguous data.
    embeddings = np.empty(matlab_shape(store.shape), dtype=np.float32, order="F")
    for layer, start, block in store.iter_blocks():
        stop = start + block.shape[0]
        if layer is None:
            embeddings[start:stop, :] = block
        else:
            embeddings[start:stop, :, layer] = block
    with open_new(path, "wb") as stream:
        scipy.io.savemat(stream, {"embeddings": embeddings, **variables}, format="5",
                         do_compression=False, oned_as="column")
        stream.flush()
        os.fsync(stream.fileno())


def write_mat_v73(path: Path, store: NpyStore, variables: dict[str, Any]) -> None:
    """Write ``path`` as a MATLAB v7.3 MAT-file in a child process
    (:mod:`w2vbackend.matprocess`: an HDF5 crash after a full disk ends only the child)."""
    from .matprocess import write_v73_in_child

    if store.shape is None:
        raise RuntimeError("nothing stored")
    write_v73_in_child(path, store.path, store.shape, store.offset, variables)


def write_mat_v73_here(path: Path, store: NpyStore, variables: dict[str, Any],
                       on_error: Optional[Callable[[BaseException], None]] = None) -> None:
    """Write ``path`` as a MATLAB v7.3 MAT-file in this process, the embeddings block by
    block (what the child of :func:`write_mat_v73` runs). ``on_error`` is called with any
    exception while the HDF5 objects are still alive (the child reports and exits there,
    before their teardown can crash)."""
    from .matfile import Mat73Writer

    mat = Mat73Writer(path)
    try:
        target = mat.create_single("embeddings", matlab_shape(store.shape))
        for layer, start, block in store.iter_blocks(multiple=target.chunk_frames):
            target.write_frames(layer, start, block)
        for name, value in variables.items():
            if isinstance(value, str):
                mat.write_char(name, value)
            else:
                mat.write_numeric(name, np.asarray(value))
        mat.close()
    except BaseException as exc:
        if on_error is not None:
            on_error(exc)
        mat.__exit__(type(exc), exc, None)
        raise


class MatFormatError(Exception):
    """The MAT-file cannot be written in the requested format (not a folder or disk problem)."""


def _is_disk_problem(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in (*DISK_FULL, errno.EACCES, errno.EROFS,
                                                  errno.EIO, errno.EPERM):
        return True
    # HDF5 reports the C library's errno inside its message rather than in .errno.
    text = str(exc)
    return "No space left" in text or "errno = 28" in text or "Disk quota" in text


def write_mat(path: Path, store: NpyStore, variables: dict[str, Any], requested: str
              ) -> tuple[Optional[str], Optional[str]]:
    """Write the MAT-file at ``path``; returns ``(version written, None)`` or
    ``(None, reason)`` when no MAT-file could be written.

    With ``auto``, a failing v5 write falls back to v7.3. Disk and permission problems are not
    format problems: they raise OutputError, and the whole output set is abandoned.
    """
    requested = normalize_mat_version(requested)
    version = choose_mat_version(requested, store.nbytes)
    order = [version] + (["7.3"] if requested == "auto" and version == "5" else [])
    reasons = []
    for candidate in order:
        try:
            (write_mat_v5 if candidate == "5" else write_mat_v73)(path, store, variables)
            return candidate, None
        except (MemoryError, MatFormatError, ValueError, TypeError, RuntimeError, OSError) as exc:
            if _is_disk_problem(exc):
                raise output_error(path.parent, "write the MAT-file", exc) from None
            reasons.append(f"MAT v{candidate}: {_one_line(exc)}")
            with contextlib.suppress(OSError):
                os.unlink(path)
    return None, "; ".join(reasons)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 500 else text[:497] + "..."

