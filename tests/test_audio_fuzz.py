"""Fuzzing the loader: random WAV headers, mutated files and random arrays.

Whatever the bytes, ``load_audio`` returns a finite mono float32 waveform or raises the
project's own error (W2VError); never another exception, a NaN, or a hang (each example has a
deadline).
"""

from __future__ import annotations

import io
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from audio_fixtures import GUID_TAIL, channel_mix
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from w2vbackend.audio import Audio, AudioWarning, audio_from_array, load_audio
from w2vbackend.errors import W2VError

TARGET = 16000
FUZZ = settings(
    max_examples=200,
    deadline=5000,  # ms; generous for a shared machine, still catches a hang
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 2**32 - 1)
odd_format_tags = st.sampled_from([0x0002, 0x0006, 0x0007, 0x0011, 0x0000, 0x0055]) | u16
odd_channels = st.sampled_from([0, 255, 1024, 0xFFFF]) | u16
odd_rates = st.sampled_from([0, 1, 999, 12345, 96001, 768001, 0xFFFFFFFF]) | u32
odd_bits = st.sampled_from([0, 1, 4, 12, 20, 48, 0xFFFF]) | u16
odd_sizes = st.sampled_from([0, 1, 0x7FFFFFFF, 0xFFFFFFFF]) | u32
odd_riff_tags = st.sampled_from([b"RIFX", b"RF64"]) | st.binary(min_size=4, max_size=4)
# format tag -> bit depths that go with it
PLAUSIBLE_BITS = {0x0001: [8, 16, 24, 32], 0x0003: [32, 64], 0xFFFE: [8, 16, 24, 32]}


def sometimes(draw, plausible, odd):
    """Mostly a plausible value, one time in five an odd one: deep parser paths need headers
    that are nearly right, and the odd values need to meet each other too."""
    return draw(odd) if draw(st.integers(0, 4)) == 0 else draw(plausible)


@st.composite
def wav_files(draw) -> bytes:
    """A RIFF/WAVE file whose every header field may be right, wrong or absurd."""
    tag = sometimes(draw, st.sampled_from(sorted(PLAUSIBLE_BITS)), odd_format_tags)
    channels = sometimes(draw, st.sampled_from([1, 2, 6]), odd_channels)
    rate = sometimes(draw, st.sampled_from([8000, 16000, 44100]), odd_rates)
    bits = sometimes(draw, st.sampled_from(PLAUSIBLE_BITS.get(tag, [16])), odd_bits)
    width = (bits + 7) // 8
    block_align = sometimes(draw, st.just((channels * width) & 0xFFFF), u16)
    byte_rate = sometimes(draw, st.just((rate * block_align) & 0xFFFFFFFF), u32)
    body = struct.pack("<HHIIHH", tag, channels, rate, byte_rate, block_align, bits)
    if tag == 0xFFFE or draw(st.integers(0, 9)) == 0:  # extensible tail, valid or not
        subformat = sometimes(draw, st.just(3 if bits == 64 else 1), u16)
        guid_tail = sometimes(draw, st.just(GUID_TAIL), st.binary(min_size=14, max_size=14))
        valid_bits = sometimes(draw, st.just(bits), u16)
        mask = sometimes(draw, st.just((1 << min(channels, 18)) - 1), u32)
        body += struct.pack("<HHI", sometimes(draw, st.just(22), u16), valid_bits, mask)
        body += struct.pack("<H", subformat) + guid_tail
    fmt_size = sometimes(draw, st.just(len(body)), st.sampled_from([14, 16, 18, 40]) | u32)
    fmt = b"fmt " + struct.pack("<I", fmt_size) + body
    frames = draw(st.integers(0, 600))
    data = draw(st.binary(min_size=min(4096, frames * block_align),
                          max_size=min(4096, frames * block_align)) | st.binary(max_size=4096))
    data_size = sometimes(draw, st.just(len(data)), odd_sizes)
    chunks = [fmt]
    if draw(st.integers(0, 4)) == 0:
        payload = draw(st.binary(max_size=64))
        chunk_id = draw(st.sampled_from([b"LIST", b"fact", b"PEAK", b"junk"])
                        | st.binary(min_size=4, max_size=4))
        chunks.insert(draw(st.integers(0, 1)), chunk_id + struct.pack("<I", len(payload)) + payload)
    chunks.append(b"data" + struct.pack("<I", data_size) + data)
    if draw(st.integers(0, 9)) == 0:
        chunks.reverse()  # data before fmt
    content = b"WAVE" + b"".join(chunks)
    riff_size = sometimes(draw, st.just(len(content)), odd_sizes)
    riff_tag = sometimes(draw, st.just(b"RIFF"), odd_riff_tags)
    return riff_tag + struct.pack("<I", riff_size) + content


def valid_file(fmt: str, subtype: str) -> bytes:
    buffer = io.BytesIO()
    data = channel_mix(2000, 2, TARGET)
    if fmt == "WAV" and subtype == "FLOAT":
        data[::97] *= 40.0  # floats beyond [-1, 1] stay valid input
    sf.write(buffer, data, TARGET, format=fmt, subtype=subtype)
    return buffer.getvalue()


VALID_FILES = [valid_file(fmt, subtype) for fmt, subtype in [
    ("WAV", "PCM_U8"), ("WAV", "PCM_16"), ("WAV", "PCM_24"), ("WAV", "FLOAT"), ("WAV", "DOUBLE"),
    ("WAVEX", "PCM_32"), ("FLAC", "PCM_16"), ("AIFF", "PCM_16"), ("OGG", "VORBIS"),
]]


@st.composite
def mutated_files(draw) -> bytes:
    """A valid file with a few bytes overwritten, and possibly cut short."""
    content = bytearray(draw(st.sampled_from(VALID_FILES)))
    for _ in range(draw(st.integers(0, 4))):
        # mostly in the header, where the structure is
        limit = len(content) - 1 if draw(st.booleans()) else min(len(content) - 1, 80)
        content[draw(st.integers(0, limit))] = draw(st.integers(0, 255))
    if draw(st.integers(0, 2)) == 0:
        content = content[: draw(st.integers(1, len(content)))]
    return bytes(content)


@pytest.fixture(scope="module")
def fuzz_path(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "fuzz input.wav"


def check_outcome(path: Path) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AudioWarning)
            result = load_audio(path, TARGET)
    except W2VError as error:
        message = str(error)
        assert message and "\n" not in message
        assert str(path) in message
        return
    assert_valid(result)
    assert result.path == str(path) and result.reader in ("soundfile", "torchaudio", "scipy")


def assert_valid(result: Audio) -> None:
    waveform = result.waveform
    assert isinstance(waveform, np.ndarray) and waveform.dtype == np.float32
    assert waveform.ndim == 1 and waveform.shape[0] > 0
    assert np.all(np.isfinite(waveform))
    assert result.sample_rate == TARGET
    assert 1000 <= result.original_sample_rate <= 768000
    assert result.original_channels >= 1 and result.original_num_samples >= 1


@FUZZ
@given(content=wav_files())
def test_random_wav_headers(fuzz_path, content):
    fuzz_path.write_bytes(content)
    check_outcome(fuzz_path)


@FUZZ
@given(content=mutated_files())
def test_mutated_valid_files(fuzz_path, content):
    fuzz_path.write_bytes(content)
    check_outcome(fuzz_path)


@FUZZ
@given(
    data=hnp.arrays(
        dtype=st.sampled_from([np.float32, np.float64, np.int16, np.int32, np.uint8, np.int8,
                               np.float16]),
        shape=hnp.array_shapes(min_dims=1, max_dims=2, min_side=0, max_side=64),
    ),
    rate=st.sampled_from([8000, 16000, 44100]) | st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(-(2**40), 2**40),
)
def test_random_arrays(data, rate):
    try:
        result = audio_from_array(data, rate, TARGET)
    except W2VError as error:
        assert "\n" not in str(error) and str(error).startswith("audio array: ")
        return
    assert_valid(result)
    assert result.original_num_samples == data.shape[0]
