"""Shared pieces of the benchmarks: interleaved timing, test audio, per-frame cosine, machine facts.

Absolute times on a shared machine are noisy; every comparison here is a ratio of medians of
variants measured in the same process, interleaved (A, B, C, C, B, A, ...), so that slow drifts
in the machine's load hit every variant alike.
"""

from __future__ import annotations

import gc
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# A measurement starts when other processes keep fewer than this many cores busy, or after
# waiting QUIET_MAX_WAIT_S for that (then it runs anyway and records the contention).
QUIET_CORES = 0.3
QUIET_MAX_WAIT_S = 30.0


def speech_like(duration_s: float, sample_rate: int, seed: int = 0) -> np.ndarray:
    """``(round(duration_s * sample_rate),)`` float32 speech-like audio in [-1, 1].

    The project's test signal (tests/synth.py): a gliding harmonic voice with syllable-rate
    amplitude modulation and noise bursts, so that frames differ over time.
    """
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        from synth import speech_like as synth
    finally:
        sys.path.remove(str(ROOT / "tests"))
    return synth(duration_s, sample_rate, seed=seed)


def synchronize(device) -> None:
    """Wait for queued GPU work, so that a timer measures the work and not its launch."""
    import torch

    if getattr(device, "type", str(device)).startswith("cuda"):
        torch.cuda.synchronize(device)


def _busy_seconds() -> float | None:
    """CPU seconds all processes have spent busy since boot (/proc/stat; None elsewhere)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    ticks = [int(v) for v in fields]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    """CPU seconds of this process and its waited-for children (user + system)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def others_cores(interval: float = 0.5) -> float | None:
    """Cores kept busy by other processes over the next ``interval`` seconds (this process
    idle meanwhile)."""
    before, own = _busy_seconds(), _own_cpu_seconds()
    time.sleep(interval)
    after = _busy_seconds()
    if before is None or after is None:
        return None
    return max(0.0, (after - before) - (_own_cpu_seconds() - own)) / interval


def wait_for_quiet(max_wait_s: float | None = None) -> float:
    """Wait (at most ``max_wait_s``, default ``QUIET_MAX_WAIT_S``) until other processes use
    less than ``QUIET_CORES`` cores; returns the seconds waited. A shared machine's load comes
    in bursts (test runs): starting each measurement in a quiet moment keeps the bursts out of
    most samples."""
    limit = QUIET_MAX_WAIT_S if max_wait_s is None else max_wait_s
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        busy = others_cores()
        if busy is None or busy < QUIET_CORES:
            break
    return time.perf_counter() - started


@dataclass
class Sample:
    """One timed call: wall and CPU seconds, and how many cores other processes kept busy
    meanwhile (``None`` where /proc/stat is unavailable)."""

    wall_s: float
    cpu_s: float
    others_cores: float | None
    waited_s: float


def measure(fn: Callable[[], Any], device="cpu", quiet: bool = True) -> tuple[Sample, Any]:
    """Time one call of ``fn`` (after a garbage collection and, with ``quiet``, a wait for a
    quiet moment); returns the :class:`Sample` and ``fn``'s result."""
    gc.collect()
    waited = wait_for_quiet() if quiet else 0.0
    synchronize(device)
    busy, own = _busy_seconds(), _own_cpu_seconds()
    started = time.perf_counter()
    result = fn()
    synchronize(device)
    wall = time.perf_counter() - started
    cpu = _own_cpu_seconds() - own
    after = _busy_seconds()
    others = (None if busy is None or after is None
              else max(0.0, (after - busy) - cpu) / wall)
    return Sample(wall, cpu, others, waited), result


def timed(fn: Callable[[], Any], device="cpu") -> tuple[float, Any]:
    """Wall seconds of one call of ``fn`` (see :func:`measure`) and its result."""
    sample, result = measure(fn, device)
    return sample.wall_s, result


def interleaved(variants: dict[str, Callable[[], Any]], repeats: int,
                device="cpu") -> dict[str, list[Sample]]:
    """Samples of every variant, ``repeats`` each, in the order A B C, C B A, A B C...

    Reversing every other round cancels a linear drift of the machine's speed between variants.
    Results of the calls are dropped.
    """
    names = list(variants)
    samples: dict[str, list[Sample]] = {name: [] for name in names}
    for round_index in range(repeats):
        for name in names if round_index % 2 == 0 else reversed(names):
            sample, _ = measure(variants[name], device)
            samples[name].append(sample)
    return samples


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def summary(samples: list[Sample] | list[float]) -> dict[str, Any]:
    """Median, min and max wall seconds of one variant, its median CPU seconds, and every
    sample with the cores other processes used during it."""
    rows = [s if isinstance(s, Sample) else Sample(float(s), math.nan, None, 0.0)
            for s in samples]
    walls = [r.wall_s for r in rows]
    others = [r.others_cores for r in rows if r.others_cores is not None]
    return {"median_s": median(walls), "min_s": float(min(walls)), "max_s": float(max(walls)),
            "cpu_median_s": median([r.cpu_s for r in rows]),
            "others_cores_max": max(others) if others else None,
            "samples": [asdict(r) for r in rows]}


def frame_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(num_frames,)`` float64 cosine similarity of matching rows of two
    ``(num_frames, hidden_size)`` arrays (computed in float64)."""
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    a64 = np.asarray(a, dtype=np.float64)
    b64 = np.asarray(b, dtype=np.float64)
    dots = np.einsum("ij,ij->i", a64, b64)
    norms = np.linalg.norm(a64, axis=1) * np.linalg.norm(b64, axis=1)
    return dots / np.maximum(norms, 1e-30)


def cpu_model() -> str:
    """The CPU's model name as the kernel reports it ("unknown" when it does not)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10,
                             check=False).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return platform.processor() or "unknown"


def load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on: CPU, cores, memory, library versions, threads."""
    import torch
    import transformers
    import w2vbackend

    info: dict[str, Any] = {
        "cpu_model": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "cpu_capability": _cpu_capability(torch),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "numpy": np.__version__,
        "w2vbackend": w2vbackend.__version__,
        "cuda_available": bool(torch.cuda.is_available()),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "memory_gib": _memory_gib(),
        "load_average_at_start": load_average(),
    }
    return info


def _cpu_capability(torch_module) -> str | None:
    try:
        return str(torch_module.backends.cpu.get_cpu_capability())
    except (AttributeError, RuntimeError):
        return None


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None
