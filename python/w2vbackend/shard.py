"""Split many inputs into shards of about equal audio duration, and pick this task's shard.

Torch-free. A shard is named ``K/N`` (K = 0..N-1) or ``auto``: the SLURM job-array task this
process runs in, read from ``SLURM_ARRAY_TASK_ID``, ``SLURM_ARRAY_TASK_MIN``,
``SLURM_ARRAY_TASK_MAX``, ``SLURM_ARRAY_TASK_STEP`` and ``SLURM_ARRAY_TASK_COUNT``
(``--array=1-8`` gives K = ID - 1 and N = 8).

The split (:func:`split_by_duration`) is deterministic: every task of an array computes it from
the same list and gets the same answer, so each file lands in exactly one shard without the tasks
talking to each other. It is a longest-first greedy assignment (each file, longest first, goes to
the shard with the least audio so far; ties go to the earlier file and the lower shard), which
keeps the largest shard within one file's duration of the mean. Within a shard, files keep their
input order.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Callable, Optional

from .errors import UsageError

# Weight of a file whose duration cannot be read (missing, unreadable, a format soundfile does not
# know): the mean duration of the readable files, or this many seconds when none is readable.
# The file still gets a shard; its failure is reported by the task that owns it.
FALLBACK_SECONDS = 1.0


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (0 <= index < count)."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str, environ: Optional[Mapping[str, str]] = None) -> Shard:
    """``"K/N"`` or ``"auto"`` (the SLURM array task; see the module docstring) as a Shard.

    Raises UsageError for malformed values, K outside 0..N-1, ``auto`` outside a job array, or an
    array whose task ids are not an evenly spaced range.
    """
    text = str(text).strip()
    if text.lower() == "auto":
        return _shard_from_slurm(os.environ if environ is None else environ)
    parts = text.split("/")
    try:
        if len(parts) != 2:
            raise ValueError
        index, count = int(parts[0]), int(parts[1])
    except ValueError:
        raise UsageError(f"--shard must be K/N (K = 0..N-1) or auto, got {text!r}") from None
    if count < 1 or not 0 <= index < count:
        raise UsageError(f"--shard {text}: K must be 0..N-1 and N >= 1")
    return Shard(index, count)


def _shard_from_slurm(environ: Mapping[str, str]) -> Shard:
    def number(name: str, default: Optional[int] = None) -> int:
        value = environ.get(name)
        if value is None or value == "":
            if default is None:
                raise UsageError(f"--shard auto: {name} is not set; run inside a SLURM job "
                                 "array (sbatch --array=...) or give --shard K/N")
            return default
        try:
            return int(value)
        except ValueError:
            raise UsageError(f"--shard auto: {name}={value!r} is not an integer") from None

    task = number("SLURM_ARRAY_TASK_ID")
    count = number("SLURM_ARRAY_TASK_COUNT")
    low = number("SLURM_ARRAY_TASK_MIN", 0)
    step = number("SLURM_ARRAY_TASK_STEP", 1)
    high = number("SLURM_ARRAY_TASK_MAX", low + step * (count - 1))
    if step < 1 or (task - low) % step or (high - low) // step + 1 != count:
        raise UsageError(f"--shard auto: the array's task ids ({low}..{high}, step {step}, "
                         f"{count} tasks) are not an evenly spaced range; use --array=A-B[:S]")
    index = (task - low) // step
    if not 0 <= index < count:
        raise UsageError(f"--shard auto: task {task} is outside the array {low}..{high}")
    return Shard(index, count)


def audio_seconds(path: str) -> Optional[float]:
    """Duration of ``path`` from its header (``soundfile.info``), None when it cannot be read."""
    try:
        import soundfile

        seconds = float(soundfile.info(path).duration)
    except Exception:
        return None
    return seconds if seconds >= 0 and seconds == seconds else None


def file_weights(paths: Sequence[str],
                 seconds: Callable[[str], Optional[float]] = audio_seconds) -> list[float]:
    """Seconds of audio per path; unreadable ones get the fallback (see FALLBACK_SECONDS)."""
    known = [seconds(p) for p in paths]
    readable = [s for s in known if s is not None]
    fallback = sum(readable) / len(readable) if readable else FALLBACK_SECONDS
    return [fallback if s is None else s for s in known]


def split_by_duration(weights: Sequence[float], count: int) -> list[list[int]]:
    """Indices of ``weights`` in ``count`` shards of about equal total weight (module docstring).

    Returns ``count`` lists (some empty when there are fewer items than shards) that together hold
    every index exactly once, each in increasing order.
    """
    if count < 1:
        raise ValueError("count must be >= 1")
    loads = [0.0] * count
    shards: list[list[int]] = [[] for _ in range(count)]
    for i in sorted(range(len(weights)), key=lambda i: (-float(weights[i]), i)):
        target = min(range(count), key=lambda s: (loads[s], len(shards[s]), s))
        shards[target].append(i)
        loads[target] += float(weights[i])
    return [sorted(s) for s in shards]


def split_paths(paths: Sequence[str], count: int,
                seconds: Callable[[str], Optional[float]] = audio_seconds) -> list[list[str]]:
    """``paths`` in ``count`` duration-balanced shards (see :func:`split_by_duration`)."""
    groups = split_by_duration(file_weights(paths, seconds), count)
    return [[paths[i] for i in group] for group in groups]


def select_shard(paths: Sequence[str], shard: Shard,
                 seconds: Callable[[str], Optional[float]] = audio_seconds) -> list[str]:
    """The inputs that belong to ``shard`` (may be empty when there are more shards than files)."""
    return split_paths(paths, shard.count, seconds)[shard.index]
