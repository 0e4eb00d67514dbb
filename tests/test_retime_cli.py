"""``python -m w2vbackend.retime``: runs on disk (B.npy + B.json, written by the writers)
resampled into B_<fs>Hz.npy/.mat/.json, a CND dataStim.mat and Eelbrain predictors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import scipy.io
from w2vbackend.retime import resample_features
from w2vbackend.retime_cli import main
from writers_fixtures import write_synthetic


def _run(tmp_path, name="story", shape=(2, 300, 6), layers=(6, 12), num_samples=None):
    data, written = write_synthetic(tmp_path, shape, basename=name, layers=layers)
    if num_samples is not None:
        meta = json.loads(written.json.read_text())
        meta["audio"].update({"num_samples": num_samples, "sample_rate": 16000})
        written.json.write_text(json.dumps(meta))
    return data, written


def test_cli_writes_npy_mat_json_equal_to_the_python_call(tmp_path):
    data, written = _run(tmp_path, num_samples=96123)
    assert main([str(written.npy), "--target-rate", "128"]) == 0
    meta = json.loads(written.json.read_text())
    expected, times, spec = resample_features(
        data, 128.0, frame_rate=1 / meta["frame_stride"],
        frame_center_offset=meta["frame_center_offset"], duration=96123 / 16000)
    out = np.load(tmp_path / "story_128Hz.npy")
    np.testing.assert_array_equal(out, expected)
    assert out.shape == (2, int(np.ceil(96123 / 16000 * 128)), 6)
    doc = json.loads((tmp_path / "story_128Hz.json").read_text())
    assert doc["resampling"] == json.loads(json.dumps(spec))
    assert doc["source"]["layers"] == [6, 12]
    mat = scipy.io.loadmat(tmp_path / "story_128Hz.mat")
    assert mat["stim"].shape == (1, 2)             # {nTrials x nLayers}
    np.testing.assert_array_equal(mat["stim"][0, 1], expected[1])
    np.testing.assert_allclose(mat["t"][0, 0][:, 0], times)
    assert mat["fs"][0, 0] == 128.0
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_cli_tr_cnd_and_eelbrain_for_several_runs(tmp_path):
    runs = [_run(tmp_path, name=n, shape=(2, 6000, 3), num_samples=n_s)
            for n, n_s in (("a", 1920400), ("b", 1600300))]
    args = [str(w.json) for _, w in runs] + ["--tr", "2", "--cnd", str(tmp_path / "dataStim.mat"),
                                             "--no-mat"]
    try:
        import eelbrain
        args += ["--eelbrain", str(tmp_path / "predictors")]
    except ImportError:
        eelbrain = None
    assert main(args) == 0
    stim = scipy.io.loadmat(tmp_path / "dataStim.mat")["stim"][0, 0]
    assert stim["data"].shape == (2, 2)
    # ceil(120.025 s / 2 s) and ceil(100.019 s / 2 s) samples
    assert [stim["data"][0, t].shape[0] for t in range(2)] == [61, 51]
    np.testing.assert_array_equal(stim["data"][1, 1], np.load(tmp_path / "b_0p5Hz.npy")[1])
    assert stim["fs"][0, 0] == 0.5 and stim["originalFs"][0, 0] == 50.0
    assert not (tmp_path / "a_0p5Hz.mat").exists()
    if eelbrain is not None:
        assert len(list((tmp_path / "predictors").glob("b~*.pickle"))) == 2


def test_cli_failures_are_one_line_and_an_exit_status(tmp_path, capsys):
    _, written = _run(tmp_path)
    assert main([str(written.npy)]) == 2
    assert "--target-rate" in capsys.readouterr().err
    summary = tmp_path / "summary.json"
    assert main([str(tmp_path / "missing"), str(written.npy), "--target-rate", "64",
                 "--summary-json", str(summary)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing.npy: not found" in err[0]
    files = json.loads(summary.read_text())["files"]
    assert [f["status"] for f in files] == ["failed", "written"]


def test_cli_reads_a_json_request_and_runs_as_a_module(tmp_path):
    _, written = _run(tmp_path)
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"inputs": [str(written.npy)], "target_rate": 100,
                                   "grid_start": 0.5, "suffix": "_eeg"}))
    result = subprocess.run([sys.executable, "-m", "w2vbackend.retime", "--request",
                             str(request)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    doc = json.loads((tmp_path / "story_eeg.json").read_text())
    assert doc["resampling"]["grid_start"] == 0.5 and doc["resampling"]["target_rate"] == 100
    request.write_text(json.dumps({"inputs": "x", "target_rat": 100}))
    assert main(["--request", str(request)]) == 2


@pytest.mark.parametrize("flag", ["--help"])
def test_cli_help_lists_every_option(flag, capsys):
    with pytest.raises(SystemExit):
        main([flag])
    text = capsys.readouterr().out
    for option in ("--target-rate", "--tr", "--grid-start", "--n-samples", "--method", "--edge",
                   "--stopband-db", "--passband-edge", "--output-dir", "--suffix",
                   "--mat-version", "--no-mat", "--cnd", "--eelbrain", "--request",
                   "--summary-json"):
        assert option in text
