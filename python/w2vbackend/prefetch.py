"""Preparing the next input while the current one is computed: one file ahead, in one thread.

Decoding and resampling are numpy/libsndfile work that releases the GIL, as do torch's kernels,
so they overlap the model's forward passes. At most one item is prepared ahead, so memory holds
at most two waveforms. The thread is a daemon and creates no files: an interruption of the main
thread (Ctrl-C, SIGTERM) is not delayed by it and leaves nothing of it behind.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, Optional, TypeVar

Item = TypeVar("Item")
Value = TypeVar("Value")


class _Slot(Generic[Value]):
    """One preparation in the background: its thread and, when done, its value or exception."""

    def __init__(self, index: int, work: Callable[[], Value]):
        self.index = index
        self.value: Optional[Value] = None
        self.error: Optional[BaseException] = None
        self.thread = threading.Thread(target=self._run, args=(work,), daemon=True,
                                       name="w2v-prefetch")
        self.thread.start()

    def _run(self, work: Callable[[], Value]) -> None:
        try:
            self.value = work()
        except BaseException as exc:
            self.error = exc

    def result(self) -> Value:
        self.thread.join()  # interruptible: a signal in the main thread raises here
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        value, self.value = self.value, None
        return value  # type: ignore[return-value]


class Prefetcher(Generic[Item, Value]):
    """``prepare(item)`` for ``items`` in order, the next one in the background.

    :meth:`take` returns ``prepare(item)`` (or raises what it raised), waiting for the
    background preparation when it is this item's, computing it here otherwise (an item taken
    out of order, or after others were skipped), and then starts preparing the item after it.
    With ``enabled=False`` everything runs in the caller's thread, as a plain loop would.
    """

    def __init__(self, items: Sequence[Item], prepare: Callable[[Item], Value], *,
                 enabled: bool = True):
        self._items = list(items)
        self._prepare = prepare
        self._enabled = enabled
        self._slot: Optional[_Slot[Value]] = None
        self._start(0)

    def _index(self, item: Item) -> int:
        for index, candidate in enumerate(self._items):
            if candidate is item:
                return index
        raise ValueError("item is not one of the prefetched items")

    def _start(self, index: int) -> None:
        self._slot = None
        if self._enabled and index < len(self._items):
            item = self._items[index]
            self._slot = _Slot(index, lambda: self._prepare(item))

    def take(self, item: Item) -> Value:
        index = self._index(item)
        slot, self._slot = self._slot, None
        try:
            value = (slot.result() if slot is not None and slot.index == index
                     else self._prepare(item))
        except Exception:
            self._start(index + 1)
            raise  # an interruption (BaseException) starts nothing new
        self._start(index + 1)
        return value

    def skip(self, item: Item) -> None:
        """``item`` will not be taken: if it is the one being prepared, move on to the next."""
        if self._slot is not None and self._slot.index == self._index(item):
            self._start(self._slot.index + 1)

    def close(self) -> None:
        """Forget a preparation still under way (its daemon thread ends on its own)."""
        self._slot = None


__all__ = ["Prefetcher"]
