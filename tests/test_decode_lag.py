"""Lossy and lossless files made by real encoders: does the decode start at the source's sample 0?

A speech-like WAV is encoded with lame (with and without its gapless tag), sox, oggenc, opusenc
and flac, decoded with ``load_audio`` at the source's rate and cross-correlated against the
source. Where the file records its codec delay the lag must be 0 samples; where it does not,
the lag is the codec delay, a warning says so and ``Audio.decode`` records ``sample_exact``
False. Encoders come from Debian (``lame vorbis-tools opus-tools flac sox libsox-fmt-mp3``);
a test whose encoder is missing skips with the reason, except under CI (``CI=true``), where it
fails.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy import signal
from synth import speech_like
from w2vbackend import cli
from w2vbackend.audio import AudioWarning, load_audio
from w2vbackend.decode_check import (
    TYPICAL_MP2_DELAY,
    TYPICAL_MP3_DELAY,
    describe_decode,
    read_mp3_gapless,
)

PACKAGES = {"lame": "lame", "oggenc": "vorbis-tools", "opusenc": "opus-tools", "flac": "flac",
            "sox": "sox libsox-fmt-mp3"}
DURATION_S = 3.0
# A decode that lines up with its source correlates above this at its best lag (measured: 0.992
# for Opus at its default bitrate, 0.999 for MP3); a side lobe of the voice is far below it.
MIN_PEAK_CORRELATION = 0.95
# LAME 3.100's encoder delay plus mpg123's decoder delay, in samples at the file's rate.
LAME_CODEC_DELAY = 1105


def need(tool: str) -> str:
    """The encoder's path; skips (fails under CI=true) when it is not installed."""
    path = shutil.which(tool)
    if tool == "sox" and path and "mp3" not in _sox_formats(path):
        path = None
    if path is None:
        reason = f"{tool} with MP3 support not installed" if tool == "sox" else \
            f"{tool} not installed"
        reason += f" (apt-get install {PACKAGES[tool]})"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def _sox_formats(path: str) -> str:
    text = subprocess.run([path, "-h"], capture_output=True, text=True).stdout
    return next((line for line in text.splitlines() if line.startswith("AUDIO FILE FORMATS")),
                "")


def source_wav(folder: Path, rate: int) -> tuple[Path, np.ndarray]:
    """A 16-bit speech-like WAV at ``rate`` and its samples as float32 (as soundfile reads them)."""
    path = folder / f"source{rate}.wav"
    sf.write(path, speech_like(DURATION_S, rate, seed=1), rate, subtype="PCM_16")
    return path, sf.read(path, dtype="float32")[0]


def encode(command: list[str]) -> None:
    subprocess.run(command, check=True, capture_output=True)


def lag_of(reference: np.ndarray, decoded: np.ndarray) -> int:
    """Samples by which ``decoded`` is late against ``reference`` (the cross-correlation peak)."""
    c = signal.correlate(decoded, reference, mode="full", method="fft")
    lags = signal.correlation_lags(decoded.shape[0], reference.shape[0], mode="full")
    best = int(np.argmax(c))
    lag = int(lags[best])
    overlap = reference[max(0, -lag):][: decoded.shape[0] - max(0, lag)]
    peak = c[best] / np.sqrt(np.dot(overlap, overlap) * np.dot(decoded, decoded))
    assert peak > MIN_PEAK_CORRELATION, f"no clear correlation peak ({peak:.3f} at lag {lag})"
    return lag


def load(path: Path, rate: int):
    """load_audio at the source's rate, with its AudioWarnings collected, not raised."""
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        audio = load_audio(path, rate)
    emitted = [str(w.message) for w in record if issubclass(w.category, AudioWarning)]
    assert emitted == list(audio.warnings)
    return audio


def assert_exact(audio, reference: np.ndarray) -> None:
    assert lag_of(reference, audio.waveform) == 0
    assert audio.waveform.shape == reference.shape
    assert audio.warnings == ()
    assert audio.decode["sample_exact"] is True and audio.decode["warning"] is None
    json.dumps(audio.decode)  # goes into the .json as it is


def assert_late(audio, reference: np.ndarray, delay: int) -> None:
    assert lag_of(reference, audio.waveform) == delay
    assert audio.decode["sample_exact"] is False
    (warning,) = audio.warnings
    assert warning == audio.decode["warning"] and "\n" not in warning
    rate = audio.sample_rate
    assert f"{delay} samples ({1000 * delay / rate:.1f} ms at {rate} Hz)" in warning
    assert str(audio.path) in warning and "truncated" not in warning


# --------------------------------------------------------------------------------------------
# MP3


@pytest.mark.parametrize("rate", [16000, 22050, 44100])
def test_lame_with_its_gapless_tag_decodes_at_lag_zero(tmp_path, rate):
    wav, reference = source_wav(tmp_path, rate)
    mp3 = tmp_path / "tagged.mp3"
    encode([need("lame"), "--quiet", "-b", "128", str(wav), str(mp3)])
    audio = load(mp3, rate)
    assert_exact(audio, reference)
    tag = audio.decode["mp3"]
    assert tag["encoder"] == "LAME3.100" and tag["encoder_delay"] == 576
    # The tag's frame count covers delay, signal and padding exactly.
    assert tag["encoder_delay"] + reference.shape[0] + tag["padding"] == \
        tag["frames"] * tag["samples_per_frame"]
    assert audio.decode["decoder"].startswith("libsndfile ")


@pytest.mark.parametrize("rate", [16000, 22050, 44100])
def test_lame_without_its_tag_is_late_by_the_codec_delay_and_says_so(tmp_path, rate):
    wav, reference = source_wav(tmp_path, rate)
    mp3 = tmp_path / "untagged.mp3"
    encode([need("lame"), "--quiet", "-t", "-b", "128", str(wav), str(mp3)])
    audio = load(mp3, rate)
    assert_late(audio, reference, LAME_CODEC_DELAY)
    assert audio.decode["mp3"]["tag"] is None
    assert TYPICAL_MP3_DELAY == LAME_CODEC_DELAY


@pytest.mark.parametrize("bitrate", [[], ["-b", "32"]], ids=["default 24 kbps", "32 kbps"])
def test_lame_leaves_out_its_tag_when_the_frame_is_too_small(tmp_path, bitrate):
    """At 16 kHz mono, LAME's default 24 kb/s and 32 kb/s give frames of 108 and 144 bytes,
    too few for the 169 bytes of the tag; LAME says nothing about it."""
    wav, reference = source_wav(tmp_path, 16000)
    mp3 = tmp_path / "low.mp3"
    encode([need("lame"), "--quiet", *bitrate, str(wav), str(mp3)])
    assert_late(load(mp3, 16000), reference, LAME_CODEC_DELAY)


def id3v2_tag(title: str, padding: int = 1000) -> bytes:
    """An ID3v2.3 tag with one title frame (TIT2, ISO-8859-1) and zero padding."""
    body = b"\x00" + title.encode("latin-1")
    frames = b"TIT2" + struct.pack(">I", len(body)) + b"\x00\x00" + body + bytes(padding)
    n = len(frames)
    size = bytes([(n >> 21) & 127, (n >> 14) & 127, (n >> 7) & 127, n & 127])
    return b"ID3\x03\x00\x00" + size + frames


def test_an_id3v2_tag_in_front_does_not_hide_the_gapless_tag(tmp_path):
    wav, reference = source_wav(tmp_path, 16000)
    tagged = tmp_path / "tagged.mp3"
    encode([need("lame"), "--quiet", "-b", "128", str(wav), str(tagged)])
    titled = tmp_path / "titled.mp3"
    titled.write_bytes(id3v2_tag("Story " * 200) + tagged.read_bytes())
    assert read_mp3_gapless(titled) == read_mp3_gapless(tagged)
    assert read_mp3_gapless(titled).encoder_delay == 576
    assert_exact(load(titled, 16000), reference)


def test_lame_writing_a_title_leaves_out_its_gapless_tag(tmp_path):
    """LAME 3.100 writes no Info frame when it writes an ID3v2 tag itself (--tt)."""
    wav, reference = source_wav(tmp_path, 16000)
    mp3 = tmp_path / "titled.mp3"
    encode([need("lame"), "--quiet", "--tt", "Story", str(wav), str(mp3)])
    assert mp3.read_bytes()[:3] == b"ID3"
    audio = load(mp3, 16000)
    assert audio.decode["mp3"]["tag"] is None
    assert_late(audio, reference, LAME_CODEC_DELAY)


@pytest.mark.parametrize("rate", [22050, 44100])
def test_sox_mp3_is_late_and_not_called_truncated(tmp_path, rate):
    """sox writes no gapless tag, and libsndfile's length estimate exceeds what decodes."""
    wav, reference = source_wav(tmp_path, rate)
    mp3 = tmp_path / "story.mp3"
    encode([need("sox"), str(wav), str(mp3)])
    audio = load(mp3, rate)
    assert sf.info(str(mp3)).frames > audio.original_num_samples  # the estimate is too long
    assert_late(audio, reference, LAME_CODEC_DELAY)


def test_a_complete_untagged_mp3_is_not_called_truncated(tmp_path):
    wav, _ = source_wav(tmp_path, 22050)
    mp3 = tmp_path / "untagged.mp3"
    encode([need("lame"), "--quiet", "-t", "-b", "128", str(wav), str(mp3)])
    audio = load(mp3, 22050)
    assert sf.info(str(mp3)).frames > audio.original_num_samples
    assert not any("truncated" in message for message in audio.warnings)


def test_a_cut_mp3_with_a_frame_count_is_still_called_truncated(tmp_path):
    wav, _ = source_wav(tmp_path, 16000)
    mp3 = tmp_path / "cut.mp3"
    encode([need("lame"), "--quiet", "-b", "128", str(wav), str(mp3)])
    content = mp3.read_bytes()
    mp3.write_bytes(content[: len(content) // 2])
    audio = load(mp3, 16000)
    assert audio.decode["sample_exact"] is True
    (warning,) = audio.warnings
    assert "truncated" in warning and "declares 48000 samples" in warning


def test_mpeg_layer_2_is_late_and_says_so(tmp_path):
    wav, reference = source_wav(tmp_path, 16000)
    mp2 = tmp_path / "speech.mp2"
    encode([need("sox"), str(wav), str(mp2)])
    audio = load(mp2, 16000)
    assert audio.decode["subtype"] == "MPEG_LAYER_II"
    assert_late(audio, reference, TYPICAL_MP2_DELAY)


def test_other_readers_are_described_by_what_the_file_records(tmp_path):
    """Without libsndfile's view of the file: PCM WAV is exact, a tagless MP3 is late whoever
    decodes it (only the file could say by how much), and a tagged one is not known."""
    wav, _ = source_wav(tmp_path, 16000)
    tagged, untagged = tmp_path / "tagged.mp3", tmp_path / "untagged.mp3"
    encode([need("lame"), "--quiet", "-b", "128", str(wav), str(tagged)])
    encode([need("lame"), "--quiet", "-t", "-b", "128", str(wav), str(untagged)])
    scipy_wav = describe_decode(str(wav), "w", "scipy", None, 16000)
    assert scipy_wav["sample_exact"] is True and scipy_wav["decoder"] == "scipy.io.wavfile"
    late = describe_decode(str(untagged), "u", "torchaudio", None, 16000)
    assert late["sample_exact"] is False and late["format"] == "MP3"
    assert late["warning"].startswith("u: MP3 without gapless information")
    unknown = describe_decode(str(tagged), "t", "torchaudio", None, 16000)
    assert unknown["sample_exact"] is None and "torchaudio" in unknown["reason"]
    assert unknown["warning"] is None


# --------------------------------------------------------------------------------------------
# Ogg Vorbis, Ogg Opus, FLAC


@pytest.mark.parametrize("rate", [16000, 22050, 44100])
def test_oggenc_vorbis_decodes_at_lag_zero(tmp_path, rate):
    wav, reference = source_wav(tmp_path, rate)
    ogg = tmp_path / "speech.ogg"
    encode([need("oggenc"), "-Q", str(wav), "-o", str(ogg)])
    audio = load(ogg, rate)
    assert_exact(audio, reference)
    assert (audio.decode["format"], audio.decode["subtype"]) == ("OGG", "VORBIS")


@pytest.mark.parametrize(("rate", "decoded_rate"), [(16000, 16000), (48000, 48000),
                                                    (22050, 24000)])
def test_opusenc_decodes_at_lag_zero(tmp_path, rate, decoded_rate):
    """libsndfile reads Opus itself, at the Opus rate at or above the input's, pre-skip removed."""
    wav, reference = source_wav(tmp_path, rate)
    opus = tmp_path / "speech.opus"
    encode([need("opusenc"), "--quiet", "--bitrate", "96", str(wav), str(opus)])
    audio = load(opus, rate)
    assert audio.reader == "soundfile" and audio.original_sample_rate == decoded_rate
    assert_exact(audio, reference)
    assert (audio.decode["format"], audio.decode["subtype"]) == ("OGG", "OPUS")


@pytest.mark.parametrize("rate", [16000, 44100])
def test_flac_decodes_bit_exactly(tmp_path, rate):
    wav, reference = source_wav(tmp_path, rate)
    flac = tmp_path / "speech.flac"
    encode([need("flac"), "-s", "-f", "--best", str(wav), "-o", str(flac)])
    audio = load(flac, rate)
    assert_exact(audio, reference)
    np.testing.assert_array_equal(audio.waveform, reference)


# --------------------------------------------------------------------------------------------
# Into the .json


def test_the_json_audio_block_records_the_decode(tmp_path, xlsr_checkpoint):
    wav, _ = source_wav(tmp_path, 16000)
    mp3 = tmp_path / "untagged.mp3"
    encode([need("lame"), "--quiet", "-t", str(wav), str(mp3)])
    records = {}
    for path in (wav, mp3):
        out = tmp_path / path.suffix[1:]
        code = cli.main([str(path), "--model", str(xlsr_checkpoint), "--output-dir", str(out),
                         "--quiet"])
        assert code == 0
        (written,) = out.glob("*.json")
        records[path.suffix] = json.loads(written.read_text())["audio"]
    assert records[".wav"]["decode"]["sample_exact"] is True
    assert records[".wav"]["warnings"] == []
    decode = records[".mp3"]["decode"]
    assert decode["sample_exact"] is False and decode["format"] == "MP3"
    assert records[".mp3"]["warnings"] == [decode["warning"]]
    assert f"{LAME_CODEC_DELAY} samples" in decode["warning"]


def test_the_python_api_metadata_records_the_decode(tmp_path, xlsr_checkpoint):
    from w2vbackend import extract

    wav, _ = source_wav(tmp_path, 16000)
    mp3 = tmp_path / "untagged.mp3"
    encode([need("lame"), "--quiet", "-t", str(wav), str(mp3)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AudioWarning)
        result = extract(str(mp3), model=str(xlsr_checkpoint))
    decode = result.metadata["audio"]["decode"]
    assert decode["sample_exact"] is False and decode["mp3"]["tag"] is None
    assert result.metadata["audio"]["warnings"] == [decode["warning"]]
    from_array = extract(np.zeros(16000, dtype=np.float32), model=str(xlsr_checkpoint),
                         sample_rate=16000)
    assert from_array.metadata["audio"]["decode"] is None
