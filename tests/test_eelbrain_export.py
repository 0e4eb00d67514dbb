"""Eelbrain predictors: an NDVar with the grid's UTS time axis, pickled as Eelbrain saves
predictors and read back with Eelbrain's own loader (skipped where eelbrain is not installed)."""

from __future__ import annotations

import numpy as np
import pytest

eelbrain = pytest.importorskip("eelbrain", reason="eelbrain is not installed (optional extra)")

from w2vbackend.eelbrain_export import predictor_name, save_predictors, to_ndvar  # noqa: E402
from w2vbackend.retime import resample_features  # noqa: E402


def test_ndvar_has_the_grids_tmin_tstep_and_length():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((700, 6)).astype(np.float32)
    y, times, spec = resample_features(x, 128.0, frame_rate=50.0, frame_center_offset=0.0125,
                                       grid_start=-0.25)
    ndvar = to_ndvar(y, tmin=times[0], tstep=1 / 128.0, name="layer12")
    assert isinstance(ndvar, eelbrain.NDVar)
    assert ndvar.time.tmin == pytest.approx(-0.25)
    assert ndvar.time.tstep == pytest.approx(1 / 128.0)
    assert ndvar.time.nsamples == spec["n_samples"] == y.shape[0]
    np.testing.assert_allclose(ndvar.time.times, times)
    assert ndvar.get_dim("feature").values.tolist() == list(range(6))
    np.testing.assert_array_equal(ndvar.get_data(("time", "feature")), y)


def test_predictors_pickle_and_unpickle_with_eelbrain(tmp_path):
    rng = np.random.default_rng(1)
    y = rng.standard_normal((2, 90, 3)).astype(np.float32)
    paths = save_predictors(tmp_path, "story", y, tmin=0.0, tstep=0.01,
                            model="facebook/wav2vec2-large-xlsr-53", layers=[6, 12],
                            info={"fs": 100.0})
    assert [p.name for p in paths] == ["story~wav2vec2-large-xlsr-53-layer6.pickle",
                                       "story~wav2vec2-large-xlsr-53-layer12.pickle"]
    back = eelbrain.load.unpickle(paths[1])
    assert back.name == predictor_name("facebook/wav2vec2-large-xlsr-53", 12)
    assert back.info["layer"] == 12 and back.info["fs"] == 100.0
    assert back.time.nsamples == 90 and back.time.tstep == pytest.approx(0.01)
    np.testing.assert_array_equal(back.get_data(("time", "feature")), y[1])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)
