"""The MAT v7.3 file is written by a child process, so that HDF5 cannot take w2v down with it.

After a failed write (a full disk, ``ulimit -f``), h5py/HDF5 may crash with a segmentation fault
while it tears the file down. Here that crash ends only the child: the parent sees an exit
status, removes the temporary files and reports one :class:`~w2vbackend.errors.OutputError`,
and the rest of a batch goes on.

Parent: :func:`write_v73_in_child`. Child: ``python -m w2vbackend.matprocess RESULT_FD``, which
reads its task (pickled by the parent) from stdin, copies the ``.npy`` into the MAT-file block by
block, writes one JSON line to descriptor RESULT_FD and leaves with ``os._exit`` (no teardown).
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

from .errors import OutputError, printable

# A child that reports nothing and exits 0 would be a bug; these say what went wrong otherwise.
_EXIT_REPORTED = 3


def child_command(result_fd: int) -> list[str]:
    """The command line of the child (a separate function, so that tests can wrap it)."""
    return [sys.executable, "-m", "w2vbackend.matprocess", str(result_fd)]


def _child_env() -> dict[str, str]:
    """The environment with this copy of w2vbackend first on the child's path."""
    package_parent = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH")) if p)
    return env


def write_v73_in_child(path: Path, npy_path: Path, shape: tuple[int, ...], offset: int,
                       variables: dict[str, Any]) -> None:
    """Write the v7.3 MAT-file ``path`` from the float32 ``.npy`` at ``npy_path`` (its data at
    byte ``offset``, ``shape``) and ``variables``, in a child process.

    Raises OSError (with the child's errno) for disk and permission problems, RuntimeError for
    any other error the child reports, and OutputError when the child dies without a report
    (a crash). An interruption kills the child before it propagates."""
    task = pickle.dumps({"path": os.fspath(path), "npy": os.fspath(npy_path),
                         "shape": tuple(shape), "offset": int(offset), "variables": variables})
    read_end, write_end = os.pipe()
    try:
        proc = subprocess.Popen(child_command(write_end), stdin=subprocess.PIPE,
                                stderr=subprocess.PIPE, pass_fds=(write_end,),
                                env=_child_env(), close_fds=True)
    except BaseException:
        os.close(read_end)
        os.close(write_end)
        raise
    os.close(write_end)
    try:
        _, stderr = proc.communicate(task)
        with os.fdopen(read_end, "rb") as stream:
            read_end = -1
            report = stream.read(1 << 16)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        if read_end >= 0:
            os.close(read_end)
    _raise_for(path, proc.returncode, report, stderr)


def _raise_for(path: Path, returncode: int, report: bytes, stderr: bytes) -> None:
    try:
        outcome = json.loads(report.decode("utf-8")) if report.strip() else None
    except ValueError:
        outcome = None
    if returncode == 0 and outcome and outcome.get("ok"):
        return
    if outcome and not outcome.get("ok"):
        message = str(outcome.get("message") or "unknown error")
        if outcome.get("errno"):
            number = int(outcome["errno"])
            raise OSError(number, os.strerror(number))
        raise RuntimeError(message)
    if returncode < 0:
        with contextlib.suppress(ValueError):
            how = f"was killed by {signal.Signals(-returncode).name}"
    else:
        how = f"exited with status {returncode}"
    last = printable(" ".join(stderr.decode("utf-8", "replace").split())[-200:])
    raise OutputError(f"{printable(str(path.parent))}: cannot write the MAT-file: the HDF5 "
                      f"writer {how} (is the disk full?)" + (f"; it said: {last}" if last else ""))


# --------------------------------------------------------------------------------------------
# Child


def _run_task(task: dict[str, Any], on_error: Callable[[BaseException], None]) -> None:
    from .matwriter import write_mat_v73_here
    from .npystore import NpyStore

    store = NpyStore.existing(Path(task["npy"]), tuple(task["shape"]), int(task["offset"]))
    write_mat_v73_here(Path(task["path"]), store, task["variables"], on_error=on_error)


def main(argv: list[str] | None = None) -> None:
    """The child's entry point; never returns."""
    argv = sys.argv[1:] if argv is None else argv
    result_fd = int(argv[0])
    # (CPython ignores SIGXFSZ at startup, so ``ulimit -f`` shows up as EFBIG here.)

    def finish(outcome: dict[str, Any]) -> None:
        try:
            os.write(result_fd, (json.dumps(outcome) + "\n").encode("utf-8"))
        finally:
            # No unwinding and no interpreter teardown: after a failed write, releasing the
            # HDF5 objects is what crashes.
            os._exit(0 if outcome["ok"] else _EXIT_REPORTED)

    def on_error(exc: BaseException) -> None:
        finish({"ok": False, "message": " ".join(str(exc).split())[:500] or
                type(exc).__name__, "errno": _errno_of(exc)})

    try:
        _run_task(pickle.loads(sys.stdin.buffer.read()), on_error)
    except BaseException as exc:  # everything is reported to the parent
        on_error(exc)
    finish({"ok": True})


def _errno_of(exc: BaseException) -> int | None:
    """The OS error number of ``exc``; HDF5 puts the C library's in the message
    (``errno = 28``) and may raise a RuntimeError for it."""
    import errno
    import re

    found = re.search(r"errno = (\d+)", str(exc))
    if found:
        return int(found.group(1))
    if isinstance(exc, OSError) and exc.errno:
        return exc.errno
    return errno.ENOSPC if "No space left" in str(exc) else None


if __name__ == "__main__":  # pragma: no cover - runs in the child
    main()
