"""MATLAB v7.3 MAT-files written with h5py in the layout MATLAB itself writes.

A v7.3 MAT-file is an HDF5 file with a 512-byte user block that starts with MATLAB's 128-byte
header: 116 bytes of text (``MATLAB 7.3 MAT-file, Platform: ..., Created on: ... HDF5 schema
1.00 .`` padded with spaces), an 8-byte subsystem-data offset (zeros), the version ``0x0200``
and the endian indicator ``IM``. Each variable is a dataset at the root with a ``MATLAB_class``
attribute. MATLAB stores arrays column-major and HDF5 row-major, so a MATLAB array of size
``[d1 x d2 x ... x dn]`` is a dataset of shape ``(dn, ..., d2, d1)``. ``char`` arrays are UTF-16
code units in a ``uint16`` dataset marked ``MATLAB_int_decode = 2``.

The large array (the embeddings) is created as a chunked dataset and filled block by block, so
writing a file of any size needs memory for one block only.
"""

from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path
from typing import Optional

import numpy as np

from .safe_open import check_still_regular, create_new_fd

USERBLOCK_BYTES = 512
HEADER_TEXT_BYTES = 116
# 8-byte subsystem-data offset (none), version 0x0200 stored little-endian, endian marker "IM".
HEADER_TAIL = b"\x00" * 8 + b"\x00\x02" + b"IM"
# Target size of one HDF5 chunk of the embeddings: large enough for fast sequential writes and
# reads, small enough that MATLAB's matfile() can read a few frames without pulling much more.
CHUNK_TARGET_BYTES = 1 << 20

_NUMERIC_CLASSES = {np.dtype(np.float64): "double", np.dtype(np.float32): "single"}


def mat73_header(now: Optional[datetime.datetime] = None) -> bytes:
    """The 128 bytes that open a MATLAB v7.3 MAT-file (the start of the HDF5 user block)."""
    now = now or datetime.datetime.now()
    # MATLAB writes the C locale's asctime format; build it by hand so the locale cannot change it.
    weekday = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[now.weekday()]
    month = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")[now.month - 1]
    text = (
        f"MATLAB 7.3 MAT-file, Platform: {_platform_name()}, "
        f"Created on: {weekday} {month} {now:%d %H:%M:%S %Y} HDF5 schema 1.00 ."
    ).encode("ascii", "replace")
    text = text[:HEADER_TEXT_BYTES].ljust(HEADER_TEXT_BYTES, b" ")
    return text + HEADER_TAIL


def _platform_name() -> str:
    """MATLAB's platform code where it has one (GLNXA64, MACA64, PCWIN64, ...)."""
    system, machine = platform.system(), platform.machine().lower()
    arm = machine in ("arm64", "aarch64")
    if system == "Linux":
        return "GLNXA64" if not arm else "GLNXA64-ARM"
    if system == "Darwin":
        return "MACA64" if arm else "MACI64"
    if system == "Windows":
        return "PCWIN64"
    return f"CPython {platform.python_version()}"


def hdf5_shape(matlab_shape: tuple[int, ...]) -> tuple[int, ...]:
    """HDF5 dataset shape of a MATLAB array of size ``matlab_shape`` (dimensions reversed)."""
    return tuple(reversed(matlab_shape))


def _set_class(dataset, matlab_class: str) -> None:
    # MATLAB writes these attributes as fixed-length ASCII strings.
    dataset.attrs["MATLAB_class"] = np.bytes_(matlab_class)


class Mat73Array:
    """A MATLAB ``single`` array ``[frames x hidden]`` or ``[frames x hidden x layers]`` being
    filled block by block. The dataset has shape ``(hidden, frames)`` or
    ``(layers, hidden, frames)``."""

    def __init__(self, dataset, matlab_shape: tuple[int, ...]):
        self._dataset = dataset
        self.matlab_shape = matlab_shape
        self.chunk_frames = int(dataset.chunks[-1]) if dataset.chunks else matlab_shape[0]

    def write_frames(self, layer: Optional[int], first_frame: int, block: np.ndarray) -> None:
        """Write ``block`` (``(n, hidden)`` float32, frames ``first_frame .. first_frame+n-1``)
        into layer ``layer`` (0-based position along MATLAB's third dimension; None for a
        two-dimensional array)."""
        stop = first_frame + block.shape[0]
        # (n, hidden) row-major -> (hidden, n): the HDF5 order of MATLAB's [n x hidden] slice.
        data = np.ascontiguousarray(block.T, dtype=np.float32)
        if layer is None:
            self._dataset[:, first_frame:stop] = data
        else:
            self._dataset[layer, :, first_frame:stop] = data


class Mat73Writer:
    """Writes one MATLAB v7.3 MAT-file. Use as a context manager; the header is written into
    the user block when the HDF5 file has been closed, and the file is fsync'ed."""

    def __init__(self, path: str | os.PathLike):
        import h5py

        self.path = Path(path)
        # Created here as a new regular file (never through a link); HDF5 then opens it by
        # name, and the descriptor kept open proves at the end that the name is still this file.
        self._fd = create_new_fd(self.path, read=True)
        try:
            # libver="earliest": the most widely readable HDF5 object formats (older MATLAB).
            self._h5 = h5py.File(self.path, "w", userblock_size=USERBLOCK_BYTES,
                                 libver="earliest")
        except BaseException:
            os.close(self._fd)
            raise
        self._closed = False

    def __enter__(self) -> Mat73Writer:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            try:
                self._h5.close()
            finally:
                self._closed = True
                os.close(self._fd)

    def write_char(self, name: str, text: str) -> None:
        """A MATLAB ``char`` row vector ``[1 x n]``."""
        codes = np.frombuffer(text.encode("utf-16-le"), dtype="<u2")
        if codes.size == 0:
            self._write_empty(name, "char", (1, 0))
            return
        dataset = self._h5.create_dataset(name, data=codes.reshape(hdf5_shape((1, codes.size))))
        _set_class(dataset, "char")
        dataset.attrs["MATLAB_int_decode"] = np.int32(2)

    def write_numeric(self, name: str, value: np.ndarray) -> None:
        """A MATLAB ``double`` or ``single`` array; ``value`` is given in MATLAB's orientation
        (at least two-dimensional, e.g. ``(n, 1)`` for a column, ``(1, 1)`` for a scalar)."""
        value = np.asarray(value)
        if value.ndim < 2:
            raise ValueError(f"{name}: give MATLAB's 2-D shape, not {value.shape}")
        matlab_class = _NUMERIC_CLASSES[value.dtype]
        if value.size == 0:
            self._write_empty(name, matlab_class, value.shape)
            return
        dataset = self._h5.create_dataset(name, data=np.ascontiguousarray(value.T))
        _set_class(dataset, matlab_class)

    def create_single(self, name: str, matlab_shape: tuple[int, ...]) -> Mat73Array:
        """An empty ``single`` array of MATLAB size ``[frames x hidden]`` or
        ``[frames x hidden x layers]``, chunked along frames, to be filled with
        :meth:`Mat73Array.write_frames`."""
        frames, hidden = matlab_shape[0], matlab_shape[1]
        if frames == 0 or hidden == 0:
            raise ValueError(f"{name}: empty array {matlab_shape}")
        chunk_frames = max(1, min(frames, CHUNK_TARGET_BYTES // (4 * hidden)))
        shape = hdf5_shape(matlab_shape)
        chunks = (*([1] * (len(shape) - 2)), hidden, chunk_frames)
        dataset = self._h5.create_dataset(name, shape=shape, dtype="<f4", chunks=chunks)
        _set_class(dataset, "single")
        return Mat73Array(dataset, matlab_shape)

    def _write_empty(self, name: str, matlab_class: str, matlab_shape: tuple[int, ...]) -> None:
        # MATLAB stores an empty array as its dimensions (uint64) with MATLAB_empty = 1.
        dataset = self._h5.create_dataset(name, data=np.asarray(matlab_shape, dtype=np.uint64))
        _set_class(dataset, matlab_class)
        dataset.attrs["MATLAB_empty"] = np.uint8(1)
        if matlab_class == "char":
            dataset.attrs["MATLAB_int_decode"] = np.int32(2)

    def close(self) -> None:
        """Close the HDF5 file, write MATLAB's header into the user block, and fsync."""
        if self._closed:
            return
        try:
            self._h5.close()
            check_still_regular(self._fd, self.path)
            os.pwrite(self._fd, mat73_header(), 0)
            os.fsync(self._fd)
        finally:
            self._closed = True
            os.close(self._fd)
