"""The one metadata builder: the ``.json`` document and the MAT-file's small variables, from the
engine's :class:`~w2vbackend.engine.Result`, the request and the outputs written.
"""

from __future__ import annotations

import datetime
import functools
import math
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from . import __version__

if TYPE_CHECKING:  # pragma: no cover
    from .engine import Result

JSON_FORMAT = "w2v-embeddings"
JSON_FORMAT_VERSION = 1


# The .json keeps every TIME_AXIS_STEP-th frame time (and the last one): enough to check the
# time axis by eye, small enough to read.
TIME_AXIS_STEP = 1000


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


@functools.lru_cache(maxsize=1)
def _package_versions() -> tuple[tuple[str, Optional[str]], ...]:
    import importlib.metadata as md
    import platform

    versions: dict[str, Optional[str]] = {"w2vbackend": __version__,
                                          "python": platform.python_version()}
    for name in ("torch", "transformers", "numpy", "scipy", "h5py", "soundfile", "torchaudio"):
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            versions[name] = None
    return tuple(versions.items())


def package_versions() -> dict[str, Optional[str]]:
    """Versions of the packages that produce or shape the numbers (looked up once per process:
    the installed packages do not change under a running process)."""
    return dict(_package_versions())


def jsonable(value: Any) -> Any:
    """Plain JSON types; non-finite floats become None (MATLAB's jsondecode reads null)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
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



def _layouts(result: Result) -> dict[str, Any]:
    stacked = len(result.shape) == 3
    return {
        "npy_shape": list(result.shape),
        "npy_layout": ("(num_layers, num_frames, hidden_size)" if stacked
                       else "(num_frames, hidden_size)"),
        "mat_layout": "[frames x hidden x layers]" if stacked else "[frames x hidden]",
    }


def _geometry(result: Result) -> dict[str, Any]:
    return {
        "sample_rate": result.sample_rate,
        "frame_stride": result.frame_stride,
        "receptive_field": result.receptive_field,
        "frame_center_offset": result.frame_center_offset,
    }


def _audio(result: Result) -> dict[str, Any]:
    audio = result.audio
    return {
        "path": audio.path,
        "sha256": audio.sha256,
        "duration_s": audio.duration,
        "num_samples": audio.num_samples,
        "sample_rate": audio.sample_rate,
        "original_sample_rate": audio.original_sample_rate,
        "original_channels": audio.original_channels,
        "original_num_samples": audio.original_num_samples,
        "reader": audio.reader,
        "warnings": list(audio.warnings),
        "decode": audio.decode,
        "resampler": audio.resampler,
    }


def _computation(result: Result) -> dict[str, Any]:
    facts = result.facts
    norm = facts.normalisation
    return {
        "device": result.model.device,
        "dtype": result.model.dtype,
        "output_dtype": "float32",
        "chunk_seconds": facts.settings.chunk_seconds,
        "context_seconds": facts.settings.context_seconds,
        "chunk_frames": facts.chunk_frames,
        "context_frames": facts.context_frames,
        "positional_context_frames": list(facts.positional_frames),
        "num_windows": facts.num_windows,
        "group_norm": facts.group_norm,
        "stride_samples": result.geometry.stride,
        "receptive_field_samples": result.geometry.receptive_field,
        "normalisation": {"mean": None if norm is None else norm[0],
                          "std": None if norm is None else norm[1],
                          "applied": bool(result.model.do_normalize),
                          "statistics": _statistics_scope(result)},
        "causal": _causal(result),
        "segments": _segments(result),
    }


def _statistics_scope(result: Result) -> str:
    """Over what the input normalisation and group-norm statistics were taken."""
    if result.facts.causal_frames is not None:
        return "window"
    return "segment" if getattr(result, "segments", ()) else "recording"


def _causal(result: Result) -> Optional[dict[str, Any]]:
    facts = result.facts
    if facts.causal_frames is None:
        return None
    context, step = facts.causal_frames
    return {"context_seconds": facts.settings.causal_context_seconds,
            "step_seconds": facts.settings.causal_step_seconds,
            "context_frames": context, "step_frames": step,
            "rule": "frames [a, a+step) come from one pass over frames [a-context, a+step) "
                    "(input samples up to the end of frame a+step-1's receptive field); "
                    "normalisation and group-norm statistics are each window's own"}


def _segments(result: Result) -> Optional[list[dict[str, Any]]]:
    """One entry per segment: where it lies in the recording (seconds as asked, samples at the
    model rate) and in the output (0-based first frame, frame count)."""
    placed = getattr(result, "segments", ())
    if not placed:
        return None
    facts = getattr(result, "segment_facts", ())
    rate = result.sample_rate
    rows = []
    for i, item in enumerate(placed):
        norm = facts[i].normalisation if i < len(facts) else None
        rows.append({
            "index": item.index + 1,
            "onset": item.segment.onset, "offset": item.segment.offset,
            "label": item.segment.label, "condition": item.segment.condition,
            "sample_start": item.sample_start, "sample_stop": item.sample_stop,
            "onset_exact_s": item.sample_start / rate, "offset_exact_s": item.sample_stop / rate,
            "frame_start": item.frame_start, "num_frames": item.num_frames,
            "normalisation_mean": None if norm is None else norm[0],
            "normalisation_std": None if norm is None else norm[1],
        })
    return rows


def engine_fields(result: Result) -> dict[str, Any]:
    """What the engine knows about a result, as plain JSON types (``Result.metadata``)."""
    model = result.model
    return jsonable({
        "model": model.name,
        "model_type": model.model_type,
        "revision": model.revision,
        "commit_hash": model.commit_hash,
        "layers": list(result.layers),
        "num_hidden_layers": model.num_hidden_layers,
        "hidden_size": result.hidden_size,
        "num_frames": result.num_frames,
        **_geometry(result),
        **_computation(result),
        "normalisation_mean": None if result.facts.normalisation is None
        else result.facts.normalisation[0],
        "normalisation_std": None if result.facts.normalisation is None
        else result.facts.normalisation[1],
        "audio": {**_audio(result), "duration": result.audio.duration},
        "wall_time": result.facts.wall_time,
        "fidelity": result.fidelity,
    })


def mat_variables(result: Result) -> dict[str, Any]:
    """The MAT-file's variables other than ``embeddings``: ``time_axis`` ``[frames x 1]`` double
    (s), ``model_name`` (char), ``layers`` ``[1 x L]`` double, and the scalars ``sample_rate``
    (Hz), ``frame_stride``, ``receptive_field``, ``frame_center_offset`` (s), each ``[1 x 1]``.
    With segments also ``segment_frames`` ``[n x 2]`` double (1-based first and last frame of
    each segment in ``embeddings``) and ``segment_times`` ``[n x 2]`` double (onset and offset
    in s, on the model's sample grid)."""
    variables = {
        "time_axis": result.time_axis.reshape(-1, 1),
        "model_name": result.model.name,
        "layers": np.asarray(result.layers, dtype=np.float64).reshape(1, -1),
        **{name: np.array([[float(value)]]) for name, value in _geometry(result).items()},
    }
    placed = getattr(result, "segments", ())
    if placed:
        variables["segment_frames"] = np.array(
            [[p.frame_start + 1, p.frame_start + p.num_frames] for p in placed], dtype=np.float64)
        variables["segment_times"] = np.array(
            [[p.sample_start, p.sample_stop] for p in placed], dtype=np.float64) / \
            result.sample_rate
    return variables


def build_document(result: Result, *, outputs: Mapping[str, Any],
                   fingerprint: Mapping[str, Any], threads: Optional[int] = None,
                   wall_time: Optional[float] = None,
                   timing: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
    """The ``B.json`` document (field list in the README). ``outputs``: folder, basename, the
    final path of each file (None when not written), ``mat_version``, ``mat_failed_reason``,
    ``bytes`` (size of each file at write time), ``sha256`` (of the ``npy`` and ``mat`` files)
    and ``npy_header`` (see :func:`w2vbackend.integrity.output_facts`); ``fingerprint``:
    ``{"sha256", "inputs"}``; ``timing``: seconds per stage (:mod:`w2vbackend.stages`), or None."""
    model = result.model
    indices, times = sparse_time_axis(result.time_axis)
    return jsonable({
        "format": JSON_FORMAT,
        "format_version": JSON_FORMAT_VERSION,
        "written_at": utc_now_iso(),
        "audio": _audio(result),
        "model": {
            "name": model.name,
            "revision": model.revision,
            "commit_hash": model.commit_hash,
            "model_type": model.model_type,
            "num_hidden_layers": model.num_hidden_layers,
            "hidden_size": model.hidden_size,
            "do_normalize": model.do_normalize,
        },
        **_computation(result),
        "threads": threads,
        "package_versions": package_versions(),
        "wall_time_s": wall_time,
        "engine_wall_time_s": result.facts.wall_time,
        "timing": dict(timing) if timing is not None else None,
        "num_frames": result.num_frames,
        "hidden_size": result.hidden_size,
        "layers": list(result.layers),
        **_layouts(result),
        **_geometry(result),
        "time_axis_step": TIME_AXIS_STEP,
        "time_axis_frames": indices,
        "time_axis_seconds": times,
        "fidelity": result.fidelity,
        "outputs": dict(outputs),
        "fingerprint": dict(fingerprint),
    })


def with_resampled(document: Mapping[str, Any], name: str,
                   entry: Mapping[str, Any]) -> dict[str, Any]:
    """``document`` (a ``B.json``) with the resampled set ``name`` (e.g. ``B_128Hz``) recorded
    under ``outputs.resampled[name]``: its files, ``fs``, ``grid_start``, ``n_samples``,
    ``method``, ``edge`` and ``sha256`` (its fingerprint). Earlier sets stay recorded."""
    outputs = dict(document.get("outputs") or {})
    resampled = dict(outputs.get("resampled") or {})
    resampled[name] = dict(entry)
    outputs["resampled"] = resampled
    return jsonable({**document, "outputs": outputs})
