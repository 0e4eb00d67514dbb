"""Resampling a mono waveform to the model's rate without moving time zero.

A Kaiser-window FIR whose stopband starts exactly at the lower of the two Nyquist frequencies
(nothing above it aliases by more than -80 dB) and whose passband is flat to 90 % of it, applied
as a polyphase filter (``scipy.signal.upfirdn``) with its delay removed, so output sample ``j``
is the input's band-limited value at time ``j / target_sr``.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
from scipy import signal

from .errors import AudioError, UsageError

# Plausible recording rates. Outside this range a rate is a corrupt header, not a recording.
MIN_SAMPLE_RATE = 1_000
MAX_SAMPLE_RATE = 768_000
# Anti-aliasing filter: a Kaiser-window FIR whose stopband starts exactly at the lower of the two
# Nyquist frequencies (nothing above it aliases by more than -80 dB) and whose passband is flat
# (ripple < 1e-4) up to 90 % of it (7.2 kHz at 16 kHz).
RESAMPLE_STOPBAND_DB = 80.0
RESAMPLE_PASSBAND_EDGE = 0.90
# The FIR has about 100 * max(up, down) taps; rate pairs needing more than this many (rates
# whose ratio to the target does not reduce, e.g. 96001 Hz) are refused, not approximated.
MAX_FILTER_TAPS = 1 << 23
# Output samples per resampling block: bounds the temporaries of a long recording.
RESAMPLE_BLOCK_SAMPLES = 1 << 20


def resample(x: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample a mono signal with a linear-phase anti-aliasing filter; time zero stays put.

    Polyphase filtering (``scipy.signal.upfirdn``) by ``up/down = target_sr/orig_sr`` reduced by
    their gcd, with the filter described at the top of this module (stopband from the lower
    Nyquist frequency at -80 dB, flat to 90 % of it). It gives the same samples as
    ``scipy.signal.resample_poly(x, up, down, window=h)``: output sample ``j`` is the input's
    band-limited value at time ``j / target_sr``, with no delay.

    Args:
        x: ``(n,)`` samples at ``orig_sr`` Hz (any real dtype; computed in float32).
        orig_sr: input rate in Hz.
        target_sr: output rate in Hz.

    Returns:
        ``(ceil(n * up / down),)`` float32; ``x`` itself (as float32) when the rates are equal.

    Cost: about ``100 * max(up, down) / up`` multiply-adds per output sample (e.g. 44.1 kHz ->
    16 kHz: ~280, about 7 s of CPU per hour of audio; 192 kHz -> 16 kHz: ~30 s per hour). Memory
    is the output plus one block of temporaries, whatever the length.

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
    return _resample_blocks(x, up, down, _lowpass(up, down))



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


def _resample_blocks(x: np.ndarray, up: int, down: int, h: np.ndarray) -> np.ndarray:
    """``resample_poly(x, up, down, window=h / up)`` computed in output blocks.

    With ``half = (len(h) - 1) // 2`` and ``h`` padded in front to ``half + pad = D * down``
    taps, output ``j`` is ``sum_i x[i] * hp[(j + D) * down - i * up]``. A block of outputs
    ``[j0, j1)`` needs inputs ``i`` with ``j0 * down - half <= i * up <= (j1 - 1) * down + half``.
    Starting the input slice at a multiple ``a * down`` keeps ``upfirdn``'s output grid on the
    global one: ``upfirdn(hp, x[a * down:])[m]`` is output ``j = m - D + a * up``.
    """
    n = x.shape[0]
    n_out = -(-n * up // down)
    half = (h.shape[0] - 1) // 2
    pad = -half % down
    hp = np.concatenate([np.zeros(pad, dtype=np.float32), h])
    delay = (half + pad) // down
    out = np.empty(n_out, dtype=np.float32)
    for j0 in range(0, n_out, RESAMPLE_BLOCK_SAMPLES):
        j1 = min(n_out, j0 + RESAMPLE_BLOCK_SAMPLES)
        first_input = max(0, -(-(j0 * down - half) // up))
        a = first_input // down
        stop_input = min(n, ((j1 - 1) * down + half) // up + 1)
        y = signal.upfirdn(hp, x[a * down : stop_input], up, down)
        m0 = j0 + delay - a * up
        out[j0:j1] = y[m0 : m0 + (j1 - j0)]
    return out
