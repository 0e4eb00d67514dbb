"""Decoding audio files into mono float32 at the file's own rate.

Readers are tried in order: soundfile (libsndfile: WAV including WAVE_FORMAT_EXTENSIBLE, FLAC,
OGG Vorbis, MP3, AIFF and more), torchaudio (only if it imports and works), and
``scipy.io.wavfile`` (WAV only) as the last resort. Integer PCM becomes float in [-1, 1]:
8-bit WAV is unsigned with an offset of 128, 16/24/32-bit are signed and divided by 2**(bits-1).
Floating-point files are taken as stored, so values beyond [-1, 1] are kept, not clipped.
Decoding streams in blocks, so a long multichannel file never sits in memory as a
``(num_samples, num_channels)`` array.
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import logging
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import soundfile
from scipy.io import wavfile

from .decode_check import declared_length_is_exact
from .errors import AudioError
from .resample import check_source_rate

logger = logging.getLogger(__name__)

# Decoding works on blocks of about this many values (frames x channels) at a time.
READ_BLOCK_VALUES = 1 << 18
# Preallocate at most this many mono samples from a header's claim (1 GiB of float32); a
# lying header must not trigger a huge allocation, a longer file just grows the buffer.
MAX_PREALLOCATED_SAMPLES = 1 << 28
# How much of a failed file is inspected to say "this is text, not audio".
TEXT_SNIFF_BYTES = 1024
# Chunk sizes that streaming writers leave in a header when they do not know the length.
UNKNOWN_LENGTH_SIZES = frozenset({0xFFFFFFFF})
# libsndfile's parse log reports a data chunk longer than the file as "data : N (should be M)".
_LOG_SHORT_CHUNK = re.compile(r"^\s*(data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.M)
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_RIFF_MAGICS = (b"RIFF", b"RIFX", b"RF64")
_UNAVAILABLE = "not available"


@dataclass
class Decoded:
    """What a reader hands back: mono float32 at the source rate, before resampling."""

    mono: np.ndarray
    sample_rate: int
    channels: int
    warnings: list[str]
    container: tuple[str, str] | None = None  # soundfile's (format, subtype)


class _ReaderFailed(ValueError):
    """A reader could not decode the file (the next reader gets a try)."""




def decode_file(path: str, name: str, target: int) -> tuple[Decoded, str]:
    """Try each reader in turn; the first that decodes the file wins.

    A reader that decodes the file but finds it unusable (NaN, no samples, absurd rate) raises
    AudioError at once: another reader would see the same samples.
    """
    readers: list[tuple[str, Callable[[str, str, int], Decoded]]] = [
        ("soundfile", _read_soundfile),
        ("torchaudio", _read_torchaudio),
        ("scipy", _read_scipy),
    ]
    failures: list[tuple[str, str]] = []
    for reader, read in readers:
        try:
            return read(path, name, target), reader
        except AudioError:
            raise
        except Exception as exc:  # readers fail in library-specific ways, all mean "not this one"
            failures.append((reader, _exception_reason(reader, exc)))
    raise AudioError(f"{name}: {_failure_summary(path, failures)}")


def _exception_reason(reader: str, exc: BaseException) -> str | None:
    """A reader's complaint as one short line, or None when it would only confuse."""
    if reader == "scipy" and not isinstance(exc, ValueError):
        return None  # scipy's deliberate complaints are ValueErrors; the rest are its bugs
    text = getattr(exc, "error_string", None) or str(exc) or type(exc).__name__
    text = " ".join(str(text).split())[:200].rstrip(".")
    if reader == "soundfile" and text.startswith("File does not exist"):
        return "format not recognised"  # libsndfile's words for unknown bytes; the file exists
    return text


def _failure_summary(path: str, failures: list[tuple[str, str | None]]) -> str:
    """One line saying why no reader could decode the file."""
    head = _head(path)
    tried = dict(failures)
    details = [tried.get("soundfile") or "no reader could decode it"]
    if tried.get("torchaudio") and tried["torchaudio"] != _UNAVAILABLE:
        details.append(f"torchaudio: {tried['torchaudio']}")
    if head.startswith(_RIFF_MAGICS) and tried.get("scipy"):
        # scipy reads only WAV, so its complaint about anything else is noise.
        details.append(f"scipy: {tried['scipy']}")
    if _looks_like_text(head):
        return "is a text file, not audio (" + "; ".join(details) + ")"
    return "not a readable audio file (" + "; ".join(details) + ")"


def _head(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(TEXT_SNIFF_BYTES)
    except OSError:
        return b""


def _looks_like_text(head: bytes) -> bool:
    if not head or head.startswith(_RIFF_MAGICS):
        return False
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\t\n\r\f\v" for ch in text)


@contextlib.contextmanager
def _native_stderr_to_log() -> Iterator[None]:
    """Divert what C libraries print on file descriptor 2 into the debug log meanwhile.

    libsndfile's MP3 decoder (mpg123) prints parser warnings for any file it probes, garbage
    included, which would break the one-line-per-failed-file promise on stderr.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield  # no usable descriptor 2 (embedded interpreters): nothing to divert
        return
    try:
        sink = tempfile.TemporaryFile()  # noqa: SIM115 (closed by the with block below)
    except OSError:
        os.close(saved)
        yield  # nowhere to divert to: leave stderr as it is
        return
    with sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read(4096).decode("utf-8", "replace").strip()
            if text:
                logger.debug("decoder messages: %s", " | ".join(text.splitlines()))


def _read_soundfile(path: str, name: str, target: int) -> Decoded:
    with _native_stderr_to_log():
        return _read_soundfile_quietly(path, name, target)


def _read_soundfile_quietly(path: str, name: str, target: int) -> Decoded:
    with soundfile.SoundFile(path) as handle:
        rate = check_source_rate(handle.samplerate, target, name)
        channels = int(handle.channels)
        declared = int(handle.frames)
        frames_per_block = max(1, READ_BLOCK_VALUES // max(1, channels))

        def blocks() -> Iterator[np.ndarray]:
            while True:
                block = handle.read(frames_per_block, dtype="float64", always_2d=True)
                if block.shape[0] == 0:
                    return
                yield block

        mono = mix_down(blocks(), declared, rate, name)
        log = handle.extra_info
        container = (str(handle.format), str(handle.subtype))
    notes = _short_chunks(log)
    # An MP3 without a Xing/Info frame count declares only an estimate from its size.
    if 0 < mono.shape[0] < declared and declared_length_is_exact(path, container[0]):
        notes.append(f"the header declares {declared} samples per channel")
    if mono.shape[0] == 0:
        detail = f" ({'; '.join(notes)})" if notes else ""
        raise AudioError(f"{name}: contains no audio samples{detail}")
    return Decoded(mono, rate, channels, _truncation_warnings(name, notes, mono, rate),
                   container)


def _short_chunks(log: str) -> list[str]:
    """Sample chunks that libsndfile found longer in the header than in the file."""
    notes = []
    for chunk, declared, present in _LOG_SHORT_CHUNK.findall(log):
        if int(present) < int(declared) and int(declared) not in UNKNOWN_LENGTH_SIZES:
            notes.append(
                f"the header declares {declared} bytes of samples ('{chunk}' chunk) but the "
                f"file holds {present}"
            )
    return notes


def _truncation_warnings(name: str, notes: list[str], mono: np.ndarray, rate: int) -> list[str]:
    if not notes:
        return []
    used = mono.shape[0]
    return [
        f"{name}: truncated file: {'; '.join(notes)}; the readable {used} samples "
        f"({used / rate:.3f} s) are used"
    ]


@functools.lru_cache(maxsize=1)
def _torchaudio() -> Any:
    """torchaudio if it imports; None otherwise. A broken install (wrong torch, missing FFmpeg
    or shared libraries) raises all sorts of exceptions on import, so catch them all."""
    try:
        import torchaudio
    except Exception:
        return None
    return torchaudio


def _read_torchaudio(path: str, name: str, target: int) -> Decoded:
    module = _torchaudio()
    if module is None:
        raise _ReaderFailed(_UNAVAILABLE)
    tensor, rate = module.load(path)  # (channels, frames) float32, integer PCM normalised
    data = np.asarray(tensor.detach().cpu().numpy()).T
    rate = check_source_rate(rate, target, name)
    if data.ndim != 2 or data.shape[0] == 0:
        raise AudioError(f"{name}: contains no audio samples")
    mono = mix_down(blocks_of(data, 0.0, 1.0), data.shape[0], rate, name)
    return Decoded(mono, rate, int(data.shape[1]), [])


def _read_scipy(path: str, name: str, target: int) -> Decoded:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rate, data = wavfile.read(path, mmap=False)
    data = np.asarray(data)
    if data.ndim == 1:
        data = data[:, np.newaxis]
    if data.ndim != 2:
        raise _ReaderFailed(f"unexpected sample array of shape {data.shape}")
    rate = check_source_rate(rate, target, name)
    premature = [str(w.message) for w in caught if "EOF prematurely" in str(w.message)]
    if data.shape[0] == 0 or data.shape[1] == 0:
        detail = " (the file ends before its samples)" if premature else ""
        raise AudioError(f"{name}: contains no audio samples{detail}")
    offset, scale = pcm_scaling(data.dtype, name)
    mono = mix_down(blocks_of(data, offset, scale), data.shape[0], rate, name)
    notes = [f"the file ends early ({premature[0].rstrip('.')})"] if premature else []
    return Decoded(mono, rate, int(data.shape[1]), _truncation_warnings(name, notes, mono, rate))


def pcm_scaling(dtype: np.dtype, name: str) -> tuple[float, float]:
    """(offset, scale) that map stored samples to float: ``(x - offset) * scale``.

    uint8 is 8-bit WAV (unsigned, silence at 128). Signed integers are scaled by their container
    width, which is right for 24-bit data too: scipy returns it left-justified in int32.
    """
    if dtype == np.uint8:
        return 128.0, 1.0 / 128.0
    if dtype.kind == "i":
        return 0.0, 2.0 ** -(8 * dtype.itemsize - 1)
    if dtype.kind == "f":
        return 0.0, 1.0
    raise AudioError(f"{name}: unsupported sample type {dtype}")


def blocks_of(data: np.ndarray, offset: float, scale: float) -> Iterator[np.ndarray]:
    """``(frames, channels)`` stored samples as float64 blocks, PCM mapped to [-1, 1]."""
    step = max(1, READ_BLOCK_VALUES // max(1, data.shape[1]))
    for start in range(0, data.shape[0], step):
        block = data[start : start + step].astype(np.float64)
        if offset:
            block -= offset
        if scale != 1.0:
            block *= scale
        yield block


def mix_down(blocks: Iterable[np.ndarray], expected: int, rate: int, name: str) -> np.ndarray:
    """Average ``(frames, channels)`` float blocks into one ``(frames,)`` float32 signal.

    Refuses NaN/Inf samples (naming the first one) and values float32 cannot hold.
    """
    out = np.empty(min(max(expected, 0), MAX_PREALLOCATED_SAMPLES), dtype=np.float32)
    size = 0
    for block in blocks:
        finite = np.isfinite(block)
        if not finite.all():
            first = size + int(np.argmin(finite.all(axis=1)))
            raise AudioError(
                f"{name}: contains NaN or Inf samples (first at sample {first}, "
                f"{first / rate:.3f} s)"
            )
        mono = block.mean(axis=1) if block.shape[1] > 1 else block[:, 0]
        if not np.all(np.abs(mono) <= _FLOAT32_MAX):
            raise AudioError(f"{name}: sample values beyond the float32 range")
        if size + mono.shape[0] > out.shape[0]:
            grown = np.empty(max(2 * out.shape[0], size + mono.shape[0]), dtype=np.float32)
            grown[:size] = out[:size]
            out = grown
        out[size : size + mono.shape[0]] = mono
        size += mono.shape[0]
        del block, finite, mono  # before the next block is decoded, not after
    if size == out.shape[0]:
        return out
    # Copy when the header promised much more than was there, so the excess is freed.
    return out[:size].copy() if size < out.shape[0] // 2 else out[:size]

