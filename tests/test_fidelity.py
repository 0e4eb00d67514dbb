"""The verify check: it must tell a poor chunking from the default one, and its figures must be
those of transformers' own forward pass over the same span."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from synth import speech_like
from w2vbackend import extract
from w2vbackend.cli import main
from w2vbackend.defaults import DEFAULT_CHUNK_SECONDS
from w2vbackend.errors import UsageError
from w2vbackend.fidelity import VERIFY_THRESHOLD, choose_span
from w2vbackend.model import load_model

SR = 16000
FAMILIES = ("xlsr", "base", "hubert", "wavlm")
# Short recordings keep the suite fast: the default context and positional reach with a 2 s
# chunk (cuts at 2 and 4 s; the checked one at 2 s). test_true_defaults uses the 20 s chunk.
SECONDS = 5.0
CHUNK = 2.0
LAYERS = [1, 4]
POOR = {"chunk_seconds": 0.5, "context_seconds": 0.0, "positional_context": False}


@pytest.fixture(scope="module")
def audio():
    return speech_like(SECONDS, SR, seed=3)


@pytest.fixture(scope="module")
def loaded(checkpoints):
    return {name: load_model(str(checkpoints[name]), device="cpu") for name in FAMILIES}


@pytest.fixture(scope="module")
def verified(loaded, audio):
    """family -> (default-settings result, poor-settings result), both verified."""
    return {name: (extract(audio, sample_rate=SR, model=lm, layers=LAYERS, verify=True,
                           chunk_seconds=CHUNK),
                   extract(audio, sample_rate=SR, model=lm, layers=LAYERS, verify=True, **POOR))
            for name, lm in loaded.items()}


def transformers_span(lm, audio: np.ndarray, frames: tuple[int, int]) -> list[np.ndarray]:
    """transformers' own forward pass (``output_hidden_states=True``) over the samples of
    ``frames``, given the whole recording's normalisation and first-layer GroupNorm statistics
    (computed here with numpy and torch's own convolution, then forced through a forward hook)."""
    geometry = lm.geometry
    x = audio.astype(np.float64)
    if lm.do_normalize:
        x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    whole = torch.from_numpy(x.astype(np.float32))[None, None]
    start, stop = frames
    total = geometry.num_frames(len(audio))
    last = len(audio) if stop == total else (stop - 1) * geometry.stride + geometry.receptive_field
    span = whole[0, :, start * geometry.stride:last]
    first = lm.model.feature_extractor.conv_layers[0]
    handle = None
    if isinstance(getattr(first, "layer_norm", None), torch.nn.GroupNorm):
        with torch.inference_mode():
            y = first.conv(whole).double()[0]
        mean, var = y.mean(dim=1), y.var(dim=1, unbiased=False)
        gn = first.layer_norm

        def hook(module, args, output):
            z = (args[0].double() - mean[:, None]) / torch.sqrt(var[:, None] + gn.eps)
            return (z * gn.weight.double()[:, None] + gn.bias.double()[:, None]).float()

        handle = gn.register_forward_hook(hook)
    try:
        with torch.inference_mode():
            out = lm.model(span, output_hidden_states=True)
    finally:
        if handle is not None:
            handle.remove()
    num_layers = lm.num_hidden_layers
    return [(out.last_hidden_state if i == num_layers else out.hidden_states[i])[0].numpy()
            for i in LAYERS]


def figures_of(chunked: np.ndarray, reference: np.ndarray) -> tuple[float, float, float, int]:
    a, b = chunked.astype(np.float64), reference.astype(np.float64)
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    rel = np.linalg.norm(a - b, axis=1) / np.linalg.norm(b, axis=1)
    return float(cos.min()), float(np.median(cos)), float(rel.max()), int(cos.argmin())


@pytest.mark.parametrize("family", FAMILIES)
def test_a_poor_setting_verifies_worse_than_the_default(verified, family):
    default, poor = (r.fidelity for r in verified[family])
    assert default["status"] == poor["status"] == "checked"
    assert poor["worst_cosine"] < default["worst_cosine"]
    assert default["passed"] and default["worst_cosine"] >= VERIFY_THRESHOLD
    assert not poor["passed"] and poor["worst_cosine"] < VERIFY_THRESHOLD
    # Plain windows go wrong right at the cut, where the positional embedding is cut off.
    worst = min(poor["layers"], key=lambda f: f["worst_cosine"])
    assert abs(worst["worst_frame_from_cut"]) <= 8


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("which", [0, 1], ids=["default", "poor"])
def test_figures_equal_transformers_forward_over_the_span(verified, loaded, audio, family,
                                                          which):
    result = verified[family][which]
    fid = result.fidelity
    ref_start, ref_stop = fid["reference_frames"]
    cmp_start, cmp_stop = fid["compared_frames"]
    cut = fid["cut_frame"]
    chunk = result.facts.chunk_frames
    assert cut % chunk == 0 and ref_start <= cmp_start < cut < cmp_stop <= ref_stop
    assert (ref_start, ref_stop) == (max(0, cut - chunk), min(result.num_frames, cut + chunk))
    reference = transformers_span(loaded[family], audio, (ref_start, ref_stop))
    assert [f["layer"] for f in fid["layers"]] == LAYERS
    for position, figures in enumerate(fid["layers"]):
        assert reference[position].shape[0] == ref_stop - ref_start
        worst, median, rel, at = figures_of(
            result.embeddings[position, cmp_start:cmp_stop],
            reference[position][cmp_start - ref_start:cmp_stop - ref_start])
        assert figures["worst_cosine"] == pytest.approx(worst, abs=2e-6)
        assert figures["median_cosine"] == pytest.approx(median, abs=2e-6)
        assert figures["max_relative_difference"] == pytest.approx(rel, rel=1e-2, abs=1e-5)
        if which == 1:  # a clear minimum: the same frame
            assert figures["worst_frame"] == cmp_start + at
            assert figures["worst_frame_from_cut"] == cmp_start + at - cut


def test_one_window_is_a_trivial_pass(loaded):
    result = extract(speech_like(3.0, SR), sample_rate=SR, model=loaded["xlsr"], verify=True)
    assert result.fidelity["status"] == "no cut" and result.fidelity["passed"]
    assert result.fidelity["layers"] == []
    assert result.metadata["fidelity"]["status"] == "no cut"
    assert extract(speech_like(3.0, SR), sample_rate=SR, model=loaded["xlsr"]).fidelity is None


def test_choose_span():
    assert choose_span(100, None) is None and choose_span(100, 100) is None
    span = choose_span(2250, 1000)  # cuts at 1000 and 2000: 1000 is nearer the middle
    assert span == {"cut": 1000, "reference_start": 0, "reference_stop": 2000,
                    "compared_start": 500, "compared_stop": 1500}
    span = choose_span(130, 100)  # the reference is clipped to the recording
    assert (span["reference_start"], span["reference_stop"]) == (0, 130)
    assert (span["compared_start"], span["compared_stop"]) == (50, 130)


def test_verify_must_be_a_flag(loaded):
    with pytest.raises(UsageError, match="verify"):
        extract(speech_like(1.0, SR), sample_rate=SR, model=loaded["xlsr"], verify="yes")


def _json(folder):
    return json.loads(next(folder.glob("*.json")).read_text())


def test_cli_verify_writes_the_block_and_one_line(checkpoints, make_wav, tmp_path, capsys):
    path, _ = make_wav(duration_s=4.0)
    common = [str(path), "--model", str(checkpoints["base"]), "--chunk-seconds", "1",
              "--layers", "1,4"]
    assert main([*common, "--quiet", "--output-dir", str(tmp_path / "plain")]) == 0
    assert _json(tmp_path / "plain")["fidelity"] is None
    capsys.readouterr()
    assert main([*common, "--quiet", "--verify", "--output-dir", str(tmp_path / "quiet")]) == 0
    doc = _json(tmp_path / "quiet")["fidelity"]
    assert doc["status"] == "checked" and [f["layer"] for f in doc["layers"]] == [1, 4]
    assert doc["threshold"] == VERIFY_THRESHOLD and doc["passed"] is True
    assert "verify:" not in capsys.readouterr().err  # --quiet: a passing check says nothing
    assert main([*common, "--verify", "--output-dir", str(tmp_path / "loud")]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if "verify:" in line]
    assert len(lines) == 1 and "cut at 2.00 s" in lines[0] and "warning" not in lines[0]
    assert _json(tmp_path / "loud")["fidelity"]["worst_cosine"] == doc["worst_cosine"]


def test_verify_is_part_of_the_fingerprint(checkpoints, make_wav, tmp_path, capsys):
    path, _ = make_wav(duration_s=3.0)
    args = [str(path), "--model", str(checkpoints["xlsr"]), "--output-dir", str(tmp_path)]
    assert main(args) == 0
    capsys.readouterr()
    assert main([*args, "--verify"]) == 0
    assert "1 written, 0 up to date" in capsys.readouterr().err
    assert _json(tmp_path)["fidelity"]["status"] == "no cut"
    assert main([*args, "--verify"]) == 0
    assert "0 written, 1 up to date" in capsys.readouterr().err


def test_cli_warns_in_one_line_below_the_threshold(checkpoints, make_wav, tmp_path, capsys):
    path, _ = make_wav(duration_s=4.0)
    # Whole-window GroupNorm statistics with no context: the chunked run's first layers differ
    # from one pass, and the check must say so even with --quiet.
    assert main([str(path), "--model", str(checkpoints["base"]), "--chunk-seconds", "0.5",
                 "--context-seconds", "0", "--group-norm", "window", "--layers", "1",
                 "--output-dir", str(tmp_path), "--verify", "--quiet"]) == 0
    fid = _json(tmp_path)["fidelity"]
    assert fid["worst_cosine"] < VERIFY_THRESHOLD and fid["passed"] is False
    warnings = [line for line in capsys.readouterr().err.splitlines() if "verify:" in line]
    assert len(warnings) == 1 and "warning" in warnings[0] and "BELOW" in warnings[0]


def test_true_defaults_verify_better_than_a_poor_setting(loaded):
    audio = speech_like(2 * DEFAULT_CHUNK_SECONDS + 1.0, SR, seed=4)
    default = extract(audio, sample_rate=SR, model=loaded["base"], verify=True).fidelity
    poor = extract(audio, sample_rate=SR, model=loaded["base"], verify=True, **POOR).fidelity
    assert default["cut_frame"] * loaded["base"].geometry.frame_stride_s == DEFAULT_CHUNK_SECONDS
    assert default["passed"] and not poor["passed"]
    assert poor["worst_cosine"] < default["worst_cosine"]
