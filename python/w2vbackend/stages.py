"""Where the time goes: a cheap per-stage timer (two ``time.perf_counter()`` calls per stage).

The pipeline wraps its steps in ``with stage("decode"):`` and so on. The seconds go to the
:class:`StageTimes` that the current thread is :func:`recording` into (one per file: the runner
records it in the file's ``.json`` under ``timing``) and to every :func:`collecting` block open
in the process (the benchmark's totals, over all threads). Without either, ``stage`` only reads
a context variable. Stages do not nest; each is a separate step.

Stage names: ``hash``, ``decode``, ``resample``, ``normalisation`` (whole-recording statistics,
including the GroupNorm pass), ``model`` (forward passes and the copy of the kept frames to
host memory), ``write_npy`` (allocating, filling and flushing the ``.npy``), ``write_mat``,
``json``, ``commit`` (fsync and rename of the output set).
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Iterator
from typing import Optional


class StageTimes:
    """Seconds and calls per stage name; safe to fill from several threads."""

    def __init__(self) -> None:
        self._seconds: dict[str, float] = {}
        self._calls: dict[str, int] = {}
        self._lock = threading.Lock()

    def add(self, name: str, seconds: float) -> None:
        with self._lock:
            self._seconds[name] = self._seconds.get(name, 0.0) + seconds
            self._calls[name] = self._calls.get(name, 0) + 1

    @property
    def seconds(self) -> dict[str, float]:
        """Stage name -> total seconds, in the order the stages first ran."""
        with self._lock:
            return dict(self._seconds)

    @property
    def calls(self) -> dict[str, int]:
        with self._lock:
            return dict(self._calls)

    def total(self) -> float:
        return sum(self.seconds.values())


_current: contextvars.ContextVar[Optional[StageTimes]] = contextvars.ContextVar(
    "w2v_stage_times", default=None)
_collectors: list[StageTimes] = []
_collectors_lock = threading.Lock()


@contextlib.contextmanager
def recording(times: StageTimes) -> Iterator[StageTimes]:
    """Within the block, stages run by this thread add to ``times``."""
    token = _current.set(times)
    try:
        yield times
    finally:
        _current.reset(token)


@contextlib.contextmanager
def collecting() -> Iterator[StageTimes]:
    """Within the block, stages run by any thread also add to the yielded :class:`StageTimes`."""
    times = StageTimes()
    with _collectors_lock:
        _collectors.append(times)
    try:
        yield times
    finally:
        with _collectors_lock:
            _collectors.remove(times)


@contextlib.contextmanager
def stage(name: str) -> Iterator[None]:
    """Time the block as stage ``name`` (nothing is recorded when nobody listens)."""
    times = _current.get()
    if times is None and not _collectors:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        seconds = time.perf_counter() - started
        if times is not None:
            times.add(name, seconds)
        for collector in tuple(_collectors):
            collector.add(name, seconds)


__all__ = ["StageTimes", "collecting", "recording", "stage"]
