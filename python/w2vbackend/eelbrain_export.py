"""Features as Eelbrain predictors: ``NDVar`` objects with a ``UTS`` time axis, pickled.

Each layer becomes one ``NDVar`` of dimensions ``(UTS(tmin, tstep, n_samples),
Scalar("feature", 0..dims-1))``, named after the model and layer, and is saved with
``eelbrain.save.pickle`` as ``<stem>~<name>.pickle`` (Eelbrain's predictor-file convention);
load it with ``eelbrain.load.unpickle``. ``tmin`` is the time of the first sample (the
resampling's ``grid_start``), ``tstep`` is ``1 / fs``.

Eelbrain is an optional dependency (``pip install eelbrain``); it is imported only here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import UsageError


def _eelbrain():
    try:
        import eelbrain
    except ImportError as exc:
        raise UsageError("Eelbrain output needs eelbrain: pip install eelbrain") from exc
    return eelbrain


def predictor_name(model: str, layer: int) -> str:
    """``"<model>-layer<i>"`` with the model's last path component, safe as a file name."""
    short = str(model).rstrip("/").replace("\\", "/").split("/")[-1] or str(model)
    return re.sub(r"[^A-Za-z0-9._-]+", "_", f"{short}-layer{int(layer)}")


def to_ndvar(features: np.ndarray, *, tmin: float, tstep: float, name: str,
             info: dict[str, Any] | None = None) -> Any:
    """An ``eelbrain.NDVar`` from ``features`` ``(n_samples, dims)`` (or ``(n_samples,)``),
    sampled at ``tmin + j * tstep`` seconds; ``info`` goes into ``NDVar.info``."""
    eelbrain = _eelbrain()
    x = np.asarray(features, dtype=np.float32)
    if x.ndim not in (1, 2):
        raise UsageError(f"features must be (samples,) or (samples, dims), got {x.shape}")
    time = eelbrain.UTS(float(tmin), float(tstep), x.shape[0])
    dims = (time,) if x.ndim == 1 else (time, eelbrain.Scalar("feature", np.arange(x.shape[1])))
    return eelbrain.NDVar(x, dims, name=name, info=dict(info or {}))


def save_predictors(folder: str | os.PathLike, stem: str, features: np.ndarray, *,
                    tmin: float, tstep: float, model: str, layers: Sequence[int],
                    info: dict[str, Any] | None = None) -> list[Path]:
    """Pickle one NDVar per layer as ``folder/<stem>~<model>-layer<i>.pickle``.

    ``features``: ``(n_samples, dims)`` for one layer or ``(num_layers, n_samples, dims)``.
    Returns the paths written (each written under a temporary name and renamed)."""
    eelbrain = _eelbrain()
    x = features if features.ndim == 3 else features[None]
    if x.shape[0] != len(layers):
        raise UsageError(f"{x.shape[0]} layers of features, {len(layers)} layer numbers")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for layer, values in zip(layers, x):
        name = predictor_name(model, layer)
        ndvar = to_ndvar(values, tmin=tmin, tstep=tstep, name=name,
                         info={**(info or {}), "model": model, "layer": int(layer)})
        path = folder / f"{stem}~{name}.pickle"
        temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        eelbrain.save.pickle(ndvar, temp)
        os.replace(temp, path)
        paths.append(path)
    return paths


__all__ = ["predictor_name", "save_predictors", "to_ndvar"]
