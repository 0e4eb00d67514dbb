"""Whether the output files on disk are still the ones their ``.json`` describes.

At write time :func:`output_facts` records, for the ``.json``'s ``outputs`` field, the SHA-256
of the ``.npy`` and the MAT-file and the ``.npy`` header (shape, dtype, data offset). Before a
rerun skips a file, :func:`outputs_intact` checks the ``.json``'s own fields against each other,
the ``.npy`` header (parsed with ``np.lib.format``), the sizes, the MAT-file's header text and
whether each file is still the same inode with the same modification time; then the digests.

Hashing reads every output once: 0.75 to 2.5 s per GiB on a busy 2-core machine. That is small
next to recomputing a set of up to ``DIGEST_ALWAYS_BYTES``, so such sets are always hashed;
larger sets (all layers of an hour: 36 GB) are hashed when any cheap fact looks wrong, the
modification time or inode included (any write, copy or restore changes one of them).
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .names import OutputPaths
from .safe_open import open_regular

HASH_BLOCK_BYTES = 4 * 2**20
# Output sets up to this size (the .npy and the MAT-file together) are hashed on every check.
DIGEST_ALWAYS_BYTES = 2 * 2**30
_MAT_HEADERS = {"5": b"MATLAB 5.0 MAT-file", "7.3": b"MATLAB 7.3 MAT-file"}


def file_digest(path: os.PathLike | str) -> str:
    """SHA-256 (hex) of the regular file ``path`` (a link is not followed)."""
    digest = hashlib.sha256()
    with os.fdopen(open_regular(path, write=False, create=False), "rb") as stream:
        for block in iter(lambda: stream.read(HASH_BLOCK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


def npy_header(path: os.PathLike | str) -> dict[str, Any]:
    """``{"shape", "descr", "fortran_order", "data_offset"}`` of the ``.npy`` at ``path``.
    Raises ValueError (or OSError) when it is not a readable ``.npy``."""
    with os.fdopen(open_regular(path, write=False, create=False), "rb") as stream:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise ValueError(f"unsupported .npy version {version}")
        return {"shape": [int(s) for s in shape], "descr": dtype.str,
                "fortran_order": bool(fortran), "data_offset": stream.tell()}


def output_facts(npy: Path, mat: Optional[Path]) -> dict[str, Any]:
    """What the ``.json`` records about the finished (temporary) files ``npy`` and ``mat``:
    ``{"sha256": {"npy", "mat"}, "npy_header": {...}}`` (``mat`` None when not written)."""
    return {"sha256": {"npy": file_digest(npy), "mat": file_digest(mat) if mat else None},
            "npy_header": npy_header(npy),
            "stat": {"npy": _identity(npy), "mat": _identity(mat) if mat else None}}


def _identity(path: os.PathLike | str) -> dict[str, int]:
    """Inode and modification time (ns): both survive the rename into place."""
    info = os.lstat(path)
    return {"inode": int(info.st_ino), "mtime_ns": int(info.st_mtime_ns)}


def outputs_intact(paths: OutputPaths, meta: Mapping[str, Any]) -> bool:
    """True when ``B.npy`` and ``B.mat`` are the files the parsed ``B.json`` (``meta``)
    describes: consistent fields, the recorded ``.npy`` header and sizes, the MAT-file's header
    text, and the recorded SHA-256 of both (for large sets only when their inode or
    modification time changed)."""
    try:
        if not _cheap_facts_hold(paths, meta):
            return False
        sizes = meta["outputs"]["bytes"]
        unchanged = all(_identity(path) == meta["outputs"]["stat"][key]
                        for key, path in (("npy", paths.npy), ("mat", paths.mat)))
        if unchanged and sizes["npy"] + sizes["mat"] > DIGEST_ALWAYS_BYTES:
            return True
        return _digests_hold(paths, meta)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return False


def _cheap_facts_hold(paths: OutputPaths, meta: Mapping[str, Any]) -> bool:
    outputs = meta["outputs"]
    shape = [int(s) for s in meta["npy_shape"]]
    layers = list(meta["layers"])
    expected_layers = shape[0] if len(shape) == 3 else 1
    if (len(shape) not in (2, 3) or shape[-2] != meta["num_frames"]
            or shape[-1] != meta["hidden_size"] or len(layers) != expected_layers
            or meta["outputs"]["basename"] != paths.basename):
        return False
    recorded = outputs["npy_header"]
    if recorded["shape"] != shape:
        return False
    header = npy_header(paths.npy)
    if header != recorded or header["descr"] != "<f4" or header["fortran_order"]:
        return False
    sizes = outputs["bytes"]
    if os.lstat(paths.npy).st_size != header["data_offset"] + 4 * math.prod(shape):
        return False
    for key, path in (("npy", paths.npy), ("mat", paths.mat)):
        if sizes.get(key) is None or os.lstat(path).st_size != sizes[key]:
            return False
    start = _MAT_HEADERS.get(str(outputs["mat_version"]))
    if start is None:
        return False
    with os.fdopen(open_regular(paths.mat, write=False, create=False), "rb") as stream:
        return stream.read(len(start)) == start


def _digests_hold(paths: OutputPaths, meta: Mapping[str, Any]) -> bool:
    recorded = meta["outputs"]["sha256"]
    return all(isinstance(recorded.get(key), str) and file_digest(path) == recorded[key]
               for key, path in (("npy", paths.npy), ("mat", paths.mat)))
