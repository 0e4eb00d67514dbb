"""CND dataStim.mat and mTRF MAT-files, read back with readers written by others: scipy.io,
Octave's load, h5py (v7.3 in MATLAB's layout), pymatreader and Eelbrain's CND reader."""

from __future__ import annotations

import importlib.util
import json

import h5py
import numpy as np
import pytest
import scipy.io
from w2vbackend.cnd import feature_names, write_cnd_stim
from w2vbackend.errors import UsageError
from w2vbackend.mtrf import write_mtrf
from writers_fixtures import OCTAVE, run_octave

needs_octave = pytest.mark.skipif(OCTAVE is None, reason="octave is not installed")
needs_pymatreader = pytest.mark.skipif(importlib.util.find_spec("pymatreader") is None,
                                       reason="pymatreader is not installed")

FS = 128.0


def _trials(n_layers=3, lengths=(40, 57), dims=5):
    rng = np.random.default_rng(4)
    return [rng.standard_normal((n_layers, n, dims)).astype(np.float32) for n in lengths]


def _write_cnd(path, trials, version):
    names = feature_names("facebook/wav2vec2-large-xlsr-53", [6, 12, 24][:trials[0].shape[0]])
    return names, write_cnd_stim(path, trials, names=names, fs=FS, original_fs=50.0,
                                 cond_names=["story"], mat_version=version,
                                 pipeline={"software": "w2v", "resampling": {"method": "k"}})


def test_feature_names_name_model_and_layer():
    assert feature_names("facebook/wav2vec2-large-xlsr-53", [0, 24]) == [
        "wav2vec2-large-xlsr-53 layer 0", "wav2vec2-large-xlsr-53 layer 24"]


def test_cnd_v5_has_the_documented_layout_in_scipy(tmp_path):
    trials = _trials()
    names, version = _write_cnd(tmp_path / "dataStim.mat", trials, "auto")
    assert version == "5"
    stim = scipy.io.loadmat(tmp_path / "dataStim.mat")["stim"][0, 0]
    assert stim["names"].shape == (1, 3)
    assert [stim["names"][0, i][0] for i in range(3)] == names
    assert stim["data"].shape == (3, 2)            # {nFeat x nTrials}
    for t, trial in enumerate(trials):
        for f in range(3):
            cell = stim["data"][f, t]
            assert cell.dtype == np.float32 and cell.shape == trial[f].shape
            np.testing.assert_array_equal(cell, trial[f])
    assert stim["fs"][0, 0] == FS and stim["originalFs"][0, 0] == 50.0
    np.testing.assert_array_equal(stim["stimIdxs"], [[1], [2]])
    np.testing.assert_array_equal(stim["condIdxs"], [[1], [1]])
    assert stim["condNames"][0, 0][0] == "story"
    pipeline = stim["processingPipeline"][0, 0]
    assert json.loads(pipeline["resampling"][0]) == {"method": "k"}


@needs_octave
def test_cnd_v5_reads_in_octave(tmp_path):
    trials = _trials()
    _write_cnd(tmp_path / "dataStim.mat", trials, "5")
    out = run_octave(
        f"s = load('{tmp_path / 'dataStim.mat'}'); stim = s.stim; "
        "printf('names %s|%s\\n', class(stim.names), stim.names{2}); "
        "printf('data %d %d\\n', size(stim.data)); "
        "printf('cell %s %d %d\\n', class(stim.data{3,2}), size(stim.data{3,2})); "
        "printf('value %.6f\\n', stim.data{3,2}(4,5)); "
        "printf('fs %g %g\\n', stim.fs, stim.originalFs); "
        "printf('idx %d %d %d\\n', size(stim.stimIdxs), stim.stimIdxs(2)); "
        "printf('cond %s\\n', stim.condNames{1});")
    assert "names cell|wav2vec2-large-xlsr-53 layer 12" in out
    assert "data 3 2" in out
    assert "cell single 57 5" in out
    assert f"value {trials[1][2][3, 4]:.6f}" in out
    assert "fs 128 50" in out and "idx 2 1 2" in out and "cond story" in out


@needs_octave
def test_cnd_v73_numeric_fields_read_in_octave(tmp_path):
    # Octave 7's load reads MATLAB v7.3 structs and numeric arrays but not cell arrays (it
    # warns "unknown datatype"); MATLAB reads them all. v5 (the default up to 2 GiB) reads in both.
    _write_cnd(tmp_path / "dataStim.mat", _trials(), "7.3")
    out = run_octave(f"s = load('{tmp_path / 'dataStim.mat'}'); "
                     "printf('fs %g %g %d\\n', s.stim.fs, s.stim.originalFs, s.stim.stimIdxs(2));")
    assert "fs 128 50 2" in out


def test_cnd_v73_has_matlabs_hdf5_layout(tmp_path):
    trials = _trials()
    names, version = _write_cnd(tmp_path / "dataStim.mat", trials, "7.3")
    assert version == "7.3"
    with open(tmp_path / "dataStim.mat", "rb") as stream:
        assert stream.read(19) == b"MATLAB 7.3 MAT-file"
    with h5py.File(tmp_path / "dataStim.mat", "r") as h5:
        stim = h5["stim"]
        assert stim.attrs["MATLAB_class"] == b"struct"
        data = stim["data"]
        assert data.attrs["MATLAB_class"] == b"cell"
        assert data.shape == (2, 3)                 # HDF5 order of MATLAB's {3 x 2}
        cell = h5[data[1, 2]]
        assert cell.attrs["MATLAB_class"] == b"single"
        np.testing.assert_array_equal(cell[()].T, trials[1][2])
        name = h5[stim["names"][0, 0]][()]
        assert name.tobytes().decode("utf-16-le") == names[0]


@needs_pymatreader
@pytest.mark.parametrize("version", ["5", "7.3"])
def test_cnd_reads_with_pymatreader(tmp_path, version):
    from pymatreader import read_mat

    trials = _trials()
    names, _ = _write_cnd(tmp_path / "dataStim.mat", trials, version)
    stim = read_mat(str(tmp_path / "dataStim.mat"))["stim"]
    assert list(stim["names"]) == names
    if version == "5":
        cell = stim["data"][2][1]                  # {nFeat x nTrials}: feature 3, trial 2
    else:
        # pymatreader flattens a 2-D cell of a v7.3 file in HDF5 (row-major) order of the
        # (nTrials, nFeat) reference dataset: trial-major.
        assert len(stim["data"]) == 6
        cell = stim["data"][1 * 3 + 2]
    np.testing.assert_array_equal(np.asarray(cell), trials[1][2])
    assert float(stim["fs"]) == FS


def test_cnd_reads_in_eelbrains_cnd_reader(tmp_path):
    eelbrain = pytest.importorskip("eelbrain", reason="eelbrain is not installed (optional)")
    # Eelbrain's reader takes one-dimensional features ([nSamples x 1]), and more than one.
    trials = _trials(n_layers=2, dims=1)
    write_cnd_stim(tmp_path / "dataStim.mat", trials, names=["envelope", "onsets"], fs=FS)
    ds = eelbrain.load.cnd(tmp_path / "dataStim.mat")
    ndvars = ds["onsets"]
    assert [x.time.nsamples for x in ndvars] == [40, 57]
    assert ndvars[1].time.tstep == pytest.approx(1 / FS)
    np.testing.assert_allclose(ndvars[1].x, trials[1][1][:, 0])
    np.testing.assert_array_equal(ds["stimIdxs"], [0, 1])


def test_mtrf_one_trial_is_a_matrix_and_several_are_cells(tmp_path):
    rng = np.random.default_rng(0)
    one = rng.standard_normal((50, 4)).astype(np.float32)
    times = [np.arange(50) / FS]
    write_mtrf(tmp_path / "one.mat", [one], times, fs=FS, names=["m layer 12"], layers=[12],
               model_name="m", spec={"method": "kaiser"})
    m = scipy.io.loadmat(tmp_path / "one.mat")
    assert m["stim"].dtype == np.float32 and m["stim"].shape == (50, 4)
    np.testing.assert_array_equal(m["stim"], one)
    assert m["t"].shape == (50, 1) and m["fs"][0, 0] == FS
    assert json.loads(m["resampling"][0])["method"] == "kaiser"
    trials = _trials(n_layers=2)
    grids = [np.arange(x.shape[1]) / FS for x in trials]
    write_mtrf(tmp_path / "many.mat", trials, grids, fs=FS, names=["a", "b"], layers=[6, 12])
    m = scipy.io.loadmat(tmp_path / "many.mat")
    assert m["stim"].shape == (2, 2)               # {nTrials x nLayers}
    np.testing.assert_array_equal(m["stim"][1, 0], trials[1][0])
    np.testing.assert_array_equal(m["stim"][0, 1], trials[0][1])
    assert m["t"].shape == (2, 1) and m["t"][1, 0].shape == (57, 1)


@needs_octave
def test_mtrf_cells_index_as_trial_lists_in_octave(tmp_path):
    trials = _trials(n_layers=2)
    grids = [np.arange(x.shape[1]) / FS for x in trials]
    write_mtrf(tmp_path / "many.mat", trials, grids, fs=FS, names=["a", "b"], layers=[6, 12])
    out = run_octave(
        f"m = load('{tmp_path / 'many.mat'}'); s = m.stim(:, 2); "
        "printf('%s %d %d|%d %d|%g|%g\\n', class(s), size(s), size(s{2}), m.fs, m.t{2}(2));")
    assert f"cell 2 1|57 5|128|{1 / FS:g}" in out


def test_bad_trials_say_what_is_wrong(tmp_path):
    trials = _trials()
    with pytest.raises(UsageError, match="features"):
        write_cnd_stim(tmp_path / "x.mat", trials, names=["a"], fs=FS)
    with pytest.raises(UsageError, match="mat version"):
        write_cnd_stim(tmp_path / "x.mat", trials, names=["a", "b", "c"], fs=FS,
                       mat_version="7")
    assert not (tmp_path / "x.mat").exists()
