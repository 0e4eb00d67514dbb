"""The verify check: a chunked run compared, around one of its cuts, with one pass over a span.

Chunking is exact up to the transformer input (see :mod:`w2vbackend.engine`); what remains is how
far the model's attention reaches beyond a window's chunk plus context, and that depends on the
weights. This check measures it for the user's own model and recording.

* **The cut**: the chunk boundary nearest the middle of the recording.
* **The reference**: one forward pass over the frames from one chunk before the cut to one chunk
  after it (clipped to the recording), given the whole recording's input normalisation and
  first-layer GroupNorm statistics, exactly as the chunked run (and one pass over the whole
  recording) uses them. The reference is itself a window; its numbers are transformers' own
  forward pass over those samples. It stands for one pass over the whole recording, so it uses
  the whole recording's GroupNorm statistics also when the run used each window's
  (``group_norm="window"``): the check then measures what that choice costs.
* **The compared frames**: those within half a chunk of the cut (the frames for which it is the
  nearest cut), so that the reference's own edges stay at least half a chunk away from them.
* **Per requested layer**: worst and median cosine over the compared frames, the largest relative
  difference ``||chunked - reference|| / ||reference||`` of a frame, and the worst frame's
  position relative to the cut (frames; negative: before it).

Cost: one extra forward pass over two chunks of audio (40 s at the defaults; attention over that
span is quadratic, so about 2.2x the cost of one 20 s window), plus, for group-norm encoders,
one pass of the first convolution over the whole recording (about 1 % more than the chunked
run for a one-hour recording). Memory: the requested layers' hidden states over two chunks, and
a copy of the chunked run's over one. The check passes when the worst cosine of every layer is
at least :data:`VERIFY_THRESHOLD`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any, Optional

import numpy as np
import torch

from .audio import Audio
from .forward import hidden_states
from .layers import resolve_layers
from .model import LoadedModel
from .normalisation import (
    first_group_norm,
    fixed_group_norm,
    group_norm_statistics,
    recording_normalisation,
    window_tensor,
)
from .sink import ArraySink, Sink
from .windows import frames_for_seconds

# Worst per-frame cosine below which the check warns. Random-weight models reach 0.9997 at the
# defaults (README, "Choosing chunk and context"); a trained model's attention is more local.
VERIFY_THRESHOLD = 0.999
STATUS_CHECKED = "checked"
STATUS_NO_CUT = "no cut"


def frame_cosines(chunked: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``(frames,)`` float64 cosine of each row of two ``(frames, hidden)`` arrays (1 where both
    rows are zero)."""
    a = np.asarray(chunked, dtype=np.float64)
    b = np.asarray(reference, dtype=np.float64)
    dots = np.einsum("ij,ij->i", a, b)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    both_zero = norms == 0
    return np.where(both_zero, 1.0, dots / np.where(both_zero, 1.0, norms))


def relative_differences(chunked: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``(frames,)`` float64 ``||chunked - reference|| / ||reference||`` per frame."""
    a = np.asarray(chunked, dtype=np.float64)
    b = np.asarray(reference, dtype=np.float64)
    return np.linalg.norm(a - b, axis=1) / np.maximum(np.linalg.norm(b, axis=1), 1e-30)


def choose_span(num_frames: int, chunk_frames: Optional[int]) -> Optional[dict[str, int]]:
    """The cut, the reference frames and the compared frames for a recording of ``num_frames``
    frames cut every ``chunk_frames``; None when there is no cut (one window)."""
    if chunk_frames is None or chunk_frames >= num_frames:
        return None
    cuts = range(chunk_frames, num_frames, chunk_frames)
    cut = min(cuts, key=lambda c: (abs(2 * c - num_frames), c))
    half = max(1, chunk_frames // 2)
    return {"cut": cut,
            "reference_start": max(0, cut - chunk_frames),
            "reference_stop": min(num_frames, cut + chunk_frames),
            "compared_start": max(0, cut - half),
            "compared_stop": min(num_frames, cut + half)}


class _TapSink:
    """Passes every block on to ``inner`` and keeps a copy of frames ``[start, stop)``."""

    def __init__(self, inner: Sink, start: int, stop: int, layers: int, hidden: int):
        self.inner, self.start, self.stop = inner, start, stop
        self.kept = np.zeros((layers, stop - start, hidden), dtype=np.float32)

    def begin(self, shape: tuple[int, ...]) -> None:
        self.inner.begin(shape)

    def write(self, position: int, start: int, block: np.ndarray) -> None:
        self.inner.write(position, start, block)
        lo, hi = max(start, self.start), min(start + block.shape[0], self.stop)
        if lo < hi:
            self.kept[position, lo - self.start:hi - self.start] = block[lo - start:hi - start]

    def result(self) -> Optional[np.ndarray]:
        return self.inner.result()


def reference_states(recording: Audio, loaded: LoadedModel, layers: tuple[int, ...],
                     frame_start: int, frame_stop: int) -> np.ndarray:
    """``(len(layers), frame_stop - frame_start, hidden)`` float32: one forward pass over the
    samples of frames ``[frame_start, frame_stop)`` with the whole recording's normalisation and
    first-layer GroupNorm statistics (the samples after the last frame are included when the
    span reaches the recording's end, as a pass over the whole recording sees them)."""
    geometry = loaded.geometry
    waveform = np.asarray(recording.waveform, dtype=np.float32)
    num_samples = int(waveform.shape[0])
    total = geometry.num_frames(num_samples)
    sample_start = frame_start * geometry.stride
    sample_stop = (num_samples if frame_stop == total
                   else (frame_stop - 1) * geometry.stride + geometry.receptive_field)
    norm = recording_normalisation(waveform) if loaded.do_normalize else None
    patch: contextlib.AbstractContextManager = contextlib.nullcontext()
    if first_group_norm(loaded.model) is not None:
        patch = fixed_group_norm(loaded.model, *group_norm_statistics(loaded, waveform, norm))
    with patch, torch.inference_mode():
        x = window_tensor(waveform, sample_start, sample_stop, norm, loaded.device,
                          loaded.dtype)
        states = hidden_states(loaded.model, x, layers)
    out = np.stack([s.float().cpu().numpy() for s in states])
    if out.shape[1] != frame_stop - frame_start:
        raise RuntimeError(f"the reference pass gave {out.shape[1]} frames, expected "
                           f"{frame_stop - frame_start}")
    return out


def compare(chunked: np.ndarray, reference: np.ndarray, layers: tuple[int, ...],
            first_frame: int, cut: int) -> list[dict[str, Any]]:
    """Per layer figures for ``(layers, frames, hidden)`` arrays whose frame 0 is global frame
    ``first_frame``."""
    figures = []
    for position, layer in enumerate(layers):
        cos = frame_cosines(chunked[position], reference[position])
        worst = int(np.argmin(cos))
        figures.append({
            "layer": int(layer),
            "worst_cosine": float(cos[worst]),
            "median_cosine": float(np.median(cos)),
            "max_relative_difference": float(
                np.max(relative_differences(chunked[position], reference[position]))),
            "worst_frame": first_frame + worst,
            "worst_frame_from_cut": first_frame + worst - cut,
        })
    return figures


def no_cut_fidelity(threshold: float = VERIFY_THRESHOLD) -> dict[str, Any]:
    """The ``fidelity`` block of a run with one window: nothing to compare."""
    return {"status": STATUS_NO_CUT, "passed": True, "threshold": threshold,
            "worst_cosine": 1.0, "layers": [],
            "note": "one window covers the recording: the chunked run is one forward pass"}


def run_verified(recording: Audio, loaded: LoadedModel, settings, *,
                 sink: Optional[Sink] = None, progress: Optional[Callable[[float], Any]] = None,
                 sha256: Optional[str] = None, threshold: float = VERIFY_THRESHOLD):
    """:func:`w2vbackend.engine.run_engine`, then the verify check of the module docstring;
    returns the :class:`~w2vbackend.engine.Result` with its ``fidelity`` block set."""
    from .engine import run_engine

    geometry = loaded.geometry
    num_frames = geometry.num_frames(int(np.asarray(recording.waveform).shape[0]))
    layers = resolve_layers(settings.layers, loaded.num_hidden_layers)
    chunk_frames = (None if settings.chunk_seconds is None
                    else max(1, frames_for_seconds(settings.chunk_seconds, geometry,
                                                   round_up=False)))
    span = choose_span(num_frames, chunk_frames)
    inner = sink if sink is not None else ArraySink()
    tap = None if span is None else _TapSink(inner, span["compared_start"],
                                             span["compared_stop"], len(layers),
                                             loaded.hidden_size)
    result = run_engine(recording, loaded, settings, sink=tap or inner, progress=progress,
                        sha256=sha256)
    if result.facts.chunk_frames != chunk_frames:
        raise RuntimeError("the verify check planned other chunks than the engine")
    if span is None or tap is None:
        result.fidelity = no_cut_fidelity(threshold)
        return result
    started = time.perf_counter()
    reference = reference_states(recording, loaded, layers, span["reference_start"],
                                 span["reference_stop"])
    lo = span["compared_start"] - span["reference_start"]
    hi = span["compared_stop"] - span["reference_start"]
    figures = compare(tap.kept, reference[:, lo:hi], layers, span["compared_start"],
                      span["cut"])
    worst = min(f["worst_cosine"] for f in figures)
    seconds = geometry.frame_stride_s
    result.fidelity = {
        "status": STATUS_CHECKED,
        "passed": worst >= threshold,
        "threshold": threshold,
        "worst_cosine": worst,
        "cut_frame": span["cut"],
        "cut_seconds": span["cut"] * seconds,
        "reference_frames": [span["reference_start"], span["reference_stop"]],
        "reference_seconds": [span["reference_start"] * seconds,
                              span["reference_stop"] * seconds],
        "compared_frames": [span["compared_start"], span["compared_stop"]],
        "reference_wall_time_s": time.perf_counter() - started,
        "layers": figures,
    }
    return result


def fidelity_line(fidelity: dict[str, Any]) -> str:
    """One line for the user: the worst layer's figures, or that there was nothing to check."""
    if fidelity["status"] != STATUS_CHECKED:
        return "verify: one window covers the recording, nothing to compare (exact)"
    worst = min(fidelity["layers"], key=lambda f: f["worst_cosine"])
    verdict = "ok" if fidelity["passed"] else f"BELOW the threshold {fidelity['threshold']:g}"
    return (f"verify: cut at {fidelity['cut_seconds']:.2f} s, worst cosine "
            f"{worst['worst_cosine']:.7f} (1 - cosine {1 - worst['worst_cosine']:.1e}; layer "
            f"{worst['layer']}, "
            f"{worst['worst_frame_from_cut']:+d} frames from the cut), median "
            f"{worst['median_cosine']:.6f}, largest relative difference "
            f"{worst['max_relative_difference']:.2e}: {verdict}")


__all__ = ["VERIFY_THRESHOLD", "choose_span", "compare", "fidelity_line", "frame_cosines",
           "no_cut_fidelity", "reference_states", "relative_differences", "run_verified"]
