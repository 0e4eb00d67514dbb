"""One run at a time per output set: an exclusive ``flock`` on ``B.lock``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shlex
import socket
from pathlib import Path
from typing import Optional

from .errors import OutputError, printable
from .outdir import output_error
from .safe_open import NotRegularFileError, is_same_file, open_regular


class OutputLock:
    """An exclusive lock on one base name in one folder, held through a lock file ``B.lock``.

    ``flock`` on the lock file, which the kernel releases when the holder dies, so a lock file
    left behind by a killed run is simply taken over. A second run on the same outputs gets an
    OutputError naming the lock file. (w2v runs on Linux and macOS; Windows is not supported.)
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._fd: Optional[int] = None

    def __enter__(self) -> OutputLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def _owner_text(self) -> str:
        return f"{os.getpid()} {socket.gethostname()}\n"

    def _busy(self) -> OutputError:
        holder = ""
        with contextlib.suppress(OSError, ValueError):
            fd = open_regular(self.path, write=False, create=False)
            with os.fdopen(fd, "r") as stream:
                pid = stream.read(200).split()[0]
            holder = f" (pid {int(pid)})"
        return OutputError(
            f"{self.path}: these outputs are being written by another run{holder}; wait for it "
            "to finish (delete the lock file only if no such run is active)")

    def acquire(self) -> None:
        for _ in range(20):
            try:
                fd = open_regular(self.path)
            except NotRegularFileError as exc:
                raise OutputError(
                    f"{printable(str(self.path))}: the lock file {exc.strerror}; w2v writes only "
                    f"regular files it creates: remove it (rm {shlex.quote(str(self.path))})"
                ) from None
            except OSError as exc:
                raise output_error(self.path, "create the lock file", exc) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise self._busy() from None
            except OSError as exc:
                os.close(fd)
                raise output_error(self.path, "lock", exc) from None
            # The previous holder may have unlinked the file between our open() and flock():
            # then we hold a lock on a dead inode and must start again.
            if is_same_file(fd, self.path):
                os.ftruncate(fd, 0)
                os.write(fd, self._owner_text().encode())
                self._fd = fd
                return
            os.close(fd)
        raise OutputError(f"{self.path}: could not take the lock (it keeps changing)")

    def release(self) -> None:
        if self._fd is None:
            return
        # Unlink while still holding the lock, so that no one can lock the old inode meanwhile.
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        os.close(self._fd)
        self._fd = None
