"""Test material for the audio reader: reference signals and WAV files built byte by byte."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

# WAVE format tags (mmreg.h)
WAVE_FORMAT_PCM = 0x0001
WAVE_FORMAT_IEEE_FLOAT = 0x0003
WAVE_FORMAT_EXTENSIBLE = 0xFFFE
# KSDATAFORMAT_SUBTYPE_PCM / _IEEE_FLOAT: the format tag followed by a fixed GUID tail.
GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"

# soundfile subtype -> worst-case error of a round trip through it, for signals in [-1, 1).
PCM_TOLERANCE = {
    "PCM_U8": 1.0 / 128,
    "PCM_16": 1.0 / 32768,
    "PCM_24": 2.0**-23,
    "PCM_32": 1e-7,  # beyond float32's resolution: the float32 result limits it
    "FLOAT": 1e-7,
    "DOUBLE": 1e-7,
}


def sine(freq: float, duration_s: float, sample_rate: int, amplitude: float = 0.5,
         phase: float = 0.3) -> np.ndarray:
    """(round(duration_s * sample_rate),) float64 sine, sample k at k / sample_rate s."""
    t = np.arange(round(duration_s * sample_rate)) / sample_rate
    return amplitude * np.sin(2 * np.pi * freq * t + phase)


def channel_mix(num_samples: int, channels: int, sample_rate: int) -> np.ndarray:
    """(num_samples, channels) float64 in [-0.9, 0.9]: a different tone in each channel."""
    t = np.arange(num_samples) / sample_rate
    columns = [0.9 / (c + 1) * np.sin(2 * np.pi * (150 + 110 * c) * t + c) for c in range(channels)]
    return np.stack(columns, axis=1)


def fmt_chunk(format_tag: int, channels: int, rate: int, bits: int, block_align: int | None = None,
              byte_rate: int | None = None, subformat: int | None = None) -> bytes:
    """A 'fmt ' chunk; with ``subformat`` it is WAVE_FORMAT_EXTENSIBLE-shaped (40 bytes)."""
    if block_align is None:
        block_align = channels * ((bits + 7) // 8)
    if byte_rate is None:
        byte_rate = rate * block_align
    body = struct.pack("<HHIIHH", format_tag & 0xFFFF, channels & 0xFFFF, rate & 0xFFFFFFFF,
                       byte_rate & 0xFFFFFFFF, block_align & 0xFFFF, bits & 0xFFFF)
    if subformat is not None:
        mask = (1 << min(channels, 18)) - 1
        body += struct.pack("<HHI", 22, bits & 0xFFFF, mask)
        body += struct.pack("<H", subformat & 0xFFFF) + GUID_TAIL
    return b"fmt " + struct.pack("<I", len(body)) + body


def wav_bytes(fmt: bytes, data: bytes, data_size: int | None = None,
              riff_size: int | None = None, riff_tag: bytes = b"RIFF") -> bytes:
    """RIFF/WAVE file from a fmt chunk and raw sample bytes; sizes may lie on purpose."""
    size = len(data) if data_size is None else data_size
    chunk = b"data" + struct.pack("<I", size & 0xFFFFFFFF) + data
    if len(data) % 2:
        chunk += b"\x00"
    body = b"WAVE" + fmt + chunk
    total = len(body) if riff_size is None else riff_size
    return riff_tag + struct.pack("<I", total & 0xFFFFFFFF) + body


def pcm16_wav(samples: np.ndarray, rate: int = 16000, channels: int = 1, **sizes) -> bytes:
    """16-bit PCM WAV bytes of float samples in [-1, 1] ((n,) or (n, channels))."""
    ints = np.clip(np.round(np.asarray(samples) * 32768), -32768, 32767).astype("<i2")
    return wav_bytes(fmt_chunk(WAVE_FORMAT_PCM, channels, rate, 16), ints.tobytes(), **sizes)


def float32_wav(samples: np.ndarray, rate: int = 16000, channels: int = 1) -> bytes:
    """32-bit IEEE float WAV bytes (values stored as given, NaN and Inf included)."""
    data = np.asarray(samples, dtype="<f4").tobytes()
    return wav_bytes(fmt_chunk(WAVE_FORMAT_IEEE_FLOAT, channels, rate, 32), data)


def write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path
