"""Resampling a mono waveform to the model's rate without moving time zero.

A Kaiser-window FIR whose stopband starts exactly at the lower of the two Nyquist frequencies
(nothing above it aliases by more than -80 dB) and whose passband is flat to 90 % of it, applied
as a polyphase filter with its delay removed, so output sample ``j`` is the input's
band-limited value at time ``j / target_sr``. The polyphase sums are laid out as matrix products
(one BLAS thread, so that resampling beside the model does not compete for its cores).
"""

from __future__ import annotations

import contextlib
import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import signal

from .errors import AudioError, UsageError

# Plausible recording rates. Outside this range a rate is a corrupt header, not a recording.
MIN_SAMPLE_RATE = 1_000
MAX_SAMPLE_RATE = 768_000
# Anti-aliasing filter: a Kaiser-window FIR whose stopband starts exactly at the lower of the two
# Nyquist frequencies (nothing above it aliases by more than -80 dB) and whose passband is flat
# (ripple about 1e-4, as the Kaiser design for 80 dB gives) up to 90 % of it (7.2 kHz at 16 kHz).
RESAMPLE_STOPBAND_DB = 80.0
RESAMPLE_PASSBAND_EDGE = 0.90
# The FIR has about 100 * max(up, down) taps; rate pairs needing more than this many (rates
# whose ratio to the target does not reduce, e.g. 96001 Hz) are refused, not approximated.
MAX_FILTER_TAPS = 1 << 23
# Output (and input) samples per resampling block: bounds the temporaries of a long recording.
RESAMPLE_BLOCK_SAMPLES = 1 << 20
# Matrix layout of the polyphase filter (see _resample_blocks): at least ROW_OUTPUTS outputs per
# row of frames, GROUP_OUTPUTS columns per matrix product (a narrow frame slice each).
ROW_OUTPUTS = 32
GROUP_OUTPUTS = 32


def resample(x: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample a mono signal with a linear-phase anti-aliasing filter; time zero stays put.

    Polyphase filtering by ``up/down = target_sr/orig_sr`` reduced by their gcd, with the filter
    described at the top of this module (stopband from the lower Nyquist frequency at -80 dB,
    flat to 90 % of it). It gives the same samples as
    ``scipy.signal.resample_poly(x, up, down, window=h)``: output sample ``j`` is the input's
    band-limited value at time ``j / target_sr``, with no delay.

    Args:
        x: ``(n,)`` samples at ``orig_sr`` Hz (any real dtype; computed in float32).
        orig_sr: input rate in Hz.
        target_sr: output rate in Hz.

    Returns:
        ``(ceil(n * up / down),)`` float32; ``x`` itself (as float32) when the rates are equal.

    Cost: about ``100 * max(up, down) / up`` multiply-adds per output sample (44.1 kHz ->
    16 kHz: ~330 with the matrix layout), done by BLAS on one thread: 1-4 s of CPU per hour of
    44.1 kHz audio on a shared 2-core AVX-512 machine, about 10x less than a direct polyphase
    loop (``scipy.signal.upfirdn``) with the same filter. Memory is the output plus one block of
    temporaries, whatever the length.

    Raises:
        UsageError: ``x`` is not 1-D, or a rate is implausible or has no exact filter of
            reasonable size.
    """
    x = np.asarray(x)
    if x.ndim != 1:
        raise UsageError(f"resample expects a 1-D waveform, got shape {x.shape}")
    orig = as_rate(orig_sr, "orig_sr")
    target = as_rate(target_sr, "target_sr")
    x = np.ascontiguousarray(x, dtype=np.float32)
    if orig == target:
        return x
    up, down = _ratio(orig, target)
    if _filter_taps(up, down) > MAX_FILTER_TAPS:
        raise UsageError(_ratio_refusal(orig, target))
    with _one_blas_thread():
        return _resample_blocks(x, up, down)


def resampler_facts(orig_sr: int, target_sr: int) -> dict[str, Any] | None:
    """What the outputs record about the resampling of ``orig_sr`` to ``target_sr`` (None when
    the rates are equal): method, ratio, filter length and design."""
    if int(orig_sr) == int(target_sr):
        return None
    up, down = _ratio(int(orig_sr), int(target_sr))
    taps, beta, _ = _filter_spec(up, down)
    return {"method": "polyphase FIR, zero delay (w2vbackend.resample)", "up": up, "down": down,
            "taps": taps, "window": f"kaiser(beta={beta:.4f})",
            "stopband_db": RESAMPLE_STOPBAND_DB,
            "passband_edge_of_lower_nyquist": RESAMPLE_PASSBAND_EDGE}


def _one_blas_thread():
    """Limit numpy's BLAS to one thread (threadpoolctl, when installed) for one resampling: the
    products are small, and a second thread only competes with the model for the cores."""
    controller = _blas_controller()
    if controller is None:  # pragma: no cover - optional; the result is the same, only slower
        return contextlib.nullcontext()
    return controller.limit(limits=1, user_api="blas")


@functools.lru_cache(maxsize=1)
def _blas_controller():
    """The process's thread pools, found once (finding them takes about 10 ms)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover
        return None
    return ThreadpoolController()



def as_rate(value: Any, what: str) -> int:
    """A rate given as a parameter (int, or an integral float from JSON/MATLAB) or UsageError."""
    rate = _integral(value)
    if rate is None or not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise UsageError(
            f"{what} must be an integer from {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz, "
            f"got {value!r}"
        )
    return rate


def _integral(value: Any) -> int | None:
    if isinstance(value, (bool, np.bool_)):
        return None
    try:
        as_float = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if not math.isfinite(as_float) or as_float != int(as_float):
        return None
    return int(as_float)


def check_source_rate(value: Any, target: int, name: str) -> int:
    """The rate of a file or array, refused (AudioError naming it) if it cannot be a recording."""
    rate = _integral(value)
    if rate is None or not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise AudioError(
            f"{name}: implausible sample rate {value!r} Hz "
            f"(expected {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz)"
        )
    if rate != target and _filter_taps(*_ratio(rate, target)) > MAX_FILTER_TAPS:
        raise AudioError(f"{name}: {_ratio_refusal(rate, target)}")
    return rate


def _ratio_refusal(orig: int, target: int) -> str:
    up, down = _ratio(orig, target)
    return (
        f"sample rate {orig} Hz cannot be converted exactly to {target} Hz (ratio {up}/{down} "
        "needs an oversized filter); convert the file to a standard rate first"
    )



def _ratio(orig: int, target: int) -> tuple[int, int]:
    common = math.gcd(orig, target)
    return target // common, orig // common


def _filter_spec(up: int, down: int) -> tuple[int, float, float]:
    """(odd number of taps, Kaiser beta, cutoff relative to the upsampled Nyquist)."""
    widest = max(up, down)
    # Normalised to the Nyquist frequency of the upsampled signal, where the lower of the two
    # original Nyquist frequencies sits at 1 / widest.
    transition = (1.0 - RESAMPLE_PASSBAND_EDGE) / widest
    taps, beta = signal.kaiserord(RESAMPLE_STOPBAND_DB, transition)
    cutoff = (1.0 + RESAMPLE_PASSBAND_EDGE) / 2.0 / widest
    return taps | 1, float(beta), cutoff


def _filter_taps(up: int, down: int) -> int:
    return _filter_spec(up, down)[0]


@functools.lru_cache(maxsize=8)
def _lowpass(up: int, down: int) -> np.ndarray:
    """The anti-aliasing FIR for ``up/down``, scaled by ``up``; float32, read-only, cached."""
    taps, beta, cutoff = _filter_spec(up, down)
    h = signal.firwin(taps, cutoff, window=("kaiser", beta)) * up
    h = h.astype(np.float32)
    h.flags.writeable = False
    return h


@dataclass(frozen=True)
class _BlockPlan:
    """How :func:`_resample_blocks` lays ``up/down`` out as matrix products (see there)."""

    q: int       # outputs per row
    step: int    # inputs per row
    first: int   # input index of frame column 0 of row 0 (<= 0)
    chunks: int  # rows of inputs that one row's frame spans
    # (first column, last column + 1, input row offset, first input, last input + 1, taps)
    pieces: tuple[tuple[int, int, int, int, int, np.ndarray], ...]


@functools.lru_cache(maxsize=4)
def _block_plan(up: int, down: int) -> _BlockPlan:
    h = _lowpass(up, down)
    taps_total = h.shape[0]
    half = (taps_total - 1) // 2
    periods = -(-ROW_OUTPUTS // up)
    q, step = up * periods, down * periods

    def lo(c: int) -> int:  # first input that output c of row 0 needs
        return -(-(c * down + half - taps_total + 1) // up)

    def hi(c: int) -> int:  # last input that output c of row 0 needs
        return (c * down + half) // up

    first = lo(0)
    pieces = []
    for c0 in range(0, q, GROUP_OUTPUTS):
        c1 = min(q, c0 + GROUP_OUTPUTS)
        f0, f1 = lo(c0) - first, hi(c1 - 1) - first + 1  # frame columns the group needs
        for k in range(f0 // step, (f1 - 1) // step + 1):
            a, b = max(f0, k * step), min(f1, (k + 1) * step)
            rows = np.arange(a + first, b + first, dtype=np.int64)[:, np.newaxis]
            cols = np.arange(c0, c1, dtype=np.int64)[np.newaxis, :]
            index = cols * down + half - rows * up
            valid = (index >= 0) & (index < taps_total)
            taps = np.ascontiguousarray(
                np.where(valid, h[np.clip(index, 0, taps_total - 1)], np.float32(0)),
                dtype=np.float32)
            taps.flags.writeable = False
            pieces.append((c0, c1, k, a - k * step, b - k * step, taps))
    return _BlockPlan(q=q, step=step, first=first, chunks=(hi(q - 1) - first) // step + 1,
                      pieces=tuple(pieces))


def _resample_blocks(x: np.ndarray, up: int, down: int) -> np.ndarray:
    """``resample_poly(x, up, down, window=h / up)`` (``h = _lowpass(up, down)``) computed as
    blocks of matrix products.

    With ``half = (len(h) - 1) // 2``, output ``j`` is ``sum_i x[i] * h[j * down + half - i * up]``
    (taps outside ``h`` and inputs outside ``x`` are zero). Output ``j = m * q + c``
    (``q = up * periods``, ``0 <= c < q``) needs the inputs ``m * step + first + [f0(c), f1(c))``
    (``step = down * periods``) through taps that do not depend on the row ``m``. Laid out as a
    ``(rows, step)`` matrix ``X`` of consecutive inputs, a group of columns ``c`` is a sum of a
    few ``X[m + k, a:b] @ taps`` products: BLAS does the multiply-adds on views of the input
    (float32, the same filter), many times faster than a direct polyphase loop. Memory: the
    output plus one block of input and of output (``RESAMPLE_BLOCK_SAMPLES``).
    """
    n = x.shape[0]
    n_out = -(-n * up // down)
    if n_out == 0:
        return np.empty(0, dtype=np.float32)
    plan = _block_plan(up, down)
    rows_total = -(-n_out // plan.q)
    out = np.empty(rows_total * plan.q, dtype=np.float32)
    rows_per_block = max(1, RESAMPLE_BLOCK_SAMPLES // max(plan.q, plan.step))
    for r0 in range(0, rows_total, rows_per_block):
        r1 = min(rows_total, r0 + rows_per_block)
        start = r0 * plan.step + plan.first  # input index of X[0, 0]
        stop = start + (r1 - r0 + plan.chunks - 1) * plan.step
        lo, hi = max(0, start), min(n, stop)
        if lo == start and hi == stop:
            segment = x[start:stop]
        else:
            segment = np.zeros(stop - start, dtype=np.float32)
            if hi > lo:
                segment[lo - start : hi - start] = x[lo:hi]
        inputs = segment.reshape(-1, plan.step)
        block = out[r0 * plan.q : r1 * plan.q].reshape(r1 - r0, plan.q)
        previous = None
        for c0, c1, k, a, b, taps in plan.pieces:
            product = inputs[k : k + r1 - r0, a:b] @ taps
            if (c0, c1) == previous:
                block[:, c0:c1] += product
            else:
                block[:, c0:c1] = product
            previous = (c0, c1)
    return out[:n_out]
