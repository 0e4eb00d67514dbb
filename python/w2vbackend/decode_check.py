"""Whether a decoded file starts at the source's sample 0: codec delay per format and reader.

Lossy codecs with filter banks put a delay in front of the decoded signal (MP3: the encoder's
576 samples plus the decoder's 529). A decoder removes it only when the file says how long it
is. Measured through soundfile (libsndfile 1.2.2) against the source WAV, by cross-correlation:

- MP3 from LAME with its gapless tag (Xing/Info header with LAME extension): lag 0. mpg123
  trims the encoder delay and padding recorded in the tag, plus its own decoder delay.
- MP3 without that tag (``lame -t``, sox): lag 1105 samples at the file's rate, at 16, 22.05
  and 44.1 kHz, and the padding stays at the end. The encoder's delay is not in the file, so it
  cannot be removed safely; the decode is flagged instead.
- MPEG layer II (twolame through sox): lag 481 samples; layer I/II carry no gapless tag.
- Ogg Vorbis (oggenc), Ogg Opus (opusenc; pre-skip), FLAC: lag 0, length exact. Opus at
  opusenc's default bitrate, in its speech modes, peaks up to 3.4 samples at 48 kHz (0.07 ms)
  early; at 96 kb/s within 0.04 samples.
- LAME 3.100 omits its tag when the first frame is too small for it (its default 24 kb/s for
  16 kHz mono, or 32 kb/s) and when it writes an ID3v2 tag itself (``--tt``): such files are
  late by 1105 samples like any tagless MP3, and are flagged the same way.
- WAV with u-law, A-law, IMA/MS ADPCM, GSM 6.10 (sox): lag 0.

:func:`describe_decode` turns this into a JSON-serialisable record per file;
:func:`declared_length_is_exact` says whether a container's frame count may be trusted when
deciding that a file is truncated (an MP3 without a Xing/Info frame count has only an estimate).
"""

from __future__ import annotations

import os
import struct
from dataclasses import asdict, dataclass
from typing import Any

import soundfile

# mpg123 adds this delay to the encoder's (the LAME tag's) and trims both (libmpg123 GAPLESS_DELAY).
MP3_DECODER_DELAY = 529
# LAME's encoder delay; without a tag the decoded signal is this much plus the decoder's late.
LAME_ENCODER_DELAY = 576
TYPICAL_MP3_DELAY = LAME_ENCODER_DELAY + MP3_DECODER_DELAY
# Measured for a twolame-encoded MPEG layer II file decoded by mpg123.
TYPICAL_MP2_DELAY = 481
# How far into an MP3 the first frame is looked for (after any ID3v2 tag).
MP3_SEARCH_BYTES = 1 << 16

_MPEG_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
_MPEG_NAMES = {3: "MPEG-1", 2: "MPEG-2", 0: "MPEG-2.5"}
_UNCOMPRESSED = frozenset({"PCM_S8", "PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"})
# Codecs that code each sample (or a short block) on its own or through a running predictor:
# no look-ahead, no filter bank, so no delay. u-law, A-law, IMA/MS ADPCM and GSM 6.10 were
# measured at lag 0.
_SAMPLEWISE = frozenset({"ULAW", "ALAW", "IMA_ADPCM", "MS_ADPCM", "GSM610", "VOX_ADPCM",
                         "G721_32", "G723_24", "G723_40", "NMS_ADPCM_16", "NMS_ADPCM_24",
                         "NMS_ADPCM_32", "DWVW_12", "DWVW_16", "DWVW_24", "DWVW_N", "DPCM_8",
                         "DPCM_16"})
_CODEC_LIBRARY = {"MPEG_LAYER_I": "mpg123", "MPEG_LAYER_II": "mpg123",
                  "MPEG_LAYER_III": "mpg123", "VORBIS": "libvorbis", "OPUS": "libopus"}


@dataclass(frozen=True)
class Mp3Gapless:
    """What the first frame of an MPEG audio file says about its length and delay.

    version: ``"MPEG-1"``, ``"MPEG-2"`` or ``"MPEG-2.5"``; layer: 1, 2 or 3.
    sample_rate: Hz; samples_per_frame: 384, 576 or 1152.
    tag: ``"Xing"``, ``"Info"``, ``"VBRI"`` or ``None`` (no information frame).
    frames: MPEG frames after the information frame, if the tag counts them.
    encoder: the LAME extension's 9-character encoder name (``"LAME3.100"``), if present.
    encoder_delay, padding: samples the encoder put before and after the signal, from the LAME
        extension; ``None`` without it.
    """

    version: str
    layer: int
    sample_rate: int
    samples_per_frame: int
    tag: str | None = None
    frames: int | None = None
    encoder: str | None = None
    encoder_delay: int | None = None
    padding: int | None = None

    @property
    def gapless(self) -> bool:
        """True when the file records the encoder delay and padding (LAME extension)."""
        return self.encoder_delay is not None


def read_mp3_gapless(path: str | os.PathLike) -> Mp3Gapless | None:
    """Parse the first MPEG audio frame of ``path`` and its Xing/Info/VBRI header, if any.

    Layout: ISO 11172-3 frame header; Xing/Info after the side information, with the LAME
    extension 120 bytes in (http://gabriel.mp3-tech.org/mp3infotag.html); VBRI 32 bytes after
    the header. Returns ``None`` when no MPEG audio frame is found near the start.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(10)
            start = _id3v2_size(head)
            handle.seek(start)
            data = handle.read(MP3_SEARCH_BYTES)
    except OSError:
        return None
    for offset in range(len(data) - 4):
        if data[offset] != 0xFF or (data[offset + 1] & 0xE0) != 0xE0:
            continue
        frame = _frame_header(data[offset : offset + 4])
        if frame is not None:
            return _information_frame(data[offset:], *frame)
    return None


def declared_length_is_exact(path: str | os.PathLike, container_format: str) -> bool:
    """Whether the frame count libsndfile reports for this file comes from the file itself.

    An MP3 without a Xing/Info frame count has only mpg123's estimate from file size and
    bitrate, which may exceed what a complete file decodes to; every other container
    libsndfile reads states its length (WAV/AIFF data chunk, FLAC STREAMINFO, Ogg granule).
    """
    if container_format != "MP3":
        return True
    info = read_mp3_gapless(path)
    return info is not None and info.tag in ("Xing", "Info") and info.frames is not None


def describe_decode(path: str, name: str, reader: str, container: tuple[str, str] | None,
                    sample_rate: int) -> dict[str, Any]:
    """How ``path`` was decoded and whether sample 0 of the result is sample 0 of the source.

    Args:
        path: the file.
        name: how messages name it.
        reader: ``"soundfile"``, ``"torchaudio"`` or ``"scipy"``.
        container: soundfile's ``(format, subtype)``, e.g. ``("MP3", "MPEG_LAYER_III")``;
            ``None`` for the other readers.
        sample_rate: the decoded rate in Hz (for the delay in milliseconds).

    Returns:
        ``{"format", "subtype", "decoder", "sample_exact", "reason", "warning"}`` (plus
        ``"mp3"``, the parsed header, for MPEG audio): ``sample_exact`` is ``True`` (known to
        start at the source's sample 0), ``False`` (known to be late; ``warning`` is one line
        saying by how much) or ``None`` (not known; ``reason`` says why).
    """
    fmt, subtype = container or (_sniff_format(path), None)
    record: dict[str, Any] = {"format": fmt, "subtype": subtype,
                              "decoder": _decoder(reader, fmt, subtype)}
    is_mpeg = fmt == "MP3" or (subtype or "").startswith("MPEG_LAYER")
    mp3 = read_mp3_gapless(path) if is_mpeg else None
    if mp3 is not None:
        record["mp3"] = asdict(mp3)
    exact, reason, warning = _verdict(name, reader, fmt, subtype, mp3, sample_rate)
    record.update(sample_exact=exact, reason=reason, warning=warning)
    return record


# --------------------------------------------------------------------------------------------


def _verdict(name: str, reader: str, fmt: str | None, subtype: str | None,
             mp3: Mp3Gapless | None, rate: int) -> tuple[bool | None, str, str | None]:
    if mp3 is not None and mp3.layer == 3 and not mp3.gapless:
        # No decoder can know the encoder's delay when the file does not record it.
        what = ("an information frame without encoder delay" if mp3.tag
                else "no LAME/Xing tag")
        return False, f"MP3 with {what}: the codec delay stays in front", _late(
            name, f"MP3 without gapless information ({what})", TYPICAL_MP3_DELAY, rate)
    if mp3 is not None and mp3.layer in (1, 2):
        return False, "MPEG layer I/II records no codec delay", _late(
            name, f"MPEG layer {mp3.layer} audio (no gapless information)", TYPICAL_MP2_DELAY,
            rate, typical="for twolame")
    if reader == "scipy":
        return True, "uncompressed WAV samples", None
    if reader != "soundfile":
        if subtype in _UNCOMPRESSED or fmt in ("WAV", "AIFF"):
            return True, "uncompressed samples", None
        return None, f"decoded by {reader}, whose codec-delay handling was not measured", None
    if mp3 is not None and mp3.gapless:
        return True, (f"gapless tag ({mp3.encoder or 'LAME'}): encoder delay {mp3.encoder_delay} "
                      f"and padding {mp3.padding} samples are trimmed by mpg123"), None
    if fmt == "FLAC" or (subtype or "").startswith("ALAC_"):
        return True, "lossless codec without delay", None
    if subtype in _UNCOMPRESSED:
        return True, "uncompressed samples", None
    if subtype in _SAMPLEWISE:
        return True, f"{subtype}: a codec without look-ahead or filter bank, no delay", None
    if subtype == "VORBIS":
        return True, "Ogg Vorbis: libsndfile applies the granule positions (measured lag 0)", None
    if subtype == "OPUS":
        return True, ("Ogg Opus: libsndfile applies the pre-skip (measured lag 0; at low bitrates "
                      "a fraction of a millisecond early)"), None
    return None, f"codec {subtype or fmt} not measured", None


def _late(name: str, what: str, samples: int, rate: int, typical: str = "typically") -> str:
    return (f"{name}: {what}: the time axis may be late by the codec delay, {typical} "
            f"{samples} samples ({1000 * samples / rate:.1f} ms at {rate} Hz); use the original "
            "recording (WAV/FLAC) or an MP3 with LAME's gapless tag")


def _decoder(reader: str, fmt: str | None, subtype: str | None) -> str:
    if reader == "soundfile":
        library = "libFLAC" if fmt == "FLAC" else _CODEC_LIBRARY.get(subtype or "")
        base = f"libsndfile {soundfile.__libsndfile_version__}"
        return f"{base} ({library})" if library else base
    if reader == "scipy":
        return "scipy.io.wavfile"
    return reader


def _sniff_format(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            head = handle.read(12)
    except OSError:
        return None
    if head[:4] in (b"RIFF", b"RIFX", b"RF64"):
        return "WAV"
    if head[:4] == b"FORM":
        return "AIFF"
    if head[:4] == b"fLaC":
        return "FLAC"
    if head[:4] == b"OggS":
        return "OGG"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "MP3"
    return None


def _id3v2_size(head: bytes) -> int:
    """Bytes taken by an ID3v2 tag at the start (0 without one)."""
    if len(head) < 10 or head[:3] != b"ID3" or any(b & 0x80 for b in head[6:10]):
        return 0
    size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
    return 10 + size + (10 if head[5] & 0x10 else 0)


def _frame_header(header: bytes) -> tuple[int, int, int, int, bool] | None:
    """(version bits, layer, sample rate, side-information bytes, CRC) or None if invalid."""
    version = (header[1] >> 3) & 3
    layer = 4 - ((header[1] >> 1) & 3)
    bitrate_index = header[2] >> 4
    rate_index = (header[2] >> 2) & 3
    if version == 1 or layer == 4 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    mono = (header[3] >> 6) == 3
    side = (17 if mono else 32) if version == 3 else (9 if mono else 17)
    return version, layer, _MPEG_RATES[version][rate_index], side, not header[1] & 1


def _information_frame(frame: bytes, version: int, layer: int, rate: int, side: int,
                       crc: bool) -> Mp3Gapless:
    per_frame = {1: 384, 2: 1152, 3: 1152 if version == 3 else 576}[layer]
    base = {"version": _MPEG_NAMES[version], "layer": layer, "sample_rate": rate,
            "samples_per_frame": per_frame}
    if layer != 3:
        return Mp3Gapless(**base)
    xing = 4 + (2 if crc else 0) + side
    tag = frame[xing : xing + 4]
    if tag in (b"Xing", b"Info"):
        (flags,) = struct.unpack(">I", frame[xing + 4 : xing + 8].ljust(4, b"\0"))
        position = xing + 8
        frames = None
        if flags & 1:
            (frames,) = struct.unpack(">I", frame[position : position + 4].ljust(4, b"\0"))
            position += 4
        position += (4 if flags & 2 else 0) + (100 if flags & 4 else 0) + (4 if flags & 8 else 0)
        return Mp3Gapless(**base, tag=tag.decode(), frames=frames, **_lame_extension(frame,
                                                                                     position))
    if frame[36:40] == b"VBRI":
        (frames,) = struct.unpack(">I", frame[50:54].ljust(4, b"\0"))
        return Mp3Gapless(**base, tag="VBRI", frames=frames)
    return Mp3Gapless(**base)


def _lame_extension(frame: bytes, position: int) -> dict[str, Any]:
    """Encoder name, delay and padding from the LAME extension at ``position``, if present.

    The extension is 36 bytes: 9 of encoder name, then revision, lowpass, peak (4), two replay
    gains (2 each), flags, bitrate, and at byte 21 the delay and padding as two 12-bit numbers.
    """
    extension = frame[position : position + 36]
    encoder = extension[:9]
    if len(extension) < 36 or not encoder[:4].isalpha() or not encoder.isascii():
        return {}
    packed = extension[21:24]
    delay = (packed[0] << 4) | (packed[1] >> 4)
    padding = ((packed[1] & 0x0F) << 8) | packed[2]
    return {"encoder": encoder.decode("ascii").rstrip("\0 "), "encoder_delay": delay,
            "padding": padding}
