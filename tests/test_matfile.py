"""MAT v7.3 in MATLAB's layout, checked byte by byte and with readers written by others (h5py
attributes, mat73, pymatreader, Octave's load); MAT v5 read back by scipy and Octave."""

from __future__ import annotations

import datetime

import h5py
import numpy as np
import pytest
from w2vbackend import matwriter, npystore
from w2vbackend.matfile import Mat73Writer, hdf5_shape, mat73_header
from writers_fixtures import OCTAVE, run_octave, write_synthetic

SHAPES = [(37, 8), (3, 37, 8)]


def test_header_has_matlabs_exact_layout():
    header = mat73_header(datetime.datetime(2026, 1, 5, 9, 7, 3))
    assert len(header) == 128
    text = header[:116].decode("ascii")
    assert text.startswith("MATLAB 7.3 MAT-file, Platform: ")
    assert "Created on: Mon Jan 05 09:07:03 2026 HDF5 schema 1.00 ." in text
    assert text.rstrip(" ").endswith("HDF5 schema 1.00 .")
    assert header[116:124] == b"\0" * 8           # subsystem data offset: none
    assert header[124:126] == b"\x00\x02"         # version 0x0200, little-endian
    assert header[126:128] == b"IM"               # endian indicator


def test_hdf5_shape_reverses_matlab_dimensions():
    assert hdf5_shape((100, 1024, 25)) == (25, 1024, 100)
    assert hdf5_shape((1, 5)) == (5, 1)


def _v73(tmp_path, monkeypatch, shape, layers=None, name="org/model-ü"):
    monkeypatch.setattr(matwriter, "V5_AUTO_MAX_BYTES", 0)
    data, written = write_synthetic(tmp_path, shape, layers=layers, model_name=name)
    assert written.mat_version == "7.3"
    return data, written.mat


@pytest.mark.parametrize("shape", SHAPES)
def test_v73_raw_hdf5_layout(tmp_path, monkeypatch, shape):
    data, path = _v73(tmp_path, monkeypatch, shape)
    raw = path.read_bytes()
    assert raw[:10] == b"MATLAB 7.3"
    assert raw[124:128] == b"\x00\x02IM"
    assert raw[128:512] == b"\0" * 384
    assert raw[512:520] == b"\x89HDF\r\n\x1a\n"      # the HDF5 superblock after the user block
    with h5py.File(path, "r") as f:
        assert f.userblock_size == 512
        assert sorted(f) == sorted(["embeddings", "time_axis", "model_name", "sample_rate",
                                    "frame_stride", "layers", "receptive_field",
                                    "frame_center_offset"])
        emb = f["embeddings"]
        assert emb.attrs["MATLAB_class"] == b"single"
        assert emb.dtype == np.dtype("<f4")
        assert emb.chunks is not None
        if len(shape) == 2:
            assert emb.shape == (8, 37)                # MATLAB [37 x 8]
            np.testing.assert_array_equal(emb[()], data.T)
        else:
            assert emb.shape == (3, 8, 37)             # MATLAB [37 x 8 x 3]
            np.testing.assert_array_equal(emb[()], data.transpose(0, 2, 1))
        assert f["time_axis"].shape == (1, 37)         # MATLAB column [37 x 1]
        assert f["time_axis"].attrs["MATLAB_class"] == b"double"
        assert f["layers"].shape == (shape[0] if len(shape) == 3 else 1, 1)  # MATLAB row
        name = f["model_name"]
        assert name.dtype == np.uint16 and name.shape == (len("org/model-ü"), 1)
        assert name.attrs["MATLAB_class"] == b"char"
        assert int(name.attrs["MATLAB_int_decode"]) == 2
        assert "".join(map(chr, name[()].ravel())) == "org/model-ü"
        for scalar in ("sample_rate", "frame_stride", "receptive_field", "frame_center_offset"):
            assert f[scalar].shape == (1, 1)
            assert f[scalar].attrs["MATLAB_class"] == b"double"


@pytest.mark.parametrize("shape", SHAPES)
def test_v73_reads_back_with_mat73_and_pymatreader(tmp_path, monkeypatch, shape):
    import mat73
    from pymatreader import read_mat

    layers = (0, 2, 4) if len(shape) == 3 else (4,)
    data, path = _v73(tmp_path, monkeypatch, shape, layers=layers)
    for reader in (lambda p: mat73.loadmat(str(p)), lambda p: read_mat(str(p))):
        mat = reader(path)
        emb = np.asarray(mat["embeddings"])
        if len(shape) == 2:
            assert emb.shape == (37, 8)
            np.testing.assert_array_equal(emb, data)
        else:
            assert emb.shape == (37, 8, 3)
            for position in range(3):
                np.testing.assert_array_equal(emb[:, :, position], data[position])
        assert mat["model_name"] == "org/model-ü"
        np.testing.assert_allclose(np.ravel(mat["time_axis"]), np.arange(37) * 0.02)
        assert np.ravel(mat["layers"]).tolist() == list(layers)
        assert float(mat["sample_rate"]) == 16000.0
        assert float(mat["frame_center_offset"]) == 0.0125


def test_v73_blocks_cover_long_outputs_exactly(tmp_path, monkeypatch):
    # Blocks much smaller than the array, chunk length not dividing the frame count.
    monkeypatch.setattr(npystore, "BLOCK_BYTES", 4 * 16 * 50)
    monkeypatch.setattr("w2vbackend.matfile.CHUNK_TARGET_BYTES", 4 * 16 * 7)
    # In this process (the patched sizes do not reach the child that writes v7.3 files).
    monkeypatch.setattr(matwriter, "write_mat_v73", matwriter.write_mat_v73_here)
    data, path = _v73(tmp_path, monkeypatch, (2, 1003, 16))
    with h5py.File(path, "r") as f:
        assert f["embeddings"].chunks == (1, 16, 7)
        np.testing.assert_array_equal(f["embeddings"][()], data.transpose(0, 2, 1))


def test_empty_values_use_matlabs_empty_marker(tmp_path):
    path = tmp_path / "e.mat"
    with Mat73Writer(path) as mat:
        mat.write_char("s", "")
        mat.write_numeric("x", np.zeros((0, 3)))
    with h5py.File(path, "r") as f:
        assert int(f["s"].attrs["MATLAB_empty"]) == 1
        assert f["s"][()].tolist() == [1, 0]
        assert f["x"][()].tolist() == [0, 3]


def test_a_failing_v73_write_leaves_an_incomplete_file_not_marked_complete(tmp_path):
    path = tmp_path / "x.mat"
    with pytest.raises(RuntimeError), Mat73Writer(path) as mat:
        mat.write_char("a", "b")
        raise RuntimeError("stop")
    # No MATLAB header was written into the user block: nothing passes it off as a MAT-file.
    assert path.read_bytes()[:6] != b"MATLAB"


# --------------------------------------------------------------------------------------------
# Octave


OCTAVE_SCRIPT = """
s = load('{path}');
printf('size %s\\n', num2str(size(s.embeddings)));
printf('time %s\\n', num2str(size(s.time_axis)));
printf('layers %s\\n', num2str(s.layers(:)'));
printf('value %.7g\\n', s.embeddings({index}));
printf('last %.7g\\n', s.time_axis(end));
printf('rate %g\\n', s.sample_rate);
printf('name %s\\n', char(s.model_name(:)'));
"""


@pytest.mark.skipif(OCTAVE is None, reason="GNU Octave is not installed (octave not on PATH)")
@pytest.mark.parametrize("version", ["5", "7.3"])
@pytest.mark.parametrize("shape", SHAPES)
def test_octave_loads_both_versions(tmp_path, monkeypatch, version, shape):
    if version == "7.3":
        monkeypatch.setattr(matwriter, "V5_AUTO_MAX_BYTES", 0)
    data, written = write_synthetic(tmp_path, shape, layers=(1, 2, 3)[:shape[0]]
                                    if len(shape) == 3 else (4,), model_name="org/model")
    assert written.mat_version == version
    index = "5, 7, 2" if len(shape) == 3 else "5, 7"
    lines = dict(line.split(" ", 1) for line in run_octave(
        OCTAVE_SCRIPT.format(path=written.mat, index=index)).splitlines() if " " in line)
    expected_size = "37   8   3" if len(shape) == 3 else "37   8"
    assert lines["size"].split() == expected_size.split()
    assert lines["time"].split() == ["37", "1"]
    expected = data[1, 4, 6] if len(shape) == 3 else data[4, 6]  # MATLAB (5, 7[, 2])
    assert float(lines["value"]) == pytest.approx(float(expected), rel=1e-6)
    assert float(lines["last"]) == pytest.approx(36 * 0.02)
    assert float(lines["rate"]) == 16000
    assert lines["name"].strip() == "org/model"
