"""Attention context vs positional reach: the feature encoder and positional convolution see
their full reach of real audio, the transformer layers only ``context_seconds``; every
transformer-layer input must then equal the full pass's."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from synth import CONV_KERNEL, CONV_STRIDE, speech_like, tiny_config_kwargs
from w2vbackend import extract
from w2vbackend.defaults import DEFAULT_CONTEXT_SECONDS
from w2vbackend.forward import hidden_states, positional_reach
from w2vbackend.geometry import FrameGeometry
from w2vbackend.model import load_model
from w2vbackend.windows import plan_windows

SR = 16000
FAMILIES = ("xlsr", "base", "hubert", "wavlm")
GEOMETRY = FrameGeometry.from_kernels(SR, CONV_KERNEL, CONV_STRIDE)
COSINE_BAR = 0.999
# float32 sums over different sequence lengths, and the recording-wide GroupNorm statistics,
# differ from the full pass in the last bits only
EXACT_ATOL = 1e-4


@pytest.fixture(scope="module")
def loaded(checkpoints):
    return {name: load_model(str(checkpoints[name]), device="cpu") for name in FAMILIES}


@pytest.fixture(scope="module")
def xlsr_k128(tmp_path_factory):
    """A tiny XLS-R-like checkpoint with the real positional kernel (128 frames, reach 64/63)."""
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

    folder = tmp_path_factory.mktemp("xlsr_k128")
    kwargs = tiny_config_kwargs(num_layers=2)
    kwargs.update(num_conv_pos_embeddings=128, do_stable_layer_norm=True,
                  feat_extract_norm="layer")
    torch.manual_seed(1)
    Wav2Vec2Model(Wav2Vec2Config(**kwargs)).eval().save_pretrained(folder)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=SR, padding_value=0.0,
                             do_normalize=True, return_attention_mask=True).save_pretrained(folder)
    return load_model(str(folder), device="cpu")


def transformer_input(lm, audio: np.ndarray) -> np.ndarray:
    """transformers' own ``hidden_states[0]`` of a full-recording forward pass."""
    x = lm.feature_extractor(audio, sampling_rate=SR, return_tensors="pt").input_values
    with torch.inference_mode():
        return lm.model(x, output_hidden_states=True).hidden_states[0][0].numpy()


def last_state(lm, audio: np.ndarray) -> np.ndarray:
    x = lm.feature_extractor(audio, sampling_rate=SR, return_tensors="pt").input_values
    with torch.inference_mode():
        return lm.model(x).last_hidden_state[0].numpy()


def worst_cosine(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape
    return float(((a * b).sum(-1) / (np.linalg.norm(a, axis=-1)
                                     * np.linalg.norm(b, axis=-1))).min())


# --------------------------------------------------------------------------- reach

def _empirical_reach(model) -> tuple[int, int]:
    """Which neighbours' features change a frame's positional embedding, by perturbation."""
    conv = model.encoder.pos_conv_embed
    n, j = 400, 200
    x = torch.randn(1, n, model.config.hidden_size)
    bumped = x.clone()
    bumped[0, j] += 1.0
    with torch.inference_mode():
        changed = (conv(bumped) - conv(x)).abs().amax(-1)[0] > 0
    where = torch.nonzero(changed)[:, 0]
    # output i reads input j when i - left <= j <= i + right: j reaches i in [j - right, j + left]
    return int(where.max()) - j, j - int(where.min())


@pytest.mark.parametrize(("family", "kernel", "expected"), [
    ("wav2vec2", 128, (64, 63)), ("wav2vec2", 16, (8, 7)), ("wav2vec2", 17, (8, 8)),
    ("hubert", 128, (64, 63)), ("wavlm", 128, (64, 63)), ("data2vec-audio", 19, (45, 45)),
])
def test_positional_reach_matches_the_convolution(family, kernel, expected):
    import transformers

    config_cls, model_cls = {
        "wav2vec2": (transformers.Wav2Vec2Config, transformers.Wav2Vec2Model),
        "hubert": (transformers.HubertConfig, transformers.HubertModel),
        "wavlm": (transformers.WavLMConfig, transformers.WavLMModel),
        "data2vec-audio": (transformers.Data2VecAudioConfig, transformers.Data2VecAudioModel),
    }[family]
    kwargs = tiny_config_kwargs(num_layers=1)
    if family == "data2vec-audio":  # five stacked convolutions of kernel 19
        kwargs.update(num_conv_pos_embeddings=5, conv_pos_kernel_size=kernel)
    else:
        kwargs.update(num_conv_pos_embeddings=kernel)
    torch.manual_seed(0)
    model = model_cls(config_cls(**kwargs)).eval()
    assert positional_reach(model) == expected == _empirical_reach(model)


def test_unknown_models_get_no_split(loaded):
    assert positional_reach(SimpleNamespace(config=SimpleNamespace(model_type="sew"))) == (0, 0)
    assert positional_reach(loaded["xlsr"].model) == (8, 7)  # tiny checkpoints: kernel 16


# ------------------------------------------------------------------------- planning

def check_split_plan(num_samples: int, chunk: int | None, context: int,
                     reach: tuple[int, int]) -> list:
    windows = plan_windows(num_samples, GEOMETRY, chunk, context, positional_frames=reach)
    plain = plan_windows(num_samples, GEOMETRY, chunk, context)
    total = GEOMETRY.num_frames(num_samples)
    kept = np.concatenate([np.arange(w.keep_start, w.keep_stop) for w in windows])
    np.testing.assert_array_equal(kept, np.arange(total))  # each frame once, in order
    assert len(plain) == len(windows)
    for w, p in zip(windows, plain):
        # the attention windows are those of the plain plan
        assert (w.keep_start, w.keep_stop, w.frame_start, w.frame_stop) == (
            p.keep_start, p.keep_stop, p.frame_start, p.frame_stop)
        assert w.input_start == max(0, w.frame_start - reach[0])
        assert w.input_stop == min(total, w.frame_stop + reach[1])
        assert w.sample_start == w.input_start * GEOMETRY.stride
        assert 0 <= w.sample_start < w.sample_stop <= num_samples
        assert GEOMETRY.num_frames(w.sample_stop - w.sample_start) == w.input_stop - w.input_start
        if w.input_stop == total:
            assert w.sample_stop == num_samples
        start, stop = w.crop
        assert 0 <= start < stop <= w.input_stop - w.input_start
        assert stop - start == w.frame_stop - w.frame_start
    return windows


@settings(max_examples=200, deadline=None)
@given(n=st.integers(400, 400_000), chunk=st.integers(1, 2000), context=st.integers(0, 300),
       left=st.integers(0, 100), right=st.integers(0, 100))
def test_split_plan_property(n, chunk, context, left, right):
    check_split_plan(n, chunk, context, (left, right))


def test_split_plan_one_hour():
    windows = check_split_plan(3600 * SR, 1000, 25, (64, 63))
    assert len(windows) == 180
    middle = windows[5]
    assert (middle.input_start, middle.frame_start, middle.keep_start,
            middle.keep_stop, middle.frame_stop, middle.input_stop) == (
        5000 - 25 - 64, 5000 - 25, 5000, 6000, 6025, 6025 + 63)
    assert plan_windows(3600 * SR, GEOMETRY, None, 25, positional_frames=(64, 63))[0].crop == (
        0, 179_999)


def test_negative_reach_is_refused():
    with pytest.raises(ValueError):
        plan_windows(SR, GEOMETRY, 10, 2, positional_frames=(-1, 0))


# ------------------------------------------------------- exact transformer inputs

@pytest.mark.parametrize("family", FAMILIES)
def test_transformer_inputs_equal_the_full_pass(loaded, family):
    lm = loaded[family]
    audio = speech_like(12.0, seed=31)
    reference = transformer_input(lm, audio)
    # 1 s chunks with 2 frames of attention context: 12 windows, every cut within the reach
    split = extract(audio, model=lm, sample_rate=SR, chunk_seconds=1.0, context_seconds=0.04,
                    layers=0)
    plain = extract(audio, model=lm, sample_rate=SR, chunk_seconds=1.0, context_seconds=0.04,
                    layers=0, positional_context=False)
    assert split.metadata["num_windows"] == 12
    assert split.metadata["positional_context_frames"] == [8, 7]
    assert plain.metadata["positional_context_frames"] == [0, 0]
    np.testing.assert_allclose(split.embeddings, reference, rtol=0, atol=EXACT_ATOL)
    assert np.abs(plain.embeddings - reference).max() > 100 * EXACT_ATOL


def test_transformer_inputs_equal_the_full_pass_with_the_real_kernel(xlsr_k128):
    lm = xlsr_k128
    audio = speech_like(15.0, seed=32)
    reference = transformer_input(lm, audio)
    for context in (0.0, 0.5):
        split = extract(audio, model=lm, sample_rate=SR, chunk_seconds=2.0,
                        context_seconds=context, layers=0)
        assert split.metadata["positional_context_frames"] == [64, 63]
        np.testing.assert_allclose(split.embeddings, reference, rtol=0, atol=EXACT_ATOL)


def test_every_transformer_frame_of_a_window_is_exact(loaded):
    """Not only the kept frames: the attention context frames entering layer 0 are exact too."""
    lm = loaded["xlsr"]
    audio = speech_like(6.0, seed=33)
    reference = transformer_input(lm, audio)
    total = lm.geometry.num_frames(audio.shape[0])
    windows = plan_windows(audio.shape[0], lm.geometry, 50, 10,
                           positional_frames=positional_reach(lm.model))
    x_all = lm.feature_extractor(audio, sampling_rate=SR, return_tensors="pt").input_values
    with torch.inference_mode():
        for w in windows:
            x = x_all[:, w.sample_start:w.sample_stop]
            (state,) = hidden_states(lm.model, x, [0], crop=w.crop)
            assert state.shape[0] == w.frame_stop - w.frame_start
            np.testing.assert_allclose(state.numpy(), reference[w.frame_start:w.frame_stop],
                                       rtol=0, atol=EXACT_ATOL)
    assert windows[-1].frame_stop == total


def test_crop_keeps_the_early_stop_and_layer_values(loaded):
    lm = loaded["wavlm"]
    audio = speech_like(3.0, seed=34)
    x = lm.feature_extractor(audio, sampling_rate=SR, return_tensors="pt").input_values
    frames = lm.geometry.num_frames(audio.shape[0])
    calls = []
    handle = lm.model.encoder.layers[2].register_forward_hook(lambda *a: calls.append(1))
    try:
        with torch.inference_mode():
            whole = hidden_states(lm.model, x, [0, 2, 4])
            same = hidden_states(lm.model, x, [0, 2, 4], crop=(0, frames))
            calls.clear()
            cropped = hidden_states(lm.model, x, [0, 2], crop=(20, 100))
    finally:
        handle.remove()
    assert calls == []  # layer 2's input was the deepest index: layer 2 never ran
    for a, b in zip(whole, same):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert cropped[0].shape == (80, 32) and cropped[1].shape == (80, 32)
    torch.testing.assert_close(cropped[0], whole[0][20:100], rtol=0, atol=0)


# ------------------------------------------------------------- end-to-end fidelity

@pytest.mark.parametrize("family", FAMILIES)
def test_chunked_with_default_context_matches_the_full_pass(loaded, family):
    lm = loaded[family]
    audio = speech_like(30.0, seed=35)
    result = extract(audio, model=lm, sample_rate=SR, chunk_seconds=6.0)
    assert result.metadata["context_seconds"] == DEFAULT_CONTEXT_SECONDS
    assert result.embeddings.shape[0] == lm.geometry.num_frames(audio.shape[0])
    assert worst_cosine(result.embeddings, last_state(lm, audio)) >= COSINE_BAR


def test_split_is_closer_than_plain_windows_at_small_context(xlsr_k128):
    lm = xlsr_k128
    audio = speech_like(20.0, seed=36)
    reference = last_state(lm, audio)
    split = extract(audio, model=lm, sample_rate=SR, chunk_seconds=4.0, context_seconds=0.5)
    plain = extract(audio, model=lm, sample_rate=SR, chunk_seconds=4.0, context_seconds=0.5,
                    positional_context=False)
    split_gap = 1.0 - worst_cosine(split.embeddings, reference)
    plain_gap = 1.0 - worst_cosine(plain.embeddings, reference)
    assert split_gap < 1.0 - COSINE_BAR
    assert plain_gap > 3 * split_gap


@pytest.mark.parametrize("family", ["xlsr", "base"])
def test_huge_context_changes_nothing(loaded, family):
    """Windows covering the whole recording: no crop happens, the split is a no-op."""
    lm = loaded[family]
    audio = speech_like(8.0, seed=37)
    total = lm.geometry.num_frames(audio.shape[0])
    kwargs = {"model": lm, "sample_rate": SR, "chunk_seconds": 2.0, "context_seconds": 100.0,
              "layers": [0, 4]}
    split = extract(audio, **kwargs)
    plain = extract(audio, **kwargs, positional_context=False)
    assert split.metadata["num_windows"] == 4
    windows = plan_windows(audio.shape[0], lm.geometry, 100, 5000, positional_frames=(8, 7))
    assert all((w.input_start, w.frame_start, w.frame_stop, w.input_stop) == (0, 0, total, total)
               for w in windows)
    np.testing.assert_array_equal(split.embeddings, plain.embeddings)
    np.testing.assert_allclose(split.embeddings[1], last_state(lm, audio), rtol=0, atol=2e-5)
