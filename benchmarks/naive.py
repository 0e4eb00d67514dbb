"""The naive method the pipeline is compared with, and what it costs in frames and time.

Naive: cut the recording into independent chunks of ``chunk_seconds`` (20 s), normalise and run
each chunk on its own, concatenate ``last_hidden_state`` and label frame ``i`` with
``i * 0.02`` s. A 20 s chunk of 320,000 samples yields 999 frames, not 1,000 (the last frame
would need 80 samples beyond the chunk), so each cut loses a frame and the labels slip.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# transformers' zero_mean_unit_var_norm, applied by the feature extractor to each chunk.
NORMALISATION_EPS = 1e-7


def chunk_bounds(num_samples: int, chunk_samples: int, receptive_field: int
                 ) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` sample ranges of the naive chunks; a tail shorter than one
    receptive field gives no frame (a plain forward pass would fail on it) and is dropped."""
    bounds = []
    for start in range(0, num_samples, chunk_samples):
        stop = min(num_samples, start + chunk_samples)
        if stop - start >= receptive_field:
            bounds.append((start, stop))
    return bounds


def chunk_inputs(waveform: np.ndarray, bounds: list[tuple[int, int]], normalise: bool
                 ) -> list[np.ndarray]:
    """The model input of every naive chunk: ``(stop - start,)`` float32, each normalised over
    itself (as the feature extractor does when called per chunk) when ``normalise``."""
    pieces = []
    for start, stop in bounds:
        piece = waveform[start:stop].astype(np.float64)
        if normalise:
            piece = (piece - piece.mean()) / np.sqrt(piece.var() + NORMALISATION_EPS)
        pieces.append(piece.astype(np.float32))
    return pieces


def run_chunks(model, inputs: list, device, dtype) -> np.ndarray:
    """``(sum of chunk frames, hidden_size)`` float32: each input through the bare model, in
    order, ``last_hidden_state`` concatenated. ``inputs``: numpy arrays or prepared tensors."""
    import torch

    outputs = []
    with torch.inference_mode():
        for item in inputs:
            x = item if isinstance(item, torch.Tensor) else prepare(item, device, dtype)
            outputs.append(model(x).last_hidden_state[0].float().cpu().numpy())
    return np.concatenate(outputs, axis=0)


def prepare(piece: np.ndarray, device, dtype):
    """``(1, n)`` tensor of one model input on ``device`` in ``dtype``."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(piece))[None].to(device=device, dtype=dtype)


def frame_deficit(duration_s: float, chunk_seconds: float, geometry) -> dict[str, Any]:
    """Frames and time-label slip of the naive method for a recording of ``duration_s``.

    ``geometry``: the model's ``FrameGeometry``. The slip is how much later the naive method's
    last frame really starts than its label ``(n - 1) * frame_stride`` says (seconds).
    """
    rate = geometry.sample_rate
    num_samples = round(duration_s * rate)
    chunk_samples = round(chunk_seconds * rate)
    bounds = chunk_bounds(num_samples, chunk_samples, geometry.receptive_field)
    per_chunk = [geometry.num_frames(stop - start) for start, stop in bounds]
    naive_frames = int(sum(per_chunk))
    exact_frames = geometry.num_frames(num_samples)
    last_start, _ = bounds[-1]
    true_onset = (last_start + (per_chunk[-1] - 1) * geometry.stride) / rate
    labelled = (naive_frames - 1) * geometry.frame_stride_s
    return {
        "duration_s": float(duration_s),
        "chunk_seconds": float(chunk_seconds),
        "num_chunks": len(bounds),
        "frames_per_full_chunk": geometry.num_frames(chunk_samples),
        "naive_frames": naive_frames,
        "exact_frames": int(exact_frames),
        "frame_deficit": int(exact_frames - naive_frames),
        "last_frame_label_s": float(labelled),
        "last_frame_true_onset_s": float(true_onset),
        "time_slip_at_end_s": float(true_onset - labelled),
    }


def aligned_rows(bounds: list[tuple[int, int]], geometry) -> np.ndarray:
    """``(naive_frames,)`` int64: the whole-recording frame index of every naive frame (chunk
    starts are multiples of the stride for 20 s chunks, so each naive frame *is* a real frame,
    only labelled with the wrong time)."""
    rows = []
    for start, stop in bounds:
        if start % geometry.stride:
            raise ValueError("chunk start is not a multiple of the frame stride")
        first = start // geometry.stride
        rows.append(np.arange(first, first + geometry.num_frames(stop - start)))
    return np.concatenate(rows)
