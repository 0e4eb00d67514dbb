"""w2v-calibrate: its recommended setting must meet its target against transformers' own
forward pass, and its report must say what it measured."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from synth import speech_like
from w2vbackend import extract
from w2vbackend.audio import audio_from_array
from w2vbackend.calibrate import (
    calibrate,
    nearest_cut_offsets,
    recommend,
    relative_cost,
    window_cost,
)
from w2vbackend.calibrate_cli import main
from w2vbackend.calibration_report import write_report
from w2vbackend.defaults import DEFAULT_CHUNK_SECONDS, DEFAULT_CONTEXT_SECONDS
from w2vbackend.errors import UsageError
from w2vbackend.model import load_model

SR = 16000
LAYERS = [1, 4]
GRID = {"chunks": (0.5, 2.0, 5.0), "contexts": (0.0, 0.5)}


@pytest.fixture(scope="module")
def base(checkpoints):
    return load_model(str(checkpoints["base"]), device="cpu")


@pytest.fixture(scope="module")
def recording(base):
    return audio_from_array(speech_like(6.0, SR, seed=5), SR, SR)


@pytest.fixture(scope="module")
def calibration(base, recording):
    return calibrate(recording, base, layers=LAYERS, reference_seconds=4.5, start_seconds=1.0,
                     **GRID)


def transformers_pass(lm, audio: np.ndarray) -> list[np.ndarray]:
    """transformers' own forward pass over ``audio`` (its feature extractor normalises)."""
    x = lm.feature_extractor(audio, sampling_rate=SR, return_tensors="pt").input_values
    with torch.inference_mode():
        out = lm.model(x, output_hidden_states=True)
    return [(out.last_hidden_state if i == lm.num_hidden_layers else out.hidden_states[i])[0]
            .numpy() for i in LAYERS]


def test_recommended_setting_meets_its_target(calibration, base, recording):
    rec = calibration.recommended
    assert rec is not None and rec.meets_target and rec.worst_cosine >= calibration.target
    assert rec.cuts >= 1
    excerpt = np.asarray(recording.waveform[SR:SR + round(4.5 * SR)])
    reference = transformers_pass(base, excerpt)
    result = extract(excerpt, sample_rate=SR, model=base, layers=LAYERS,
                     chunk_seconds=rec.chunk_seconds, context_seconds=rec.context_seconds)
    worst = 1.0
    for position, ref in enumerate(reference):
        a, b = result.embeddings[position].astype(np.float64), ref.astype(np.float64)
        cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
        worst = min(worst, float(cos.min()))
    assert worst >= calibration.target
    assert worst == pytest.approx(rec.worst_cosine, abs=2e-6)


def test_plain_windows_recommendation_meets_its_target(base, recording):
    # Plain windows fail the target without context and reach it with enough (the tiny model's
    # positional reach is 8 frames, 0.16 s): the recommendation must skip the cheap failures.
    cal = calibrate(recording, base, layers=LAYERS, chunks=(0.5, 2.0), contexts=(0.0, 1.0),
                    reference_seconds=4.5, start_seconds=1.0, positional_context=False)
    assert any(s.worst_cosine < cal.target for s in cal.settings)
    cheapest = min(cal.settings, key=lambda s: s.relative_cost)
    assert not cheapest.meets_target
    rec = cal.recommended
    assert rec is not None and rec.context_seconds == 1.0
    excerpt = np.asarray(recording.waveform[SR:SR + round(4.5 * SR)])
    reference = transformers_pass(base, excerpt)
    result = extract(excerpt, sample_rate=SR, model=base, layers=LAYERS,
                     chunk_seconds=rec.chunk_seconds, context_seconds=rec.context_seconds,
                     positional_context=False)
    for position, ref in enumerate(reference):
        a, b = result.embeddings[position].astype(np.float64), ref.astype(np.float64)
        cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
        assert cos.min() >= cal.target
    assert recommend(cal.settings, 1.1) is None


def test_recommendation_is_the_cheapest_that_meets_the_target(calibration):
    meeting = [s for s in calibration.settings if s.meets_target]
    assert calibration.recommended.relative_cost == min(s.relative_cost for s in meeting)
    for s in calibration.settings:
        assert s.meets_target == (s.worst_cosine is not None
                                  and s.worst_cosine >= calibration.target)


def test_a_chunk_longer_than_the_excerpt_is_not_measured(calibration):
    long = [s for s in calibration.settings if s.chunk_seconds == 5.0]
    assert len(long) == 2 and all(s.cuts == 0 and s.worst_cosine is None for s in long)
    assert calibration.recommended.chunk_seconds != 5.0
    assert len(calibration.settings) == 6
    assert calibration.reference_seconds == pytest.approx(4.5)


def test_an_unreachable_target_gives_no_recommendation(base, recording, tmp_path):
    cal = calibrate(recording, base, chunks=(0.5,), contexts=(0.0,), reference_seconds=3.0,
                    target=1.0)
    assert cal.recommended is None and cal.settings[0].worst_cosine < 1.0
    paths = write_report(cal, tmp_path)
    assert "No setting reaches the target 1." in paths["md"].read_text()
    assert json.loads(paths["json"].read_text())["recommended"] is None


def test_cost_model():
    from types import SimpleNamespace

    from transformers import Wav2Vec2Config
    from w2vbackend.geometry import FrameGeometry

    # XLS-R-53's shape (config only): 40 s windows cost 1.11x the FLOPs of 20 s windows, as the
    # README's FLOP count says (1.12x), and context costs in proportion.
    config = Wav2Vec2Config(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
                            num_attention_heads=16, conv_dim=(512,) * 7)
    model = SimpleNamespace(config=config, encoder=None)
    lm = SimpleNamespace(geometry=FrameGeometry.from_kernels(SR, config.conv_kernel,
                                                             config.conv_stride),
                         model=model, num_hidden_layers=24)
    default = relative_cost(lm, DEFAULT_CHUNK_SECONDS, DEFAULT_CONTEXT_SECONDS, [24])
    assert default == pytest.approx(1.0)
    assert relative_cost(lm, 40, 0, [24]) / relative_cost(lm, 20, 0, [24]) == pytest.approx(
        1.11, abs=0.02)
    assert relative_cost(lm, 20, 0, [24]) < default < relative_cost(lm, 20, 2, [24])
    # Only the layers up to the deepest requested one run (README: layer 12 is 0.57x the FLOPs).
    assert window_cost(lm, 20, 0.5, [12]) / window_cost(lm, 20, 0.5, [24]) == pytest.approx(
        0.57, abs=0.02)


@pytest.mark.parametrize("frames,chunk", [(10, 3), (100, 25), (7, 6)])
def test_nearest_cut_offsets(frames, chunk):
    cuts = list(range(chunk, frames, chunk))
    expected = [min((j - c for c in cuts), key=lambda d: (abs(d), -d)) for j in range(frames)]
    assert nearest_cut_offsets(frames, chunk).tolist() == expected


def test_report_files(calibration, tmp_path):
    import matplotlib.image

    paths = write_report(calibration, tmp_path, "cal")
    md = paths["md"].read_text()
    rows = [line for line in md.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == len(calibration.settings)
    assert sum(" * |" in row for row in rows) == 1 and "no cut" in md
    assert "![" in md and "(cal.png)" in md and "methods section" in md
    doc = json.loads(paths["json"].read_text())
    assert doc["format"] == "w2v-calibration" and doc["layers"] == LAYERS
    assert [s["worst_cosine"] for s in doc["settings"]] == [
        s.worst_cosine for s in calibration.settings]
    assert doc["recommended"] == calibration.recommended.to_json()
    image = matplotlib.image.imread(paths["png"])
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 200


def test_cli(checkpoints, make_wav, tmp_path, capsys):
    path, _ = make_wav(duration_s=3.0)
    code = main([str(path), "--model", str(checkpoints["xlsr"]), "--chunks", "1", "--contexts",
                 "0,0.5", "--reference-seconds", "3", "--output-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 0 and "recommended: --chunk-seconds 1 --context-seconds 0" in err
    doc = json.loads((tmp_path / "w2v_calibration.json").read_text())
    assert len(doc["settings"]) == 2 and doc["recommended"]["chunk_seconds"] == 1
    assert (tmp_path / "w2v_calibration.png").stat().st_size > 1000
    assert main([str(path), "--model", str(checkpoints["xlsr"]), "--chunks", "0.1"]) == 2
    assert "chunk_seconds must lie in" in capsys.readouterr().err
    assert main([str(path), "--model", str(checkpoints["xlsr"]), "--start-seconds", "9"]) == 2


def test_cli_request_file(checkpoints, make_wav, tmp_path, capsys):
    # Options as data (how MATLAB passes them): a name with spaces and $(...) is just a name.
    path, _ = make_wav(name="my story $(touch pwned).wav", duration_s=3.0)
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"audio": str(path), "model": str(checkpoints["xlsr"]),
                                   "chunks": [1], "contexts": 0.5, "reference_seconds": 3,
                                   "output_dir": str(tmp_path / "out"), "basename": "cal",
                                   "revision": [], "threads": 1}))
    assert main(["--request", str(request), "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    doc = json.loads((tmp_path / "out" / "cal.json").read_text())
    assert [(s["chunk_seconds"], s["context_seconds"]) for s in doc["settings"]] == [(1, 0.5)]
    assert doc["audio"]["path"] == str(path) and not (tmp_path / "pwned").exists()
    # the command line takes precedence over the file
    assert main(["--request", str(request), "--quiet", "--contexts", "0,1"]) == 0
    doc = json.loads((tmp_path / "out" / "cal.json").read_text())
    assert [s["context_seconds"] for s in doc["settings"]] == [0, 1]
    request.write_text(json.dumps({"audio": str(path), "chunk": [1]}))
    assert main(["--request", str(request)]) == 2
    assert "unknown key 'chunk'" in capsys.readouterr().err
    request.write_text(json.dumps({"audio": str(path), "chunks": ["1"]}))
    assert main(["--request", str(request)]) == 2
    assert main([]) == 2 and "no audio file given" in capsys.readouterr().err


def test_bad_arguments(base, recording):
    with pytest.raises(UsageError, match="target"):
        calibrate(recording, base, target=1.5)
    with pytest.raises(UsageError, match="contexts"):
        calibrate(recording, base, contexts=())
