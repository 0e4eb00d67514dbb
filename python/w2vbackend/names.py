"""Base names and paths of the output files: ``B.npy``, ``B.mat``, ``B.json``, ``B.mat.failed``,
the lock ``B.lock`` and the temporary names they are written under.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .errors import UsageError, printable, shorten

DEFAULT_BASENAME = "wav2vec2_embeddings"


# Longest base name (bytes): file systems allow 255 per name; keep room for the suffixes and the
# temporary-name tail.
MAX_BASENAME_BYTES = 200

SUFFIXES = {"npy": ".npy", "mat": ".mat", "json": ".json", "mat_failed": ".mat.failed"}
_TEMP_TAIL = re.compile(r"\.tmp-[0-9]+-[0-9a-f]+")


def validate_basename(name: object, *, what: str = "base name") -> str:
    """Return ``name`` if it is a safe base name for the output files, else raise UsageError.

    Refused: empty names, path separators (``/`` and ``\\`` everywhere), ``..``, a leading
    ``.`` (hidden outputs), NUL and other control or invisible characters (U+0085, the
    right-to-left override U+202E, ...), and names longer than ``MAX_BASENAME_BYTES`` bytes or not
    representable on this file system.
    """
    if not isinstance(name, str) or not name.strip():
        raise UsageError(f"{what} {shorten(repr(name))} is empty; give a file name without "
                         "folder")
    problem = _basename_problem(name)
    if problem:
        raise UsageError(f"{what} {shorten(repr(name))} {problem}")
    return name


def _basename_problem(name: str) -> Optional[str]:
    if "/" in name or "\\" in name or (os.altsep and os.altsep in name):
        return "contains a path separator; use --output-dir for the folder"
    if ".." in name:
        return "contains '..'"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "contains a control character (NUL, newline, ...)"
    if not name.isprintable():
        # U+0085 (next line), U+202E (right-to-left override: a spoofed display), ...
        return "contains an invisible or control character (e.g. U+0085, U+202E)"
    if name.startswith("."):
        return "starts with '.' (the outputs would be hidden files, e.g. '..npy')"
    try:
        encoded = os.fsencode(name)
    except UnicodeError:
        return "cannot be represented in this file system's encoding"
    if len(encoded) > MAX_BASENAME_BYTES:
        return f"is longer than {MAX_BASENAME_BYTES} bytes"
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
            raise UsageError(f"{printable(os.fspath(audio))}: derived base name "
                             f"{shorten(repr(derived))} {problem}")
        key = derived.casefold()
        if key in seen:
            raise UsageError(
                f"{printable(os.fspath(audio))} and {printable(seen[key])} would both write "
                f"{shorten(derived)}.*; "
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

    def all_paths(self) -> list[Path]:
        """Every file of this set: the outputs, ``B.mat.failed`` and the lock."""
        return [getattr(self, kind) for kind in SUFFIXES] + [self.lock]

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

