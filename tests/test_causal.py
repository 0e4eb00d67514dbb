"""Causal mode: no frame's features depend on audio after its step's last receptive field."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch
from synth import speech_like
from w2vbackend import cli, extract
from w2vbackend.errors import UsageError
from w2vbackend.geometry import FrameGeometry
from w2vbackend.model import load_model
from w2vbackend.windows import plan_causal_windows

SR = 16000
GEOMETRY = FrameGeometry.from_kernels(SR, (10, 3, 3, 3, 3, 2, 2), (5, 2, 2, 2, 2, 2, 2))


@pytest.fixture(scope="module")
def models(checkpoints):
    return {name: load_model(str(checkpoints[name]), device="cpu") for name in ("xlsr", "base")}


@pytest.mark.parametrize(("num_samples", "step", "context"),
                         [(400, 1, 0), (16000, 5, 400), (48123, 50, 10), (31999, 7, 3)])
def test_causal_windows_keep_every_frame_once_and_end_at_the_steps_last_frame(
        num_samples, step, context):
    windows = plan_causal_windows(num_samples, GEOMETRY, step, context)
    total = GEOMETRY.num_frames(num_samples)
    kept = np.concatenate([np.arange(w.keep_start, w.keep_stop) for w in windows])
    np.testing.assert_array_equal(kept, np.arange(total))
    for w in windows:
        assert w.sample_stop == (w.keep_stop - 1) * 320 + 400 <= num_samples
        assert w.frame_start == max(0, w.keep_start - context) == w.sample_start // 320
        assert GEOMETRY.num_frames(w.sample_stop - w.sample_start) == w.frame_stop - w.frame_start
        assert w.keep_stop - w.keep_start <= step


def _replace_after(audio: np.ndarray, cut: int, seed: int) -> np.ndarray:
    other = audio.copy()
    other[cut:] = speech_like(audio.shape[0] / SR, SR, seed=seed)[cut:]
    return other


@pytest.mark.parametrize(("name", "step"), [("xlsr", 0.02), ("base", 0.1)])
def test_audio_after_t_never_changes_a_causal_frame_that_ends_before_t(models, name, step):
    """Everything after t replaced: every causal frame whose step's last receptive field ends
    before t (with 0.02 s steps: whose own receptive field ends before t) is unchanged, bit for
    bit, in every layer; later frames and the bidirectional default change."""
    lm = models[name]
    audio = speech_like(1.6, SR, seed=5)
    cut = int(0.9437 * SR)  # t, off the frame grid
    other = _replace_after(audio, cut, seed=9)
    kw = dict(model=lm, sample_rate=SR, layers="all")
    causal = [extract(x, causal=True, causal_context=0.3, causal_step=step, **kw).embeddings
              for x in (audio, other)]
    default = [extract(x, **kw).embeddings for x in (audio, other)]
    frames = np.arange(causal[0].shape[1])
    per_step = round(step * SR / 320)
    step_end = (np.minimum((frames // per_step + 1) * per_step, frames.size) - 1) * 320 + 400
    before = step_end <= cut
    if per_step == 1:
        np.testing.assert_array_equal(before, frames * 320 + 400 <= cut)
    assert before.sum() > 25 and not before.all()
    np.testing.assert_array_equal(causal[0][:, before], causal[1][:, before])
    assert not np.array_equal(causal[0][:, ~before], causal[1][:, ~before])
    assert not np.array_equal(default[0][:, before], default[1][:, before])


def test_causal_keeps_the_default_frame_grid_and_equals_plain_passes(models):
    lm = models["base"]
    audio = speech_like(2.5, SR, seed=8)
    default = extract(audio, model=lm, sample_rate=SR)
    causal = extract(audio, model=lm, sample_rate=SR, causal=True, causal_context=0.5,
                     causal_step=0.2)
    assert causal.embeddings.shape == default.embeddings.shape
    np.testing.assert_array_equal(causal.time_axis, default.time_axis)
    assert causal.facts.causal_frames == (25, 10)
    # The step of frames [60, 70) is transformers' own pass over frames [35, 70).
    piece = audio[35 * 320:69 * 320 + 400]
    x = lm.feature_extractor(piece, sampling_rate=SR, return_tensors="pt").input_values
    with torch.inference_mode():
        reference = lm.model(x).last_hidden_state[0].numpy()
    np.testing.assert_allclose(causal.embeddings[60:70], reference[25:35], atol=2e-5, rtol=1e-4)


def test_causal_within_segments(models):
    lm = models["xlsr"]
    audio = speech_like(4.0, SR, seed=12)
    result = extract(audio, model=lm, sample_rate=SR, segments=[(0.5, 1.9), (2.0, 3.9)],
                     causal=True, causal_context=0.5, causal_step=0.1)
    alone = extract(audio[8000:30400], model=lm, sample_rate=SR, causal=True,
                    causal_context=0.5, causal_step=0.1)
    np.testing.assert_array_equal(result.embeddings[:alone.num_frames], alone.embeddings)


@pytest.mark.parametrize("step", [0, -0.1, 1e9])
def test_a_bad_step_is_a_usage_error(models, step):
    with pytest.raises(UsageError, match="causal_step"):
        extract(speech_like(1.0, SR), model=models["xlsr"], sample_rate=SR, causal=True,
                causal_step=step)


def test_cli_causal_is_recorded_and_fingerprinted(xlsr_checkpoint, tmp_path, capsys):
    wav = tmp_path / "a.wav"
    sf.write(wav, speech_like(2.0, SR, seed=2), SR, subtype="FLOAT")
    out = tmp_path / "out"
    base = [str(wav), "--model", str(xlsr_checkpoint), "--output-dir", str(out), "--quiet",
            "--layers", "2,4"]
    assert cli.main(base) == 0
    plain = json.loads((out / "wav2vec2_embeddings.json").read_text())
    assert plain["causal"] is None and plain["fingerprint"]["inputs"]["causal"] is None
    assert cli.main([*base, "--causal", "--causal-context", "0.5", "--causal-step", "0.04",
                     "--summary-json", str(tmp_path / "s.json")]) == 0
    assert json.loads((tmp_path / "s.json").read_text())["files"][0]["status"] == "written"
    doc = json.loads((out / "wav2vec2_embeddings.json").read_text())
    assert doc["causal"]["context_frames"] == 25 and doc["causal"]["step_frames"] == 2
    assert doc["fingerprint"]["inputs"]["causal"] == {"context_seconds": 0.5,
                                                      "step_seconds": 0.04}
    assert doc["normalisation"]["statistics"] == "window"
    reference = extract(wav, model=str(xlsr_checkpoint), device="cpu", layers=[2, 4],
                        causal=True, causal_context=0.5, causal_step=0.04)
    np.testing.assert_array_equal(np.load(out / "wav2vec2_embeddings.npy"),
                                  reference.embeddings)
    capsys.readouterr()


def test_the_cost_benchmark_runs_and_plans_the_documented_frames(tmp_path, capsys):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    try:
        import causal_cost
    finally:
        sys.path.pop(0)
    report = causal_cost.main(["--shape", "tiny", "--seconds", "3", "--context", "1",
                               "--steps", "0.5", "--quiet-wait", "0",
                               "--checkpoints", str(tmp_path)])
    capsys.readouterr()
    planned = report["planned"]["0.5"]
    assert planned["windows"] == 6 and planned["frames_kept"] == 149
    # 25 kept frames per window from up to 50 + 25 frames: (context + step) / step, less the
    # shorter windows at the start.
    assert 2.0 < planned["frame_ratio"] < 3.0
    assert set(report["median_s"]) == {"default", "causal_0.5s_window"}
    assert report["ratio_to_default"]["0.5"] > 0
