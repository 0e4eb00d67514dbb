"""Chunked extraction against one full-recording forward pass of the same transformers model."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from synth import speech_like
from w2vbackend import Result, extract, normalisation
from w2vbackend.defaults import DEFAULT_CHUNK_SECONDS, DEFAULT_CONTEXT_SECONDS
from w2vbackend.errors import AudioTooShortError, UsageError
from w2vbackend.model import load_model
from w2vbackend.normalisation import group_norm_statistics, recording_normalisation
from w2vbackend.npystore import NpyStore

SR = 16000
FAMILIES = ("xlsr", "base", "hubert", "wavlm")
# Worst per-frame cosine similarity to the full pass required with the default context.
COSINE_BAR = 0.999


@pytest.fixture(scope="module")
def loaded(checkpoints):
    return {name: load_model(str(checkpoints[name]), device="cpu") for name in FAMILIES}


_FULL_CACHE: dict = {}


def full_pass(lm, audio: np.ndarray) -> np.ndarray:
    """The reference: the feature extractor on the whole waveform, then one model call."""
    key = (lm.name, audio.shape[0], float(audio[:1000].sum()))
    if key not in _FULL_CACHE:
        x = lm.feature_extractor(audio, sampling_rate=SR, return_tensors="pt").input_values
        with torch.inference_mode():
            _FULL_CACHE[key] = lm.model(x).last_hidden_state[0].numpy()
    return _FULL_CACHE[key]


def naive_chunks(lm, audio: np.ndarray, chunk_seconds: float) -> np.ndarray:
    """The original workflow: independent chunks (each normalised on its own), concatenated."""
    size = int(chunk_seconds * SR)
    parts = []
    for start in range(0, audio.shape[0], size):
        piece = audio[start:start + size]
        if piece.shape[0] < lm.geometry.receptive_field:
            continue
        x = lm.feature_extractor(piece, sampling_rate=SR, return_tensors="pt").input_values
        with torch.inference_mode():
            parts.append(lm.model(x).last_hidden_state[0].numpy())
    return np.concatenate(parts)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def worst_cosine(result: Result, reference: np.ndarray) -> float:
    assert result.embeddings.shape == reference.shape
    return float(cosines(result.embeddings, reference).min())


# ------------------------------------------------------------------ chunked vs full pass

@pytest.mark.parametrize("family", ["xlsr", "base"])
@pytest.mark.parametrize(("seconds", "chunk"), [(75.0, 5.0), (75.0, 20.0), (61.3, 7.3)])
def test_chunked_equals_full_pass_with_default_context(loaded, family, seconds, chunk):
    lm = loaded[family]
    audio = speech_like(seconds, seed=11)
    reference = full_pass(lm, audio)
    result = extract(audio, model=lm, sample_rate=SR, chunk_seconds=chunk)
    assert result.metadata["context_seconds"] == DEFAULT_CONTEXT_SECONDS
    assert result.metadata["num_windows"] == math.ceil(reference.shape[0] / round(chunk * 50))
    assert result.embeddings.shape[0] == reference.shape[0] == lm.geometry.num_frames(len(audio))
    assert worst_cosine(result, reference) >= COSINE_BAR


@pytest.mark.parametrize("family", ["xlsr", "base"])
@pytest.mark.parametrize("context", [0.5, 3.0])
def test_chunked_with_other_contexts(loaded, family, context):
    lm = loaded[family]
    audio = speech_like(75.0, seed=11)
    result = extract(audio, model=lm, sample_rate=SR, chunk_seconds=10.0,
                     context_seconds=context)
    assert worst_cosine(result, full_pass(lm, audio)) >= COSINE_BAR


@pytest.mark.parametrize("family", ["hubert", "wavlm"])
def test_chunked_other_families(loaded, family):
    lm = loaded[family]
    audio = speech_like(40.0, seed=13)
    result = extract(audio, model=lm, sample_rate=SR, chunk_seconds=8.0)
    assert result.metadata["group_norm"] == "recording"
    assert worst_cosine(result, full_pass(lm, audio)) >= COSINE_BAR


@pytest.mark.parametrize("family", FAMILIES)
def test_one_window_is_the_full_pass(loaded, family):
    lm = loaded[family]
    audio = speech_like(12.345, seed=14)
    reference = full_pass(lm, audio)
    for chunk in (None, 30.0):
        result = extract(audio, model=lm, sample_rate=SR, chunk_seconds=chunk)
        assert result.metadata["num_windows"] == 1
        np.testing.assert_allclose(result.embeddings, reference, rtol=0, atol=2e-5)


@pytest.mark.parametrize(("num_samples", "chunk"), [
    (400, 1.0), (401, 1.0), (719, 1.0), (720, 1.0), (721, 1.0),   # R, R+1, R+S-1, R+S, R+S+1
    (16_000, 1.0), (16_001, 1.0), (16_080, 1.0), (16_081, 1.0),    # one 1 s chunk, +1 sample...
    (320_000, 20.0), (320_001, 20.0), (320_399, 20.0), (320_400, 20.0), (320_401, 20.0),
])
def test_frame_count_at_boundaries_equals_transformers(loaded, num_samples, chunk):
    lm = loaded["base"]
    audio = speech_like(num_samples / SR, seed=21)
    assert audio.shape[0] == num_samples
    result = extract(audio, model=lm, sample_rate=SR, chunk_seconds=chunk, context_seconds=0.5)
    expected = int(lm.model._get_feat_extract_output_lengths(torch.tensor(num_samples)))
    assert result.embeddings.shape == (expected, 32)
    assert result.time_axis.shape == (expected,)
    assert worst_cosine(result, full_pass(lm, audio)) >= COSINE_BAR


@pytest.mark.parametrize("family", ["xlsr", "base"])
def test_naive_method_is_measurably_worse(loaded, family):
    lm = loaded[family]
    audio = speech_like(75.0, seed=11)
    reference = full_pass(lm, audio)
    naive = naive_chunks(lm, audio, 10.0)
    # 7 cuts lose 7 frames: every later frame is stamped 20 ms per cut too early
    assert reference.shape[0] - naive.shape[0] == 7
    assert float(cosines(naive, reference[:naive.shape[0]]).min()) < 0.9
    ours = extract(audio, model=lm, sample_rate=SR, chunk_seconds=10.0)
    # Plain windows without context (no positional reach either): frames at the cuts are off.
    no_context = extract(audio, model=lm, sample_rate=SR, chunk_seconds=10.0, context_seconds=0,
                         positional_context=False)
    assert worst_cosine(no_context, reference) < COSINE_BAR <= worst_cosine(ours, reference)


def test_recording_group_norm_is_much_closer_than_window_group_norm(loaded):
    lm = loaded["base"]
    audio = speech_like(75.0, seed=11)
    reference = full_pass(lm, audio)
    recording = extract(audio, model=lm, sample_rate=SR, chunk_seconds=10.0)
    window = extract(audio, model=lm, sample_rate=SR, chunk_seconds=10.0, group_norm="window")
    assert recording.metadata["group_norm"] == "recording"
    assert window.metadata["group_norm"] == "window"
    recording_gap = 1.0 - worst_cosine(recording, reference)
    window_gap = 1.0 - worst_cosine(window, reference)
    recording_err = np.abs(recording.embeddings - reference).max()
    window_err = np.abs(window.embeddings - reference).max()
    assert recording_gap < 1e-5
    assert window_gap > 10 * max(recording_gap, 1e-7)
    assert window_err > 10 * recording_err


def test_layer_norm_models_have_no_group_norm_mode(loaded):
    result = extract(speech_like(20.0), model=loaded["xlsr"], sample_rate=SR, chunk_seconds=5.0)
    assert result.metadata["group_norm"] is None


def test_group_norm_statistics_equal_whole_recording_statistics(loaded, monkeypatch):
    lm = loaded["base"]
    audio = speech_like(7.0, seed=15)
    norm = recording_normalisation(audio)
    monkeypatch.setattr(normalisation, "STATS_BLOCK_FRAMES", 999)  # many blocks
    mean, var = group_norm_statistics(lm, audio, norm)
    x = torch.from_numpy(((audio - norm[0]) / norm[1]).astype(np.float32))[None, None]
    with torch.inference_mode():
        conv = lm.model.feature_extractor.conv_layers[0].conv(x)[0].double()
    # float32 convolutions of different input lengths differ in the last bits only
    np.testing.assert_allclose(mean, conv.mean(dim=1).numpy(), rtol=0, atol=1e-7)
    np.testing.assert_allclose(var, conv.var(dim=1, unbiased=False).numpy(), rtol=1e-6)


# ----------------------------------------------------------------------- normalisation

def test_normalisation_is_whole_recording_and_recorded(loaded):
    lm = loaded["xlsr"]
    audio = speech_like(40.0, seed=16)
    audio[: 20 * SR] *= 0.05  # a quiet first half: per-chunk normalisation would differ a lot
    audio += 0.01
    result = extract(audio, model=lm, sample_rate=SR, chunk_seconds=5.0)
    x64 = audio.astype(np.float64)
    assert result.metadata["normalisation_mean"] == pytest.approx(x64.mean(), rel=1e-12)
    assert result.metadata["normalisation_std"] == pytest.approx(
        math.sqrt(x64.var() + 1e-7), rel=1e-12)
    assert worst_cosine(result, full_pass(lm, audio)) >= COSINE_BAR


def test_no_normalisation_when_the_feature_extractor_does_not(loaded):
    result = extract(speech_like(2.0), model=loaded["hubert"], sample_rate=SR)
    assert result.metadata["normalisation_mean"] is None
    assert result.metadata["normalisation_std"] is None


def test_recording_normalisation_blockwise():
    rng = np.random.default_rng(0)
    audio = (rng.standard_normal(100_003) * 0.3 + 0.2).astype(np.float32)
    mean, std = recording_normalisation(audio, block=1000)
    assert mean == pytest.approx(audio.astype(np.float64).mean(), rel=1e-13)
    assert std == pytest.approx(math.sqrt(audio.astype(np.float64).var() + 1e-7), rel=1e-13)


# ------------------------------------------------------------ result, metadata, callbacks

def test_result_time_axis_and_metadata(loaded):
    lm = loaded["xlsr"]
    audio = speech_like(30.0, seed=17)
    result = extract(audio, model=lm, sample_rate=SR)
    frames = lm.geometry.num_frames(audio.shape[0])
    assert result.embeddings.shape == (frames, 32) and result.embeddings.dtype == np.float32
    np.testing.assert_array_equal(result.time_axis, np.arange(frames) * 320 / SR)
    assert (result.sample_rate, result.frame_stride, result.receptive_field,
            result.frame_center_offset) == (SR, 0.02, 0.025, 0.0125)
    meta = json.loads(json.dumps(result.metadata))  # JSON-serialisable
    assert meta["num_frames"] == frames and meta["hidden_size"] == 32
    assert meta["chunk_seconds"] == DEFAULT_CHUNK_SECONDS
    assert meta["context_seconds"] == DEFAULT_CONTEXT_SECONDS
    assert (meta["chunk_frames"], meta["num_windows"]) == (1000, 2)
    assert meta["context_frames"] == round(DEFAULT_CONTEXT_SECONDS * SR / 320)
    kernel = lm.model.config.num_conv_pos_embeddings  # 16 in the test checkpoints, 128 in XLSR
    assert meta["positional_context_frames"] == [kernel // 2, kernel - 1 - kernel // 2]
    assert meta["model"] == lm.name and meta["device"] == "cpu" and meta["dtype"] == "float32"
    assert meta["commit_hash"] is None and meta["revision"] is None
    assert meta["audio"]["duration"] == pytest.approx(30.0)
    assert meta["audio"]["num_samples"] == audio.shape[0]
    assert meta["layers"] == [4]
    assert meta["wall_time"] > 0


def test_a_sink_gets_every_block_once_and_progress_is_reported(loaded, tmp_path):
    lm = loaded["base"]
    audio = speech_like(25.0, seed=18)
    seconds = []
    store = NpyStore(tmp_path / "out.npy")
    result = extract(audio, model=lm, sample_rate=SR, chunk_seconds=6.0, layers=[1, 4],
                     sink=store, progress=seconds.append)
    assert result.embeddings is None and result.shape == store.shape == (2, 1249, 32)
    store.finish()
    on_disk = np.load(tmp_path / "out.npy")
    reference = extract(audio, model=lm, sample_rate=SR, chunk_seconds=6.0, layers=[1, 4])
    np.testing.assert_array_equal(on_disk, reference.embeddings)
    assert len(seconds) == result.metadata["num_windows"] == 5
    assert seconds == sorted(seconds) and seconds[0] == 6.0
    assert seconds[-1] == pytest.approx(25.0)


def test_too_short_audio(loaded):
    lm = loaded["xlsr"]
    with pytest.raises(AudioTooShortError) as info:
        extract(np.zeros(399, np.float32) + 0.1, model=lm, sample_rate=SR)
    message = str(info.value)
    assert "\n" not in message
    assert "0.0249 s" in message and "400 samples" in message and "0.0250 s" in message
    assert info.value.code == "audioTooShort"
    one = extract(speech_like(400 / SR), model=lm, sample_rate=SR)
    assert one.embeddings.shape == (1, 32)
    np.testing.assert_array_equal(one.time_axis, [0.0])


def test_too_short_file_names_the_file(loaded, make_wav):
    path, _ = make_wav("tiny clip.wav", duration_s=0.01)
    with pytest.raises(AudioTooShortError, match=r"tiny clip\.wav"):
        extract(str(path), model=loaded["xlsr"])


def test_file_input_equals_array_input(loaded, make_wav):
    import soundfile

    lm = loaded["base"]
    path, _ = make_wav("speech.wav", duration_s=6.0, subtype="PCM_16")
    data, rate = soundfile.read(path, dtype="float32")
    from_file = extract(str(path), model=lm, chunk_seconds=2.0)
    from_array = extract(data, model=lm, sample_rate=rate, chunk_seconds=2.0)
    np.testing.assert_allclose(from_file.embeddings, from_array.embeddings, rtol=0, atol=1e-5)
    assert from_file.metadata["audio"]["path"] == str(path.resolve())


def test_array_at_another_rate_is_resampled(loaded):
    audio8k = speech_like(5.0, sample_rate=8000, seed=19)
    result = extract(audio8k, model=loaded["xlsr"], sample_rate=8000)
    assert result.metadata["audio"]["original_sample_rate"] == 8000
    assert result.metadata["audio"]["num_samples"] == 80000
    assert result.embeddings.shape[0] == loaded["xlsr"].geometry.num_frames(80000)


def test_half_precision_runs_and_stores_float32(checkpoints):
    audio = speech_like(10.0, seed=20)
    lm32 = load_model(str(checkpoints["xlsr"]), device="cpu")
    lm16 = load_model(str(checkpoints["xlsr"]), device="cpu", dtype="bfloat16")
    low = extract(audio, model=lm16, sample_rate=SR, chunk_seconds=4.0)
    high = extract(audio, model=lm32, sample_rate=SR, chunk_seconds=4.0)
    assert low.embeddings.dtype == np.float32 and low.metadata["dtype"] == "bfloat16"
    assert float(cosines(low.embeddings, high.embeddings).min()) > 0.98


def test_model_given_by_name(checkpoints):
    result = extract(speech_like(2.0), model=str(checkpoints["hubert"]), sample_rate=SR,
                     device="cpu", layers=-2)
    assert result.layers == (3,)
    assert result.metadata["model"] == str(checkpoints["hubert"])
    assert result.metadata["model_type"] == "hubert"


@pytest.mark.parametrize("kwargs", [
    {"chunk_seconds": 0}, {"chunk_seconds": -5}, {"context_seconds": -1},
    {"context_seconds": float("inf")}, {"group_norm": "global"}, {"layers": 9},
    {"sample_rate": None},
])
def test_argument_errors(loaded, kwargs):
    arguments = {"model": loaded["base"], "sample_rate": SR, **kwargs}
    with pytest.raises(UsageError):
        extract(speech_like(1.0), **arguments)


def test_one_hour_recording_has_the_formulas_frame_count_and_no_drift(loaded):
    """A real one-hour run: the frame count is transformers' own output-length formula for the
    whole recording, and the last frame sits exactly where that formula puts it."""
    lm = loaded["base"]  # group-norm: also runs the recording-wide statistics pass
    num_samples = 3600 * SR
    audio = (0.1 * np.random.default_rng(3).standard_normal(num_samples)).astype(np.float32)
    result = extract(audio, model=lm, sample_rate=SR)
    expected = int(lm.model._get_feat_extract_output_lengths(torch.tensor(num_samples)))
    assert expected == 179_999
    assert result.num_frames == expected == result.embeddings.shape[0]
    assert result.time_axis[-1] == pytest.approx((expected - 1) * 320 / SR, abs=1e-9)
    assert result.metadata["num_windows"] == math.ceil(expected / 1000)
    assert np.isfinite(result.embeddings).all()
    # The naive method's 999-frame chunks have lost 179 frames by now: its time axis
    # (frame index * 20 ms) ends 3.58 s early.
    naive_frames = sum(lm.geometry.num_frames(min(20 * SR, num_samples - start))
                       for start in range(0, num_samples, 20 * SR))
    assert expected - naive_frames == 179
