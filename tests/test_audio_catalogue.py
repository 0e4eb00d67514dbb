"""The catalogue of inputs: what must load (and how), and what must be refused (and why).

Every file is generated here, by soundfile, scipy, or byte by byte. A refusal must be the right
error class, one line, name the file, and give the reason.
"""

from __future__ import annotations

import os
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from audio_fixtures import (
    PCM_TOLERANCE,
    WAVE_FORMAT_EXTENSIBLE,
    WAVE_FORMAT_IEEE_FLOAT,
    WAVE_FORMAT_PCM,
    channel_mix,
    float32_wav,
    fmt_chunk,
    pcm16_wav,
    sine,
    wav_bytes,
    write,
)
from scipy.io import wavfile
from w2vbackend.audio import (
    Audio,
    AudioWarning,
    audio_from_array,
    file_sha256,
    load_audio,
)
from w2vbackend.errors import AudioError, AudioNotFoundError, UsageError, W2VError

TARGET = 16000
SOURCE = sine(440, 0.5, TARGET, amplitude=0.8) + sine(2000, 0.5, TARGET, amplitude=0.1)


@dataclass(frozen=True)
class Accepted:
    build: Callable[[Path], Path]
    check: Callable[[Audio], None]
    warns: bool = False


@dataclass(frozen=True)
class Refused:
    build: Callable[[Path], Path]
    error: type[W2VError]
    reason: str  # a fragment of the message after the file name


# --------------------------------------------------------------------------------------------
# Builders


def soundfile_file(name: str, data: np.ndarray = SOURCE, rate: int = TARGET,
                   **kwargs) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        sf.write(folder / name, data, rate, **kwargs)
        return folder / name

    return build


def raw_file(name: str, content: bytes) -> Callable[[Path], Path]:
    return lambda folder: write(folder / name, content)


def cut_file(name: str, keep: Callable[[int], int], **kwargs) -> Callable[[Path], Path]:
    """Write with soundfile, then keep only the first keep(size) bytes."""

    def build(folder: Path) -> Path:
        path = soundfile_file(name, **kwargs)(folder)
        content = path.read_bytes()
        path.write_bytes(content[: keep(len(content))])
        return path

    return build


def scipy_file(name: str, data: np.ndarray) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        wavfile.write(folder / name, TARGET, data)
        return folder / name

    return build


def directory(folder: Path) -> Path:
    (folder / "folder.wav").mkdir()
    return folder / "folder.wav"


def fifo(folder: Path) -> Path:
    os.mkfifo(folder / "pipe.wav")
    return folder / "pipe.wav"


def with_nan_at(index: int, value: float, channels: int = 1) -> bytes:
    data = np.tile(sine(300, 2.0, TARGET, amplitude=0.5)[:, None], (1, channels))
    data[index, channels - 1] = value
    return float32_wav(data, channels=channels)


# --------------------------------------------------------------------------------------------
# Checks


def close_to(expected: np.ndarray, atol: float, rate: int = TARGET) -> Callable[[Audio], None]:
    def check(result: Audio) -> None:
        assert result.original_sample_rate == rate
        np.testing.assert_allclose(result.waveform, expected, rtol=0, atol=atol)

    return check


def snr_above(expected: np.ndarray, db: float) -> Callable[[Audio], None]:
    def check(result: Audio) -> None:
        assert result.waveform.shape == expected.shape
        noise = np.sum((result.waveform - expected) ** 2)
        assert 10 * np.log10(np.sum(expected**2) / noise) > db

    return check


def length_and_tone(rate: int) -> Callable[[Audio], None]:
    """Resampled to 16 kHz: ceil-consistent length and the analytic tone in the interior."""

    def check(result: Audio) -> None:
        n_in = round(0.5 * rate)
        assert result.original_sample_rate == rate and result.original_num_samples == n_in
        assert result.waveform.shape == (-(-n_in * TARGET // rate),)
        expected = sine(440, 0.5, TARGET, amplitude=0.8)
        np.testing.assert_allclose(result.waveform[800:-800], expected[800:-800], atol=2e-3)

    return check


def constant(value: float, margin: int = 0) -> Callable[[Audio], None]:
    def check(result: Audio) -> None:
        inner = result.waveform[margin : result.waveform.shape[0] - margin]
        np.testing.assert_allclose(inner, value, rtol=0, atol=1e-4)
        assert np.all(np.isfinite(result.waveform))

    return check


def samples(count: int, channels: int = 1, prefix: np.ndarray | None = None,
            atol: float = 1 / 32767) -> Callable[[Audio], None]:
    def check(result: Audio) -> None:
        assert result.original_num_samples == count and result.original_channels == channels
        if prefix is not None:
            np.testing.assert_allclose(result.waveform, prefix[:count], rtol=0, atol=atol)

    return check


def all_of(*checks: Callable[[Audio], None]) -> Callable[[Audio], None]:
    def check(result: Audio) -> None:
        for one in checks:
            one(result)

    return check


def wav_with_list_chunk(folder: Path) -> Path:
    ints = np.round(SOURCE * 32768).astype("<i2").tobytes()
    info = b"LIST" + struct.pack("<I", 12) + b"INFOISFT\x00\x00\x00\x00"
    body = b"WAVE" + fmt_chunk(WAVE_FORMAT_PCM, 1, TARGET, 16) + info
    body += b"data" + struct.pack("<I", len(ints)) + ints
    return write(folder / "list chunk.wav", b"RIFF" + struct.pack("<I", len(body)) + body)


STEREO = channel_mix(TARGET // 2, 2, TARGET)
SIX = channel_mix(TARGET // 2, 6, TARGET)
EIGHT = channel_mix(TARGET // 2, 8, TARGET)
LOUD = 2.5 * SOURCE

ACCEPTED: dict[str, Accepted] = {
    # every integer width and both float widths
    "wav 8-bit unsigned": Accepted(soundfile_file("u8.wav", subtype="PCM_U8"),
                                   close_to(SOURCE, PCM_TOLERANCE["PCM_U8"])),
    "wav 16-bit": Accepted(soundfile_file("s16.wav", subtype="PCM_16"),
                           close_to(SOURCE, PCM_TOLERANCE["PCM_16"])),
    "wav 24-bit": Accepted(soundfile_file("s24.wav", subtype="PCM_24"),
                           close_to(SOURCE, PCM_TOLERANCE["PCM_24"])),
    "wav 32-bit": Accepted(soundfile_file("s32.wav", subtype="PCM_32"),
                           close_to(SOURCE, PCM_TOLERANCE["PCM_32"])),
    "wav float32 beyond [-1, 1]": Accepted(soundfile_file("f32.wav", LOUD, subtype="FLOAT"),
                                           close_to(LOUD, 1e-6)),
    "wav float64 beyond [-1, 1]": Accepted(soundfile_file("f64.wav", LOUD, subtype="DOUBLE"),
                                           close_to(LOUD, 1e-6)),
    "wav written by scipy int16": Accepted(
        scipy_file("scipy16.wav", np.round(SOURCE * 32768).astype(np.int16)),
        close_to(SOURCE, 1 / 32767)),
    "wav written by scipy float32": Accepted(
        scipy_file("scipyf.wav", SOURCE.astype(np.float32)), close_to(SOURCE, 1e-7)),
    "wav with a LIST chunk before the data": Accepted(wav_with_list_chunk,
                                                      close_to(SOURCE, 1 / 32767)),
    # channel layouts
    "stereo": Accepted(soundfile_file("stereo.wav", STEREO, subtype="PCM_24"),
                       all_of(samples(8000, 2), close_to(STEREO.mean(axis=1), 2.0**-23))),
    "6 channels": Accepted(soundfile_file("six.wav", SIX, subtype="PCM_24"),
                           all_of(samples(8000, 6), close_to(SIX.mean(axis=1), 2.0**-23))),
    "WAVE_FORMAT_EXTENSIBLE 8 channels": Accepted(
        soundfile_file("wavex.wav", EIGHT, format="WAVEX", subtype="PCM_24"),
        all_of(samples(8000, 8), close_to(EIGHT.mean(axis=1), 2.0**-23))),
    "WAVE_FORMAT_EXTENSIBLE float by hand": Accepted(
        raw_file("wavex_float.wav", wav_bytes(
            fmt_chunk(WAVE_FORMAT_EXTENSIBLE, 2, TARGET, 32, subformat=WAVE_FORMAT_IEEE_FLOAT),
            STEREO.astype("<f4").tobytes())),
        all_of(samples(8000, 2), close_to(STEREO.mean(axis=1), 1e-7))),
    # other containers
    "flac 16-bit": Accepted(soundfile_file("a.flac", format="FLAC", subtype="PCM_16"),
                            close_to(SOURCE, 1 / 32767)),
    "flac 24-bit": Accepted(soundfile_file("a24.flac", format="FLAC", subtype="PCM_24"),
                            close_to(SOURCE, 2.0**-23)),
    "ogg vorbis": Accepted(soundfile_file("a.ogg", format="OGG", subtype="VORBIS"),
                           snr_above(SOURCE, 20)),
    "mp3": Accepted(soundfile_file("a.mp3", format="MP3", subtype="MPEG_LAYER_III"),
                    snr_above(SOURCE, 20)),
    "aiff 16-bit": Accepted(soundfile_file("a.aiff", format="AIFF", subtype="PCM_16"),
                            close_to(SOURCE, 1 / 32767)),
    "aifc float": Accepted(soundfile_file("f.aifc", format="AIFF", subtype="FLOAT"),
                           close_to(SOURCE, 1e-7)),
    # sample rates, each resampled to 16 kHz
    **{
        f"rate {rate} Hz": Accepted(
            soundfile_file(f"r{rate}.wav", sine(440, 0.5, rate, amplitude=0.8), rate,
                           subtype="PCM_24"),
            length_and_tone(rate))
        for rate in (8000, 11025, 22050, 44100, 48000, 96000, 192000)
    },
    # lengths and degenerate content
    "exactly one receptive field (400 samples)": Accepted(
        soundfile_file("short.wav", SOURCE[:400], subtype="PCM_16"), samples(400)),
    "a single sample": Accepted(soundfile_file("one.wav", SOURCE[100:101], subtype="FLOAT"),
                                samples(1)),
    "silence": Accepted(soundfile_file("silence.wav", np.zeros(8000), subtype="PCM_16"),
                        constant(0.0)),
    "constant (zero variance)": Accepted(
        soundfile_file("dc.wav", np.full(8000, 0.25), subtype="FLOAT"), constant(0.25)),
    "constant at 44.1 kHz, resampled": Accepted(
        soundfile_file("dc44.wav", np.full(22050, 0.25), 44100, subtype="FLOAT"),
        constant(0.25, margin=100)),
    # truncated files: the readable part is used, with a warning
    "truncated wav": Accepted(cut_file("cut.wav", lambda n: n // 2, data=SOURCE, rate=TARGET,
                                       subtype="PCM_16"),
                              samples(3989, prefix=SOURCE), warns=True),
    "truncated wav, half a stereo frame": Accepted(
        cut_file("cut2.wav", lambda n: n - 3, data=STEREO, rate=TARGET, subtype="PCM_16"),
        samples(7999, 2, prefix=STEREO.mean(axis=1)), warns=True),
    "truncated aiff": Accepted(cut_file("cut.aiff", lambda n: n // 2, data=SOURCE, rate=TARGET,
                                        format="AIFF", subtype="PCM_16"),
                               samples(3986, prefix=SOURCE), warns=True),
    "truncated mp3": Accepted(cut_file("cut.mp3", lambda n: n // 2, data=SOURCE, rate=TARGET,
                                       format="MP3", subtype="MPEG_LAYER_III"),
                              lambda result: 0 < result.original_num_samples < 8000, warns=True),
    "unknown-length placeholder in the header": Accepted(
        raw_file("stream.wav", pcm16_wav(SOURCE, data_size=0xFFFFFFFF, riff_size=0xFFFFFFFF)),
        all_of(samples(8000), close_to(SOURCE, 1 / 32767))),
}

REFUSED: dict[str, Refused] = {
    "missing path": Refused(lambda folder: folder / "nowhere.wav", AudioNotFoundError,
                            "no such file"),
    "path through a file": Refused(lambda folder: write(folder / "f.wav", b"x") / "inner.wav",
                                   AudioNotFoundError, "no such file"),
    "directory": Refused(directory, AudioNotFoundError, "is a directory"),
    "0-byte file": Refused(raw_file("empty.wav", b""), AudioError, "is empty (0 bytes)"),
    "text file named .wav": Refused(raw_file("notes.wav", b"Subject 12, session 2\nok\n"),
                                    AudioError, "is a text file, not audio"),
    "utf-8 text named .flac": Refused(raw_file("notes.flac", "Grüße, 日本\n".encode()),
                                      AudioError, "is a text file, not audio"),
    "RIFF header followed by garbage": Refused(
        raw_file("garbage.wav", b"RIFF" + struct.pack("<I", 4004) + b"WAVE"
                 + np.random.default_rng(0).bytes(4000)),
        AudioError, "not a readable audio file"),
    "random bytes": Refused(raw_file("noise.wav", np.random.default_rng(1).bytes(5000)),
                            AudioError, "not a readable audio file"),
    "valid header with no samples": Refused(soundfile_file("nothing.wav", np.zeros(0)),
                                            AudioError, "contains no audio samples"),
    "header claiming samples, file ends after it": Refused(
        raw_file("header_only.wav", pcm16_wav(SOURCE)[:44]), AudioError,
        "contains no audio samples (the header declares 16000 bytes"),
    "data size 0 with bytes after it (unfinished recording)": Refused(
        raw_file("unfinished.wav", pcm16_wav(SOURCE, data_size=0, riff_size=0)), AudioError,
        "contains no audio samples"),
    "NaN sample": Refused(raw_file("nan.wav", with_nan_at(1234, np.nan)), AudioError,
                          "NaN or Inf samples (first at sample 1234, 0.077 s)"),
    "Inf sample": Refused(raw_file("inf.wav", with_nan_at(5, np.inf)), AudioError,
                          "NaN or Inf samples (first at sample 5,"),
    "NaN in the second channel only": Refused(
        raw_file("nan2.wav", with_nan_at(77, np.nan, channels=2)), AudioError,
        "NaN or Inf samples (first at sample 77,"),
    "NaN deep in a long file": Refused(raw_file("nan_late.wav", with_nan_at(31999, -np.inf)),
                                       AudioError, "first at sample 31999, 2.000 s"),
    "float64 beyond the float32 range": Refused(
        soundfile_file("huge.wav", np.full(100, 1e300), subtype="DOUBLE"), AudioError,
        "beyond the float32 range"),
    "sample rate 500 Hz": Refused(raw_file("slow.wav", pcm16_wav(SOURCE, rate=500)), AudioError,
                                  "implausible sample rate 500 Hz"),
    "sample rate 0 Hz": Refused(raw_file("zero.wav", pcm16_wav(SOURCE, rate=0)), AudioError, ""),
    "sample rate 1 MHz": Refused(raw_file("fast.wav", pcm16_wav(SOURCE, rate=1_000_000)),
                                 AudioError, "implausible sample rate 1000000 Hz"),
    "sample rate without an exact small ratio (96001 Hz)": Refused(
        raw_file("odd.wav", pcm16_wav(SOURCE, rate=96001)), AudioError,
        "cannot be converted exactly"),
    "zero channels": Refused(
        raw_file("nochan.wav", wav_bytes(fmt_chunk(WAVE_FORMAT_PCM, 0, TARGET, 16, block_align=2),
                                         b"\x00\x01" * 100)),
        AudioError, ""),
    "truncated flac": Refused(cut_file("cut.flac", lambda n: n // 2, data=SOURCE, rate=TARGET,
                                       format="FLAC", subtype="PCM_16"),
                              AudioError, "not a readable audio file"),
    "truncated ogg": Refused(cut_file("cut.ogg", lambda n: n // 2, data=SOURCE, rate=TARGET,
                                      format="OGG", subtype="VORBIS"),
                             AudioError, ""),
}
if hasattr(os, "mkfifo"):
    REFUSED["named pipe (would block)"] = Refused(fifo, AudioError, "is not a regular file")

ARRAYS_REFUSED: dict[str, tuple[np.ndarray, object, type[W2VError], str]] = {
    "empty array": (np.zeros(0), TARGET, AudioError, "contains no audio samples"),
    "no channels": (np.zeros((100, 0)), TARGET, AudioError, "contains no audio samples"),
    "NaN in array": (np.array([0.0, np.nan] * 100), TARGET, AudioError, "NaN or Inf"),
    "Inf in array": (np.array([0.0, -np.inf] * 100, dtype=np.float32), TARGET, AudioError,
                     "NaN or Inf"),
    "3-D array": (np.zeros((10, 2, 2)), TARGET, AudioError, "expected shape"),
    "channels by samples": (np.zeros((2, 16000)), TARGET, AudioError, "more channels"),
    "boolean samples": (np.ones(100, dtype=bool), TARGET, AudioError, "unsupported sample type"),
    "complex samples": (np.ones(100, dtype=complex), TARGET, AudioError,
                        "unsupported sample type"),
    "array rate 0": (np.zeros(100), 0, AudioError, "implausible sample rate"),
    "array rate NaN": (np.zeros(100), float("nan"), AudioError, "implausible sample rate"),
    "array rate 44.1 (kHz by mistake)": (np.zeros(100), 44.1, AudioError,
                                         "implausible sample rate"),
}


# --------------------------------------------------------------------------------------------
# The tests


@pytest.mark.parametrize("case", list(ACCEPTED), ids=list(ACCEPTED))
def test_accepted(tmp_path, recwarn, case):
    spec = ACCEPTED[case]
    path = spec.build(tmp_path)
    result = load_audio(path, TARGET)
    assert result.waveform.dtype == np.float32 and result.waveform.ndim == 1
    assert result.waveform.shape[0] > 0 and np.all(np.isfinite(result.waveform))
    assert result.sample_rate == TARGET and result.path == str(path)
    spec.check(result)
    emitted = [w for w in recwarn if issubclass(w.category, AudioWarning)]
    if spec.warns:
        assert len(result.warnings) == 1 and len(emitted) == 1
        message = result.warnings[0]
        assert "truncated" in message and str(path) in message and "\n" not in message
        assert str(emitted[0].message) == message
    else:
        assert result.warnings == () and emitted == []


@pytest.mark.parametrize("case", list(REFUSED), ids=list(REFUSED))
def test_refused(tmp_path, case):
    spec = REFUSED[case]
    path = spec.build(tmp_path)
    with pytest.raises(W2VError) as info:
        load_audio(path, TARGET)
    error = info.value
    message = str(error)
    assert type(error) is spec.error, message
    assert error.code == spec.error.code
    assert "\n" not in message and message.startswith(f"{path}: "), message
    assert spec.reason in message


@pytest.mark.parametrize("case", list(ARRAYS_REFUSED), ids=list(ARRAYS_REFUSED))
def test_arrays_refused(case):
    data, rate, expected, reason = ARRAYS_REFUSED[case]
    with pytest.raises(W2VError) as info:
        audio_from_array(data, rate, TARGET)
    assert type(info.value) is expected
    message = str(info.value)
    assert "\n" not in message and message.startswith("audio array: ") and reason in message


@pytest.mark.parametrize("target", [0, -16000, 999, 10**7, 16000.5, "16k", None, True])
def test_implausible_target_rate_is_a_usage_error(tmp_path, target):
    path = write(tmp_path / "ok.wav", pcm16_wav(SOURCE))
    with pytest.raises(UsageError, match="target_sample_rate"):
        load_audio(path, target)
    with pytest.raises(UsageError, match="target_sample_rate"):
        audio_from_array(SOURCE, TARGET, target)


def test_file_sha256_refusals_name_the_file(tmp_path):
    with pytest.raises(AudioNotFoundError, match=r"nowhere\.wav: no such file"):
        file_sha256(tmp_path / "nowhere.wav")
    with pytest.raises(AudioNotFoundError, match="is a directory"):
        file_sha256(tmp_path)
    empty = write(tmp_path / "empty.wav", b"")
    assert file_sha256(empty) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0,
                    reason="permissions do not bind root or Windows")
def test_unreadable_file_is_refused(tmp_path):
    path = write(tmp_path / "locked.wav", pcm16_wav(SOURCE))
    path.chmod(0)
    try:
        with pytest.raises(AudioError) as info:
            load_audio(path, TARGET)
        assert str(path) in str(info.value)
    finally:
        path.chmod(0o600)


def test_catalogue_size():
    """The counts quoted when this catalogue is reported."""
    assert len(ACCEPTED) >= 30 and len(REFUSED) + len(ARRAYS_REFUSED) >= 30
