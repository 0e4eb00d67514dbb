"""A full disk or a file-size limit while the MAT-file is written (v5 and v7.3): one error for
that file, no temporary or lock file left, the rest of the batch written, exit status 1.

After a failed write, h5py/HDF5 can crash while it tears the file down; the runs happen in a
subprocess, so that such a crash is seen as an exit status here instead of ending pytest.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from synth import speech_like
from writers_fixtures import temp_files

LONG_S, SHORT_S = 8.0, 1.5
LONG_NPY_BYTES = 128 + 399 * 32 * 4  # header + (399 frames x 32) float32 of the small model

DRIVER = r'''
import sys
from w2vbackend import cli, npystore, outputs
if sys.argv[1] == "fills-after-check":   # another process fills the disk after the check
    outputs.check_free_space = npystore.check_free_space = lambda *a, **k: None
sys.exit(cli.main(sys.argv[2:]))
'''


@pytest.fixture()
def batch(tmp_path):
    """A long recording, whose MAT-file will not fit, then a short one, which fits."""
    files = []
    for name, seconds in (("long.wav", LONG_S), ("short.wav", SHORT_S)):
        sf.write(tmp_path / name, speech_like(seconds, 16000, seed=3), 16000, subtype="PCM_16")
        files.append(tmp_path / name)
    return files


def _run(tmp_path, mode, files, out, checkpoint, mat_version, preexec=None):
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    summary = tmp_path / "summary.json"
    args = [sys.executable, str(driver), mode, *map(str, files), "--model", str(checkpoint),
            "--output-dir", str(out), "--mat-version", mat_version, "--quiet",
            "--summary-json", str(summary)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300,
                          preexec_fn=preexec)
    document = json.loads(summary.read_text()) if summary.exists() else None
    return proc.returncode, proc.stderr, document


def _check(code, err, summary, out):
    assert code == 1, f"exit status {code}: {err[-2000:]}"
    assert "Traceback" not in err and "Fatal Python error" not in err
    assert summary is not None
    failed, written = summary["files"]
    assert failed["status"] == "failed" and failed["error"]["code"] == "outputFailed"
    assert written["status"] == "written"
    lines = [line for line in err.splitlines() if "long.wav" in line or "long_" in line]
    assert len([line for line in lines if "failed:" in line]) == 1, err
    assert temp_files(out) == []
    assert not any(p.name.startswith("long_") for p in out.iterdir())
    assert np.load(out / "short_wav2vec2_embeddings.npy").shape[1] == 32
    assert (out / "short_wav2vec2_embeddings.mat").stat().st_size > 0
    return failed["error"]["message"]


@pytest.fixture()
def small_disk(tmp_path):
    """A 96 KiB tmpfs: the long file's .npy fits, its MAT-file does not; the short set fits."""
    disk = tmp_path / "disk"
    disk.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(disk)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {proc.stderr.strip()}")
    yield disk
    subprocess.run(["umount", str(disk)], check=False)


@pytest.mark.parametrize("mat_version", ["5", "7.3"])
def test_a_full_disk_during_the_mat_write(tmp_path, batch, small_disk, xlsr_checkpoint,
                                          mat_version):
    code, err, summary = _run(tmp_path, "fills-after-check", batch, small_disk,
                              xlsr_checkpoint, mat_version)
    message = _check(code, err, summary, small_disk)
    assert "disk full" in message or "disk is full" in message, message


@pytest.mark.parametrize("mat_version", ["5", "7.3"])
def test_a_file_size_limit_during_the_mat_write(tmp_path, batch, xlsr_checkpoint, mat_version):
    limit = LONG_NPY_BYTES + 16  # the long .npy fits, its MAT-file does not

    def preexec():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    out = tmp_path / "out"
    code, err, summary = _run(tmp_path, "plain", batch, out, xlsr_checkpoint, mat_version,
                              preexec)
    message = _check(code, err, summary, out)
    assert "file size limit" in message, message


def test_a_crashing_mat_writer_is_one_output_error(tmp_path, monkeypatch):
    """Whatever kills the v7.3 writer becomes an OutputError, not the end of this process."""
    from w2vbackend import matprocess
    from w2vbackend.errors import OutputError
    from writers_fixtures import write_synthetic

    monkeypatch.setattr(matprocess, "child_command", lambda fd: [
        sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"])
    with pytest.raises(OutputError, match="SIGSEGV"):
        write_synthetic(tmp_path, (40, 8), mat_version="7.3")
    assert temp_files(tmp_path) == []
    assert os.listdir(tmp_path) == []


def test_the_child_writes_the_same_file_as_this_process(tmp_path):
    import h5py
    from writers_fixtures import write_synthetic

    data, written = write_synthetic(tmp_path, (3, 50, 8), mat_version="7.3")
    with h5py.File(Path(written.mat), "r") as mat:
        # MATLAB [frames x hidden x layers] is HDF5 (layers, hidden, frames).
        assert np.array_equal(mat["embeddings"][()], data.transpose(0, 2, 1))
    assert Path(written.mat).read_bytes()[:19] == b"MATLAB 7.3 MAT-file"
