"""The embeddings as a temporary memory-mapped ``.npy`` that the engine fills (a :class:`Sink`).
"""

from __future__ import annotations

import contextlib
import errno
import gc
import math
import mmap
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import numpy as np

from .errors import OutputError
from .outdir import check_free_space, output_error
from .safe_open import open_new, open_regular

# Size of the blocks copied from the .npy into a v7.3 MAT-file.
BLOCK_BYTES = 16 * 2**20
# While the engine fills the memory map, its written pages are dropped from this process's
# resident set every RELEASE_BYTES (they stay in the page cache and go to disk as usual).
RELEASE_BYTES = 64 * 2**20


class NpyStore:
    """The embeddings, float32, in a temporary ``.npy`` memory map that the engine fills.

    A :class:`~w2vbackend.sink.Sink`: :meth:`begin` creates and preallocates the file (so a full
    disk is an error at the start, not a crash half-way), :meth:`write` copies each finished
    block into the map, and every ``RELEASE_BYTES`` actually written the map's pages are dropped
    from the resident set, so that memory use does not grow with the output.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.shape: Optional[tuple[int, ...]] = None
        self.offset = 0
        self._array: Optional[np.memmap] = None
        self._since_release = 0

    @classmethod
    def existing(cls, path: Path, shape: tuple[int, ...], offset: int) -> NpyStore:
        """A finished store: the float32 ``.npy`` at ``path`` of ``shape``, data at ``offset``
        (for reading its blocks in another process)."""
        store = cls(path)
        store.shape = tuple(int(s) for s in shape)
        store.offset = int(offset)
        return store

    @property
    def nbytes(self) -> int:
        return 4 * math.prod(self.shape) if self.shape is not None else 0

    @property
    def array(self) -> Optional[np.memmap]:
        return self._array

    def begin(self, shape: tuple[int, ...]) -> None:
        """Create the temporary .npy of ``shape`` (float32) and map it."""
        shape = tuple(int(s) for s in shape)
        if self._array is not None:
            raise RuntimeError("NpyStore.begin called twice")
        if any(s <= 0 for s in shape):
            raise ValueError(f"cannot store an empty embedding array of shape {shape}")
        check_free_space(self.path.parent, 4 * math.prod(shape))
        try:
            array = _create_mapped_npy(self.path, shape)
            self.offset = int(array.offset)
        except OSError as exc:
            raise output_error(self.path.with_name(self.path.name.split(".tmp-")[0][1:]),
                                "write the embeddings", exc) from None
        self.shape = shape
        self._array = array

    def write(self, position: int, start: int, block: np.ndarray) -> None:
        """Frames ``[start, start + len(block))`` of requested layer ``position``."""
        if self._array is None:
            raise RuntimeError("NpyStore.write before begin")
        stop = start + block.shape[0]
        if self._array.ndim == 2:
            self._array[start:stop] = block
        else:
            self._array[position, start:stop] = block
        self._since_release += int(block.nbytes)
        if self._since_release >= RELEASE_BYTES:
            self.release_pages()

    def result(self) -> None:
        """None: the embeddings live in the file (read them with :meth:`iter_blocks`)."""
        return None

    def release_pages(self) -> None:
        """Drop the map's pages from this process's resident set (data stays in the file)."""
        self._since_release = 0
        mapping = getattr(self._array, "_mmap", None)
        if mapping is None or not hasattr(mapping, "madvise"):
            return
        with contextlib.suppress(OSError, ValueError):
            # MADV_DONTNEED on a shared file mapping: dirty pages go to the page cache first.
            mapping.madvise(mmap.MADV_DONTNEED)

    def finish(self) -> None:
        """Flush the map to the file, unmap it, and fsync the file."""
        if self._array is not None:
            self._array.flush()
        self.close()
        fd = open_regular(self.path, write=False, create=False)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def close(self) -> None:
        """Unmap the file (the file stays). The map is closed at once; only when a view of it is
        still alive somewhere is a full garbage collection run to find it (that costs about a
        second in a process holding a model, so it is not done for every file)."""
        array, self._array = self._array, None
        mapping = getattr(array, "_mmap", None)
        del array
        if mapping is None or mapping.closed:
            return
        try:
            mapping.close()
        except BufferError:  # exported views remain
            gc.collect()

    def read_frames(self, layer: Optional[int], start: int, stop: int) -> np.ndarray:
        """Frames ``start .. stop-1`` of ``layer`` (None for the 2-D layout) as a new
        ``(stop-start, hidden)`` float32 array, read from the file (not through the map, so the
        pages do not count towards this process's memory)."""
        if self.shape is None:
            raise RuntimeError("nothing stored")
        frames, hidden = self.shape[-2], self.shape[-1]
        first = (0 if layer is None else layer * frames) + start
        out = np.empty((stop - start, hidden), dtype="<f4")
        with os.fdopen(open_regular(self.path, write=False, create=False), "rb") as stream:
            stream.seek(self.offset + 4 * first * hidden)
            view = memoryview(out).cast("B")
            got = stream.readinto(view)
        if got != out.nbytes:
            raise OutputError(f"{self.path}: short read of the embeddings")
        return out

    def iter_blocks(self, block_bytes: int = BLOCK_BYTES, multiple: int = 1
                    ) -> Iterator[tuple[Optional[int], int, np.ndarray]]:
        """(layer, first frame, block) over the whole array, blocks of at most ``block_bytes``
        whose frame counts are multiples of ``multiple`` (the HDF5 chunk length)."""
        if self.shape is None:
            return
        frames, hidden = self.shape[-2], self.shape[-1]
        rows = max(1, block_bytes // (4 * hidden))
        rows = max(multiple, rows - rows % multiple)
        layers: list[Optional[int]] = [None] if len(self.shape) == 2 else list(
            range(self.shape[0]))
        for layer in layers:
            for start in range(0, frames, rows):
                yield layer, start, self.read_frames(layer, start, min(frames, start + rows))


def _create_mapped_npy(path: Path, shape: tuple[int, ...]) -> np.memmap:
    """Create the new file ``path`` (never following a link), write a float32 C-order ``.npy``
    header for ``shape`` (the same bytes as ``np.lib.format.open_memmap``), preallocate the
    data and map it, all through the one descriptor."""
    header = {"descr": "<f4", "fortran_order": False, "shape": shape}
    with open_new(path, "w+b") as stream:
        try:
            np.lib.format.write_array_header_1_0(stream, header)
        except ValueError:  # header over 64 KiB (absurdly many dimensions): format 2.0
            stream.seek(0)
            stream.truncate()
            np.lib.format.write_array_header_2_0(stream, header)
        stream.flush()
        offset = stream.tell()
        _preallocate(stream.fileno(), offset + 4 * math.prod(shape))
        return np.memmap(stream, dtype="<f4", mode="r+", offset=offset, shape=shape, order="C")


def _preallocate(fd: int, total_bytes: int) -> None:
    """Reserve disk blocks for the whole file, so that a full disk fails here with ENOSPC rather
    than as SIGBUS while the engine writes through the map."""
    if not hasattr(os, "posix_fallocate"):
        os.ftruncate(fd, total_bytes)
        return
    try:
        os.posix_fallocate(fd, 0, total_bytes)
    except OSError as exc:
        # File systems without fallocate (some network ones): the free-space check must do.
        if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, getattr(errno, "ENOTSUP", 95)):
            raise
        os.ftruncate(fd, total_bytes)

