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
    left behind by a killed run is simply taken over (another user's, which cannot be opened
    for writing, is locked read-only and replaced where the folder allows). A second run on the
    same outputs gets an OutputError naming the lock file. (w2v runs on Linux and macOS;
    Windows is not supported.)
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
            f"{printable(str(self.path))}: these outputs are being written by another "
            f"run{holder}; wait for it "
            "to finish (delete the lock file only if no such run is active)")

    def acquire(self) -> None:
        for _ in range(20):
            try:
                fd = open_regular(self.path)
            except NotRegularFileError as exc:
                raise self._not_regular(exc) from None
            except PermissionError as exc:
                # Someone else's lock file: replace it if no run holds it (and we may).
                self._take_over_foreign(exc)
                continue
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

    def _not_regular(self, exc: OSError) -> OutputError:
        return OutputError(
            f"{printable(str(self.path))}: the lock file {exc.strerror}; w2v writes only "
            f"regular files it creates: remove it (rm {shlex.quote(str(self.path))})")

    def _take_over_foreign(self, denied: OSError) -> None:
        """The lock file exists and cannot be opened for writing (another user's). Lock it
        through a read-only descriptor: held by a run, the outputs are busy; not held, it is
        stale and, while we hold its lock (so no one else can take it meanwhile), it is
        removed, for the caller to create its own. Raises OutputError with what to do when it
        can be neither read nor removed."""
        try:
            fd = open_regular(self.path, write=False, create=False)
        except FileNotFoundError:
            return  # removed meanwhile: start again
        except NotRegularFileError as exc:
            raise self._not_regular(exc) from None
        except OSError:
            raise OutputError(
                f"{printable(str(self.path))}: the lock file belongs to {self._owner()} and "
                f"cannot be read ({denied.strerror}), so w2v cannot tell whether a run holds "
                "it; if no run is active, delete it: rm "
                f"{shlex.quote(str(self.path))}") from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise self._busy() from None
            if not is_same_file(fd, self.path):
                return  # replaced meanwhile: start again
            try:
                os.unlink(self.path)
            except OSError as exc:
                raise OutputError(
                    f"{printable(str(self.path))}: stale lock file left by user "
                    f"{self._owner(fd)} (no run holds it), and this folder does not let you "
                    f"replace it ({exc.strerror}); delete it: rm "
                    f"{shlex.quote(str(self.path))}") from None
        finally:
            os.close(fd)

    def _owner(self, fd: Optional[int] = None) -> str:
        """The name (or uid) of the lock file's owner."""
        try:
            uid = os.fstat(fd).st_uid if fd is not None else os.lstat(self.path).st_uid
        except OSError:
            return "another user"
        try:
            import pwd

            return pwd.getpwuid(uid).pw_name
        except (ImportError, KeyError):
            return f"uid {uid}"

    def release(self) -> None:
        if self._fd is None:
            return
        # Unlink while still holding the lock, so that no one can lock the old inode meanwhile.
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        os.close(self._fd)
        self._fd = None
