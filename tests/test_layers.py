"""Layer selection: transformers' hidden-state numbering, exact values, and early stopping."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from synth import build_checkpoint, speech_like
from w2vbackend import extract
from w2vbackend.errors import UsageError
from w2vbackend.forward import hidden_states
from w2vbackend.layers import resolve_layers
from w2vbackend.model import load_model

FAMILIES = ("xlsr", "base", "hubert", "wavlm")
L = 4  # transformer layers of the synthetic checkpoints


@pytest.fixture(scope="module")
def loaded(checkpoints):
    return {name: load_model(str(checkpoints[name]), device="cpu") for name in FAMILIES}


@pytest.fixture(scope="module")
def xlsr24(tmp_path_factory):
    """XLS-R-shaped depth (24 layers, pre-LN), tiny width."""
    folder = build_checkpoint("xlsr", tmp_path_factory.mktemp("xlsr24") / "xlsr24", num_layers=24)
    return load_model(str(folder), device="cpu")


def model_input(loaded_model, seconds=3.0, seed=3) -> torch.Tensor:
    audio = speech_like(seconds, seed=seed)
    return loaded_model.feature_extractor(audio, sampling_rate=16000,
                                          return_tensors="pt").input_values


def full_pass(loaded_model, x):
    with torch.inference_mode():
        return loaded_model.model(x, output_hidden_states=True)


def reference_state(output, index: int, total: int) -> torch.Tensor:
    """Our numbering on top of transformers' outputs: i < L is hidden_states[i]; L is
    last_hidden_state (what transformers 4.x also returns as hidden_states[L])."""
    return (output.last_hidden_state if index == total else output.hidden_states[index])[0]


# ---------------------------------------------------------------------------- resolve_layers

@pytest.mark.parametrize(("spec", "expected"), [
    (None, (4,)), ("last", (4,)), ("", (4,)), (" LAST ", (4,)),
    ("all", (0, 1, 2, 3, 4)),
    (0, (0,)), (4, (4,)), (-1, (4,)), (-5, (0,)), (np.int64(2), (2,)), (3.0, (3,)),
    ([1, -1], (1, 4)), ([4, 0, 2], (4, 0, 2)),
    ("1,3,-1", (1, 3, 4)), (" 2 , -2 ", (2, 3)), ("[1, 2]", (1, 2)), ("3", (3,)),
    (np.array([1, 2]), (1, 2)),
])
def test_resolve_layers(spec, expected):
    assert resolve_layers(spec, L) == expected


@pytest.mark.parametrize("spec", [5, -6, [0, 7], "1,x", "first", [], True, [1.5], {"a": 1},
                                  "1,,2", (2, 2, -3), [4, -1]])
def test_resolve_layers_rejects(spec):
    with pytest.raises(UsageError):
        resolve_layers(spec, L)


def test_out_of_range_message_gives_the_valid_range():
    with pytest.raises(UsageError, match=r"0\.\.24 or -25\.\.-1"):
        resolve_layers(25, 24)


# ---------------------------------------------------------------- values equal transformers'

@pytest.mark.parametrize("family", FAMILIES)
def test_every_index_equals_transformers_hidden_states(loaded, family):
    lm = loaded[family]
    x = model_input(lm)
    full = full_pass(lm, x)
    assert len(full.hidden_states) == L + 1
    with torch.inference_mode():
        for spec in (0, 1, 2, 3, 4, -1, -2, -5):
            index = resolve_layers(spec, L)[0]
            (ours,) = hidden_states(lm.model, x, [index])
            torch.testing.assert_close(ours, reference_state(full, index, L), rtol=0, atol=0)
        several = hidden_states(lm.model, x, [4, 0, 2])
    for index, ours in zip([4, 0, 2], several):
        torch.testing.assert_close(ours, reference_state(full, index, L), rtol=0, atol=0)


def test_last_index_of_pre_ln_model_has_the_final_layer_norm(loaded):
    """For XLS-R-like models, L (and the default) is last_hidden_state: the output of the last
    layer followed by encoder.layer_norm. Intermediate indices carry no final LayerNorm."""
    lm = loaded["xlsr"]
    x = model_input(lm)
    with torch.inference_mode():
        captured = []
        handle = lm.model.encoder.layers[-1].register_forward_hook(
            lambda m, a, out: captured.append(out[0] if isinstance(out, tuple) else out))
        try:
            last = lm.model(x).last_hidden_state
        finally:
            handle.remove()
        (ours,) = hidden_states(lm.model, x, [L])
        normed = lm.model.encoder.layer_norm(captured[0])
    torch.testing.assert_close(ours, last[0], rtol=0, atol=0)
    torch.testing.assert_close(normed, last, rtol=0, atol=0)
    assert not torch.allclose(captured[0], last)


def truncated_copy(lm, depth: int):
    """An independent model that simply has only the first ``depth`` transformer layers (and
    no final LayerNorm), so its last_hidden_state is hidden state ``depth``."""
    model = copy.deepcopy(lm.model)
    model.encoder.layers = torch.nn.ModuleList(list(model.encoder.layers)[:depth])
    if lm.stable_layer_norm:
        model.encoder.layer_norm = torch.nn.Identity()
    return model


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_truncated_model_gives_the_same_numbers(loaded, family, depth):
    lm = loaded[family]
    x = model_input(lm, seconds=2.0)
    with torch.inference_mode():
        expected = truncated_copy(lm, depth)(x).last_hidden_state[0]
        (ours,) = hidden_states(lm.model, x, [depth])
    torch.testing.assert_close(ours, expected, rtol=1e-6, atol=1e-6)


# ------------------------------------------------------------------------- early stopping

def count_calls(model) -> tuple[list[int], list]:
    calls = [0] * len(model.encoder.layers)
    handles = []
    for i, layer in enumerate(model.encoder.layers):
        def hook(module, args, output, i=i):
            calls[i] += 1
        handles.append(layer.register_forward_hook(hook))
    norm_calls = [0]
    handles.append(model.encoder.layer_norm.register_forward_hook(
        lambda *a: norm_calls.__setitem__(0, norm_calls[0] + 1)))
    return calls, [handles, norm_calls]


def run_counted(lm, layers) -> tuple[list[int], int]:
    calls, (handles, norm_calls) = count_calls(lm.model)
    try:
        with torch.inference_mode():
            hidden_states(lm.model, model_input(lm, seconds=1.0), layers)
    finally:
        for handle in handles:
            handle.remove()
    return calls, norm_calls[0]


@pytest.mark.parametrize("family", FAMILIES)
def test_layer_2_of_4_runs_only_layers_1_and_2(loaded, family):
    calls, _ = run_counted(loaded[family], [2])
    assert calls == [1, 1, 0, 0]
    calls, _ = run_counted(loaded[family], [0])
    assert calls == [0, 0, 0, 0]
    calls, _ = run_counted(loaded[family], [1, 4])
    assert calls == [1, 1, 1, 1]


def test_layer_12_of_24_stops_after_layer_12(xlsr24):
    calls, norm_calls = run_counted(xlsr24, [12])
    assert calls == [1] * 12 + [0] * 12
    assert norm_calls == 0  # the final LayerNorm belongs to index 24 only
    calls, norm_calls = run_counted(xlsr24, [24])
    assert calls == [1] * 24 and norm_calls == 1


def test_layer_12_of_24_equals_full_model(xlsr24):
    x = model_input(xlsr24, seconds=2.0)
    full = full_pass(xlsr24, x)
    with torch.inference_mode():
        twelve, last = hidden_states(xlsr24.model, x, [12, 24])
    torch.testing.assert_close(twelve, full.hidden_states[12][0], rtol=0, atol=0)
    torch.testing.assert_close(last, full.last_hidden_state[0], rtol=0, atol=0)


@pytest.mark.parametrize("bad", [[-1], [5], []])
def test_hidden_states_takes_only_resolved_indices(loaded, bad):
    lm = loaded["xlsr"]
    with pytest.raises(ValueError, match=r"0\.\.4"):
        hidden_states(lm.model, model_input(lm, seconds=0.5), bad)


def test_model_is_unchanged_after_an_early_stop(loaded):
    lm = loaded["wavlm"]
    x = model_input(lm, seconds=1.0)
    with torch.inference_mode():
        before = lm.model(x).last_hidden_state
        hidden_states(lm.model, x, [1])
        after = lm.model(x).last_hidden_state
    torch.testing.assert_close(before, after, rtol=0, atol=0)
    assert all(not layer._forward_pre_hooks for layer in lm.model.encoder.layers)


# ------------------------------------------------------------ layers through extract()

def test_extract_layers_shape_order_and_values(loaded):
    lm = loaded["base"]
    audio = speech_like(3.0, seed=4)
    result = extract(audio, model=lm, sample_rate=16000, layers="4,0,-2", chunk_seconds=None)
    assert result.layers == (4, 0, 3)
    assert result.embeddings.shape == (3, 149, 32)
    assert result.embeddings.dtype == np.float32
    full = full_pass(lm, model_input(lm, seconds=3.0, seed=4))
    for position, index in enumerate(result.layers):
        np.testing.assert_allclose(result.embeddings[position],
                                   reference_state(full, index, L).numpy(), rtol=0, atol=1e-5)
    single = extract(audio, model=lm, sample_rate=16000, layers=[2], chunk_seconds=None)
    assert single.embeddings.shape == (149, 32) and single.layers == (2,)
    default = extract(audio, model=lm, sample_rate=16000, chunk_seconds=None)
    assert default.layers == (L,) and default.metadata["layers"] == [L]
    np.testing.assert_array_equal(default.embeddings, result.embeddings[0])


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


@pytest.mark.parametrize("family", ["xlsr", "base"])
def test_all_layers_chunked_match_full_pass(loaded, family):
    lm = loaded[family]
    audio = speech_like(45.0, seed=5)
    result = extract(audio, model=lm, sample_rate=16000, layers="all", chunk_seconds=8.0)
    x = lm.feature_extractor(audio, sampling_rate=16000, return_tensors="pt").input_values
    full = full_pass(lm, x)
    assert result.embeddings.shape == (L + 1, full.last_hidden_state.shape[1], 32)
    for index in range(L + 1):
        worst = cosine_rows(result.embeddings[index], reference_state(full, index, L).numpy())
        assert worst.min() >= 0.999, (index, worst.min())
