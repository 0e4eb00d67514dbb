"""Writing one resampled set ``B_<fs>Hz.npy/.mat/.json`` from a run on disk, and one CND
``dataStim.mat`` over several; what ``python -m w2vbackend.retime`` and ``w2v-extract
--target-rate`` both call.

* ``B_<fs>Hz.npy`` — float32, the run's layout: ``(n_samples, hidden_size)`` or
  ``(num_layers, n_samples, hidden_size)``; sample ``j`` at ``grid_start + j / fs`` seconds.
* ``B_<fs>Hz.mat`` — mTRF-Toolbox layout (:mod:`w2vbackend.mtrf`); left out above
  :data:`MAT_MAX_BYTES` or when not asked for.
* ``B_<fs>Hz.json`` — format ``w2v-resampled-features``: the run it came from, the resampling
  spec (:func:`w2vbackend.retime.resample_features`), the files, their sizes and, when written
  by ``w2v-extract``, the fingerprint that makes a rerun skip it.

The set is written under temporary names and renamed into place together (``.json`` last).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .errors import UsageError
from .names import OutputPaths
from .retime_options import (
    DEFAULT_EDGE,
    DEFAULT_GRID_START,
    DEFAULT_METHOD,
    DEFAULT_PASSBAND_EDGE,
    DEFAULT_STOPBAND_DB,
    rate_label,
)
from .transaction import OutputTransaction, write_text_file

RESAMPLED_FORMAT = "w2v-resampled-features"
RESAMPLED_FORMAT_VERSION = 1
# The .mat holds the features in memory while it is written; above this it is left out.
MAT_MAX_BYTES = 2**31


@dataclass(frozen=True)
class RetimeSettings:
    """Target grid and filter of a resampled set. ``fs``: Hz (``1 / TR`` for fMRI);
    ``n_samples``: None for the samples in ``[grid_start, duration)``."""

    fs: float
    grid_start: float = DEFAULT_GRID_START
    n_samples: Optional[int] = None
    method: str = DEFAULT_METHOD
    edge: str = DEFAULT_EDGE
    stopband_db: float = DEFAULT_STOPBAND_DB
    passband_edge: float = DEFAULT_PASSBAND_EDGE
    mat_version: str = "auto"
    write_mat: bool = True

    def fields(self) -> dict[str, Any]:
        return asdict(self)


def run_base(path: str | os.PathLike) -> Path:
    """``B`` from ``B``, ``B.npy`` or ``B.json``."""
    path = Path(path)
    return path.with_suffix("") if path.suffix in (".npy", ".json") else path


def resampled_paths(base: Path, settings: RetimeSettings, *,
                    output_dir: Optional[str | os.PathLike] = None,
                    suffix: Optional[str] = None) -> OutputPaths:
    """The paths of the set made from run ``base``: ``<folder>/<B><suffix>.*`` (default folder
    the run's, default suffix ``_<fs>Hz``)."""
    folder = Path(output_dir) if output_dir else base.parent
    return OutputPaths(folder.absolute(), base.name + (suffix if suffix is not None
                                                      else rate_label(settings.fs)))


def load_run(base: Path) -> tuple[np.ndarray, dict]:
    """(memory-mapped embeddings, parsed metadata) of the run ``base``."""
    npy, meta_path = base.with_name(base.name + ".npy"), base.with_name(base.name + ".json")
    for path in (npy, meta_path):
        if not path.is_file():
            raise UsageError(f"{path}: not found")
    with open(meta_path, encoding="utf-8") as stream:
        meta = json.load(stream)
    for key in ("frame_stride", "frame_center_offset"):
        if not isinstance(meta.get(key), (int, float)):
            raise UsageError(f"{meta_path}: no {key}")
    return np.load(npy, mmap_mode="r"), meta


def _duration(x: np.ndarray, meta: dict) -> float:
    audio = meta.get("audio") or {}
    if audio.get("num_samples") and audio.get("sample_rate"):
        return audio["num_samples"] / audio["sample_rate"]
    given = audio.get("duration_s") or audio.get("duration")
    if given:
        return float(given)
    # The end of the last frame's receptive field.
    return 2.0 * meta["frame_center_offset"] + (x.shape[-2] - 1) * meta["frame_stride"]


def _model(meta: dict) -> str:
    model = meta.get("model")
    return str(model.get("name") if isinstance(model, dict) else model or "model")


def write_resampled(base: Path, settings: RetimeSettings, paths: OutputPaths, *,
                    fingerprint: Optional[Mapping[str, Any]] = None,
                    warn: Optional[Callable[[str], None]] = None) -> dict[str, Any]:
    """Resample every layer of run ``base`` and write the set ``paths`` (see the module
    docstring); returns :func:`entry_of` the written ``.json``. ``warn`` receives a line when
    the ``.mat`` is left out."""
    from .cnd import feature_names
    from .mtrf import write_mtrf
    from .retime import output_length, resample_features

    x, meta = load_run(base)
    fs, grid_start = settings.fs, settings.grid_start
    duration = _duration(x, meta)
    n_samples = (int(settings.n_samples) if settings.n_samples is not None
                 else output_length(duration, fs, grid_start))
    if n_samples < 1:
        raise UsageError(f"the grid holds no samples (grid start {grid_start} s, duration "
                         f"{duration:.6g} s)")
    shape = (*x.shape[:-2], n_samples, x.shape[-1])
    layers = list(meta.get("layers") or [-1])
    paths.folder.mkdir(parents=True, exist_ok=True)
    with OutputTransaction(paths) as tx:
        out = np.lib.format.open_memmap(tx.temp("npy"), mode="w+", dtype=np.float32,
                                        shape=shape)
        result = resample_features(
            x, fs, frame_rate=1.0 / meta["frame_stride"],
            frame_center_offset=meta["frame_center_offset"], duration=duration,
            grid_start=grid_start, n_samples=n_samples, method=settings.method,
            edge=settings.edge, stopband_db=settings.stopband_db,
            passband_edge=settings.passband_edge, out=out)
        out.flush()
        spec, times = result.spec, result.times
        del out, result, x
        written: dict[str, Any] = {"npy": str(paths.npy), "mat": None, "json": str(paths.json)}
        nbytes = int(np.prod(shape)) * 4
        mat_note = None
        if settings.write_mat and nbytes > MAT_MAX_BYTES:
            mat_note = (f"features are {nbytes / 2**30:.1f} GiB; no .mat written "
                        "(read the .npy, or resample fewer layers)")
            if warn is not None:
                warn(f"{paths.folder / paths.basename}: {mat_note}")
        elif settings.write_mat:
            features = np.load(tx.temp("npy"), mmap_mode="r")
            write_mtrf(tx.temp("mat"), [np.asarray(features)], [times], fs=fs,
                       names=feature_names(_model(meta), layers), layers=layers,
                       model_name=_model(meta), grid_start=grid_start, spec=spec,
                       mat_version=settings.mat_version)
            del features
            written["mat"] = str(paths.mat)
        sizes = {kind: tx.temp(kind).stat().st_size for kind in ("npy", "mat")
                 if written[kind]}
        doc = {"format": RESAMPLED_FORMAT, "format_version": RESAMPLED_FORMAT_VERSION,
               "source": {"base": str(base), "npy": str(base) + ".npy",
                          "json": str(base) + ".json", "model": _model(meta), "layers": layers,
                          "audio": meta.get("audio"), "fingerprint": meta.get("fingerprint")},
               "npy_shape": list(shape),
               "npy_layout": ("(num_layers, n_samples, hidden_size)" if len(shape) == 3
                              else "(n_samples, hidden_size)"),
               "resampling": spec, "mat_note": mat_note,
               "outputs": {**written, "bytes": sizes},
               "fingerprint": dict(fingerprint) if fingerprint is not None else None}
        write_text_file(tx.temp("json"), json.dumps(doc, indent=2, allow_nan=False) + "\n")
        tx.commit()
    return entry_of(doc)


def entry_of(doc: Mapping[str, Any]) -> dict[str, Any]:
    """What callers need of a resampled set's ``.json`` document: ``input`` (the run's base),
    ``npy``/``mat``/``json`` (paths; ``mat`` None when left out), ``fs``, ``n_samples``,
    ``grid_start``, ``model``, ``layers`` and ``spec`` (the resampling spec)."""
    source, spec, outputs = doc["source"], doc["resampling"], doc["outputs"]
    return {"input": source.get("base") or source["npy"][:-4], "status": "written",
            "npy": outputs["npy"], "mat": outputs.get("mat"), "json": outputs["json"],
            "fs": spec["target_rate"], "n_samples": spec["n_samples"],
            "grid_start": spec["grid_start"], "model": source["model"],
            "layers": source["layers"], "spec": spec}


def read_resampled(paths: OutputPaths) -> Optional[dict[str, Any]]:
    """The ``.json`` document of the set ``paths``, or None when it is missing or not one."""
    try:
        with open(paths.json, encoding="utf-8") as stream:
            doc = json.load(stream)
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and doc.get("format") == RESAMPLED_FORMAT else None


def is_resampled_up_to_date(paths: OutputPaths, digest: str) -> bool:
    """True when the set's ``.json`` records fingerprint ``digest`` and its ``.npy`` (and
    ``.mat``, when it records one) have the sizes it records."""
    doc = read_resampled(paths)
    if doc is None or (doc.get("fingerprint") or {}).get("sha256") != digest:
        return False
    outputs = doc.get("outputs") or {}
    sizes = outputs.get("bytes") or {}
    for kind in ("npy", "mat"):
        if kind == "mat" and not outputs.get("mat"):
            continue
        try:
            if sizes.get(kind) is None or getattr(paths, kind).stat().st_size != sizes[kind]:
                return False
        except OSError:
            return False
    return True


def write_cnd(path: str | os.PathLike, entries: Sequence[Mapping[str, Any]], *,
              mat_version: str = "auto") -> str:
    """One CND ``dataStim.mat`` (variable ``stim``) with one trial per entry (of
    :func:`entry_of`), in order; returns the MAT version written."""
    from .cnd import feature_names, write_cnd_stim

    first = entries[0]
    for entry in entries[1:]:
        if entry["layers"] != first["layers"] or entry["fs"] != first["fs"]:
            raise UsageError(f"{entry['input']}: layers or rate differ from "
                             f"{first['input']}; one CND file needs the same for every trial")
    trials = [np.asarray(np.load(e["npy"], mmap_mode="r")) for e in entries]
    return write_cnd_stim(path, trials, names=feature_names(first["model"], first["layers"]),
                          fs=first["fs"], original_fs=first["spec"]["frame_rate"],
                          pipeline={"software": "w2v", "model": first["model"],
                                    "layers": first["layers"],
                                    "inputs": [e["input"] for e in entries],
                                    "resampling": first["spec"]}, mat_version=mat_version)
