"""Where the engine puts finished blocks of embeddings.

The engine computes windows one after another and hands each window's kept frames to a
:class:`Sink` as ``(position, first_frame, block)``: ``position`` is the index into the requested
layers, ``block`` a ``(frames, hidden_size)`` float32 array. :class:`ArraySink` collects them in
memory (the Python API's default); :class:`w2vbackend.npystore.NpyStore` writes them straight
into a memory-mapped ``.npy`` on disk, so that long recordings never sit in memory.
"""

from __future__ import annotations

from typing import Optional, Protocol

import numpy as np


class Sink(Protocol):
    """Receives the embeddings of one recording, block by block."""

    def begin(self, shape: tuple[int, ...]) -> None:
        """Called once, before any block: the final shape, ``(frames, hidden)`` for one layer or
        ``(layers, frames, hidden)`` for several."""

    def write(self, position: int, start: int, block: np.ndarray) -> None:
        """Frames ``[start, start + len(block))`` of requested layer ``position``."""

    def result(self) -> Optional[np.ndarray]:
        """The embeddings as an array, or None when they live elsewhere (a file)."""


class ArraySink:
    """Collects the embeddings in one in-memory float32 array."""

    def __init__(self) -> None:
        self.array: Optional[np.ndarray] = None

    def begin(self, shape: tuple[int, ...]) -> None:
        self.array = np.empty(shape, dtype=np.float32)

    def write(self, position: int, start: int, block: np.ndarray) -> None:
        assert self.array is not None, "begin() was not called"
        if self.array.ndim == 2:
            self.array[start:start + block.shape[0]] = block
        else:
            self.array[position, start:start + block.shape[0]] = block

    def result(self) -> Optional[np.ndarray]:
        return self.array
