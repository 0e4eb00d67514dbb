"""Resampling features onto the neural data's clock: band-limited values at exact grid times,
anti-aliasing, flat passband, centre alignment, agreement with scipy.signal.resample_poly, and
block-wise runs on memory maps."""

from __future__ import annotations

import json
import tracemalloc
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import signal
from w2vbackend.errors import UsageError
from w2vbackend.retime import design_kernel, output_length, resample_features

FRAME_RATE = 50.0
OFFSET = 0.0125  # wav2vec2: centre of [k*320, k*320+400) at 16 kHz, after the frame's onset
TARGETS = [64.0, 100.0, 128.0, 512.0, 0.5]  # EEG/MEG rates and a 2 s TR


def _frames(seconds: float) -> tuple[int, np.ndarray]:
    n = int(seconds * FRAME_RATE)
    return n, OFFSET + np.arange(n) / FRAME_RATE


def _tones(times: np.ndarray, freqs, phases) -> np.ndarray:
    return sum(np.cos(2 * np.pi * f * times + p) for f, p in zip(freqs, phases))


def _interior(times: np.ndarray, spec: dict) -> np.ndarray:
    reach = spec["filter"]["half_width_s"]
    last = spec["frame_center_offset"] + (spec["num_frames"] - 1) / spec["frame_rate"]
    return (times > spec["frame_center_offset"] + reach) & (times < last - reach)


def _seconds_for(fs: float) -> float:
    # Enough interior beyond the kernel's reach (about 2 s at 50 Hz, 200 s at a 2 s TR).
    return 60.0 if fs >= 50 else 1200.0


def _amplitude(y: np.ndarray, times: np.ndarray, f: float) -> float:
    """Least-squares amplitude of a tone of frequency ``f`` in ``y`` at ``times``."""
    basis = np.stack([np.cos(2 * np.pi * f * times), np.sin(2 * np.pi * f * times)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, y, rcond=None)
    return float(np.hypot(*coef))


@pytest.mark.parametrize("fs", TARGETS)
@pytest.mark.parametrize("grid_start", [0.0, -0.0371])
def test_band_limited_signal_comes_back_at_grid_times(fs, grid_start):
    n, centres = _frames(_seconds_for(fs))
    nyquist = min(FRAME_RATE, fs) / 2
    freqs = np.array([0.03, 0.21, 0.47, 0.66, 0.85]) * nyquist
    phases = np.arange(5) * 1.3
    x = _tones(centres, freqs, phases).astype(np.float32)
    features = np.stack([x, -0.5 * x], axis=1)
    y, times, spec = resample_features(features, fs, frame_rate=FRAME_RATE,
                                       frame_center_offset=OFFSET, duration=n / FRAME_RATE,
                                       grid_start=grid_start)
    assert y.dtype == np.float32 and y.shape == (spec["n_samples"], 2)
    np.testing.assert_allclose(times, grid_start + np.arange(y.shape[0]) / fs)
    inner = _interior(times, spec)
    assert inner.sum() > 50
    expected = _tones(times[inner], freqs, phases)
    scale = np.max(np.abs(expected))
    assert np.max(np.abs(y[inner, 0] - expected)) / scale < 1e-3
    assert np.max(np.abs(y[inner, 1] + 0.5 * expected)) / scale < 1e-3


@pytest.mark.parametrize("fs", [32.0, 20.0, 0.5])
def test_tones_above_the_target_nyquist_are_attenuated_60_db(fs):
    n, centres = _frames(_seconds_for(fs))
    for rel in (1.0, 1.3, 2.7):
        f = min(rel * fs / 2, 0.98 * FRAME_RATE / 2)
        x = np.cos(2 * np.pi * f * centres + 0.4).astype(np.float32)
        y, times, spec = resample_features(x, fs, frame_rate=FRAME_RATE,
                                           frame_center_offset=OFFSET, duration=n / FRAME_RATE)
        inner = _interior(times, spec)
        assert np.max(np.abs(y[inner])) < 10 ** (-60 / 20), (fs, f)


@pytest.mark.parametrize("fs", [128.0, 512.0, 32.0, 0.5])
def test_passband_is_flat_to_a_tenth_of_a_db_up_to_90_percent_of_the_lower_nyquist(fs):
    n, centres = _frames(_seconds_for(fs))
    nyquist = min(FRAME_RATE, fs) / 2
    for f in np.linspace(0.02, 0.9, 12) * nyquist:
        x = np.cos(2 * np.pi * f * centres + 0.7).astype(np.float32)
        y, times, spec = resample_features(x, fs, frame_rate=FRAME_RATE,
                                           frame_center_offset=OFFSET, duration=n / FRAME_RATE)
        inner = _interior(times, spec)
        gain_db = 20 * np.log10(_amplitude(y[inner], times[inner], f))
        assert abs(gain_db) < 0.1, (fs, f, gain_db)


@pytest.mark.parametrize("fs", TARGETS)
@pytest.mark.parametrize("method", ["kaiser", "lanczos"])
def test_an_impulse_in_frame_k_peaks_at_frame_ks_centre(fs, method):
    n, centres = _frames(_seconds_for(fs))
    k = n // 2 + 7
    x = np.zeros(n, dtype=np.float32)
    x[k] = 1.0
    y, times, _ = resample_features(x, fs, frame_rate=FRAME_RATE, frame_center_offset=OFFSET,
                                    method=method, duration=n / FRAME_RATE)
    centre = centres[k]
    # Nearest grid sample holds the maximum.
    assert abs(times[np.argmax(y)] - centre) <= 0.5 / fs + 1e-12
    # Centre of symmetry (first moment; exact for a band-limited response) within 0.1 sample.
    estimate = np.sum(times * y) / np.sum(y)
    assert abs(estimate - centre) * fs < 0.1, (estimate, centre)


def _same_filter_as_resample_poly(up: int) -> np.ndarray:
    """Our kernel sampled on resample_poly's upsampled grid, as its ``window`` argument."""
    fs = FRAME_RATE * up
    kernel = design_kernel(FRAME_RATE, fs)
    half = int(np.ceil(kernel.half_width_s * FRAME_RATE * up)) + 1
    taus = np.arange(-half, half + 1) / (FRAME_RATE * up)
    return kernel.weights(taus, FRAME_RATE) / up


@pytest.mark.parametrize("up,down", [(2, 1), (8, 1), (1, 5), (1, 100)])
def test_integer_ratios_agree_with_resample_poly(up, down):
    fs = FRAME_RATE * up / down
    rng = np.random.default_rng(up * 100 + down)
    n = 20000 if down < 100 else 60000
    x = rng.standard_normal((n, 3)).astype(np.float32)
    if down == 1:
        window = _same_filter_as_resample_poly(up)
    else:
        kernel = design_kernel(FRAME_RATE, fs)
        half = int(np.ceil(kernel.half_width_s * FRAME_RATE)) + 1
        window = kernel.weights(np.arange(-half, half + 1) / FRAME_RATE, FRAME_RATE)
    reference = signal.resample_poly(x.astype(np.float64), up, down, axis=0,
                                     window=window, padtype="edge")
    # Documented alignment: resample_poly's output m sits at frame 0's centre + m / fs, which is
    # our grid with grid_start = frame_center_offset.
    y, _, _ = resample_features(x, fs, frame_rate=FRAME_RATE, frame_center_offset=OFFSET,
                                grid_start=OFFSET, n_samples=reference.shape[0])
    np.testing.assert_allclose(y, reference, atol=2e-5 * np.abs(reference).max())
    if down == 1 and OFFSET * fs == round(OFFSET * fs):
        # On the default grid (grid_start 0) the same values sit OFFSET * fs samples later.
        shift = round(OFFSET * fs)
        y0, _, _ = resample_features(x, fs, frame_rate=FRAME_RATE, frame_center_offset=OFFSET)
        np.testing.assert_allclose(y0[shift:shift + 1000], reference[:1000],
                                   atol=2e-5 * np.abs(reference).max())


def test_scipy_default_design_agrees_on_a_band_limited_signal():
    _, centres = _frames(60.0)
    freqs, phases = [0.7, 3.1, 7.9], [0.0, 1.0, 2.0]
    x = _tones(centres, freqs, phases)
    reference = signal.resample_poly(x, 2, 1)
    y, times, spec = resample_features(x.astype(np.float32), 100.0, frame_rate=FRAME_RATE,
                                       frame_center_offset=OFFSET, grid_start=OFFSET,
                                       n_samples=reference.shape[0])
    inner = _interior(times, spec)
    assert np.max(np.abs(y[inner] - reference[inner])) < 1e-3 * np.max(np.abs(x))


def test_lanczos_is_the_normalised_huth_kernel():
    n, centres = _frames(1200.0)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((n, 2)).astype(np.float32)
    tr = 2.0
    y, times, spec = resample_features(x, tr=tr, frame_rate=FRAME_RATE,
                                       frame_center_offset=OFFSET, method="lanczos")
    # The Huth lab's lanczosinterp2D (cutoff = 1 / TR, window = 3), then each row normalised.
    t = times[:, None] - centres[None, :]
    arg = t / tr
    kernel = 3 * np.sin(np.pi * arg) * np.sin(np.pi * arg / 3) / (np.pi ** 2 * arg ** 2 + 1e-300)
    kernel[np.abs(arg) < 1e-12] = 1.0
    kernel[np.abs(arg) > 3] = 0.0
    reference = (kernel / kernel.sum(axis=1, keepdims=True)) @ x.astype(np.float64)
    inner = _interior(times, spec)
    np.testing.assert_allclose(y[inner], reference[inner], atol=1e-5)
    constant = np.full((n, 1), 2.5, dtype=np.float32)
    y_const, _, _ = resample_features(constant, tr=tr, frame_rate=FRAME_RATE,
                                      frame_center_offset=OFFSET, method="lanczos")
    np.testing.assert_allclose(y_const, 2.5, rtol=1e-5)


@pytest.mark.parametrize("edge", ["edge", "zeros"])
def test_edges_follow_the_recorded_rule(edge):
    x = np.full((500, 1), 3.0, dtype=np.float32)
    y, times, spec = resample_features(x, 128.0, frame_rate=FRAME_RATE,
                                       frame_center_offset=OFFSET, edge=edge, grid_start=-3.0)
    assert spec["edge"] == edge
    assert spec["samples_before_first_frame_centre"] == int(np.sum(times < OFFSET))
    last = OFFSET + 499 / FRAME_RATE
    assert spec["samples_after_last_frame_centre"] == int(np.sum(times > last))
    if edge == "edge":
        np.testing.assert_allclose(y, 3.0, rtol=2e-4)
    else:
        assert np.all(y[times < -1.5] == 0.0)
        np.testing.assert_allclose(y[(times > 2.0) & (times < 7.0)], 3.0, rtol=2e-4)


def test_output_length_covers_the_recording():
    assert output_length(3600.0, 128.0) == 460800
    assert output_length(3600.0, 0.5) == 1800
    assert output_length(10.0, 128.0, grid_start=0.004) == 1280
    assert output_length(10.0, 128.0, grid_start=-1.0) == 1408
    x = np.zeros((100, 2), dtype=np.float32)
    _, times, spec = resample_features(x, 128.0, frame_rate=FRAME_RATE,
                                       frame_center_offset=OFFSET, duration=2.0)
    assert spec["n_samples"] == 256 and times[-1] < 2.0 <= times[-1] + 1 / 128


def test_result_like_object_and_spec_is_json():
    rng = np.random.default_rng(0)
    emb = rng.standard_normal((3, 400, 4)).astype(np.float32)
    result = SimpleNamespace(embeddings=emb, time_axis=np.arange(400) * 0.02, frame_stride=0.02,
                             frame_center_offset=OFFSET, sample_rate=16000,
                             metadata={"audio": {"num_samples": 128400, "sample_rate": 16000}})
    y, _, spec = resample_features(result, 128.0)
    direct, _, _ = resample_features(emb, 128.0, frame_rate=FRAME_RATE,
                                     frame_center_offset=OFFSET, duration=128400 / 16000)
    assert y.shape == (3, output_length(128400 / 16000, 128.0), 4)
    np.testing.assert_array_equal(y, direct)
    assert json.loads(json.dumps(spec, allow_nan=False))["ratio"] == "64/25"
    assert spec["filter"]["stopband_attenuation_db"] == 80.0


def test_memmap_in_blocks_equals_in_memory_and_stays_small(tmp_path):
    rng = np.random.default_rng(1)
    data = rng.standard_normal((2, 20000, 256)).astype(np.float32)
    path = tmp_path / "B.npy"
    np.save(path, data)
    source = np.load(path, mmap_mode="r")
    expected, _, _ = resample_features(data, 128.0, frame_rate=FRAME_RATE,
                                       frame_center_offset=OFFSET)
    out = np.lib.format.open_memmap(tmp_path / "out.npy", mode="w+", dtype=np.float32,
                                    shape=expected.shape)
    tracemalloc.start()
    try:
        resample_features(source, 128.0, frame_rate=FRAME_RATE, frame_center_offset=OFFSET,
                          out=out)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    out.flush()
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), expected)
    # Blocks of about one kernel support (and the weights of one block): far below one layer
    # of input (20 MB) or output (52 MB).
    assert peak < data[0].nbytes / 4, peak


def test_bad_arguments_say_what_is_wrong():
    x = np.zeros((100, 2), dtype=np.float32)
    common = {"frame_rate": FRAME_RATE, "frame_center_offset": OFFSET}
    with pytest.raises(UsageError, match="exactly one"):
        resample_features(x, 128.0, tr=2.0, **common)
    with pytest.raises(UsageError, match="method"):
        resample_features(x, 128.0, method="nearest", **common)
    with pytest.raises(UsageError, match="frame_rate"):
        resample_features(x, 128.0)
    with pytest.raises(UsageError, match="no samples"):
        resample_features(x, 128.0, grid_start=5.0, **common)
    with pytest.raises(UsageError, match="out has shape"):
        resample_features(x, 128.0, out=np.zeros((3, 2), np.float32), **common)
