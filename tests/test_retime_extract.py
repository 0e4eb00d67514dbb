"""``w2v-extract --target-rate/--tr/--cnd`` end to end with a small local checkpoint: the
resampled set ``B_<rate>Hz.*`` next to ``B.*``, its grid and length, its record in ``B.json``,
reruns that are up to date or resample again without the model, and one CND file over the
inputs in input order."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import scipy.io
import soundfile as sf
from synth import speech_like
from w2vbackend import cli
from w2vbackend.retime import resample_features

BASE = "wav2vec2_embeddings"


@pytest.fixture()
def wav(tmp_path):
    def _make(name="speech.wav", duration_s=4.0, seed=0):
        path = tmp_path / name
        sf.write(path, speech_like(duration_s, 16000, seed=seed), 16000, subtype="PCM_16")
        return path

    return _make


@pytest.fixture()
def run_cli(xlsr_checkpoint, tmp_path, capsys):
    """main() with the small checkpoint into tmp_path/out; returns (code, stderr, summary)."""

    def _run(*args):
        summary = tmp_path / "summary.json"
        summary.unlink(missing_ok=True)
        code = cli.main([str(a) for a in args] + [
            "--model", str(xlsr_checkpoint), "--output-dir", str(tmp_path / "out"),
            "--summary-json", str(summary), "--quiet"])
        err = capsys.readouterr().err
        return code, err, json.loads(summary.read_text()) if summary.exists() else None

    return _run


def _mtimes(folder, names):
    return {n: (folder / n).stat().st_mtime_ns for n in names}


def test_target_rate_writes_the_set_on_the_documented_grid(run_cli, wav, tmp_path):
    code, err, summary = run_cli(wav(duration_s=4.0), "--layers", "1,-1", "--target-rate", 128)
    assert code == 0, err
    out = tmp_path / "out"
    native = np.load(out / f"{BASE}.npy")
    resampled = np.load(out / f"{BASE}_128Hz.npy")
    # Samples t_j = j / 128 in [0, 4.0 s): 512 of them, for each of the two layers.
    assert resampled.dtype == np.float32 and resampled.shape == (2, 512, 32)
    expected = resample_features(native, 128, frame_rate=50.0, frame_center_offset=0.0125,
                                 duration=4.0)
    np.testing.assert_array_equal(resampled, expected.features)

    mat = scipy.io.loadmat(out / f"{BASE}_128Hz.mat")
    assert mat["stim"].shape == (1, 2) and mat["fs"][0, 0] == 128.0
    np.testing.assert_array_equal(mat["stim"][0, 1], resampled[1])
    np.testing.assert_allclose(mat["t"][0, 0][:, 0], np.arange(512) / 128, rtol=0, atol=1e-12)

    doc = json.loads((out / f"{BASE}_128Hz.json").read_text())
    spec = doc["resampling"]
    assert (spec["target_rate"], spec["grid_start"], spec["n_samples"]) == (128, 0.0, 512)
    assert spec["frame_center_offset"] == 0.0125 and spec["method"] == "kaiser"
    meta = json.loads((out / f"{BASE}.json").read_text())
    record = meta["outputs"]["resampled"][f"{BASE}_128Hz"]
    assert record["npy"] == str(out / f"{BASE}_128Hz.npy") and record["fs"] == 128
    assert record["sha256"] == doc["fingerprint"]["sha256"]
    assert doc["fingerprint"]["inputs"]["source_sha256"] == meta["fingerprint"]["sha256"]
    entry = summary["files"][0]
    assert entry["status"] == "written"
    assert entry["outputs"]["resampled"]["json"] == str(out / f"{BASE}_128Hz.json")
    assert not [p.name for p in out.iterdir() if ".tmp" in p.name]


def test_a_rerun_with_the_same_target_is_up_to_date(run_cli, wav, tmp_path, monkeypatch):
    audio = wav()
    assert run_cli(audio, "--target-rate", 128)[0] == 0
    out = tmp_path / "out"
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    monkeypatch.setattr("w2vbackend.model.load_model", lambda *a, **k: 1 / 0)
    code, err, summary = run_cli(audio, "--target-rate", 128.0)
    assert code == 0, err
    assert summary["files"][0]["status"] == "up_to_date"
    assert summary["files"][0]["outputs"]["resampled"]["fs"] == 128
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before


@pytest.mark.parametrize("change,name,samples", [
    (["--target-rate", "64"], "_64Hz", 256),
    (["--target-rate", "128", "--grid-start", "0.5"], "_128Hz", 448),
    (["--target-rate", "128", "--method", "lanczos"], "_128Hz", 512),
    (["--target-rate", "128", "--edge", "zeros"], "_128Hz", 512),
    (["--tr", "2"], "_0p5Hz", 2),
    ("delete", "_128Hz", 512),
])
def test_a_changed_target_resamples_again_without_the_model(run_cli, wav, tmp_path,
                                                            monkeypatch, change, name, samples):
    audio = wav()
    assert run_cli(audio, "--target-rate", 128)[0] == 0
    out = tmp_path / "out"
    native = [f"{BASE}.npy", f"{BASE}.mat"]
    before = _mtimes(out, native)
    if change == "delete":
        (out / f"{BASE}_128Hz.npy").unlink()
        change = ["--target-rate", "128"]
    monkeypatch.setattr("w2vbackend.model.load_model", lambda *a, **k: 1 / 0)
    code, err, summary = run_cli(audio, *change)
    assert code == 0, err
    assert summary["files"][0]["status"] == "written"
    assert _mtimes(out, native) == before          # the embeddings were not recomputed
    x = np.load(out / f"{BASE}{name}.npy")
    assert x.shape == (samples, 32)
    doc = json.loads((out / f"{BASE}{name}.json").read_text())
    assert doc["resampling"]["n_samples"] == samples
    recorded = json.loads((out / f"{BASE}.json").read_text())["outputs"]["resampled"]
    assert recorded[f"{BASE}{name}"]["sha256"] == doc["fingerprint"]["sha256"]
    assert f"{BASE}_128Hz" in recorded             # an earlier set stays recorded


def test_a_changed_model_parameter_recomputes_both(run_cli, wav, tmp_path):
    audio = wav()
    assert run_cli(audio, "--target-rate", 100)[0] == 0
    out = tmp_path / "out"
    first = np.load(out / f"{BASE}_100Hz.npy")
    code, err, summary = run_cli(audio, "--target-rate", 100, "--layers", 2)
    assert code == 0 and summary["files"][0]["status"] == "written", err
    again = np.load(out / f"{BASE}_100Hz.npy")
    assert again.shape == first.shape == (400, 32) and not np.array_equal(again, first)
    expected = resample_features(np.load(out / f"{BASE}.npy"), 100, frame_rate=50.0,
                                 frame_center_offset=0.0125, duration=4.0)
    np.testing.assert_array_equal(again, expected.features)


def test_cnd_over_two_inputs_in_input_order(run_cli, wav, tmp_path):
    second, first = wav("b.wav", duration_s=3.0, seed=1), wav("a.wav", duration_s=5.0, seed=2)
    cnd = tmp_path / "dataStim.mat"
    code, err, summary = run_cli(second, first, "--target-rate", 64, "--layers", "2,4",
                                 "--cnd", cnd)
    assert code == 0, err
    stim = scipy.io.loadmat(cnd)["stim"][0, 0]
    assert stim["data"].shape == (2, 2)           # {nFeat x nTrials}
    lengths = [stim["data"][0, t].shape for t in range(2)]
    assert lengths == [(math.ceil(3.0 * 64), 32), (math.ceil(5.0 * 64), 32)]
    out = tmp_path / "out"
    for t, stem in enumerate(("b", "a")):
        x = np.load(out / f"{stem}_{BASE}_64Hz.npy")
        for layer in range(2):
            np.testing.assert_array_equal(stim["data"][layer, t], x[layer])
    assert stim["fs"][0, 0] == 64.0 and stim["originalFs"][0, 0] == 50.0
    assert [str(n[0]) for n in stim["names"][0]][1].endswith("layer 4")
    inputs = json.loads(str(stim["processingPipeline"][0, 0]["inputs"][0]))
    assert [i.rsplit("/", 1)[1] for i in inputs] == [f"b_{BASE}", f"a_{BASE}"]
    # A rerun is up to date and writes the same CND file again.
    cnd.unlink()
    code, err, summary = run_cli(second, first, "--target-rate", 64, "--layers", "2,4",
                                 "--cnd", cnd)
    assert code == 0 and {f["status"] for f in summary["files"]} == {"up_to_date"}, err
    assert scipy.io.loadmat(cnd)["stim"][0, 0]["data"].shape == (2, 2)


def test_request_file_takes_the_same_keys(run_cli, wav, tmp_path):
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"audio": [str(wav())], "tr": 2, "grid_start": -1,
                                   "method": "lanczos", "edge": [], "target_rate": []}))
    code, err, _ = run_cli("--request", request)
    assert code == 0, err
    doc = json.loads((tmp_path / "out" / f"{BASE}_0p5Hz.json").read_text())
    spec = doc["resampling"]
    assert (spec["target_rate"], spec["grid_start"], spec["method"]) == (0.5, -1, "lanczos")
    assert spec["n_samples"] == 3                  # t = -1, 1, 3 s in [-1, 4)


@pytest.mark.parametrize("args,needle", [
    (["--cnd", "x.mat"], "target_rate"),
    (["--grid-start", "1"], "grid_start"),
    (["--target-rate", "128", "--tr", "2"], "not both"),
    (["--target-rate", "0"], "target_rate"),
    (["--tr", "-2"], "tr"),
    (["--method", "nearest", "--target-rate", "64"], "invalid choice"),
])
def test_resampling_usage_errors(run_cli, wav, args, needle):
    code, err, summary = run_cli(wav(), *args)
    assert code == 2 and needle in err
    assert summary["error"]["code"] == "badArgument"


def test_resample_features_is_exported_lazily():
    import w2vbackend

    assert w2vbackend.resample_features is resample_features
    assert "resample_features" in w2vbackend.__all__
