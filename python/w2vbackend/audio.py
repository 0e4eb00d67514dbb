"""Reading recordings into mono float32 waveforms at the model's sampling rate.

One entry point per source: :func:`load_audio` for files and :func:`audio_from_array` for arrays
already in memory. Both return an :class:`Audio` whose ``waveform`` is ``(num_samples,)``
float32, averaged over channels and resampled to the model's rate, with sample 0 at time 0.

Readers are tried in order: soundfile (libsndfile: WAV including WAVE_FORMAT_EXTENSIBLE, FLAC,
OGG Vorbis, MP3, AIFF and more), torchaudio (only if it imports and works), and
``scipy.io.wavfile`` (WAV only) as the last resort. Integer PCM becomes float in [-1, 1]:
8-bit WAV is unsigned with an offset of 128, 16/24/32-bit are signed and divided by 2**(bits-1).
Floating-point files are taken as stored, so values beyond [-1, 1] are kept, not clipped.

Decoding streams in blocks, so a long multichannel file never sits in memory as a
``(num_samples, num_channels)`` array: the peak is the mono float32 signal at the file's rate
plus the resampled one.

A truncated file (its header declares more samples than the file holds) is read up to the last
complete sample frame; the fact is recorded in ``Audio.warnings`` and emitted as an
:class:`AudioWarning`. Everything else that is wrong with an input raises
:class:`~w2vbackend.errors.AudioError` (or :class:`~w2vbackend.errors.AudioNotFoundError`) with
a one-line message that names the file and the reason.
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import hashlib
import logging
import math
import os
import re
import stat
import sys
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import soundfile
from scipy import signal
from scipy.io import wavfile

from .errors import AudioError, AudioNotFoundError, UsageError

logger = logging.getLogger(__name__)

# Plausible recording rates. Outside this range a rate is a corrupt header, not a recording.
MIN_SAMPLE_RATE = 1_000
MAX_SAMPLE_RATE = 768_000

# Decoding works on blocks of about this many values (frames x channels) at a time.
READ_BLOCK_VALUES = 1 << 18
# Preallocate at most this many mono samples from a header's claim (1 GiB of float32); a
# lying header must not trigger a huge allocation, a longer file just grows the buffer.
MAX_PREALLOCATED_SAMPLES = 1 << 28

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

HASH_BLOCK_BYTES = 1 << 20
# How much of a failed file is inspected to say "this is text, not audio".
TEXT_SNIFF_BYTES = 1024
# Chunk sizes that streaming writers leave in a header when they do not know the length.
UNKNOWN_LENGTH_SIZES = frozenset({0xFFFFFFFF})
# libsndfile's parse log reports a data chunk longer than the file as "data : N (should be M)".
_LOG_SHORT_CHUNK = re.compile(r"^\s*(data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.M)
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_ARRAY_NAME = "audio array"
_RIFF_MAGICS = (b"RIFF", b"RIFX", b"RF64")
_UNAVAILABLE = "not available"


class AudioWarning(UserWarning):
    """An input that was used with a caveat (e.g. a truncated file read up to its end)."""


@dataclass(frozen=True)
class Audio:
    """A mono recording at the model's rate, with what is known about where it came from.

    waveform: ``(num_samples,)`` float32, mono (mean over channels), at ``sample_rate`` Hz;
        sample ``k`` is at ``k / sample_rate`` seconds from the start of the recording.
    sample_rate: rate of ``waveform`` in Hz (the target rate asked for).
    original_sample_rate: rate of the file or array in Hz.
    original_channels: channel count before averaging.
    original_num_samples: samples per channel before resampling (as read).
    path: absolute path of the file, ``None`` for arrays.
    reader: ``"soundfile"``, ``"torchaudio"``, ``"scipy"``, or ``"array"``.
    warnings: one-line caveats, e.g. that a truncated file was read up to its end.
    """

    waveform: np.ndarray
    sample_rate: int
    original_sample_rate: int
    original_channels: int
    original_num_samples: int
    path: str | None
    reader: str
    warnings: tuple[str, ...] = ()

    @property
    def duration(self) -> float:
        """Length of ``waveform`` in seconds."""
        return self.waveform.shape[0] / self.sample_rate


@dataclass
class _Decoded:
    """What a reader hands back: mono float32 at the source rate, before resampling."""

    mono: np.ndarray
    sample_rate: int
    channels: int
    warnings: list[str]


class _ReaderFailed(ValueError):
    """A reader could not decode the file (the next reader gets a try)."""


# --------------------------------------------------------------------------------------------
# Public API


def load_audio(path: str | os.PathLike, target_sample_rate: int) -> Audio:
    """Read an audio file as a mono float32 waveform at ``target_sample_rate`` Hz.

    Args:
        path: file to read (any name: spaces, quotes, shell characters and non-ASCII are just
            characters here; nothing is passed to a shell).
        target_sample_rate: rate of the returned waveform in Hz (the model's rate).

    Returns:
        :class:`Audio` with ``waveform`` of shape ``(ceil(n * target / original),)`` float32,
        where ``n`` is the number of samples per channel in the file.

    Raises:
        AudioNotFoundError: the path does not exist or is a directory.
        AudioError: the file is empty, not audio, undecodable, has no samples, has NaN/Inf
            samples, or an absurd sample rate. The message is one line naming the file.
        UsageError: ``target_sample_rate`` is not a plausible rate.
    """
    target = _as_rate(target_sample_rate, "target_sample_rate")
    abspath = _check_path(path)
    name = _display(abspath)
    decoded, reader = _decode_file(abspath, name, target)
    for message in decoded.warnings:
        warnings.warn(message, AudioWarning, stacklevel=2)
    return Audio(
        waveform=resample(decoded.mono, decoded.sample_rate, target),
        sample_rate=target,
        original_sample_rate=decoded.sample_rate,
        original_channels=decoded.channels,
        original_num_samples=int(decoded.mono.shape[0]),
        path=abspath,
        reader=reader,
        warnings=tuple(decoded.warnings),
    )


def audio_from_array(data: np.ndarray, sample_rate: int, target_sample_rate: int) -> Audio:
    """Wrap samples already in memory as an :class:`Audio` at ``target_sample_rate`` Hz.

    Args:
        data: ``(num_samples,)`` or ``(num_samples, num_channels)``. Floats are taken as they
            are; integers are PCM (uint8 with offset 128, signed types divided by
            2**(bits-1)), as a WAV file would hold them.
        sample_rate: rate of ``data`` in Hz.
        target_sample_rate: rate of the returned waveform in Hz.

    Raises:
        AudioError: empty, NaN/Inf, wrong shape or type, or an absurd ``sample_rate``.
        UsageError: ``target_sample_rate`` is not a plausible rate.
    """
    target = _as_rate(target_sample_rate, "target_sample_rate")
    array = np.asarray(data)
    if array.ndim == 1:
        array = array[:, np.newaxis]
    if array.ndim != 2:
        raise AudioError(
            f"{_ARRAY_NAME}: expected shape (num_samples,) or (num_samples, num_channels), "
            f"got {array.shape}"
        )
    num_samples, channels = array.shape
    if channels == 0 or num_samples == 0:
        raise AudioError(f"{_ARRAY_NAME}: contains no audio samples (shape {array.shape})")
    if channels > num_samples:
        raise AudioError(
            f"{_ARRAY_NAME}: has more channels ({channels}) than samples ({num_samples}); "
            "pass it as (num_samples, num_channels)"
        )
    rate = _check_source_rate(sample_rate, target, _ARRAY_NAME)
    offset, scale = _pcm_scaling(array.dtype, _ARRAY_NAME)
    blocks = _blocks_of(array, offset, scale)
    mono = _mix_down(blocks, num_samples, rate, _ARRAY_NAME)
    return Audio(
        waveform=resample(mono, rate, target),
        sample_rate=target,
        original_sample_rate=rate,
        original_channels=channels,
        original_num_samples=num_samples,
        path=None,
        reader="array",
        warnings=(),
    )


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
    orig = _as_rate(orig_sr, "orig_sr")
    target = _as_rate(target_sr, "target_sr")
    x = np.ascontiguousarray(x, dtype=np.float32)
    if orig == target:
        return x
    up, down = _ratio(orig, target)
    if _filter_taps(up, down) > MAX_FILTER_TAPS:
        raise UsageError(_ratio_refusal(orig, target))
    return _resample_blocks(x, up, down, _lowpass(up, down))


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes as 64 lowercase hex digits, read in 1 MiB blocks.

    Raises:
        AudioNotFoundError: the path does not exist or is a directory.
        AudioError: the file cannot be read.
    """
    abspath = _check_path(path, allow_empty=True)
    digest = hashlib.sha256()
    try:
        with open(abspath, "rb") as handle:
            for block in iter(lambda: handle.read(HASH_BLOCK_BYTES), b""):
                digest.update(block)
    except OSError as exc:
        raise AudioError(f"{_display(abspath)}: cannot be read ({_os_reason(exc)})") from exc
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# Paths and rates


def _display(path: str) -> str:
    """The path as one printable line: control characters (a newline in a name) are escaped."""
    if path.isprintable():
        return path
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in path)


def _os_reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _check_path(path: str | os.PathLike, allow_empty: bool = False) -> str:
    """Absolute path of an existing, non-empty regular file, or a one-line error."""
    try:
        text = os.fsdecode(os.fspath(path))
    except TypeError as exc:
        raise UsageError(f"audio path must be a string or path, got {type(path).__name__}") from exc
    if not text:
        raise AudioNotFoundError("'': empty audio path")
    abspath = os.path.abspath(text)
    name = _display(abspath)
    try:
        info = os.stat(abspath)
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise AudioNotFoundError(f"{name}: no such file") from exc
    except OSError as exc:  # permission denied on a folder, name too long, ...
        raise AudioError(f"{name}: cannot be accessed ({_os_reason(exc)})") from exc
    if stat.S_ISDIR(info.st_mode):
        raise AudioNotFoundError(f"{name}: is a directory, not an audio file")
    if not stat.S_ISREG(info.st_mode):
        # A FIFO or device would block or never end.
        raise AudioError(f"{name}: is not a regular file")
    if info.st_size == 0 and not allow_empty:
        raise AudioError(f"{name}: is empty (0 bytes)")
    return abspath


def _as_rate(value: Any, what: str) -> int:
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


def _check_source_rate(value: Any, target: int, name: str) -> int:
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


# --------------------------------------------------------------------------------------------
# Decoding


def _decode_file(path: str, name: str, target: int) -> tuple[_Decoded, str]:
    """Try each reader in turn; the first that decodes the file wins.

    A reader that decodes the file but finds it unusable (NaN, no samples, absurd rate) raises
    AudioError at once: another reader would see the same samples.
    """
    readers: list[tuple[str, Callable[[str, str, int], _Decoded]]] = [
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


def _read_soundfile(path: str, name: str, target: int) -> _Decoded:
    with _native_stderr_to_log():
        return _read_soundfile_quietly(path, name, target)


def _read_soundfile_quietly(path: str, name: str, target: int) -> _Decoded:
    with soundfile.SoundFile(path) as handle:
        rate = _check_source_rate(handle.samplerate, target, name)
        channels = int(handle.channels)
        declared = int(handle.frames)
        frames_per_block = max(1, READ_BLOCK_VALUES // max(1, channels))

        def blocks() -> Iterator[np.ndarray]:
            while True:
                block = handle.read(frames_per_block, dtype="float64", always_2d=True)
                if block.shape[0] == 0:
                    return
                yield block

        mono = _mix_down(blocks(), declared, rate, name)
        log = handle.extra_info
    notes = _short_chunks(log)
    if 0 < mono.shape[0] < declared:
        notes.append(f"the header declares {declared} samples per channel")
    if mono.shape[0] == 0:
        detail = f" ({'; '.join(notes)})" if notes else ""
        raise AudioError(f"{name}: contains no audio samples{detail}")
    return _Decoded(mono, rate, channels, _truncation_warnings(name, notes, mono, rate))


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


def _read_torchaudio(path: str, name: str, target: int) -> _Decoded:
    module = _torchaudio()
    if module is None:
        raise _ReaderFailed(_UNAVAILABLE)
    tensor, rate = module.load(path)  # (channels, frames) float32, integer PCM normalised
    data = np.asarray(tensor.detach().cpu().numpy()).T
    rate = _check_source_rate(rate, target, name)
    if data.ndim != 2 or data.shape[0] == 0:
        raise AudioError(f"{name}: contains no audio samples")
    mono = _mix_down(_blocks_of(data, 0.0, 1.0), data.shape[0], rate, name)
    return _Decoded(mono, rate, int(data.shape[1]), [])


def _read_scipy(path: str, name: str, target: int) -> _Decoded:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rate, data = wavfile.read(path, mmap=False)
    data = np.asarray(data)
    if data.ndim == 1:
        data = data[:, np.newaxis]
    if data.ndim != 2:
        raise _ReaderFailed(f"unexpected sample array of shape {data.shape}")
    rate = _check_source_rate(rate, target, name)
    premature = [str(w.message) for w in caught if "EOF prematurely" in str(w.message)]
    if data.shape[0] == 0 or data.shape[1] == 0:
        detail = " (the file ends before its samples)" if premature else ""
        raise AudioError(f"{name}: contains no audio samples{detail}")
    offset, scale = _pcm_scaling(data.dtype, name)
    mono = _mix_down(_blocks_of(data, offset, scale), data.shape[0], rate, name)
    notes = [f"the file ends early ({premature[0].rstrip('.')})"] if premature else []
    return _Decoded(mono, rate, int(data.shape[1]), _truncation_warnings(name, notes, mono, rate))


def _pcm_scaling(dtype: np.dtype, name: str) -> tuple[float, float]:
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


def _blocks_of(data: np.ndarray, offset: float, scale: float) -> Iterator[np.ndarray]:
    """``(frames, channels)`` stored samples as float64 blocks, PCM mapped to [-1, 1]."""
    step = max(1, READ_BLOCK_VALUES // max(1, data.shape[1]))
    for start in range(0, data.shape[0], step):
        block = data[start : start + step].astype(np.float64)
        if offset:
            block -= offset
        if scale != 1.0:
            block *= scale
        yield block


def _mix_down(blocks: Iterable[np.ndarray], expected: int, rate: int, name: str) -> np.ndarray:
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


# --------------------------------------------------------------------------------------------
# Resampling


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
