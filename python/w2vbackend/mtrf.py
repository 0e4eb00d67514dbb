"""Stimulus features as mTRF-Toolbox takes them: ``[time x dims]`` single at ``fs``.

``mTRFtrain(stim, resp, fs, Dir, tmin, tmax, lambda)`` takes one trial as a matrix and several
as cell arrays of trials. The MAT-file holds

* ``stim``: ``[nSamples x nDims]`` single for one recording and one layer; otherwise a cell
  ``{nTrials x nLayers}`` whose column ``l`` (``stim(:, l)``) is the trial list of layer ``l``;
* ``t``: the time grid (s), ``[nSamples x 1]`` double, or ``{nTrials x 1}`` cell of them;
* ``fs`` (Hz), ``names`` ``{1 x nLayers}``, ``layers`` ``[1 x nLayers]``, ``model_name``,
  ``grid_start`` (s), ``resampling`` (the JSON text of the resampling spec).

Trials are in input order.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any, Optional

import numpy as np

from .cnd import trial_features
from .errors import UsageError
from .matstruct import Cell, write_mat


def mtrf_variables(trials: Sequence[Any], times: Sequence[np.ndarray], *, fs: float,
                   names: Sequence[str], layers: Sequence[int], model_name: str = "",
                   grid_start: float = 0.0,
                   spec: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """The MAT variables. ``trials``: per trial ``(n_samples, dims)`` or ``(num_layers,
    n_samples, dims)`` (see :func:`w2vbackend.cnd.trial_features`); ``times``: per trial
    ``(n_samples,)`` seconds."""
    per_trial = [trial_features(trial) for trial in trials]
    if not per_trial or len(times) != len(per_trial):
        raise UsageError(f"{len(per_trial)} trials and {len(times)} time grids")
    n_layers = len(names)
    for t, (features, grid) in enumerate(zip(per_trial, times)):
        if len(features) != n_layers:
            raise UsageError(f"trial {t + 1} has {len(features)} layers, names has {n_layers}")
        if any(f.shape[0] != len(grid) for f in features):
            raise UsageError(f"trial {t + 1}: features and time grid differ in length")
    if len(per_trial) == 1 and n_layers == 1:
        stim: Any = per_trial[0][0]
        grids: Any = np.asarray(times[0], dtype=np.float64).reshape(-1, 1)
    else:
        stim = Cell((len(per_trial), n_layers))
        for t, features in enumerate(per_trial):
            for layer, feature in enumerate(features):
                stim[t, layer] = feature
        grids = Cell((len(per_trial), 1),
                     [np.asarray(g, dtype=np.float64).reshape(-1, 1) for g in times])
    return {
        "stim": stim,
        "t": grids,
        "fs": float(fs),
        "names": Cell((1, n_layers), [str(n) for n in names]),
        "layers": np.asarray(layers, dtype=np.float64).reshape(1, -1),
        "model_name": str(model_name),
        "grid_start": float(grid_start),
        "resampling": json.dumps(spec or {}, sort_keys=True),
    }


def write_mtrf(path: str | os.PathLike, trials: Sequence[Any], times: Sequence[np.ndarray], *,
               mat_version: str = "auto", **fields: Any) -> str:
    """Write the mTRF MAT-file; ``fields`` as in :func:`mtrf_variables`. Returns the version."""
    return write_mat(path, mtrf_variables(trials, times, **fields), mat_version)


__all__ = ["mtrf_variables", "write_mtrf"]
