"""Compute device and CPU thread settings.

This module must stay importable without importing torch: :func:`sanitize_thread_env` has to run
before torch (and with it MKL/OpenMP) is first imported, because those libraries read their
thread variables once, at load time. Every function that needs torch imports it inside.
"""

from __future__ import annotations

import numbers
import os
import re
from typing import TYPE_CHECKING

from .errors import DeviceError, UsageError

if TYPE_CHECKING:  # pragma: no cover - for annotations only
    import torch

# Thread variables that MATLAB (or a user's shell) can leave with values such as "" or "auto";
# MKL and OpenMP then warn or abort when torch loads them.
THREAD_ENV_VARS = ("MKL_NUM_THREADS", "OMP_NUM_THREADS")
DEVICE_SPECS = "auto, cpu, cuda, cuda:N or mps"
_POSITIVE_INT = re.compile(r"\s*0*[1-9][0-9]*\s*")
_CUDA_SPEC = re.compile(r"cuda(?::([0-9]+))?")


def sanitize_thread_env(environ: dict | None = None) -> tuple[str, ...]:
    """Remove ``MKL_NUM_THREADS`` / ``OMP_NUM_THREADS`` unless they hold a positive integer.

    Call before torch is imported. ``environ`` defaults to ``os.environ``. Returns the names of
    the variables removed (empty when nothing was changed).
    """
    env = os.environ if environ is None else environ
    removed = []
    for name in THREAD_ENV_VARS:
        value = env.get(name)
        if value is not None and not _POSITIVE_INT.fullmatch(value):
            del env[name]
            removed.append(name)
    return tuple(removed)


def _mps_available(torch_module) -> bool:
    backend = getattr(torch_module.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def choose_device(spec: str = "auto") -> torch.device:
    """The torch device for ``spec``: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.

    ``"auto"`` picks Apple MPS when available, else CUDA (device 0), else the CPU. An explicit
    device that is not available raises :class:`DeviceError`; an unknown spec raises
    :class:`UsageError`.
    """
    import torch

    text = str(spec).strip().lower() if spec is not None else "auto"
    if text == "auto":
        if _mps_available(torch):
            return torch.device("mps")
        if torch.cuda.is_available():
            return torch.device("cuda", 0)
        return torch.device("cpu")
    if text == "cpu":
        return torch.device("cpu")
    if text == "mps":
        if not _mps_available(torch):
            raise DeviceError("device 'mps' was requested but Apple MPS is not available here; "
                              "use --device cpu or auto")
        return torch.device("mps")
    match = _CUDA_SPEC.fullmatch(text)
    if match is None:
        raise UsageError(f"unknown device {spec!r}; expected {DEVICE_SPECS}")
    if not torch.cuda.is_available():
        raise DeviceError(f"device {text!r} was requested but CUDA is not available here (no "
                          "NVIDIA GPU, or torch was built without CUDA); use --device cpu or auto")
    index = int(match.group(1) or 0)
    count = torch.cuda.device_count()
    if index >= count:
        raise DeviceError(f"device {text!r} was requested but only {count} CUDA device(s) exist "
                          f"(cuda:0 to cuda:{count - 1})")
    return torch.device("cuda", index)


def set_threads(n: int | None) -> None:
    """Use ``n`` CPU threads for torch's intra-op parallelism (``None`` leaves the default)."""
    if n is None:
        return
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise UsageError(f"threads must be a positive integer, got {n!r}")
    import torch

    torch.set_num_threads(int(n))
