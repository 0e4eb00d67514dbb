"""The matrix-product resampler: zero delay, the documented stopband and passband, the same samples
as scipy's direct polyphase filter, and what the outputs record about it.

References: scipy's ``upfirdn``/``resample_poly`` with the same filter, ``scipy.signal.freqz`` and
analytic sines.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal
from w2vbackend import resample as resample_module
from w2vbackend.audio import audio_from_array
from w2vbackend.resample import resample, resampler_facts

PAIRS = [(44100, 16000), (48000, 16000), (22050, 16000), (8000, 16000), (16000, 44100),
         (96000, 16000), (32000, 16000)]


@pytest.mark.parametrize(("orig", "target"), PAIRS)
def test_an_impulse_comes_out_centred_on_its_own_time(orig, target):
    """Zero delay: an impulse at an input time that is also an output time gives a response that
    peaks at that output sample and is symmetric about it (linear phase, no shift)."""
    up, down = resample_module._ratio(orig, target)
    period = 200 * down  # input index of a time that is on both grids, far from the edges
    x = np.zeros(2 * period, dtype=np.float32)
    x[period] = 1.0
    y = resample(x, orig, target).astype(np.float64)
    centre = period * up // down
    assert int(np.argmax(np.abs(y))) == centre
    reach = min(centre, y.shape[0] - 1 - centre, 400)
    left, right = y[centre - reach : centre][::-1], y[centre + 1 : centre + 1 + reach]
    np.testing.assert_allclose(left, right, rtol=0, atol=1e-6 * abs(y[centre]))


@pytest.mark.parametrize(("orig", "target"), PAIRS)
def test_the_filter_meets_the_documented_stopband_and_passband(orig, target):
    """The filter the matrices are built from: -80 dB from the lower Nyquist frequency up and a
    ripple of 1e-4 up to 90 % of it (frequencies relative to the upsampled rate), as the Kaiser
    design meets them: within 0.5 dB and 20 %."""
    up, down = resample_module._ratio(orig, target)
    h = resample_module._lowpass(up, down).astype(np.float64) / up
    lower_nyquist = 1.0 / max(up, down)  # in units of the upsampled Nyquist frequency
    pass_w = np.linspace(0, resample_module.RESAMPLE_PASSBAND_EDGE * lower_nyquist, 400)
    stop_w = np.linspace(lower_nyquist, min(1.0, 4 * lower_nyquist), 2000)
    _, pass_h = signal.freqz(h, worN=pass_w * np.pi)
    _, stop_h = signal.freqz(h, worN=stop_w * np.pi)
    assert np.max(np.abs(np.abs(pass_h) - 1)) < 1.2e-4
    assert 20 * np.log10(np.max(np.abs(stop_h))) < -resample_module.RESAMPLE_STOPBAND_DB + 0.5


@pytest.mark.parametrize("freq", [8000, 8100, 9000, 12000, 20000])
def test_tones_above_the_target_nyquist_stay_below_minus_80_db(freq):
    """End to end through the matrix path: the steady part of a tone at or above 8 kHz is
    attenuated by more than 80 dB in 44.1 kHz -> 16 kHz."""
    t = np.arange(44100) / 44100
    x = np.sin(2 * np.pi * freq * t).astype(np.float32)
    y = resample(x, 44100, 16000).astype(np.float64)
    steady = y[1000:-1000]
    assert 20 * np.log10(np.sqrt(np.mean(steady**2)) / np.sqrt(0.5)) < -80


@pytest.mark.parametrize(("orig", "target"), [*PAIRS, (12345, 16000), (192000, 16000)])
@pytest.mark.parametrize("block", [997, 1 << 20])
def test_matrix_products_equal_the_direct_polyphase_filter(monkeypatch, orig, target, block):
    """The same samples as scipy's direct loop (upfirdn, float64) with the same filter, for blocks
    smaller and larger than the signal."""
    monkeypatch.setattr(resample_module, "RESAMPLE_BLOCK_SAMPLES", block)
    up, down = resample_module._ratio(orig, target)
    x = np.random.default_rng(orig).standard_normal(orig + 17).astype(np.float32)
    h = resample_module._lowpass(up, down).astype(np.float64) / up
    expected = signal.resample_poly(x.astype(np.float64), up, down, window=h)
    y = resample(x, orig, target)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, rtol=0, atol=2e-5)


def test_the_audio_records_its_resampler():
    facts = resampler_facts(44100, 16000)
    assert facts is not None
    assert (facts["up"], facts["down"]) == (160, 441)
    assert facts["taps"] == resample_module._lowpass(160, 441).shape[0]
    assert facts["stopband_db"] == 80.0 and facts["passband_edge_of_lower_nyquist"] == 0.9
    audio = audio_from_array(np.zeros(44100, dtype=np.float32), 44100, 16000)
    assert audio.resampler == facts and audio.info().resampler == facts
    assert audio_from_array(np.zeros(16000, dtype=np.float32), 16000, 16000).resampler is None
