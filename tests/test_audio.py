"""Reading, mixing down and resampling audio: every format, width, rate and channel layout.

References are the float signals the files were written from, analytic sines, scipy's own
``resample_poly`` and ``hashlib``; the scipy fallback is checked against libsndfile.
"""

from __future__ import annotations

import hashlib
import math
import struct
import sys
import tracemalloc
import types
import warnings

import numpy as np
import pytest
import soundfile as sf
from audio_fixtures import (
    PCM_TOLERANCE,
    WAVE_FORMAT_PCM,
    channel_mix,
    fmt_chunk,
    pcm16_wav,
    sine,
    wav_bytes,
    write,
)
from scipy import signal
from scipy.io import wavfile
from w2vbackend import audio, decoders
from w2vbackend import resample as resample_module
from w2vbackend.audio import (
    Audio,
    AudioWarning,
    audio_from_array,
    file_sha256,
    load_audio,
    resample,
)
from w2vbackend.errors import AudioError, UsageError

WAV_SUBTYPES = ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"]
RATES = [8000, 11025, 16000, 22050, 32000, 44100, 48000, 88200, 96000, 176400, 192000]


def force_scipy(monkeypatch) -> None:
    """Make libsndfile fail so that the last-resort reader runs."""

    def refuse(path, name, target):
        raise RuntimeError("soundfile disabled for this test")

    monkeypatch.setattr(decoders, "_read_soundfile", refuse)


def interior(n: int, margin: int) -> slice:
    return slice(margin, n - margin)


# --------------------------------------------------------------------------------------------
# Widths, formats, channels


@pytest.mark.parametrize("subtype", WAV_SUBTYPES)
def test_every_wav_width_reads_to_the_source(tmp_path, subtype):
    source = sine(440, 0.5, 16000, amplitude=0.9) + sine(3100, 0.5, 16000, amplitude=0.05)
    path = tmp_path / f"{subtype}.wav"
    sf.write(path, source, 16000, subtype=subtype)
    result = load_audio(path, 16000)
    assert result.reader == "soundfile"
    assert result.waveform.dtype == np.float32 and result.waveform.shape == source.shape
    assert (result.sample_rate, result.original_sample_rate) == (16000, 16000)
    assert (result.original_channels, result.original_num_samples) == (1, source.shape[0])
    assert result.path == str(path.resolve()) and result.warnings == ()
    np.testing.assert_allclose(result.waveform, source, rtol=0, atol=PCM_TOLERANCE[subtype])


def test_eight_bit_wav_is_unsigned_with_offset_128(tmp_path):
    stored = np.array([0, 64, 128, 192, 255], dtype=np.uint8)
    path = write(tmp_path / "u8.wav", wav_bytes(fmt_chunk(WAVE_FORMAT_PCM, 1, 8000, 8),
                                                stored.tobytes()))
    expected = (stored.astype(np.float64) - 128) / 128
    for reader in ("soundfile", "scipy"):
        with pytest.MonkeyPatch.context() as patch:
            if reader == "scipy":
                force_scipy(patch)
            result = load_audio(path, 8000)
        assert result.reader == reader
        np.testing.assert_array_equal(result.waveform, expected.astype(np.float32))


def test_24_bit_extremes_map_to_the_unit_interval(tmp_path):
    values = [0x7FFFFF, -0x800000, 0, 1, -1]
    data = b"".join(struct.pack("<i", v)[:3] for v in values)
    path = write(tmp_path / "s24.wav", wav_bytes(fmt_chunk(WAVE_FORMAT_PCM, 1, 8000, 24), data))
    expected = np.array(values, dtype=np.float64) / 2**23
    for reader in ("soundfile", "scipy"):
        with pytest.MonkeyPatch.context() as patch:
            if reader == "scipy":
                force_scipy(patch)
            result = load_audio(path, 8000)
        assert result.reader == reader
        np.testing.assert_allclose(result.waveform, expected, rtol=0, atol=1e-7)


def test_scipy_returns_the_layout_the_mapping_assumes(tmp_path):
    """scipy gives uint8 for 8-bit and left-justified int32 for 24-bit: the container width,
    not the bit depth, sets the scale. If a scipy release changes this, this test says so."""
    source = sine(300, 0.05, 8000, amplitude=0.8)
    sf.write(tmp_path / "u8.wav", source, 8000, subtype="PCM_U8")
    sf.write(tmp_path / "s24.wav", source, 8000, subtype="PCM_24")
    _, u8 = wavfile.read(tmp_path / "u8.wav")
    _, s24 = wavfile.read(tmp_path / "s24.wav")
    assert u8.dtype == np.uint8
    assert s24.dtype == np.int32 and np.all(s24 % 256 == 0) and np.abs(s24).max() > 2**30


@pytest.mark.parametrize("subtype", ["FLOAT", "DOUBLE"])
def test_float_beyond_unit_range_is_kept_not_clipped(tmp_path, subtype):
    source = sine(200, 0.2, 16000, amplitude=3.0)
    sf.write(tmp_path / "loud.wav", source, 16000, subtype=subtype)
    result = load_audio(tmp_path / "loud.wav", 16000)
    assert result.waveform.max() > 2.9 and result.waveform.min() < -2.9
    np.testing.assert_allclose(result.waveform, source, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    ("fmt", "subtype", "ext", "min_snr_db"),
    [
        ("FLAC", "PCM_16", "flac", 85),
        ("FLAC", "PCM_24", "flac", 120),
        ("AIFF", "PCM_16", "aiff", 85),
        ("AIFF", "PCM_24", "aif", 120),
        ("OGG", "VORBIS", "ogg", 25),
        ("MP3", "MPEG_LAYER_III", "mp3", 25),
    ],
)
def test_compressed_and_other_containers(tmp_path, fmt, subtype, ext, min_snr_db):
    source = sine(440, 1.0, 16000) + sine(1250, 1.0, 16000, amplitude=0.2)
    path = tmp_path / f"clip.{ext}"
    sf.write(path, source, 16000, format=fmt, subtype=subtype)
    result = load_audio(path, 16000)
    assert result.reader == "soundfile"
    assert result.waveform.shape == source.shape  # MP3 encoder delay and padding are removed
    error = result.waveform - source
    snr = 10 * np.log10(np.sum(source**2) / np.sum(error**2))
    assert snr > min_snr_db


@pytest.mark.parametrize("channels", [2, 6])
def test_channels_are_averaged(tmp_path, channels):
    source = channel_mix(8000, channels, 16000)
    sf.write(tmp_path / "multi.wav", source, 16000, subtype="PCM_24")
    result = load_audio(tmp_path / "multi.wav", 16000)
    assert result.original_channels == channels
    np.testing.assert_allclose(result.waveform, source.mean(axis=1), rtol=0, atol=2.0**-23)


def test_wave_format_extensible_with_many_channels(tmp_path):
    source = channel_mix(4000, 8, 48000)
    path = tmp_path / "eight.wav"
    sf.write(path, source, 48000, format="WAVEX", subtype="PCM_24")
    assert struct.unpack("<H", path.read_bytes()[20:22])[0] == 0xFFFE
    expected = source.mean(axis=1)
    for reader in ("soundfile", "scipy"):
        with pytest.MonkeyPatch.context() as patch:
            if reader == "scipy":
                force_scipy(patch)
            result = load_audio(path, 48000)
        assert (result.reader, result.original_channels) == (reader, 8)
        np.testing.assert_allclose(result.waveform, expected, rtol=0, atol=2.0**-23)


@pytest.mark.parametrize("rate", RATES)
def test_every_rate_resamples_to_the_target_without_delay(tmp_path, rate):
    """A file at any rate gives the analytic signal at 16 kHz: right length, no shift."""
    duration = 0.5
    tones = [(440, 0.5), (2500, 0.3)]
    source = sum(sine(f, duration, rate, amplitude=a) for f, a in tones)
    sf.write(tmp_path / "tone.wav", source, rate, subtype="PCM_24")
    result = load_audio(tmp_path / "tone.wav", 16000)
    n_in = source.shape[0]
    assert result.original_sample_rate == rate
    assert result.waveform.shape[0] == math.ceil(n_in * 16000 / rate)
    expected = sum(sine(f, duration, 16000, amplitude=a) for f, a in tones)
    keep = interior(expected.shape[0], 800)  # filter edges (zeros outside the file)
    np.testing.assert_allclose(result.waveform[keep], expected[keep], rtol=0, atol=2e-3)


# --------------------------------------------------------------------------------------------
# The scipy fallback and torchaudio


@pytest.mark.parametrize("subtype", WAV_SUBTYPES)
@pytest.mark.parametrize("channels", [1, 2])
def test_scipy_fallback_matches_soundfile(tmp_path, monkeypatch, subtype, channels):
    source = channel_mix(3000, channels, 22050)
    path = tmp_path / "w.wav"
    sf.write(path, source, 22050, subtype=subtype)
    direct = load_audio(path, 16000)
    force_scipy(monkeypatch)
    fallback = load_audio(path, 16000)
    assert (direct.reader, fallback.reader) == ("soundfile", "scipy")
    assert fallback.original_channels == channels
    np.testing.assert_allclose(fallback.waveform, direct.waveform, rtol=0, atol=1e-7)


def test_scipy_writes_are_read(tmp_path):
    """Files written by scipy.io.wavfile decode to the stored integers over 2**(bits-1)."""
    source = sine(500, 0.25, 16000, amplitude=0.7)
    u8 = np.round(source * 127 + 128).astype(np.uint8)
    i16 = np.round(source * 32767).astype(np.int16)
    i32 = np.round(source * (2**31 - 1)).astype(np.int32)
    cases = {
        "u8": (u8, (u8.astype(np.float64) - 128) / 128),
        "i16": (i16, i16 / 2.0**15),
        "i32": (i32, i32 / 2.0**31),
        "f32": (source.astype(np.float32), source),
        "f64": (source, source),
    }
    for name, (data, expected) in cases.items():
        wavfile.write(tmp_path / f"{name}.wav", 16000, data)
        result = load_audio(tmp_path / f"{name}.wav", 16000)
        np.testing.assert_allclose(result.waveform, expected, rtol=0, atol=1e-7, err_msg=name)


class _FakeTensor:
    def __init__(self, array):
        self._array = array

    def detach(self):
        return self

    def cpu(self):
        return self

    def numpy(self):
        return self._array


def test_broken_torchaudio_is_skipped(tmp_path, monkeypatch):
    package = tmp_path / "site" / "torchaudio"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("raise OSError('libtorchaudio.so: undefined symbol')\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, "torchaudio", raising=False)
    decoders._torchaudio.cache_clear()
    try:
        path = write(tmp_path / "a.wav", pcm16_wav(sine(300, 0.1, 16000)))
        force_scipy(monkeypatch)
        assert load_audio(path, 16000).reader == "scipy"
        assert decoders._torchaudio() is None
    finally:
        decoders._torchaudio.cache_clear()


def test_working_torchaudio_is_used_when_soundfile_fails(tmp_path, monkeypatch):
    source = channel_mix(1600, 2, 16000).astype(np.float32)
    calls = []

    def load(path):
        calls.append(path)
        return _FakeTensor(source.T.copy()), 16000

    monkeypatch.setitem(sys.modules, "torchaudio", types.SimpleNamespace(load=load))
    decoders._torchaudio.cache_clear()
    try:
        path = write(tmp_path / "a b.wav", b"RIFF....WAVE not decodable by libsndfile")
        result = load_audio(path, 16000)
    finally:
        decoders._torchaudio.cache_clear()
    assert result.reader == "torchaudio" and calls == [str(path.resolve())]
    assert result.original_channels == 2
    np.testing.assert_allclose(result.waveform, source.mean(axis=1), atol=1e-7)


def test_torchaudio_is_not_tried_when_soundfile_works(tmp_path, monkeypatch):
    def load(path):
        raise AssertionError("torchaudio must not be used")

    monkeypatch.setitem(sys.modules, "torchaudio", types.SimpleNamespace(load=load))
    decoders._torchaudio.cache_clear()
    try:
        path = write(tmp_path / "a.wav", pcm16_wav(sine(300, 0.1, 16000)))
        assert load_audio(path, 16000).reader == "soundfile"
    finally:
        decoders._torchaudio.cache_clear()


# --------------------------------------------------------------------------------------------
# Resampling


RATE_PAIRS = [(44100, 16000), (48000, 16000), (8000, 16000), (11025, 16000), (22050, 16000),
              (192000, 16000), (16000, 44100), (16000, 8000)]


@pytest.mark.parametrize(("orig", "target"), RATE_PAIRS)
def test_resampled_sine_matches_the_analytic_sine(orig, target):
    freq = 0.3 * min(orig, target)  # well inside the passband
    x = sine(freq, 0.4, orig, amplitude=0.8).astype(np.float32)
    y = resample(x, orig, target)
    expected = sine(freq, 0.4, target, amplitude=0.8)
    assert y.dtype == np.float32 and y.shape == (math.ceil(x.shape[0] * target / orig),)
    keep = interior(expected.shape[0], int(0.05 * target))
    np.testing.assert_allclose(y[keep], expected[keep], rtol=0, atol=5e-4)
    # and the cross-correlation with the analytic sine peaks at lag 0
    seg = y[keep].astype(np.float64)
    ref = expected[keep]
    lags = range(-3, 4)
    scores = [np.dot(seg[3:-3], ref[3 + lag : ref.shape[0] - 3 + lag]) for lag in lags]
    assert list(lags)[int(np.argmax(scores))] == 0


@pytest.mark.parametrize(("orig", "freq"), [(44100, 8200), (44100, 10000), (44100, 20000),
                                            (48000, 8100), (48000, 15000), (192000, 60000),
                                            (22050, 9000)])
def test_content_above_the_target_nyquist_is_removed(orig, freq):
    x = sine(freq, 0.5, orig, amplitude=1.0).astype(np.float32)
    y = resample(x, orig, 16000).astype(np.float64)
    # The abrupt start and end of the tone are broadband steps that legitimately pass the
    # filter; aliasing is judged on the steady part.
    rms_in = np.sqrt(np.mean(x.astype(np.float64) ** 2))
    rms_out = np.sqrt(np.mean(y[interior(y.shape[0], 400)] ** 2))
    assert 20 * np.log10(rms_out / rms_in) < -60


def test_default_scipy_filter_would_fail_the_attenuation_test():
    """The test above can fail: resample_poly's default filter lets 8.2 kHz alias."""
    x = sine(8200, 0.5, 44100, amplitude=1.0)
    y = signal.resample_poly(x, 160, 441)
    assert 20 * np.log10(np.sqrt(np.mean(y**2)) / np.sqrt(np.mean(x**2))) > -60


@pytest.mark.parametrize(("orig", "target"), [(44100, 16000), (11025, 16000), (48000, 16000),
                                              (16000, 22050), (12345, 16000)])
@pytest.mark.parametrize("n", [0, 1, 2, 3, 440, 441, 442, 4999])
def test_output_length_is_ceil_n_up_over_down(orig, target, n):
    up, down = target // math.gcd(orig, target), orig // math.gcd(orig, target)
    x = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    y = resample(x, orig, target)
    assert y.shape == (-(-n * up // down),)
    assert y.dtype == np.float32


@pytest.mark.parametrize(("orig", "target"), [(44100, 16000), (11025, 16000), (8000, 16000),
                                              (96000, 16000)])
def test_blocked_resampling_equals_resample_poly(monkeypatch, orig, target):
    """Blocks must be invisible: compare with one scipy resample_poly call over the whole signal,
    using the same filter, with blocks small enough that there are many of them."""
    monkeypatch.setattr(resample_module, "RESAMPLE_BLOCK_SAMPLES", 997)
    x = np.random.default_rng(1).standard_normal(3 * orig // 2).astype(np.float32)
    up, down = resample_module._ratio(orig, target)
    h = resample_module._lowpass(up, down).astype(np.float64) / up
    expected = signal.resample_poly(x.astype(np.float64), up, down, window=h)
    y = resample(x, orig, target)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, rtol=0, atol=2e-5)


def test_equal_rates_return_the_samples_unchanged():
    x = np.random.default_rng(2).standard_normal(1000)
    y = resample(x, 16000, 16000)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, x.astype(np.float32))


def test_resampling_a_long_signal_needs_little_more_than_its_output():
    x = np.random.default_rng(3).standard_normal(6_000_000).astype(np.float32)  # 125 s at 48k
    tracemalloc.start()
    try:
        y = resample(x, 48000, 16000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert y.nbytes == 8_000_000
    assert peak < y.nbytes + 16 * 2**20  # output + one block of temporaries, never a copy of x


def test_loading_a_multichannel_file_never_holds_all_channels(tmp_path):
    rate, channels, seconds = 48000, 6, 20
    source = channel_mix(rate * seconds, channels, rate)
    sf.write(tmp_path / "six.wav", source, rate, subtype="PCM_16")
    del source
    tracemalloc.start()
    try:
        result = load_audio(tmp_path / "six.wav", 16000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    all_channels = rate * seconds * channels * 4  # what reading it whole as float32 would take
    mono_and_output = (rate + 16000) * seconds * 4
    assert result.waveform.shape == (16000 * seconds,)
    assert peak < mono_and_output + 8 * 2**20 < all_channels


@pytest.mark.parametrize("bad", [(np.zeros((2, 3)), 16000, 8000), (np.zeros(4), 0, 16000),
                                 (np.zeros(4), 16000, 10**7), (np.zeros(4), 16000.5, 8000)])
def test_resample_refuses_bad_arguments(bad):
    with pytest.raises(UsageError):
        resample(*bad)


def test_rates_without_a_small_exact_ratio_are_refused_clearly(tmp_path):
    path = write(tmp_path / "odd.wav", pcm16_wav(np.zeros(2000), rate=96001))
    with pytest.raises(AudioError, match="96001 Hz cannot be converted exactly") as info:
        load_audio(path, 16000)
    assert str(path) in str(info.value)


# --------------------------------------------------------------------------------------------
# Arrays, hashing, names, truncation


def test_array_and_file_give_the_same_audio(tmp_path):
    source = channel_mix(22050, 2, 44100)
    sf.write(tmp_path / "s.wav", source, 44100, subtype="DOUBLE")
    from_file = load_audio(tmp_path / "s.wav", 16000)
    from_array = audio_from_array(source, 44100, 16000)
    assert isinstance(from_array, Audio) and from_array.path is None
    assert from_array.reader == "array" and from_array.original_channels == 2
    np.testing.assert_allclose(from_array.waveform, from_file.waveform, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    ("dtype", "values", "expected"),
    [
        (np.uint8, [0, 128, 255], [-1.0, 0.0, 127 / 128]),
        (np.int16, [-32768, 0, 32767], [-1.0, 0.0, 32767 / 32768]),
        (np.int32, [-(2**31), 0, 2**30], [-1.0, 0.0, 0.5]),
        (np.float32, [-2.5, 0.0, 2.5], [-2.5, 0.0, 2.5]),
    ],
)
def test_array_integer_pcm_is_scaled_like_a_wav(dtype, values, expected):
    data = np.array(values * 400, dtype=dtype)
    result = audio_from_array(data, 16000, 16000)
    np.testing.assert_allclose(result.waveform[:3], expected, rtol=0, atol=1e-7)


def test_array_rates_from_matlab_doubles_are_accepted():
    result = audio_from_array(np.zeros((800, 1)), 8000.0, 16000.0)
    assert result.sample_rate == 16000 and result.waveform.shape == (1600,)


def test_file_sha256_streams_the_bytes(tmp_path, monkeypatch):
    content = np.random.default_rng(4).bytes(300_001)
    path = write(tmp_path / "blob.wav", content)
    monkeypatch.setattr(audio, "HASH_BLOCK_BYTES", 4096)
    assert file_sha256(path) == hashlib.sha256(content).hexdigest()
    assert file_sha256(str(path)) == hashlib.sha256(content).hexdigest()


ODD_NAMES = [
    "with space.wav",
    "it's \"quoted\".wav",
    "a&b;c|d.wav",
    "$(touch pwned).wav",
    "`touch pwned2`.wav",
    "café ünï 日本語 שלום.wav",
    "new\nline.flac",
    "-dash-first.wav",
]


@pytest.mark.parametrize("name", ODD_NAMES)
def test_file_names_are_only_names(tmp_path, name):
    fmt = "FLAC" if name.endswith(".flac") else "WAV"
    source = sine(700, 0.1, 16000)
    sf.write(tmp_path / name, source, 16000, format=fmt, subtype="PCM_16")
    result = load_audio(tmp_path / name, 16000)
    assert result.path == str(tmp_path / name)
    np.testing.assert_allclose(result.waveform, source, atol=1 / 32768)
    expected = hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()
    assert file_sha256(tmp_path / name) == expected
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "pwned2").exists()
    # refusals name such files on one line too
    with pytest.raises(AudioError) as info:
        load_audio(tmp_path / ("missing " + name), 16000)
    message = str(info.value)
    assert "\n" not in message and "missing " in message


def test_truncated_wav_uses_the_readable_part_and_warns(tmp_path):
    source = sine(440, 1.0, 16000)
    full = pcm16_wav(source)
    path = write(tmp_path / "cut.wav", full[: 44 + 2 * 6000 + 1])  # 6000 samples and a half
    with pytest.warns(AudioWarning, match="truncated") as record:
        result = load_audio(path, 16000)
    assert result.original_num_samples == 6000
    assert len(result.warnings) == 1 and str(path) in result.warnings[0]
    assert "32000 bytes" in result.warnings[0] and "6000 samples" in result.warnings[0]
    assert str(record[0].message) == result.warnings[0]
    np.testing.assert_allclose(result.waveform, source[:6000], atol=1 / 32767)


def test_truncated_wav_through_scipy_also_warns(tmp_path, monkeypatch):
    source = sine(440, 0.5, 16000)
    path = write(tmp_path / "cut.wav", pcm16_wav(source)[:-1000])
    force_scipy(monkeypatch)
    with pytest.warns(AudioWarning, match="truncated"):
        result = load_audio(path, 16000)
    assert result.reader == "scipy" and result.original_num_samples == 8000 - 500
    np.testing.assert_allclose(result.waveform, source[:7500], atol=1 / 32767)


def test_unknown_length_placeholder_is_not_a_truncation(tmp_path):
    source = sine(440, 0.25, 16000)
    path = write(tmp_path / "stream.wav", pcm16_wav(source, data_size=0xFFFFFFFF,
                                                    riff_size=0xFFFFFFFF))
    with warnings.catch_warnings():
        warnings.simplefilter("error", AudioWarning)
        result = load_audio(path, 16000)
    assert result.warnings == () and result.original_num_samples == source.shape[0]


def test_decoder_chatter_stays_off_stderr(tmp_path, capfd):
    """libsndfile's MP3 probe prints parser warnings for garbage; the CLI promises one line per
    failed file, so that chatter goes to the debug log instead."""
    path = write(tmp_path / "noise.wav", np.random.default_rng(1).bytes(5000))
    with pytest.raises(AudioError):
        load_audio(path, 16000)
    assert capfd.readouterr().err == ""
