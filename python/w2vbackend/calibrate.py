"""Calibration: which chunk and context a model needs, measured on the user's own recording.

How a chunked run departs from one forward pass depends on how far the trained model's attention
reaches, which only its weights can tell. :func:`calibrate` therefore takes one excerpt of a
recording and, for every chunk x context of a small grid, compares the chunked run with one
forward pass over the whole excerpt (the reference), frame by frame.

* **The reference span** is the excerpt: ``reference_seconds`` (default 60 s) from
  ``start_seconds``, clipped to the recording; it should be the longest span whose single pass
  fits in memory (attention memory grows with its square; 60 s of XLS-R-53 in float32 needs
  about 1 GB beyond the model). The excerpt stands for the recording: the reference and every
  setting use the excerpt's own input normalisation and first-layer GroupNorm statistics, so
  only the cuts differ.
* **Per setting**: worst and median per-frame cosine (the minimum over the requested layers of
  each frame), and where the worst frame lies relative to its nearest cut. A chunk as long as
  the excerpt has no cut there and is not measured.
* **Cost** relative to the default setting (``DEFAULT_CHUNK_SECONDS``,
  ``DEFAULT_CONTEXT_SECONDS``) is the model's floating-point operations per output frame of a
  long recording, computed from its configuration (:func:`relative_cost`: feature encoder and
  positional convolution over chunk + context + positional reach, the transformer layers up to
  the deepest requested one over chunk + context, attention quadratic in that length). It does
  not depend on the machine; the measured wall time on the excerpt is reported beside it.
* **The recommendation** is the cheapest measured setting whose worst cosine reaches ``target``
  (default 0.999); ties go to the higher worst cosine.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from .audio import Audio
from .defaults import DEFAULT_CHUNK_SECONDS, DEFAULT_CONTEXT_SECONDS
from .errors import UsageError
from .fidelity import frame_cosines
from .forward import positional_reach
from .layers import resolve_layers
from .model import LoadedModel
from .windows import frames_for_seconds

DEFAULT_CHUNKS = (10.0, 20.0, 40.0)
DEFAULT_CONTEXTS = (0.0, 0.5, 1.0, 2.0)
DEFAULT_REFERENCE_SECONDS = 60.0
DEFAULT_TARGET = 0.999


@dataclass
class SettingFigures:
    """One chunk x context setting. ``cosines``: ``(frames,)`` per-frame cosine to the reference
    (minimum over the requested layers); ``offsets``: ``(frames,)`` signed frames from each
    frame to its nearest cut; both ``None`` when the excerpt holds no cut of this chunk."""

    chunk_seconds: float
    context_seconds: float
    cuts: int
    worst_cosine: Optional[float]
    median_cosine: Optional[float]
    worst_frame_from_cut_s: Optional[float]
    relative_cost: float
    wall_time_s: float
    meets_target: bool
    cosines: Optional[np.ndarray] = field(default=None, repr=False)
    offsets: Optional[np.ndarray] = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"chunk_seconds": self.chunk_seconds, "context_seconds": self.context_seconds,
                "cuts": self.cuts, "worst_cosine": self.worst_cosine,
                "median_cosine": self.median_cosine,
                "worst_frame_from_cut_s": self.worst_frame_from_cut_s,
                "relative_cost": self.relative_cost, "wall_time_s": self.wall_time_s,
                "meets_target": self.meets_target}


@dataclass
class Calibration:
    """What :func:`calibrate` measured (written out by :mod:`w2vbackend.calibration_report`)."""

    model: dict[str, Any]
    audio: dict[str, Any]
    layers: tuple[int, ...]
    reference_start_s: float
    reference_seconds: float
    reference_wall_time_s: float
    target: float
    frame_stride_s: float
    positional_context: bool
    settings: list[SettingFigures]
    recommended: Optional[SettingFigures]


def transformer_flops(config, frames: int, layers: int) -> float:
    """Multiply-adds x 2 of ``layers`` transformer layers over a ``frames``-frame sequence:
    projections and feed-forward linear in ``frames``, attention scores and mixing quadratic."""
    h, inner = int(config.hidden_size), int(config.intermediate_size)
    per_frame = 2 * (4 * h * h + 2 * h * inner)
    return layers * (per_frame * frames + 4 * h * frames * frames)


def encoder_flops_per_frame(config) -> float:
    """Feature encoder (convolutions), feature projection and positional convolution, per frame."""
    dims = [1, *(int(d) for d in config.conv_dim)]
    kernels = [int(k) for k in config.conv_kernel]
    strides = [int(s) for s in config.conv_stride]
    flops = 0.0
    for i, kernel in enumerate(kernels):
        outputs_per_frame = math.prod(strides[i + 1:])
        flops += 2 * kernel * dims[i] * dims[i + 1] * outputs_per_frame
    h = int(config.hidden_size)
    groups = int(getattr(config, "num_conv_pos_embedding_groups", 16))
    kernel = int(getattr(config, "num_conv_pos_embeddings", 128))
    return flops + 2 * dims[-1] * h + 2 * kernel * h * h / groups


def window_cost(loaded: LoadedModel, chunk_seconds: float, context_seconds: float,
                layers: Sequence[int]) -> float:
    """Estimated FLOPs per output frame of an interior window of a long recording."""
    geometry, config = loaded.geometry, loaded.model.config
    chunk = max(1, frames_for_seconds(chunk_seconds, geometry, round_up=False))
    context = frames_for_seconds(context_seconds, geometry, round_up=True)
    left, right = positional_reach(loaded.model)
    deepest = min(max(layers), loaded.num_hidden_layers)
    frames = chunk + 2 * context
    total = (encoder_flops_per_frame(config) * (frames + left + right)
             + transformer_flops(config, frames, max(deepest, 1)))
    return total / chunk


def relative_cost(loaded: LoadedModel, chunk_seconds: float, context_seconds: float,
                  layers: Sequence[int]) -> float:
    """:func:`window_cost` relative to the default chunk and context."""
    return (window_cost(loaded, chunk_seconds, context_seconds, layers)
            / window_cost(loaded, DEFAULT_CHUNK_SECONDS, DEFAULT_CONTEXT_SECONDS, layers))


def nearest_cut_offsets(num_frames: int, chunk_frames: int) -> np.ndarray:
    """``(num_frames,)`` signed frames from each frame to the nearest cut (cuts at multiples of
    ``chunk_frames`` inside the recording; needs at least one)."""
    cuts = np.arange(chunk_frames, num_frames, chunk_frames)
    frames = np.arange(num_frames)
    nearest = cuts[np.clip(np.searchsorted(cuts, frames), 0, len(cuts) - 1)]
    before = cuts[np.clip(np.searchsorted(cuts, frames) - 1, 0, len(cuts) - 1)]
    return np.where(np.abs(frames - before) <= np.abs(frames - nearest), frames - before,
                    frames - nearest)


def recommend(figures: Sequence[SettingFigures], target: float) -> Optional[SettingFigures]:
    """The cheapest measured setting whose worst cosine reaches ``target`` (ties: the higher
    worst cosine); None when none does."""
    meeting = [f for f in figures if f.worst_cosine is not None and f.worst_cosine >= target]
    if not meeting:
        return None
    return min(meeting, key=lambda f: (round(f.relative_cost, 6), -f.worst_cosine))


def _excerpt(recording: Audio, start_seconds: float, seconds: float) -> Audio:
    rate = int(recording.sample_rate)
    first = round(start_seconds * rate)
    total = int(np.asarray(recording.waveform).shape[0])
    if not 0 <= first < total:
        raise UsageError(f"start_seconds {start_seconds:g} lies outside the recording "
                         f"({total / rate:.3f} s)")
    last = min(total, first + round(seconds * rate))
    return Audio(waveform=np.asarray(recording.waveform[first:last], dtype=np.float32),
                 sample_rate=rate, original_sample_rate=recording.original_sample_rate,
                 original_channels=recording.original_channels,
                 original_num_samples=recording.original_num_samples, path=recording.path,
                 reader=recording.reader, warnings=recording.warnings)


def _checked_grid(values: Sequence[float], name: str) -> tuple[float, ...]:
    from .request import check_option

    option = "chunk_seconds" if name == "chunks" else "context_seconds"
    grid = tuple(sorted({float(check_option(option, v)) for v in values}))
    if not grid:
        raise UsageError(f"{name} must list at least one value")
    return grid


def calibrate(recording: Audio, loaded: LoadedModel, *, layers: Any = "last",
              chunks: Sequence[float] = DEFAULT_CHUNKS,
              contexts: Sequence[float] = DEFAULT_CONTEXTS,
              reference_seconds: float = DEFAULT_REFERENCE_SECONDS, start_seconds: float = 0.0,
              target: float = DEFAULT_TARGET, positional_context: bool = True,
              progress=None) -> Calibration:
    """Measure every chunk x context against one pass over the excerpt (module docstring).

    ``recording``: at the model's rate. ``layers``: as for ``extract``. ``chunks``,
    ``contexts``: seconds (checked like ``chunk_seconds``/``context_seconds``).
    ``reference_seconds``: length of the excerpt (s); ``start_seconds``: where it starts.
    ``target``: worst cosine a recommended setting must reach. ``positional_context``: as for
    ``extract`` (``False``: plain windows, for comparison). ``progress(text)``: called with one
    line per setting measured.
    """
    from .engine import run_engine
    from .request import check_option, engine_settings

    chunk_grid, context_grid = _checked_grid(chunks, "chunks"), _checked_grid(contexts,
                                                                              "contexts")
    if not 0.0 < float(target) <= 1.0:
        raise UsageError(f"target must lie in (0, 1], got {target!r}")
    if not float(reference_seconds) > 0:
        raise UsageError(f"reference_seconds must be positive, got {reference_seconds!r}")
    spec = check_option("layers", layers)
    indices = resolve_layers(spec, loaded.num_hidden_layers)
    excerpt = _excerpt(recording, float(start_seconds), float(reference_seconds))
    started = time.perf_counter()
    reference = run_engine(excerpt, loaded, engine_settings(layers=spec, chunk_seconds=None))
    reference_time = time.perf_counter() - started
    ref = reference.embeddings.reshape(len(indices), reference.num_frames, -1)
    stride_s = loaded.geometry.frame_stride_s

    figures = []
    for chunk in chunk_grid:
        for context in context_grid:
            settings = engine_settings(layers=spec, chunk_seconds=chunk, context_seconds=context,
                                       positional_context=positional_context)
            started = time.perf_counter()
            result = run_engine(excerpt, loaded, settings)
            wall = time.perf_counter() - started
            cost = relative_cost(loaded, chunk, context, indices)
            chunk_frames = result.facts.chunk_frames
            if result.facts.num_windows < 2:
                figures.append(SettingFigures(chunk, context, 0, None, None, None, cost, wall,
                                              False))
                continue
            got = result.embeddings.reshape(len(indices), result.num_frames, -1)
            cos = np.min([frame_cosines(got[i], ref[i]) for i in range(len(indices))], axis=0)
            offsets = nearest_cut_offsets(result.num_frames, chunk_frames)
            worst = int(np.argmin(cos))
            figures.append(SettingFigures(
                chunk, context, result.facts.num_windows - 1, float(cos[worst]),
                float(np.median(cos)), float(offsets[worst] * stride_s), cost, wall,
                bool(cos[worst] >= target), cos, offsets))
            if progress is not None:
                progress(f"chunk {chunk:g} s, context {context:g} s: worst cosine "
                         f"{cos[worst]:.7f}")
    recommended = recommend(figures, float(target))
    return Calibration(
        model={**vars(loaded.info())}, audio={**vars(recording.info()),
                                              "duration_s": recording.duration},
        layers=indices, reference_start_s=float(start_seconds),
        reference_seconds=excerpt.duration, reference_wall_time_s=reference_time,
        target=float(target), frame_stride_s=stride_s,
        positional_context=positional_context, settings=figures,
        recommended=recommended)


__all__ = [
    "DEFAULT_CHUNKS",
    "DEFAULT_CONTEXTS",
    "DEFAULT_REFERENCE_SECONDS",
    "DEFAULT_TARGET",
    "Calibration",
    "SettingFigures",
    "calibrate",
    "nearest_cut_offsets",
    "recommend",
    "relative_cost",
]
