"""Stimulus features as CNSP's Continuous-event Neural Data (CND) ``dataStim.mat``.

The file holds one variable ``stim``, a struct with

* ``names``: ``{1 x nFeat}`` cell of char, one feature per layer (``"<model> layer <i>"``);
* ``data``: ``{nFeat x nTrials}`` cell, each ``[nSamples x nDims]`` single at ``fs``;
* ``fs``: the features' sampling rate (Hz); ``originalFs``: the model's frame rate (Hz);
* ``stimIdxs``: ``[nTrials x 1]`` double, the stimulus (recording) of each trial, 1-based;
* ``condIdxs``: ``[nTrials x 1]`` double, 1-based into ``condNames`` (``{1 x nCond}`` cell);
* ``processingPipeline``: a struct describing how the features were made (``software``,
  ``model``, ``layers``, ``resampling`` as the JSON text of the resampling spec).

One trial per input recording, in input order. Written as MAT v5 (scipy) while ``stim`` fits in
2 GiB, else as v7.3 (HDF5 in MATLAB's layout); ``mat_version`` forces one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any, Optional

import numpy as np

from .errors import UsageError
from .matstruct import Cell, write_mat


def feature_names(model: str, layers: Sequence[int]) -> list[str]:
    """``"<model> layer <i>"`` for each layer (the model's last path component)."""
    short = str(model).rstrip("/").replace("\\", "/").split("/")[-1] or str(model)
    return [f"{short} layer {int(layer)}" for layer in layers]


def trial_features(trial: Any) -> list[np.ndarray]:
    """The features of one trial as a list of ``(n_samples, dims)`` float32 arrays: from a
    ``(num_layers, n_samples, dims)`` array, a ``(n_samples, dims)`` array (one feature) or a
    sequence of 2-D arrays."""
    if isinstance(trial, np.ndarray):
        if trial.ndim == 3:
            return [np.asarray(layer, dtype=np.float32) for layer in trial]
        if trial.ndim == 2:
            return [np.asarray(trial, dtype=np.float32)]
        raise UsageError(f"a trial must be (samples, dims) or (layers, samples, dims), "
                         f"got shape {trial.shape}")
    return [np.asarray(item, dtype=np.float32) for item in trial]


def cnd_stim(trials: Sequence[Any], *, names: Sequence[str], fs: float,
             original_fs: Optional[float] = None, stim_idxs: Optional[Sequence[int]] = None,
             cond_idxs: Optional[Sequence[int]] = None,
             cond_names: Optional[Sequence[str]] = None,
             pipeline: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """The ``stim`` struct (a dict of MATLAB values, see :mod:`w2vbackend.matstruct`).

    ``trials``: one entry per trial (see :func:`trial_features`), each with ``len(names)``
    features of the same number of samples. ``stim_idxs`` defaults to ``1..nTrials``,
    ``cond_idxs`` to all 1 with ``cond_names = ["speech"]``.
    """
    per_trial = [trial_features(trial) for trial in trials]
    n_trials, n_feat = len(per_trial), len(names)
    if n_trials == 0:
        raise UsageError("no trials to write")
    data = Cell((n_feat, n_trials))
    for t, features in enumerate(per_trial):
        if len(features) != n_feat:
            raise UsageError(f"trial {t + 1} has {len(features)} features, names has {n_feat}")
        lengths = {f.shape[0] for f in features}
        if len(lengths) != 1 or any(f.ndim != 2 for f in features):
            raise UsageError(f"trial {t + 1}: every feature must be [nSamples x nDims] with "
                             "one number of samples")
        for f, feature in enumerate(features):
            data[f, t] = feature
    stim_idxs = list(range(1, n_trials + 1)) if stim_idxs is None else list(stim_idxs)
    cond_names = ["speech"] if cond_names is None else list(cond_names)
    cond_idxs = [1] * n_trials if cond_idxs is None else list(cond_idxs)
    for label, values in (("stim_idxs", stim_idxs), ("cond_idxs", cond_idxs)):
        if len(values) != n_trials:
            raise UsageError(f"{label} has {len(values)} entries for {n_trials} trials")
    if max(cond_idxs) > len(cond_names) or min(cond_idxs) < 1:
        raise UsageError("cond_idxs must be 1-based indices into cond_names")
    pipeline = dict(pipeline or {})
    return {
        "names": Cell((1, n_feat), [str(n) for n in names]),
        "data": data,
        "fs": float(fs),
        "originalFs": float(original_fs) if original_fs is not None else np.zeros((0, 0)),
        "stimIdxs": np.asarray(stim_idxs, dtype=np.float64).reshape(-1, 1),
        "condIdxs": np.asarray(cond_idxs, dtype=np.float64).reshape(-1, 1),
        "condNames": Cell((1, len(cond_names)), [str(c) for c in cond_names]),
        "processingPipeline": {str(k): _pipeline_value(v) for k, v in pipeline.items()},
    }


def _pipeline_value(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True)
    return np.asarray(value, dtype=np.float64)


def write_cnd_stim(path: str | os.PathLike, trials: Sequence[Any], *, names: Sequence[str],
                   fs: float, mat_version: str = "auto", **fields: Any) -> str:
    """Write ``dataStim.mat`` (variable ``stim``) to ``path``; ``fields`` as in
    :func:`cnd_stim`. Returns the MAT version written (``"5"`` or ``"7.3"``)."""
    stim = cnd_stim(trials, names=names, fs=fs, **fields)
    return write_mat(path, {"stim": stim}, mat_version)


__all__ = ["cnd_stim", "feature_names", "trial_features", "write_cnd_stim"]
