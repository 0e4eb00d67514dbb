"""Reading recordings into mono float32 waveforms at the model's sampling rate.

One entry point per source: :func:`load_audio` for files and :func:`audio_from_array` for arrays
already in memory. Both return an :class:`Audio` whose ``waveform`` is ``(num_samples,)``
float32, averaged over channels and resampled to the model's rate, with sample 0 at time 0.

Files are decoded by :mod:`w2vbackend.decoders` (soundfile, then torchaudio where it works, then
scipy) and resampled by :mod:`w2vbackend.resample`. Decoding streams in blocks, so the peak
memory is the mono float32 signal at the file's rate plus the resampled one.

A truncated file (its header declares more samples than the file holds) is read up to the last
complete sample frame (a length the header only estimates, as in an MP3 without a Xing/Info
frame count, is not taken as a declaration); the fact is recorded in ``Audio.warnings`` and
emitted as an :class:`AudioWarning`. Everything else that is wrong with an input raises
:class:`~w2vbackend.errors.AudioError` (or :class:`~w2vbackend.errors.AudioNotFoundError`) with
a one-line message that names the file and the reason.
"""

from __future__ import annotations

import hashlib
import os
import stat
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from .decode_check import describe_decode
from .decoders import blocks_of, decode_file, mix_down, pcm_scaling
from .errors import AudioError, AudioNotFoundError, UsageError, os_reason, printable
from .resample import as_rate, check_source_rate, resample, resampler_facts
from .stages import stage

# Files are hashed in blocks of this many bytes.
HASH_BLOCK_BYTES = 1 << 20
_ARRAY_NAME = "audio array"


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
    warnings: one-line caveats, e.g. that a truncated file was read up to its end, or that a
        lossy file may be late by its codec delay.
    decode: how the file was decoded (JSON-serialisable): ``format``, ``subtype``,
        ``decoder``, ``sample_exact`` (``True``: sample 0 is the source's sample 0; ``False``:
        late by a codec delay, see ``warning``; ``None``: not known, see ``reason``).
        ``None`` for arrays.
    resampler: how the waveform was resampled (:func:`w2vbackend.resample.resampler_facts`);
        ``None`` when the rates were equal.
    """

    waveform: np.ndarray
    sample_rate: int
    original_sample_rate: int
    original_channels: int
    original_num_samples: int
    path: str | None
    reader: str
    warnings: tuple[str, ...] = ()
    decode: dict[str, Any] | None = None
    resampler: dict[str, Any] | None = None

    @property
    def duration(self) -> float:
        """Length of ``waveform`` in seconds."""
        return self.waveform.shape[0] / self.sample_rate

    def info(self, sha256: str | None = None) -> AudioInfo:
        """Everything about this recording except its samples."""
        return AudioInfo(path=self.path, sample_rate=int(self.sample_rate),
                         num_samples=int(self.waveform.shape[0]),
                         original_sample_rate=int(self.original_sample_rate),
                         original_channels=int(self.original_channels),
                         original_num_samples=int(self.original_num_samples),
                         reader=str(self.reader), warnings=tuple(self.warnings), sha256=sha256,
                         decode=self.decode, resampler=self.resampler)


@dataclass(frozen=True)
class AudioInfo:
    """What the outputs record about a recording (see :class:`Audio` for the fields);
    ``num_samples`` at ``sample_rate`` (the model's rate); ``sha256`` of the file when known."""

    path: str | None
    sample_rate: int
    num_samples: int
    original_sample_rate: int
    original_channels: int
    original_num_samples: int
    reader: str
    warnings: tuple[str, ...] = ()
    sha256: str | None = None
    decode: dict[str, Any] | None = None
    resampler: dict[str, Any] | None = None

    @property
    def duration(self) -> float:
        return self.num_samples / self.sample_rate

    @property
    def label(self) -> str:
        """The file's path on one printable line, or ``<array>``; for messages."""
        return "<array>" if not self.path else printable(self.path)



# --------------------------------------------------------------------------------------------
# Public API


def load_audio(path: str | os.PathLike, target_sample_rate: int, *, warn: bool = True) -> Audio:
    """Read an audio file as a mono float32 waveform at ``target_sample_rate`` Hz.

    Args:
        path: file to read (any name: spaces, quotes, shell characters and non-ASCII are just
            characters here; nothing is passed to a shell).
        target_sample_rate: rate of the returned waveform in Hz (the model's rate).
        warn: emit each caveat of ``Audio.warnings`` as an :class:`AudioWarning` (False: only
            return them, e.g. from a background thread, where warning filters are not safe to
            change).

    Returns:
        :class:`Audio` with ``waveform`` of shape ``(ceil(n * target / original),)`` float32,
        where ``n`` is the number of samples per channel in the file.

    Raises:
        AudioNotFoundError: the path does not exist or is a directory.
        AudioError: the file is empty, not audio, undecodable, has no samples, has NaN/Inf
            samples, or an absurd sample rate. The message is one line naming the file.
        UsageError: ``target_sample_rate`` is not a plausible rate.
    """
    target = as_rate(target_sample_rate, "target_sample_rate")
    abspath = _check_path(path)
    name = printable(abspath)
    with stage("decode"):
        decoded, reader = decode_file(abspath, name, target)
        decode = describe_decode(abspath, name, reader, decoded.container, decoded.sample_rate)
    if decode["warning"]:
        decoded.warnings.append(decode["warning"])
    for message in decoded.warnings if warn else ():
        warnings.warn(message, AudioWarning, stacklevel=2)
    with stage("resample"):
        waveform = resample(decoded.mono, decoded.sample_rate, target)
    return Audio(
        waveform=waveform,
        sample_rate=target,
        original_sample_rate=decoded.sample_rate,
        original_channels=decoded.channels,
        original_num_samples=int(decoded.mono.shape[0]),
        path=abspath,
        reader=reader,
        warnings=tuple(decoded.warnings),
        decode=decode,
        resampler=resampler_facts(decoded.sample_rate, target),
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
    target = as_rate(target_sample_rate, "target_sample_rate")
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
    rate = check_source_rate(sample_rate, target, _ARRAY_NAME)
    offset, scale = pcm_scaling(array.dtype, _ARRAY_NAME)
    blocks = blocks_of(array, offset, scale)
    mono = mix_down(blocks, num_samples, rate, _ARRAY_NAME)
    return Audio(
        waveform=resample(mono, rate, target),
        sample_rate=target,
        original_sample_rate=rate,
        original_channels=channels,
        original_num_samples=num_samples,
        path=None,
        reader="array",
        warnings=(),
        resampler=resampler_facts(rate, target),
    )


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
        raise AudioError(f"{printable(abspath)}: cannot be read ({os_reason(exc)})") from exc
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# Paths and rates


def _check_path(path: str | os.PathLike, allow_empty: bool = False) -> str:
    """Absolute path of an existing, non-empty regular file, or a one-line error."""
    try:
        text = os.fsdecode(os.fspath(path))
    except TypeError as exc:
        raise UsageError(f"audio path must be a string or path, got {type(path).__name__}") from exc
    if not text:
        raise AudioNotFoundError("'': empty audio path")
    abspath = os.path.abspath(text)
    name = printable(abspath)
    try:
        info = os.stat(abspath)
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise AudioNotFoundError(f"{name}: no such file") from exc
    except OSError as exc:  # permission denied on a folder, name too long, ...
        raise AudioError(f"{name}: cannot be accessed ({os_reason(exc)})") from exc
    if stat.S_ISDIR(info.st_mode):
        raise AudioNotFoundError(f"{name}: is a directory, not an audio file")
    if not stat.S_ISREG(info.st_mode):
        # A FIFO or device would block or never end.
        raise AudioError(f"{name}: is not a regular file")
    if info.st_size == 0 and not allow_empty:
        raise AudioError(f"{name}: is empty (0 bytes)")
    return abspath




def load_audio_as_hashed(path: str | os.PathLike, target_sample_rate: int,
                         sha256: str, *, warn: bool = True) -> tuple[Audio, str]:
    """:func:`load_audio`, and the SHA-256 of the bytes actually decoded.

    ``sha256`` is the file's hash taken earlier (when a batch started). The file is hashed again
    right after decoding; if it changed meanwhile (replaced while earlier files ran), the new
    content is decoded and its hash returned, so the outputs' fingerprint follows the audio
    used. A file that keeps changing raises :class:`AudioError`."""
    for _ in range(3):
        audio = load_audio(path, target_sample_rate, warn=warn)
        now = file_sha256(path)
        if now == sha256:
            return audio, now
        sha256 = now
    raise AudioError(f"{printable(os.fspath(path))}: the file changed while it was read; run "
                     "again when it is complete")
