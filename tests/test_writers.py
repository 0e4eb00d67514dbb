"""The output files on synthetic arrays: names, .npy, .mat (v5 and v7.3), .json, .mat.failed,
atomic replacement, skip-if-unchanged, the lock, and output-folder problems."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from w2vbackend import matwriter, npystore, outdir
from w2vbackend.errors import OutputError, UsageError
from w2vbackend.fingerprint import fingerprint_digest, fingerprint_inputs, is_up_to_date
from w2vbackend.lock import OutputLock
from w2vbackend.metadata import sparse_time_axis
from w2vbackend.names import DEFAULT_BASENAME, OutputPaths, derive_basenames, validate_basename
from w2vbackend.npystore import NpyStore
from w2vbackend.outdir import prepare_output_dir
from w2vbackend.request import make_request
from w2vbackend.transaction import OutputTransaction
from writers_fixtures import file_digests, temp_files, write_synthetic

# --------------------------------------------------------------------------------------------
# Names


@pytest.mark.parametrize("name", ["wav2vec2_embeddings", "run 1", "Ünïcode-名前", "it's",
                                  "a&b;c$(x)", "x.y"])
def test_safe_base_names_are_accepted(name):
    assert validate_basename(name) == name


@pytest.mark.parametrize("name", ["", "   ", "a/b", "../x", "..", "a\\b", "a\x00b", "a\nb",
                                  "x" * 201, "/abs"])
def test_unsafe_base_names_are_refused_with_a_usage_error(name):
    with pytest.raises(UsageError) as caught:
        validate_basename(name)
    assert "\n" not in str(caught.value)


def test_derived_base_names_for_several_inputs():
    names = derive_basenames(["/a/one.wav", "/b/two words.flac", "/c/take..2.wav"], "emb")
    assert names == ["one_emb", "two words_emb", "take..2_emb"]
    assert derive_basenames(["/a/one.wav"], "emb") == ["emb"]


@pytest.mark.parametrize("inputs", [["/a/x.wav", "/b/x.wav"], ["/a/x.wav", "/a/x.flac"],
                                    ["/a/Song.wav", "/b/song.wav"], ["/a/x.wav", "/a/x.wav"]])
def test_inputs_that_would_write_the_same_files_are_refused(inputs):
    with pytest.raises(UsageError, match="would both write"):
        derive_basenames(inputs, DEFAULT_BASENAME)


def test_a_bad_base_name_is_refused_even_for_several_inputs():
    with pytest.raises(UsageError, match="path separator"):
        derive_basenames(["/a/x.wav", "/a/y.wav"], "sub/emb")


# --------------------------------------------------------------------------------------------
# The .npy store


@pytest.mark.parametrize("shape", [(53, 7), (3, 41, 5)])
def test_npy_store_is_a_valid_npy_and_reads_back_in_blocks(tmp_path, shape):
    store = NpyStore(tmp_path / "x.npy")
    data = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    store.begin(shape)
    for position in range(shape[0] if len(shape) == 3 else 1):
        store.write(position, 0, data[position] if len(shape) == 3 else data)
    store.release_pages()  # drops pages from RSS; the data must stay
    store.finish()
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy"), data)
    # Blocks of 3 frames (12-byte rows are forced into multiples of 3)
    seen = np.zeros_like(data)
    for layer, start, block in store.iter_blocks(block_bytes=4 * shape[-1] * 4, multiple=3):
        assert block.shape[0] % 3 == 0 or start + block.shape[0] == shape[-2]
        if layer is None:
            seen[start:start + block.shape[0]] = block
        else:
            seen[layer, start:start + block.shape[0]] = block
    np.testing.assert_array_equal(seen, data)


def test_npy_store_reserves_the_disk_space_up_front(tmp_path):
    store = NpyStore(tmp_path / "x.npy")
    store.begin((2000, 64))
    size = (tmp_path / "x.npy").stat().st_size
    assert size == store.offset + 2000 * 64 * 4
    if hasattr(os, "posix_fallocate"):
        assert (tmp_path / "x.npy").stat().st_blocks * 512 >= 2000 * 64 * 4


def test_npy_store_releases_pages_by_the_bytes_it_was_given(tmp_path, monkeypatch):
    released = []
    store = NpyStore(tmp_path / "x.npy")
    def release():
        released.append(store._since_release)
        store._since_release = 0

    monkeypatch.setattr(store, "release_pages", release)
    monkeypatch.setattr(npystore, "RELEASE_BYTES", 4 * 64 * 10)  # every 10 frames of 64
    store.begin((35, 64))
    for start in range(0, 35, 5):
        store.write(0, start, np.ones((5, 64), np.float32))
    assert released == [4 * 64 * 10] * 3


# --------------------------------------------------------------------------------------------
# .mat v5 and v7.3 contents


@pytest.mark.parametrize("shape,layers", [((37, 8), (24,)), ((3, 37, 8), (0, 12, 24))])
def test_mat_v5_holds_every_field_in_matlab_orientation(tmp_path, shape, layers):
    data, written = write_synthetic(tmp_path, shape, layers=layers, model_name="org/model-é")
    assert written.mat_version == "5" and written.mat_failed is None
    mat = scipy.io.loadmat(written.mat)
    emb = mat["embeddings"]
    assert emb.dtype == np.float32
    if len(shape) == 2:
        assert emb.shape == (37, 8)
        np.testing.assert_array_equal(emb, data)
    else:
        assert emb.shape == (37, 8, 3)  # [frames x hidden x layers]
        for position in range(3):
            np.testing.assert_array_equal(emb[:, :, position], data[position])
    assert mat["time_axis"].shape == (37, 1)
    np.testing.assert_allclose(mat["time_axis"][:, 0], np.arange(37) * 0.02, atol=1e-12)
    assert mat["layers"].shape == (1, len(layers))
    assert mat["layers"].dtype == np.float64
    assert mat["layers"][0].tolist() == list(layers)
    assert str(mat["model_name"][0]) == "org/model-é"
    for name, value in [("sample_rate", 16000.0), ("frame_stride", 0.02),
                        ("receptive_field", 0.025), ("frame_center_offset", 0.0125)]:
        assert mat[name].shape == (1, 1) and mat[name].dtype == np.float64
        assert mat[name][0, 0] == value
    np.testing.assert_array_equal(np.load(written.npy), data)


def test_auto_writes_v73_above_the_threshold(tmp_path, monkeypatch):
    monkeypatch.setattr(matwriter, "V5_AUTO_MAX_BYTES", 1000)
    data, written = write_synthetic(tmp_path, (2, 40, 6), layers=(1, 2))
    assert written.mat_version == "7.3"
    with open(written.mat, "rb") as stream:
        assert stream.read(10) == b"MATLAB 7.3"
    import mat73

    emb = mat73.loadmat(str(written.mat))["embeddings"]
    assert emb.shape == (40, 6, 2)
    np.testing.assert_array_equal(emb[:, :, 1], data[1])
    assert json.loads(written.json.read_text())["outputs"]["mat_version"] == "7.3"


def test_choose_mat_version_threshold():
    limit = matwriter.V5_AUTO_MAX_BYTES
    assert matwriter.choose_mat_version("auto", limit) == "5"
    assert matwriter.choose_mat_version("auto", limit + 1) == "7.3"
    assert matwriter.choose_mat_version("5", 10 * limit) == "5"
    assert matwriter.choose_mat_version("7.3", 10) == "7.3"
    assert matwriter.normalize_mat_version(7.3) == "7.3"
    assert matwriter.normalize_mat_version(5) == "5"
    with pytest.raises(UsageError):
        matwriter.normalize_mat_version("6")


def test_forcing_v5_over_its_limit_writes_mat_failed_but_npy_and_json(tmp_path, monkeypatch):
    # An earlier run's .mat must not stay next to the new .npy.
    write_synthetic(tmp_path, (20, 4), seed=5)
    assert (tmp_path / "emb.mat").exists()
    monkeypatch.setattr(matwriter, "V5_MAX_VARIABLE_BYTES", 100)
    data, written = write_synthetic(tmp_path, (20, 4), mat_version="5")
    assert written.mat is None and written.mat_version is None
    assert not (tmp_path / "emb.mat").exists()
    reason = (tmp_path / "emb.mat.failed").read_text()
    assert "2 GiB per-variable limit" in reason
    np.testing.assert_array_equal(np.load(tmp_path / "emb.npy"), data)
    meta = json.loads((tmp_path / "emb.json").read_text())
    assert meta["outputs"]["mat"] is None
    assert meta["outputs"]["mat_failed"] == str(tmp_path / "emb.mat.failed")
    assert "limit" in meta["outputs"]["mat_failed_reason"]
    # A later good run removes the stale .mat.failed
    monkeypatch.undo()
    _, again = write_synthetic(tmp_path, (20, 4))
    assert again.mat is not None and not (tmp_path / "emb.mat.failed").exists()
    assert temp_files(tmp_path) == []


def test_auto_falls_back_to_v73_when_scipy_fails(tmp_path, monkeypatch):
    def broken_savemat(*args, **kwargs):
        raise ValueError("scipy cannot")

    monkeypatch.setattr(scipy.io, "savemat", broken_savemat)
    _, written = write_synthetic(tmp_path, (10, 4))
    assert written.mat_version == "7.3"
    _, forced = write_synthetic(tmp_path, (10, 4), basename="forced", mat_version="5")
    assert forced.mat is None
    assert "scipy cannot" in (tmp_path / "forced.mat.failed").read_text()


# --------------------------------------------------------------------------------------------
# .json


JSON_KEYS_FROM_WRITERS = {
    "format", "format_version", "written_at", "num_frames", "hidden_size", "layers",
    "npy_shape", "npy_layout", "mat_layout", "sample_rate", "frame_stride", "receptive_field",
    "frame_center_offset", "time_axis_step", "time_axis_frames", "time_axis_seconds", "outputs",
    "fingerprint",
}


def test_json_has_the_documented_fields_and_a_sparse_time_axis(tmp_path):
    _, written = write_synthetic(tmp_path, (2, 2501, 3), layers=(3, 5))
    meta = json.loads(written.json.read_text())
    assert set(meta) >= JSON_KEYS_FROM_WRITERS
    assert meta["npy_shape"] == [2, 2501, 3]
    assert meta["npy_layout"] == "(num_layers, num_frames, hidden_size)"
    assert meta["time_axis_frames"] == [0, 1000, 2000, 2500]
    assert meta["time_axis_seconds"] == pytest.approx([0.0, 20.0, 40.0, 50.0])
    assert meta["outputs"]["bytes"]["npy"] == written.npy.stat().st_size
    assert meta["outputs"]["bytes"]["mat"] == written.mat.stat().st_size
    for key in ("npy", "mat", "json"):
        assert Path(meta["outputs"][key]).is_absolute()
    assert meta["written_at"].endswith("Z")


def test_sparse_time_axis_edges():
    assert sparse_time_axis(np.arange(1) * 0.02) == ([0], [0.0])
    assert sparse_time_axis(np.arange(1001) * 1.0)[0] == [0, 1000]
    assert sparse_time_axis(np.arange(1002) * 1.0)[0] == [0, 1000, 1001]


# --------------------------------------------------------------------------------------------
# Atomic replacement


def test_a_failure_before_commit_leaves_earlier_outputs_and_no_temp_files(tmp_path):
    write_synthetic(tmp_path, (12, 4), seed=1)
    before = file_digests(tmp_path)
    paths = OutputPaths(tmp_path, "emb")
    with pytest.raises(KeyboardInterrupt), OutputTransaction(paths) as tx:
        store = NpyStore(tx.temp("npy"))
        store.begin((99, 4))
        store.write(0, 0, np.ones((99, 4), np.float32))
        tx.temp("mat").write_bytes(b"half a file")
        raise KeyboardInterrupt
    assert file_digests(tmp_path) == before
    assert temp_files(tmp_path) == []


def test_temp_files_of_a_killed_run_are_removed_by_the_next(tmp_path):
    paths = OutputPaths(tmp_path, "emb")
    stale = [tmp_path / ".emb.npy.tmp-999999-0a1b2c3d", tmp_path / ".emb.json.tmp-1-ffff"]
    unrelated = [tmp_path / ".emb2.npy.tmp-1-ab", tmp_path / "emb.npy.tmp-1-ab",
                 tmp_path / ".emb.npy.npy.tmp-1-ab"]
    for path in stale + unrelated:
        path.write_bytes(b"x")
    assert sorted(paths.stale_temps()) == sorted(stale)
    write_synthetic(tmp_path, (5, 2))
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in unrelated)


def test_commit_replaces_the_whole_set(tmp_path):
    write_synthetic(tmp_path, (12, 4), seed=1, digest="a" * 64)
    new, _ = write_synthetic(tmp_path, (15, 4), seed=2, digest="b" * 64)
    np.testing.assert_array_equal(np.load(tmp_path / "emb.npy"), new)
    assert scipy.io.loadmat(tmp_path / "emb.mat")["embeddings"].shape == (15, 4)
    assert json.loads((tmp_path / "emb.json").read_text())["fingerprint"]["sha256"] == "b" * 64
    assert sorted(os.listdir(tmp_path)) == ["emb.json", "emb.mat", "emb.npy"]


# --------------------------------------------------------------------------------------------
# Disk full, folder problems


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_disk_full_while_reserving_the_npy_is_a_clean_output_error(tmp_path, monkeypatch):
    write_synthetic(tmp_path, (12, 4), seed=1)
    before = file_digests(tmp_path)
    monkeypatch.setattr(os, "posix_fallocate", _enospc, raising=False)
    with pytest.raises(OutputError) as caught:
        write_synthetic(tmp_path, (12, 4), seed=2)
    assert "disk full" in str(caught.value) and "\n" not in str(caught.value)
    assert file_digests(tmp_path) == before
    assert temp_files(tmp_path) == []


def test_disk_full_while_writing_the_mat_is_a_clean_output_error(tmp_path, monkeypatch):
    write_synthetic(tmp_path, (12, 4), seed=1)
    before = file_digests(tmp_path)
    monkeypatch.setattr(matwriter, "write_mat_v5", _enospc)
    with pytest.raises(OutputError, match="disk full"):
        write_synthetic(tmp_path, (12, 4), seed=2)
    assert file_digests(tmp_path) == before
    assert temp_files(tmp_path) == []


def test_too_little_free_space_is_refused_before_writing(tmp_path, monkeypatch):
    import shutil

    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10, 10, 1000))
    with pytest.raises(OutputError, match=r"not enough free disk space: the outputs need .* "
                                          r"plus a margin of 16.0 MiB, and .* is free"):
        write_synthetic(tmp_path, (12, 4))
    assert os.listdir(tmp_path) == []


def test_output_dir_is_created_and_problems_are_one_line_errors(tmp_path, monkeypatch):
    created = prepare_output_dir(tmp_path / "a" / "b")
    assert created.is_dir() and created.is_absolute()
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        prepare_output_dir(tmp_path / "file")
    with pytest.raises(OutputError, match="cannot create the output folder"):
        prepare_output_dir(tmp_path / "file" / "sub")
    real_open = os.open

    def refusing_open(path, flags, *args):
        if ".w2v-probe-" in os.fspath(path):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", refusing_open)
    with pytest.raises(OutputError, match="cannot write in the output folder: Permission denied"):
        prepare_output_dir(tmp_path / "a")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="root ignores directory permissions, so a read-only folder cannot "
                           "be made here (the monkeypatched test above covers the message)")
def test_read_only_output_dir_is_an_output_error(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(OutputError, match="cannot write"):
            prepare_output_dir(folder)
    finally:
        folder.chmod(0o755)


# --------------------------------------------------------------------------------------------
# The lock


def test_a_second_holder_is_refused_naming_the_lock(tmp_path):
    lock_path = tmp_path / "emb.lock"
    with OutputLock(lock_path):
        assert lock_path.read_text().split()[0] == str(os.getpid())
        with pytest.raises(OutputError) as caught:
            OutputLock(lock_path).acquire()
        assert str(lock_path) in str(caught.value)
        assert f"pid {os.getpid()}" in str(caught.value)
    assert not lock_path.exists()
    with OutputLock(lock_path):
        pass


def test_a_lock_held_by_another_process_is_refused_and_a_dead_ones_taken_over(tmp_path):
    lock_path = tmp_path / "emb.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         ("import sys, time; from pathlib import Path;"
          "from w2vbackend.lock import OutputLock;"
          "lock = OutputLock(Path(sys.argv[1])); lock.acquire(); print('held', flush=True);"
          "time.sleep(60)"), str(lock_path)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(OutputError, match=f"pid {holder.pid}"):
            OutputLock(lock_path).acquire()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # The killed holder left its lock file behind; it is stale and is taken over.
    assert lock_path.exists()
    with OutputLock(lock_path):
        assert lock_path.read_text().split()[0] == str(os.getpid())


# --------------------------------------------------------------------------------------------
# Fingerprint, skip-if-unchanged


def _inputs(**changes):
    audio_sha256 = changes.pop("audio_sha256", "0" * 64)
    base = {"audio": ["a.wav"], "model": "org/m", "revision": None, "layers": "last",
            "chunk_seconds": 20.0, "context_seconds": None, "dtype": "float32",
            "mat_version": "auto"}
    base.update(changes)
    return fingerprint_inputs(make_request(base), audio_sha256)


@pytest.mark.parametrize("change", [
    {"audio_sha256": "1" * 64}, {"model": "org/other"}, {"revision": "abc"}, {"layers": "all"},
    {"layers": "6,12"}, {"chunk_seconds": 10.0}, {"context_seconds": 1.0},
    {"dtype": "float16"}, {"mat_version": "7.3"}, {"group_norm": "window"}])
def test_every_input_changes_the_fingerprint(change):
    assert fingerprint_digest(_inputs(**change)) != fingerprint_digest(_inputs())


def test_fingerprint_is_stable_and_equivalent_specs_agree():
    assert fingerprint_digest(_inputs()) == fingerprint_digest(_inputs())
    assert fingerprint_digest(_inputs(layers="6, 12")) == fingerprint_digest(
        _inputs(layers=[6, 12]))
    assert fingerprint_digest(_inputs(layers=None)) == fingerprint_digest(_inputs())


def test_a_local_model_folder_is_identified_by_its_files(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    first = fingerprint_digest(_inputs(model=str(tmp_path)))
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    assert fingerprint_digest(_inputs(model=str(tmp_path))) != first


def test_up_to_date_needs_matching_fingerprint_and_intact_files(tmp_path, monkeypatch):
    paths = OutputPaths(tmp_path, "emb")
    write_synthetic(tmp_path, (12, 4), digest="a" * 64)
    assert is_up_to_date(paths, "a" * 64)
    assert not is_up_to_date(paths, "b" * 64)
    with open(paths.npy, "ab") as stream:  # a damaged .npy
        stream.write(b"\0")
    assert not is_up_to_date(paths, "a" * 64)
    write_synthetic(tmp_path, (12, 4), digest="a" * 64)
    paths.mat.unlink()
    assert not is_up_to_date(paths, "a" * 64)
    write_synthetic(tmp_path, (12, 4), digest="a" * 64)
    paths.json.write_text("{ not json")
    assert not is_up_to_date(paths, "a" * 64)
    # A set with .mat.failed is never up to date: a rerun may manage to write the MAT-file.
    monkeypatch.setattr(matwriter, "V5_MAX_VARIABLE_BYTES", 1)
    write_synthetic(tmp_path, (12, 4), digest="a" * 64, mat_version="5")
    assert not is_up_to_date(paths, "a" * 64)


def test_a_name_the_file_system_refuses_is_a_usage_error(tmp_path, monkeypatch):
    outdir.probe_basename(tmp_path, "fine name")
    assert os.listdir(tmp_path) == []
    real_open = os.open

    def fat_like_open(path, flags, *args):
        if "?" in os.fspath(path):
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", fat_like_open)
    with pytest.raises(UsageError, match="refused by the file system"):
        outdir.probe_basename(tmp_path, "what?")
    long_name = "x" * 300  # longer than any file system allows (the real error, no monkeypatch)
    monkeypatch.undo()
    with pytest.raises(UsageError, match="refused by the file system"):
        outdir.probe_basename(tmp_path, long_name)
