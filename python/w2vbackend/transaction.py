"""Atomic output sets: temporary files renamed into place together, or removed together.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

from .names import SUFFIXES, OutputPaths
from .outdir import output_error
from .safe_open import open_new


class OutputTransaction:
    """The temporary files of one output set, renamed into place together by :meth:`commit`.

    Leaving the ``with`` block without a commit (an exception, KeyboardInterrupt, SIGTERM turned
    into an exception) removes every temporary file and leaves the final names untouched.
    """

    def __init__(self, paths: OutputPaths):
        self.paths = paths
        self._temps: dict[str, Path] = {}
        self.committed = False

    def __enter__(self) -> OutputTransaction:
        remove_stale_temps(self.paths)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self.committed:
            self.abort()

    def temp(self, kind: str) -> Path:
        """The temporary path for output ``kind`` (npy, mat, json, mat_failed)."""
        if kind not in self._temps:
            self._temps[kind] = self.paths.temp_for(getattr(self.paths, kind))
        return self._temps[kind]

    def discard(self, kind: str) -> None:
        path = self._temps.pop(kind, None)
        if path is not None:
            with contextlib.suppress(OSError):
                os.unlink(path)

    def abort(self) -> None:
        gc.collect()  # unmapped maps must go before their files on Windows
        for kind in list(self._temps):
            self.discard(kind)

    def commit(self) -> dict[str, Optional[Path]]:
        """Rename every temporary file into place; remove final files of kinds this set does not
        have (an old ``B.mat.failed`` after a good MAT-file, and the reverse). ``B.json`` goes
        first out and last in, so that no moment shows a fingerprint next to the wrong data.
        Returns kind -> final path (None for kinds not written)."""
        final = {kind: getattr(self.paths, kind) for kind in SUFFIXES}
        with _signals_deferred():
            _unlink_quietly(final["json"])
            for kind in ("npy", "mat", "mat_failed"):
                if kind not in self._temps:
                    _unlink_quietly(final[kind])
            for kind in ("npy", "mat", "mat_failed", "json"):
                if kind in self._temps:
                    try:
                        os.replace(self._temps[kind], final[kind])
                    except OSError as exc:
                        raise output_error(final[kind], "rename into place", exc) from None
                    del self._temps[kind]
            _fsync_dir(self.paths.folder)
            self.committed = True
        return {kind: (final[kind] if final[kind].exists() else None) for kind in SUFFIXES}


def remove_stale_temps(paths: OutputPaths) -> None:
    """Remove the temporary files of ``paths``'s base name left by killed runs (call only while
    holding the base name's lock: a running run's temporaries have the same names)."""
    for stale in paths.stale_temps():
        with contextlib.suppress(OSError):
            os.unlink(stale)


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _fsync_dir(folder: Path) -> None:
    if os.name == "nt":  # pragma: no cover
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM back during the few renames of a commit (POSIX, main thread)."""
    if (not hasattr(signal, "pthread_sigmask")
            or threading.current_thread() is not threading.main_thread()):
        yield
        return
    wanted = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, wanted)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def write_text_file(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to the new file ``path`` (a temporary name; never a link
    followed) and fsync it."""
    with open_new(path, "w", encoding="utf-8", newline="\n") as stream:
        stream.write(text)
        stream.flush()
        os.fsync(stream.fileno())

