"""The output files: ``B.npy``, ``B.mat``, ``B.json`` (and ``B.mat.failed``) in an output folder.

* ``B.npy`` — float32 embeddings, ``(num_frames, hidden_size)`` for one layer,
  ``(num_layers, num_frames, hidden_size)`` for several.
* ``B.mat`` — MATLAB variables ``embeddings`` (``[frames x hidden]`` or
  ``[frames x hidden x layers]`` single), ``time_axis`` (``[frames x 1]`` double, seconds),
  ``model_name`` (char), ``sample_rate`` (Hz), ``frame_stride`` (s), ``layers`` (``[1 x L]``
  double, transformers numbering), ``receptive_field`` (s), ``frame_center_offset`` (s).
  MAT v5 (scipy) or v7.3 (HDF5, :mod:`w2vbackend.matfile`), see :func:`choose_mat_version`.
* ``B.json`` — metadata, a sparse time axis, and the fingerprint that makes a rerun with the same
  inputs skip the work.
* ``B.mat.failed`` — only when no MAT-file could be written; holds the reason.

Nothing is ever collected whole in memory: the engine writes frames straight into a memory-mapped
temporary ``.npy`` (:class:`NpyStore`), and the MAT-file is written from that file in bounded
blocks. Every file is written under a temporary name in the output folder and renamed into place
only when all of them are complete (:class:`OutputTransaction`), under a per-base-name lock
(:class:`OutputLock`), so an interrupted or failed run never leaves a truncated file under a
final name and never damages the outputs of an earlier run.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import gc
import hashlib
import json
import math
import mmap
import os
import re
import secrets
import shutil
import signal
import socket
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from . import __version__
from .errors import OutputError, UsageError
from .layers import parse_layers

DEFAULT_BASENAME = "wav2vec2_embeddings"
MAT_VERSIONS = ("auto", "5", "7.3")
JSON_FORMAT = "w2v-embeddings"
JSON_FORMAT_VERSION = 1
# The .json keeps every TIME_AXIS_STEP-th frame time (and the last one): enough to check the
# time axis by eye, small enough to read.
TIME_AXIS_STEP = 1000

# MATLAB refuses variables over 2^31 bytes in MAT v5/v7 files (scipy only stops at 2^32).
V5_MAX_VARIABLE_BYTES = 2**31 - 1
# `auto` writes MAT v5 only for embeddings up to this size. scipy.io.savemat needs the whole
# array in memory and makes one more copy while writing (Fortran-order bytes), so v5 costs up to
# twice this much RAM for a moment; 128 MiB (XLSR-53, one layer: about 11 minutes of audio) keeps
# that below a tenth of what a large model needs anyway. Anything bigger is written as v7.3,
# block by block, which MATLAB's load() and matfile() read just as well.
V5_AUTO_MAX_BYTES = 128 * 2**20
# Size of the blocks copied from the .npy into a v7.3 MAT-file.
BLOCK_BYTES = 16 * 2**20
# While the engine fills the memory map, its written pages are dropped from this process's
# resident set every RELEASE_BYTES (they stay in the page cache and go to disk as usual).
RELEASE_BYTES = 64 * 2**20
# Room kept free on the disk beyond the outputs themselves.
DISK_MARGIN_BYTES = 16 * 2**20
# Longest base name (bytes): file systems allow 255 per name; keep room for the suffixes and the
# temporary-name tail.
MAX_BASENAME_BYTES = 200

SUFFIXES = {"npy": ".npy", "mat": ".mat", "json": ".json", "mat_failed": ".mat.failed"}
_TEMP_TAIL = re.compile(r"\.tmp-[0-9]+-[0-9a-f]+")
# Characters Windows refuses in file names (POSIX refuses only "/" and NUL).
_WINDOWS_FORBIDDEN = set('<>:"/\\|?*')
_WINDOWS_RESERVED = re.compile(r"(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?", re.IGNORECASE)
_DISK_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG)


# --------------------------------------------------------------------------------------------
# Names


def validate_basename(name: object, *, what: str = "base name") -> str:
    """Return ``name`` if it is a safe base name for the output files, else raise UsageError.

    Refused: empty names, path separators (``/`` and ``\\`` everywhere), ``..``, NUL and other
    control characters, names longer than ``MAX_BASENAME_BYTES`` bytes or not representable on
    this file system, and on Windows its reserved characters and device names.
    """
    if not isinstance(name, str) or not name.strip():
        raise UsageError(f"{what} {name!r} is empty; give a file name without folder")
    problem = _basename_problem(name)
    if problem:
        raise UsageError(f"{what} {name!r} {problem}")
    return name


def _basename_problem(name: str) -> Optional[str]:
    if "/" in name or "\\" in name or (os.altsep and os.altsep in name):
        return "contains a path separator; use --output-dir for the folder"
    if ".." in name:
        return "contains '..'"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "contains a control character (NUL, newline, ...)"
    try:
        encoded = os.fsencode(name)
    except UnicodeError:
        return "cannot be represented in this file system's encoding"
    if len(encoded) > MAX_BASENAME_BYTES:
        return f"is longer than {MAX_BASENAME_BYTES} bytes"
    if os.name == "nt":
        if _WINDOWS_FORBIDDEN.intersection(name):
            return 'contains a character Windows refuses in file names (<>:"/\\|?*)'
        if _WINDOWS_RESERVED.fullmatch(name) or name.endswith((" ", ".")):
            return "is a name Windows reserves or refuses"
    return None


def derive_basenames(audio_paths: Sequence[str | os.PathLike], basename: str) -> list[str]:
    """The base name of each input: ``basename`` for one input, ``<file stem>_<basename>`` for
    several. Raises UsageError for an unsafe base name and for two inputs that would write the same
    files (compared case-insensitively, as macOS and Windows file systems do)."""
    validate_basename(basename)
    if len(audio_paths) == 1:
        return [basename]
    names, seen = [], {}
    for audio in audio_paths:
        stem = Path(os.fspath(audio)).stem
        derived = f"{stem}_{basename}"
        problem = _basename_problem(derived) if ".." not in stem else _basename_problem(
            derived.replace("..", "__"))
        if problem:
            raise UsageError(f"{os.fspath(audio)}: derived base name {derived!r} {problem}")
        key = derived.casefold()
        if key in seen:
            raise UsageError(
                f"{os.fspath(audio)} and {seen[key]} would both write {derived}.*; "
                "rename one, or run them separately with different --basename")
        seen[key] = os.fspath(audio)
        names.append(derived)
    return names


@dataclass(frozen=True)
class OutputPaths:
    """Final paths of the outputs with base name ``basename`` in folder ``folder`` (absolute)."""

    folder: Path
    basename: str

    def _path(self, suffix: str) -> Path:
        return self.folder / f"{self.basename}{suffix}"

    @property
    def npy(self) -> Path:
        return self._path(SUFFIXES["npy"])

    @property
    def mat(self) -> Path:
        return self._path(SUFFIXES["mat"])

    @property
    def json(self) -> Path:
        return self._path(SUFFIXES["json"])

    @property
    def mat_failed(self) -> Path:
        return self._path(SUFFIXES["mat_failed"])

    @property
    def lock(self) -> Path:
        return self._path(".lock")

    def temp_for(self, final: Path) -> Path:
        """A fresh temporary name for ``final`` in the same folder: ``.<name>.tmp-<pid>-<hex>``."""
        return final.with_name(f".{final.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")

    def stale_temps(self) -> list[Path]:
        """Temporary files of this base name left by runs that were killed outright."""
        names = "|".join(re.escape(self.basename + s) for s in SUFFIXES.values())
        pattern = re.compile(rf"\.(?:{names}){_TEMP_TAIL.pattern}")
        try:
            entries = os.listdir(self.folder)
        except OSError:
            return []
        return [self.folder / e for e in entries if pattern.fullmatch(e)]


# --------------------------------------------------------------------------------------------
# Output folder, disk space, lock


def _output_error(path: os.PathLike | str, action: str, exc: OSError) -> OutputError:
    reason = exc.strerror or str(exc)
    if exc.errno in _DISK_FULL:
        reason = f"disk full ({reason})"
    return OutputError(f"{os.fspath(path)}: cannot {action}: {reason}")


def prepare_output_dir(folder: str | os.PathLike) -> Path:
    """Create ``folder`` if missing and check that files can be created in it.

    Returns its absolute path. Raises OutputError (one line) when it is a file, cannot be
    created, or is not writable.
    """
    path = Path(os.path.abspath(os.fspath(folder)))
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path}: output folder is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _output_error(path, "create the output folder", exc) from None
    probe = path / f".w2v-probe-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise _output_error(path, "write in the output folder", exc) from None
    return path


# What file systems answer for a name they will not store (FAT/exFAT/SMB refuse ":" or "?",
# some refuse non-UTF-8 names, all limit the length).
_NAME_REFUSED = (errno.EINVAL, errno.ENAMETOOLONG, getattr(errno, "EILSEQ", errno.EINVAL))


def probe_basename(folder: Path, basename: str) -> None:
    """Create and remove a file named like the outputs of ``basename`` in ``folder``; raise
    UsageError when the file system refuses the name (OutputError for other problems)."""
    probe = Path(folder) / f".{basename}.npy.tmp-{os.getpid()}-probe"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        if exc.errno in _NAME_REFUSED:
            raise UsageError(f"base name {basename!r} is refused by the file system of "
                             f"{folder} ({exc.strerror or exc}); choose another --basename"
                             ) from None
        raise _output_error(folder, "write in the output folder", exc) from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)


def check_free_space(folder: Path, needed_bytes: int) -> None:
    """Raise OutputError when ``folder``'s disk has less than ``needed_bytes`` (plus a margin)."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if free < needed_bytes + DISK_MARGIN_BYTES:
        raise OutputError(
            f"{folder}: disk full: the outputs need {_human(needed_bytes)}, "
            f"{_human(free)} free")


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


class OutputLock:
    """An exclusive lock on one base name in one folder, held through a lock file ``B.lock``.

    POSIX: ``flock`` on the lock file, which the kernel releases when the holder dies, so a lock
    file left behind by a killed run is simply taken over. Elsewhere: ``O_CREAT | O_EXCL`` with the
    holder's pid inside; a lock whose pid is no longer running on this host is taken over.
    A second run on the same outputs gets an OutputError naming the lock file.
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
            pid = self.path.read_text().split()[0]
            holder = f" (pid {int(pid)})"
        return OutputError(
            f"{self.path}: these outputs are being written by another run{holder}; wait for it "
            "to finish (delete the lock file only if no such run is active)")

    def acquire(self) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            self._acquire_exclusive_create()
            return
        for _ in range(20):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise _output_error(self.path, "create the lock file", exc) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise self._busy() from None
            except OSError as exc:
                os.close(fd)
                raise _output_error(self.path, "lock", exc) from None
            # The previous holder may have unlinked the file between our open() and flock():
            # then we hold a lock on a dead inode and must start again.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.write(fd, self._owner_text().encode())
                self._fd = fd
                return
            os.close(fd)
        raise OutputError(f"{self.path}: could not take the lock (it keeps changing)")

    def _acquire_exclusive_create(self) -> None:  # pragma: no cover - Windows
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                if self._holder_is_alive():
                    raise self._busy() from None
                with contextlib.suppress(OSError):
                    os.unlink(self.path)
                continue
            except OSError as exc:
                raise _output_error(self.path, "create the lock file", exc) from None
            os.write(fd, self._owner_text().encode())
            self._fd = fd
            return
        raise self._busy()

    def _holder_is_alive(self) -> bool:  # pragma: no cover - Windows
        try:
            pid_text, host = self.path.read_text().split()[:2]
            pid = int(pid_text)
        except (OSError, ValueError):
            return True
        if host != socket.gethostname():
            return True
        return _pid_alive(pid)

    def release(self) -> None:
        if self._fd is None:
            return
        # Unlink while still holding the lock, so that no one can lock the old inode meanwhile.
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        os.close(self._fd)
        self._fd = None


def _pid_alive(pid: int) -> bool:  # pragma: no cover - Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


# --------------------------------------------------------------------------------------------
# The embeddings as a temporary memory-mapped .npy


class NpyStore:
    """The embeddings, float32, in a temporary ``.npy`` memory map that the engine fills.

    :meth:`allocate` is the engine's ``allocate`` callback. The file is preallocated on disk (so a
    full disk is an error at the start, not a crash half-way), and :meth:`release_pages` drops
    written pages from the resident set so that memory use does not grow with the output.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.shape: Optional[tuple[int, ...]] = None
        self.offset = 0
        self._array: Optional[np.memmap] = None
        self._since_release = 0.0
        self._last_seconds = 0.0

    @property
    def nbytes(self) -> int:
        return 4 * math.prod(self.shape) if self.shape is not None else 0

    @property
    def array(self) -> Optional[np.memmap]:
        return self._array

    def allocate(self, shape: Sequence[int]) -> np.ndarray:
        """A writable float32 array of ``shape`` backed by the temporary .npy file."""
        shape = tuple(int(s) for s in shape)
        if self._array is not None:
            raise RuntimeError("NpyStore.allocate called twice")
        if any(s <= 0 for s in shape):
            raise ValueError(f"cannot store an empty embedding array of shape {shape}")
        check_free_space(self.path.parent, 4 * math.prod(shape))
        try:
            array = np.lib.format.open_memmap(self.path, mode="w+", dtype="<f4", shape=shape)
            self.offset = int(array.offset)
            _preallocate(self.path, self.offset + 4 * math.prod(shape))
        except OSError as exc:
            raise _output_error(self.path.with_name(self.path.name.split(".tmp-")[0][1:]),
                                "write the embeddings", exc) from None
        self.shape = shape
        self._array = array
        return array

    def note_progress(self, seconds_done: float, bytes_per_second: float) -> None:
        """Called from the engine's progress callback; releases pages every RELEASE_BYTES."""
        self._since_release += max(0.0, seconds_done - self._last_seconds) * bytes_per_second
        self._last_seconds = seconds_done
        if self._since_release >= RELEASE_BYTES:
            self.release_pages()

    def release_pages(self) -> None:
        """Drop the map's pages from this process's resident set (data stays in the file)."""
        self._since_release = 0.0
        mapping = getattr(self._array, "_mmap", None)
        if mapping is None or not hasattr(mapping, "madvise"):
            return
        with contextlib.suppress(OSError, ValueError):
            # MADV_DONTNEED on a shared file mapping: dirty pages go to the page cache first.
            mapping.madvise(mmap.MADV_DONTNEED)

    def adopt(self, embeddings: np.ndarray) -> None:
        """Store ``embeddings`` when the engine returned an array that is not this map."""
        if self._array is not None and embeddings is self._array:
            return
        if (self._array is not None and embeddings.shape == self.shape
                and np.shares_memory(embeddings, self._array)):
            return
        if self._array is not None and embeddings.shape != self.shape:
            self.close()
        if self._array is None:
            self.allocate(embeddings.shape)
        target = self._array
        rows = max(1, BLOCK_BYTES // max(1, 4 * embeddings.shape[-1]))
        flat_in = embeddings.reshape(-1, embeddings.shape[-1])
        flat_out = target.reshape(-1, target.shape[-1])
        for start in range(0, flat_in.shape[0], rows):
            flat_out[start:start + rows] = flat_in[start:start + rows]

    def finish(self) -> None:
        """Flush the map to the file, unmap it, and fsync the file."""
        if self._array is not None:
            self._array.flush()
        self.close()
        with open(self.path, "rb+") as stream:
            os.fsync(stream.fileno())

    def close(self) -> None:
        """Drop this object's reference to the map (the file stays)."""
        self._array = None
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
        with open(self.path, "rb") as stream:
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


def _preallocate(path: Path, total_bytes: int) -> None:
    """Reserve disk blocks for the whole file, so that a full disk fails here with ENOSPC rather
    than as SIGBUS while the engine writes through the map."""
    if not hasattr(os, "posix_fallocate"):
        return
    fd = os.open(path, os.O_RDWR)
    try:
        os.posix_fallocate(fd, 0, total_bytes)
    except OSError as exc:
        # File systems without fallocate (some network ones): the free-space check must do.
        if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, getattr(errno, "ENOTSUP", 95)):
            raise
    finally:
        os.close(fd)


# --------------------------------------------------------------------------------------------
# What the engine produced, in the form the writers need


@dataclass
class FrameInfo:
    """Everything about the embeddings except the array itself.

    ``layers``: transformers hidden-state indices; ``stacked``: True for the 3-D layout
    ``(num_layers, num_frames, hidden_size)``. Times in seconds, ``time_axis`` ``(num_frames,)``.
    """

    shape: tuple[int, ...]
    time_axis: np.ndarray
    layers: tuple[int, ...]
    sample_rate: int
    frame_stride: float
    receptive_field: float
    frame_center_offset: float
    model_name: str
    stacked: bool = field(init=False)

    def __post_init__(self) -> None:
        self.stacked = len(self.shape) == 3
        self.time_axis = np.asarray(self.time_axis, dtype=np.float64).reshape(-1)
        if self.time_axis.size != self.num_frames:
            raise ValueError(f"time axis has {self.time_axis.size} values for "
                             f"{self.num_frames} frames")

    @property
    def num_frames(self) -> int:
        return self.shape[-2]

    @property
    def hidden_size(self) -> int:
        return self.shape[-1]

    @property
    def matlab_shape(self) -> tuple[int, ...]:
        """MATLAB size of ``embeddings``: ``[frames hidden]`` or ``[frames hidden layers]``."""
        if self.stacked:
            return (self.num_frames, self.hidden_size, self.shape[0])
        return (self.num_frames, self.hidden_size)

    @property
    def nbytes(self) -> int:
        return 4 * math.prod(self.shape)


# --------------------------------------------------------------------------------------------
# MAT-files


def choose_mat_version(requested: str, nbytes: int) -> str:
    """``"5"`` or ``"7.3"`` for embeddings of ``nbytes`` bytes.

    ``auto`` picks v5 up to V5_AUTO_MAX_BYTES (scipy.io.savemat holds the array in memory) and
    v7.3 (written block by block) above; ``"5"`` and ``"7.3"`` force either.
    """
    requested = normalize_mat_version(requested)
    if requested != "auto":
        return requested
    return "5" if nbytes <= V5_AUTO_MAX_BYTES else "7.3"


def normalize_mat_version(value: object) -> str:
    """``auto``, ``5`` or ``7.3`` from a string or number (MATLAB may send 7.3 as a number)."""
    text = str(value).strip().lower() if value is not None else "auto"
    aliases = {"5": "5", "5.0": "5", "v5": "5", "7": "5", "7.0": "5", "v7": "5",
               "7.3": "7.3", "v7.3": "7.3", "auto": "auto"}
    if text not in aliases:
        raise UsageError(f"mat version {value!r} is not one of auto, 5, 7.3")
    return aliases[text]


def _mat_scalars(info: FrameInfo) -> dict[str, Any]:
    return {
        "sample_rate": float(info.sample_rate),
        "frame_stride": float(info.frame_stride),
        "receptive_field": float(info.receptive_field),
        "frame_center_offset": float(info.frame_center_offset),
    }


def write_mat_v5(path: Path, store: NpyStore, info: FrameInfo) -> None:
    """Write ``path`` as a MAT v5 file with scipy.io.savemat (the whole array in memory)."""
    import scipy.io

    if info.nbytes > V5_MAX_VARIABLE_BYTES:
        raise MatFormatError(
            f"embeddings are {_human(info.nbytes)}, over MAT v5's 2 GiB per-variable limit; "
            "use --mat-version 7.3 (or auto)")
    # Build MATLAB's [frames x hidden (x layers)] array in Fortran order, so that savemat's
    # column-major write sees contiguous data.
    embeddings = np.empty(info.matlab_shape, dtype=np.float32, order="F")
    for layer, start, block in store.iter_blocks():
        stop = start + block.shape[0]
        if layer is None:
            embeddings[start:stop, :] = block
        else:
            embeddings[start:stop, :, layer] = block
    variables = {
        "embeddings": embeddings,
        "time_axis": info.time_axis.reshape(-1, 1),
        "model_name": info.model_name,
        "layers": np.asarray(info.layers, dtype=np.float64).reshape(1, -1),
        **{k: np.array([[v]]) for k, v in _mat_scalars(info).items()},
    }
    with open(path, "wb") as stream:
        scipy.io.savemat(stream, variables, format="5", do_compression=False, oned_as="column")
        stream.flush()
        os.fsync(stream.fileno())


def write_mat_v73(path: Path, store: NpyStore, info: FrameInfo) -> None:
    """Write ``path`` as a MATLAB v7.3 MAT-file, the embeddings block by block."""
    from .matfile import Mat73Writer

    with Mat73Writer(path) as mat:
        target = mat.create_single("embeddings", info.matlab_shape)
        for layer, start, block in store.iter_blocks(multiple=target.chunk_frames):
            target.write_frames(layer, start, block)
        mat.write_numeric("time_axis", info.time_axis.reshape(-1, 1))
        mat.write_char("model_name", info.model_name)
        mat.write_numeric("layers", np.asarray(info.layers, dtype=np.float64).reshape(1, -1))
        for name, value in _mat_scalars(info).items():
            mat.write_numeric(name, np.array([[value]]))


class MatFormatError(Exception):
    """The MAT-file cannot be written in the requested format (not a folder or disk problem)."""


def _is_disk_problem(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in (*_DISK_FULL, errno.EACCES, errno.EROFS,
                                                  errno.EIO, errno.EPERM):
        return True
    # HDF5 reports the C library's errno inside its message rather than in .errno.
    text = str(exc)
    return "No space left" in text or "errno = 28" in text or "Disk quota" in text


def write_mat(path: Path, store: NpyStore, info: FrameInfo, requested: str
              ) -> tuple[Optional[str], Optional[str]]:
    """Write the MAT-file at ``path``; returns ``(version written, None)`` or
    ``(None, reason)`` when no MAT-file could be written.

    With ``auto``, a failing v5 write falls back to v7.3. Disk and permission problems are not
    format problems: they raise OutputError, and the whole output set is abandoned.
    """
    requested = normalize_mat_version(requested)
    version = choose_mat_version(requested, info.nbytes)
    order = [version] + (["7.3"] if requested == "auto" and version == "5" else [])
    reasons = []
    for candidate in order:
        try:
            (write_mat_v5 if candidate == "5" else write_mat_v73)(path, store, info)
            return candidate, None
        except (MemoryError, MatFormatError, ValueError, TypeError, RuntimeError, OSError) as exc:
            if _is_disk_problem(exc):
                raise _output_error(path.parent, "write the MAT-file", exc) from None
            reasons.append(f"MAT v{candidate}: {_one_line(exc)}")
            with contextlib.suppress(OSError):
                os.unlink(path)
    return None, "; ".join(reasons)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 500 else text[:497] + "..."


# --------------------------------------------------------------------------------------------
# Fingerprint and skip-if-unchanged


def normalize_layers_spec(layers: object) -> object:
    """A canonical form of a ``layers`` request for the fingerprint: ``"last"``, ``"all"`` or
    a list of ints (as given, before resolution against the model), whatever its spelling."""
    try:
        parsed = parse_layers(layers)
    except UsageError:
        return str(layers)
    return parsed if isinstance(parsed, str) else list(parsed)


def model_identity(model: str, revision: Optional[str]) -> dict[str, Any]:
    """What identifies the checkpoint's weights without loading it.

    A local folder: its absolute path and the size and modification time of each file in it (a
    retrained model in the same folder is a different model). A hub id: the id, the revision
    asked for, and the commit the local cache resolves that revision to, where it is cached.
    """
    path = Path(os.path.expanduser(model))
    if path.is_dir():
        files = []
        for entry in sorted(path.iterdir()):
            if entry.is_file():
                st = entry.stat()
                files.append([entry.name, st.st_size, st.st_mtime_ns])
        return {"local_folder": str(path.resolve()), "files": files}
    return {"hub_id": model, "revision": revision, "cached_commit": _cached_commit(model,
                                                                                  revision)}


def _cached_commit(model: str, revision: Optional[str]) -> Optional[str]:
    try:
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover
        return None
    ref = revision or "main"
    if re.fullmatch(r"[0-9a-f]{40}", ref):
        return ref
    folder = Path(constants.HF_HUB_CACHE) / ("models--" + model.replace("/", "--"))
    try:
        return (folder / "refs" / ref).read_text().strip() or None
    except (OSError, ValueError):
        return None


def fingerprint_inputs(*, audio_sha256: str, model: str, revision: Optional[str],
                       layers: object, chunk_seconds: float, context_seconds: Optional[float],
                       dtype: str, mat_version: str, extra: Optional[Mapping[str, Any]] = None
                       ) -> dict[str, Any]:
    """Everything that changes the numbers or the files: audio content, model identity, every
    numeric parameter, the MAT version asked for, and the backend's version. The device is left
    out on purpose (CPU and GPU agree to rounding, and moving to a GPU should not redo work)."""
    inputs = {
        "audio_sha256": audio_sha256,
        "model": model,
        "revision": revision,
        "model_identity": model_identity(model, revision),
        "layers": normalize_layers_spec(layers),
        "chunk_seconds": float(chunk_seconds),
        "context_seconds": None if context_seconds is None else float(context_seconds),
        "dtype": str(dtype),
        "mat_version": normalize_mat_version(mat_version),
        "w2vbackend": __version__,
        "format_version": JSON_FORMAT_VERSION,
    }
    if extra:
        inputs.update({str(k): v for k, v in extra.items()})
    return inputs


def fingerprint_digest(inputs: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of ``inputs``."""
    text = json.dumps(_jsonable(inputs), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_metadata(path: Path) -> Optional[dict]:
    """The parsed .json, or None when it is missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as stream:
            data = json.load(stream)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_up_to_date(paths: OutputPaths, digest: str) -> bool:
    """True when ``B.json`` records fingerprint ``digest`` and ``B.npy`` and ``B.mat`` exist with
    the sizes it records. A ``B.mat.failed`` instead of a MAT-file is never up to date (a rerun
    may succeed)."""
    meta = read_metadata(paths.json)
    if not meta or meta.get("format") != JSON_FORMAT:
        return False
    if (meta.get("fingerprint") or {}).get("sha256") != digest:
        return False
    sizes = (meta.get("outputs") or {}).get("bytes") or {}
    for key, path in (("npy", paths.npy), ("mat", paths.mat)):
        try:
            if sizes.get(key) is None or path.stat().st_size != sizes[key]:
                return False
        except OSError:
            return False
    return True


# --------------------------------------------------------------------------------------------
# Atomic output set


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
        for stale in self.paths.stale_temps():
            with contextlib.suppress(OSError):
                os.unlink(stale)
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
                        raise _output_error(final[kind], "rename into place", exc) from None
                    del self._temps[kind]
            _fsync_dir(self.paths.folder)
            self.committed = True
        return {kind: (final[kind] if final[kind].exists() else None) for kind in SUFFIXES}


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
    """Write ``text`` (UTF-8) to ``path`` and fsync it. ``path`` is a temporary name."""
    with open(path, "x", encoding="utf-8", newline="\n") as stream:
        stream.write(text)
        stream.flush()
        os.fsync(stream.fileno())


# --------------------------------------------------------------------------------------------
# The .json


def sparse_time_axis(time_axis: np.ndarray, step: int = TIME_AXIS_STEP
                     ) -> tuple[list[int], list[float]]:
    """Frame indices (0-based) ``0, step, 2*step, ...`` plus the last frame, and their times."""
    n = int(time_axis.size)
    if n == 0:
        return [], []
    indices = list(range(0, n, step))
    if indices[-1] != n - 1:
        indices.append(n - 1)
    return indices, [float(time_axis[i]) for i in indices]


def package_versions() -> dict[str, Optional[str]]:
    """Versions of the packages that produce or shape the numbers."""
    import importlib.metadata as md
    import platform

    versions: dict[str, Optional[str]] = {"w2vbackend": __version__,
                                          "python": platform.python_version()}
    for name in ("torch", "transformers", "numpy", "scipy", "h5py", "soundfile", "torchaudio"):
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            versions[name] = None
    return versions


def _jsonable(value: Any) -> Any:
    """Plain JSON types; non-finite floats become None (MATLAB's jsondecode reads null)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return str(value)


def utc_now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds").replace(
        "+00:00", "Z")


def build_metadata(*, info: FrameInfo, paths: OutputPaths, written: Mapping[str, Optional[Path]],
                   sizes: Mapping[str, Optional[int]], mat_version: Optional[str],
                   mat_failed_reason: Optional[str], run: Mapping[str, Any],
                   fingerprint: Mapping[str, Any]) -> dict[str, Any]:
    """The ``B.json`` document. ``run`` holds what the runner knows (model, device, audio, ...);
    see the field list in the README."""
    indices, times = sparse_time_axis(info.time_axis)
    doc: dict[str, Any] = {
        "format": JSON_FORMAT,
        "format_version": JSON_FORMAT_VERSION,
        "written_at": utc_now_iso(),
    }
    doc.update(run)
    doc.update({
        "num_frames": info.num_frames,
        "hidden_size": info.hidden_size,
        "layers": list(info.layers),
        "npy_shape": list(info.shape),
        "npy_layout": ("(num_layers, num_frames, hidden_size)" if info.stacked
                       else "(num_frames, hidden_size)"),
        "mat_layout": ("[frames x hidden x layers]" if info.stacked else "[frames x hidden]"),
        "sample_rate": info.sample_rate,
        "frame_stride": info.frame_stride,
        "receptive_field": info.receptive_field,
        "frame_center_offset": info.frame_center_offset,
        "time_axis_step": TIME_AXIS_STEP,
        "time_axis_frames": indices,
        "time_axis_seconds": times,
        "outputs": {
            "folder": str(paths.folder),
            "basename": paths.basename,
            **{k: (str(v) if v is not None else None) for k, v in written.items()},
            "mat_version": mat_version,
            "mat_failed_reason": mat_failed_reason,
            "bytes": dict(sizes),
        },
        "fingerprint": dict(fingerprint),
    })
    return _jsonable(doc)


# --------------------------------------------------------------------------------------------
# The whole set


@dataclass
class WrittenOutputs:
    """Final paths after a successful commit (None for files not written)."""

    npy: Path
    json: Path
    mat: Optional[Path]
    mat_failed: Optional[Path]
    mat_version: Optional[str]
    mat_failed_reason: Optional[str]


def write_outputs(tx: OutputTransaction, store: NpyStore, info: FrameInfo, *, mat_version: str,
                  run: Mapping[str, Any], fingerprint: Mapping[str, Any]) -> WrittenOutputs:
    """Write the MAT-file and the .json next to the filled ``store`` (the .npy temporary of
    ``tx``), then commit the set. Disk problems raise OutputError and leave nothing behind."""
    paths = tx.paths
    if tuple(store.shape or ()) != tuple(info.shape):
        raise RuntimeError(f"stored shape {store.shape} != {info.shape}")
    store.finish()
    check_free_space(paths.folder, info.nbytes)
    version, reason = write_mat(tx.temp("mat"), store, info, mat_version)
    if version is None:
        tx.discard("mat")
        try:
            write_text_file(tx.temp("mat_failed"),
                            f"No MAT-file could be written for {paths.mat}.\n{reason}\n"
                            f"The embeddings are in {paths.npy} and the metadata in "
                            f"{paths.json}.\n")
        except OSError as exc:
            raise _output_error(paths.mat_failed, "write", exc) from None
    written = {"npy": paths.npy, "json": paths.json,
               "mat": paths.mat if version else None,
               "mat_failed": None if version else paths.mat_failed}
    sizes = {"npy": store.path.stat().st_size,
             "mat": tx.temp("mat").stat().st_size if version else None}
    doc = build_metadata(info=info, paths=paths, written=written, sizes=sizes,
                         mat_version=version, mat_failed_reason=reason, run=run,
                         fingerprint=fingerprint)
    try:
        write_text_file(tx.temp("json"), json.dumps(doc, indent=2, allow_nan=False) + "\n")
    except OSError as exc:
        raise _output_error(paths.json, "write", exc) from None
    tx.commit()
    return WrittenOutputs(npy=paths.npy, json=paths.json, mat=written["mat"],
                          mat_failed=written["mat_failed"], mat_version=version,
                          mat_failed_reason=reason)
