"""Features on the neural data's clock: frames resampled, band-limited, onto any time grid.

Frame ``k`` of a run summarises the audio ``[k*stride, k*stride + receptive_field)``; its value
is placed at the **centre** of that span, ``t_k = frame_center_offset + k / frame_rate``
(12.5 ms after the frame's onset for wav2vec2-family models). Output sample ``j`` is the
band-limited value of the feature signal at ``s_j = grid_start + j / target_rate``::

    y_j = sum_k x_k * w(s_j - t_k)

with a continuous kernel ``w`` evaluated at the exact time differences, so non-integer rate
ratios (50 -> 128 Hz is 64/25), the centre offset and any ``grid_start`` are exact; there is no
rounding of times to a finer grid. Methods:

* ``"kaiser"`` (default): a Kaiser-windowed sinc low-pass at the lower of the two Nyquist
  frequencies (anti-aliasing going down, band-limited interpolation going up). Passband flat up
  to ``passband_edge`` (90 %) of the lower Nyquist frequency, ``stopband_db`` (80 dB) of
  attenuation from the lower Nyquist frequency on; beta and length from Kaiser's formulas
  (``scipy.signal.kaiser_beta``, the length formula of ``scipy.signal.kaiserord``). For an
  integer ratio this is ``scipy.signal.resample_poly`` with the same filter, shifted.
* ``"lanczos"``: the Lanczos kernel used for fMRI TRs (``sinc(f t) sinc(f t / a)``, ``a = 3``
  lobes, ``f`` the lower of the two rates), each output normalised by its kernel's sum, so a
  constant feature keeps its value (unnormalised, the output would scale by ``frame_rate / f``).

Output length: the samples with ``grid_start <= s_j < duration``, ``ceil((duration -
grid_start) * target_rate)`` of them, unless ``n_samples`` is given. Edges: the kernel reaches
``half_width_s`` beyond the first and last frame centres; there the recording is extended with
its first/last frame (``edge="edge"``, the default) or with zeros (``edge="zeros"``). The spec
records the mode and how many output samples lie outside the frames' centres.

The work is done layer by layer and in blocks of frames (with the kernel's overlap), each block
one BLAS matrix product, so memory is bounded by the block size, not by the recording's length;
the input may be a memory map and ``out`` may be one too.
"""

from __future__ import annotations

import contextlib
import math
import mmap
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, NamedTuple, Optional

import numpy as np
from scipy import signal, special

from .errors import UsageError
from .retime_options import DEFAULT_PASSBAND_EDGE, DEFAULT_STOPBAND_DB, EDGE_MODES, METHODS

DEFAULT_LANCZOS_LOBES = 3
# Frames in one block of the matrix product, relative to the kernel's support: the product
# costs (block + support) per output where (support) is needed, so 1x-2x keeps the waste small.
BLOCK_PER_SUPPORT = 1.0
MIN_BLOCK_FRAMES = 64
# Upper bound of one input block (frames x dims x 4 bytes, plus its overlap).
MAX_BLOCK_BYTES = 128 << 20
# Longest output period (in samples) of a rational rate ratio whose weights are computed once.
MAX_PERIOD = 4096
# Pages of memory-mapped inputs and outputs are dropped from the resident set after this much
# reading and writing, so a run over a map of any size keeps a flat resident set.
RELEASE_BYTES = 64 << 20


class Resampled(NamedTuple):
    """``features``: float32, ``(n_samples, dims)`` or ``(num_layers, n_samples, dims)`` (the
    input's layout); ``times``: ``(n_samples,)`` float64 seconds, ``grid_start + j /
    target_rate``; ``spec``: JSON-serialisable description (method, filter, grid, edges)."""

    features: np.ndarray
    times: np.ndarray
    spec: dict


@dataclass(frozen=True)
class Kernel:
    """A continuous resampling kernel. ``half_width_s``: support is ``|t| <= half_width_s``."""

    method: str
    cutoff_hz: float  # -6 dB point of the sinc (kaiser) / sinc argument rate f (lanczos)
    half_width_s: float
    beta: float = 0.0
    lobes: int = 0
    passband_edge_hz: float = 0.0
    stopband_edge_hz: float = 0.0
    stopband_db: float = 0.0

    def weights(self, tau: np.ndarray, frame_rate: float) -> np.ndarray:
        """Weights of frames at time differences ``tau`` (s, output minus frame time), float64;
        for ``kaiser`` the sum of frames times weights approximates the filtered signal."""
        inside = np.abs(tau) <= self.half_width_s
        if self.method == "kaiser":
            ratio = np.clip(tau / self.half_width_s, -1.0, 1.0)
            window = special.i0(self.beta * np.sqrt(1.0 - ratio * ratio)) / special.i0(self.beta)
            values = (2.0 * self.cutoff_hz / frame_rate) * np.sinc(2.0 * self.cutoff_hz * tau)
            return np.where(inside, values * window, 0.0)
        x = self.cutoff_hz * tau
        return np.where(inside, np.sinc(x) * np.sinc(x / self.lobes), 0.0)

    def spec(self) -> dict[str, Any]:
        if self.method == "kaiser":
            return {"type": "Kaiser-windowed sinc low-pass", "cutoff_hz": self.cutoff_hz,
                    "passband_edge_hz": self.passband_edge_hz,
                    "stopband_edge_hz": self.stopband_edge_hz,
                    "stopband_attenuation_db": self.stopband_db, "kaiser_beta": self.beta,
                    "half_width_s": self.half_width_s}
        return {"type": "Lanczos, normalised to unit sum per output sample",
                "sinc_rate_hz": self.cutoff_hz, "lobes": self.lobes,
                "nominal_cutoff_hz": self.cutoff_hz / 2.0, "half_width_s": self.half_width_s}


def design_kernel(frame_rate: float, target_rate: float, *, method: str = "kaiser",
                  stopband_db: float = DEFAULT_STOPBAND_DB,
                  passband_edge: float = DEFAULT_PASSBAND_EDGE,
                  lanczos_lobes: int = DEFAULT_LANCZOS_LOBES) -> Kernel:
    """The kernel for ``frame_rate -> target_rate`` (Hz). ``passband_edge``: fraction of the
    lower Nyquist frequency that is kept flat; the stopband starts at the lower Nyquist."""
    if method not in METHODS:
        raise UsageError(f"method {method!r} is not one of {', '.join(METHODS)}")
    lower = min(frame_rate, target_rate)
    if method == "lanczos":
        if int(lanczos_lobes) < 1:
            raise UsageError(f"lanczos lobes must be >= 1, got {lanczos_lobes}")
        lobes = int(lanczos_lobes)
        return Kernel("lanczos", cutoff_hz=lower, half_width_s=lobes / lower, lobes=lobes)
    if not 0.0 < passband_edge < 1.0:
        raise UsageError(f"passband edge must be in (0, 1), got {passband_edge}")
    if stopband_db < 21.0:
        raise UsageError(f"stopband attenuation must be >= 21 dB, got {stopband_db}")
    nyquist = lower / 2.0
    transition_hz = (1.0 - passband_edge) * nyquist
    # Kaiser's length formula (as in scipy.signal.kaiserord) for a continuous kernel:
    # length = (A - 7.95) / (2.285 * 2 pi * transition) seconds.
    length_s = (stopband_db - 7.95) / (2.285 * 2.0 * math.pi * transition_hz)
    return Kernel("kaiser", cutoff_hz=(1.0 + passband_edge) / 2.0 * nyquist,
                  half_width_s=length_s / 2.0, beta=float(signal.kaiser_beta(stopband_db)),
                  passband_edge_hz=passband_edge * nyquist, stopband_edge_hz=nyquist,
                  stopband_db=float(stopband_db))


def output_length(duration: float, target_rate: float, grid_start: float = 0.0) -> int:
    """Samples ``j >= 0`` with ``grid_start + j / target_rate < duration``."""
    span = (duration - grid_start) * target_rate
    # A product that should be an integer (3600 s * 128 Hz) must not gain a sample by rounding.
    count = math.ceil(span - 1e-9 * max(1.0, abs(span)))
    return max(0, count)


def resample_features(source: Any, target_rate: Optional[float] = None, *,
                      tr: Optional[float] = None, frame_rate: Optional[float] = None,
                      frame_center_offset: Optional[float] = None,
                      duration: Optional[float] = None, grid_start: float = 0.0,
                      n_samples: Optional[int] = None, method: str = "kaiser",
                      edge: str = "edge", stopband_db: float = DEFAULT_STOPBAND_DB,
                      passband_edge: float = DEFAULT_PASSBAND_EDGE,
                      lanczos_lobes: int = DEFAULT_LANCZOS_LOBES,
                      out: Optional[np.ndarray] = None) -> Resampled:
    """Resample features to ``target_rate`` Hz (or one sample per ``tr`` seconds).

    ``source``: a float array ``(num_frames, dims)``, ``(num_layers, num_frames, dims)`` or
    ``(num_frames,)`` (a ``np.memmap`` is read block by block), with ``frame_rate`` (Hz) and
    ``frame_center_offset`` (s, centre of frame 0); or a ``Result``-like object with
    ``embeddings``, ``frame_stride``, ``frame_center_offset`` (and ``metadata["audio"]``), from
    which those are taken. ``duration`` (s): the recording's length, which sets the output
    length (default: from the result's metadata, else the end of the last frame's receptive
    field, ``frame_center_offset`` after its centre). ``grid_start`` (s): time of output
    sample 0 in the recording (negative for a baseline before stimulus onset). ``n_samples``
    overrides the output length. ``out``: an array of the output shape (e.g. a memory map) to
    fill. Returns ``Resampled``.
    """
    x, frame_rate, frame_center_offset, duration = _inputs(
        source, frame_rate, frame_center_offset, duration)
    target_rate = _target_rate(target_rate, tr)
    if edge not in EDGE_MODES:
        raise UsageError(f"edge {edge!r} is not one of {', '.join(EDGE_MODES)}")
    num_frames = x.shape[-2] if x.ndim > 1 else x.shape[0]
    if num_frames < 1:
        raise UsageError("no frames to resample")
    if n_samples is None:
        n_samples = output_length(duration, target_rate, grid_start)
    if int(n_samples) < 1:
        raise UsageError(f"the grid holds no samples (duration {duration:.6g} s, grid start "
                         f"{grid_start:.6g} s, {target_rate:.6g} Hz)")
    n_samples = int(n_samples)
    kernel = design_kernel(frame_rate, target_rate, method=method, stopband_db=stopband_db,
                           passband_edge=passband_edge, lanczos_lobes=lanczos_lobes)
    plan = _Plan(kernel, frame_rate, frame_center_offset, target_rate, float(grid_start),
                 num_frames, n_samples, edge)
    # Views, never copies (a reshape of a memory map could read it whole).
    layers = x[None] if x.ndim == 2 else (x[None, :, None] if x.ndim == 1 else x)
    shape = (*x.shape[:-2], n_samples, x.shape[-1]) if x.ndim > 1 else (n_samples,)
    if out is None:
        out = np.empty(shape, dtype=np.float32)
    elif tuple(out.shape) != shape:
        raise UsageError(f"out has shape {tuple(out.shape)}, expected {shape}")
    targets = out[None] if out.ndim == 2 else (out[None, :, None] if out.ndim == 1 else out)
    for layer in range(layers.shape[0]):
        plan.run(layers[layer], targets[layer])
    times = grid_start + np.arange(n_samples, dtype=np.float64) / target_rate
    return Resampled(out, times, plan.spec(duration))


def _target_rate(target_rate: Optional[float], tr: Optional[float]) -> float:
    if (target_rate is None) == (tr is None):
        raise UsageError("give exactly one of target_rate (Hz) and tr (s)")
    rate = 1.0 / float(tr) if tr is not None else float(target_rate)
    if not (math.isfinite(rate) and rate > 0):
        raise UsageError(f"target rate must be a positive number of Hz, got {rate}")
    return rate


def _inputs(source, frame_rate, offset, duration):
    if hasattr(source, "embeddings"):
        x = source.embeddings
        frame_rate = frame_rate or 1.0 / float(source.frame_stride)
        offset = float(source.frame_center_offset) if offset is None else offset
        if duration is None:
            audio = (getattr(source, "metadata", None) or {}).get("audio") or {}
            if audio.get("num_samples") and audio.get("sample_rate"):
                duration = audio["num_samples"] / audio["sample_rate"]
            else:
                duration = audio.get("duration") or audio.get("duration_s")
    else:
        x = source
    if not isinstance(x, np.ndarray):
        x = np.asarray(x, dtype=np.float32)
    if x.ndim not in (1, 2, 3):
        raise UsageError(f"features must be (frames,), (frames, dims) or (layers, frames, dims),"
                         f" got shape {x.shape}")
    if frame_rate is None or offset is None:
        raise UsageError("give frame_rate (Hz) and frame_center_offset (s) with a plain array")
    frame_rate, offset = float(frame_rate), float(offset)
    if not (math.isfinite(frame_rate) and frame_rate > 0):
        raise UsageError(f"frame rate must be a positive number of Hz, got {frame_rate}")
    if duration is None:
        frames = x.shape[-2] if x.ndim > 1 else x.shape[0]
        # The end of the last frame's receptive field: its centre plus the centre offset.
        duration = 2.0 * offset + (frames - 1) / frame_rate
    return x, frame_rate, offset, float(duration)


class _Plan:
    """Blocks of output samples, the frames each needs, and their weight matrices."""

    def __init__(self, kernel: Kernel, frame_rate: float, offset: float, target_rate: float,
                 grid_start: float, num_frames: int, n_samples: int, edge: str):
        self.kernel, self.frame_rate, self.offset = kernel, frame_rate, offset
        self.target_rate, self.grid_start, self.edge = target_rate, grid_start, edge
        self.num_frames, self.n_samples = num_frames, n_samples
        ratio = Fraction(target_rate / frame_rate).limit_denominator(MAX_PERIOD)
        exact = abs(float(ratio) * frame_rate - target_rate) <= 1e-12 * target_rate
        self.ratio = ratio if exact and ratio.numerator <= MAX_PERIOD else None
        self.support_frames = math.ceil(2 * kernel.half_width_s * frame_rate) + 2
        self._cached: Optional[np.ndarray] = None

    def _block_frames(self, dims: int) -> int:
        frames = max(MIN_BLOCK_FRAMES, int(BLOCK_PER_SUPPORT * self.support_frames))
        frames = min(frames, max(1, MAX_BLOCK_BYTES // (4 * dims) - self.support_frames))
        if self.ratio is not None:
            down = self.ratio.denominator
            frames = max(1, round(frames / down)) * down
        return frames

    def _times_weights(self, j0: int, nj: int, k0: int, nk: int) -> np.ndarray:
        if self.ratio is not None:
            up, down = self.ratio.numerator, self.ratio.denominator
            # Integer numerators keep every block's time differences bit-identical.
            steps = (np.arange(j0, j0 + nj)[:, None] * down
                     - np.arange(k0, k0 + nk)[None, :] * up)
            tau = (self.grid_start - self.offset) + steps / (self.frame_rate * up)
        else:
            tau = ((self.grid_start + np.arange(j0, j0 + nj)[:, None] / self.target_rate)
                   - (self.offset + np.arange(k0, k0 + nk)[None, :] / self.frame_rate))
        w = self.kernel.weights(tau, self.frame_rate)
        if self.kernel.method == "lanczos":
            w /= w.sum(axis=1, keepdims=True)
        return w.astype(np.float32)

    def _first_frame(self, j0: int) -> int:
        start = self.grid_start + j0 / self.target_rate - self.kernel.half_width_s
        return math.floor((start - self.offset) * self.frame_rate) - 1

    def _weights(self, b: int, j0: int, nj: int, block: int) -> tuple[int, np.ndarray]:
        """(first virtual frame, weights ``(nj, block_frames + support)``) of block ``b``."""
        nk = block + self.support_frames + 2
        if self.ratio is None:
            k0 = self._first_frame(j0)
            return k0, self._times_weights(j0, nj, k0, nk)
        k0 = self._first_frame(0) + b * block
        if self._cached is None:
            self._cached = self._times_weights(0, self._rows(block), self._first_frame(0), nk)
        return k0, self._cached[:nj]

    def _rows(self, block: int) -> int:
        if self.ratio is None:
            return max(1, round(block * self.target_rate / self.frame_rate))
        return block // self.ratio.denominator * self.ratio.numerator

    def run(self, x: np.ndarray, y: np.ndarray) -> None:
        """Fill ``y`` ``(n_samples, dims)`` from ``x`` ``(num_frames, dims)``."""
        dims = x.shape[-1]
        block = self._block_frames(dims)
        rows = self._rows(block)
        read = 0
        for b, j0 in enumerate(range(0, self.n_samples, rows)):
            nj = min(rows, self.n_samples - j0)
            k0, w = self._weights(b, j0, nj, block)
            lo, hi = max(k0, 0), min(k0 + w.shape[1], self.num_frames)
            if lo >= hi:  # every frame this block needs lies beyond the recording
                nearest = np.asarray(x[0 if hi <= 0 else self.num_frames - 1], np.float32)
                scale = w.sum(axis=1, keepdims=True) if self.edge == "edge" else 0.0 * w[:, :1]
                y[j0:j0 + nj] = scale * nearest[None, :]
                continue
            xb = np.asarray(x[lo:hi], dtype=np.float32)
            y[j0:j0 + nj] = self._fold(w, k0, lo, hi) @ xb
            read += xb.nbytes + 4 * nj * dims
            if read >= RELEASE_BYTES:
                read = 0
                _release(x)
                _release(y)
        _release(x)
        _release(y)

    def _fold(self, w: np.ndarray, k0: int, lo: int, hi: int) -> np.ndarray:
        """Weights of the real frames ``[lo, hi)``; virtual frames beyond the recording are
        its first/last frame (edge) or zero."""
        first, last = lo - k0, hi - k0
        core = w[:, first:last]
        if first == 0 and last == w.shape[1]:
            return core
        core = core.copy()
        if self.edge == "edge":
            core[:, 0] += w[:, :first].sum(axis=1)
            core[:, -1] += w[:, last:].sum(axis=1)
        return core

    def spec(self, duration: float) -> dict[str, Any]:
        first_centre = self.offset
        last_centre = self.offset + (self.num_frames - 1) / self.frame_rate
        reach = self.kernel.half_width_s
        return {
            "method": self.kernel.method,
            "target_rate": self.target_rate,
            "n_samples": self.n_samples,
            "grid_start": self.grid_start,
            "grid": "t_j = grid_start + j / target_rate, j = 0 .. n_samples-1 (s)",
            "duration": duration,
            "length_convention": "samples with grid_start <= t_j < duration",
            "frame_rate": self.frame_rate,
            "frame_center_offset": self.offset,
            "frame_times": "frame k at frame_center_offset + k / frame_rate (its centre)",
            "num_frames": self.num_frames,
            "direction": ("down" if self.target_rate < self.frame_rate else
                          "up" if self.target_rate > self.frame_rate else "same"),
            "ratio": None if self.ratio is None else
            f"{self.ratio.numerator}/{self.ratio.denominator}",
            "filter": self.kernel.spec(),
            "support_frames": self.support_frames,
            "edge": self.edge,
            "edge_rule": ("frames beyond the recording repeat its first/last frame"
                          if self.edge == "edge" else "frames beyond the recording are zero"),
            "samples_before_first_frame_centre": self._before(first_centre),
            "samples_after_last_frame_centre": self.n_samples - self._before(last_centre, True),
            "samples_within_kernel_reach_of_edges": [
                self._before(first_centre + reach),
                self.n_samples - self._before(last_centre - reach, True)],
            "implementation": "w2vbackend.retime: kernel weights at exact time differences, "
                              "numpy matmul per block; scipy.signal.kaiser_beta, scipy.special.i0",
        }


    def _before(self, t: float, inclusive: bool = False) -> int:
        """Output samples with time < t (<= t when ``inclusive``)."""
        position = (t - self.grid_start) * self.target_rate
        count = math.floor(position) + 1 if inclusive else math.ceil(position)
        return min(self.n_samples, max(0, count))


def _release(array: np.ndarray) -> None:
    """Drop a memory map's pages from the resident set (the data stays in the file)."""
    mapping = getattr(array, "_mmap", None)
    if mapping is None or not hasattr(mapping, "madvise"):
        return
    with contextlib.suppress(OSError, ValueError):
        mapping.madvise(mmap.MADV_DONTNEED)


if __name__ == "__main__":  # python -m w2vbackend.retime: the command line for runs on disk
    import sys

    from .retime_cli import main

    sys.exit(main())


__all__ = ["DEFAULT_LANCZOS_LOBES", "DEFAULT_PASSBAND_EDGE", "DEFAULT_STOPBAND_DB",
           "EDGE_MODES", "METHODS", "Kernel", "Resampled", "design_kernel", "output_length",
           "resample_features"]
