"""Interrupting a real ``w2v-extract`` process (SIGTERM, SIGINT, SIGKILL) at several points.

Each run goes through a small driver that calls the real ``cli.main`` in a child process and
prints ``READY`` when it reaches the stage under test, then pauses there (a sleep inside the
stage), so the signal lands in that stage every time rather than by luck of timing. After the
signal: the process exits promptly with 128 + signal number, no temporary or lock file is left,
the outputs of the earlier run are byte-identical, and a rerun completes.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from synth import speech_like
from w2vbackend import cli
from writers_fixtures import file_digests, temp_files

# Seconds the process may take to exit after the signal (cleanup included); generous because
# the machine running the tests may be busy, and a hang would take the 30 s the hooks sleep.
PROMPT_EXIT_S = 10.0
READY_TIMEOUT_S = 120.0

DRIVER = r'''
import sys, time
stage, args = sys.argv[1], sys.argv[2:]

def ready():
    print("READY", flush=True)

from w2vbackend import cli, matfile, runner, transaction

if stage == "early":                     # before the model is loaded
    real_load = runner._load
    def _load(*a, **k):
        ready(); time.sleep(30); return real_load(*a, **k)
    runner._load = _load
elif stage == "inference":               # the engine is writing into the temporary .npy
    import w2vbackend.engine as engine
    real_run = engine.run_engine
    def run_engine(*a, **kw):
        progress = kw["progress"]
        def slow_progress(seconds):
            progress(seconds)
            ready(); time.sleep(30)
        kw["progress"] = slow_progress
        return real_run(*a, **kw)
    engine.run_engine = run_engine
elif stage == "mat":                     # half-way through the v7.3 MAT-file (in its child)
    from w2vbackend import matprocess
    CHILD = """
import sys, time
from w2vbackend import matfile, matprocess
real_write = matfile.Mat73Array.write_frames
def write_frames(self, *a):
    real_write(self, *a); print("READY", flush=True); time.sleep(30)
matfile.Mat73Array.write_frames = write_frames
matprocess.main(sys.argv[1:])
"""
    matprocess.child_command = lambda fd: [sys.executable, "-c", CHILD, str(fd)]
elif stage == "commit":                  # while the files are renamed into place
    real_fsync = transaction._fsync_dir
    def _fsync_dir(folder):
        ready(); time.sleep(1.0); real_fsync(folder)
    transaction._fsync_dir = _fsync_dir
sys.exit(cli.main(args))
'''


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    path = tmp_path_factory.mktemp("audio") / "long recording.wav"
    sf.write(path, speech_like(12.0, 16000, seed=4), 16000, subtype="PCM_16")
    return path


@pytest.fixture()
def earlier(tmp_path, recording, xlsr_checkpoint):
    """An output folder holding a complete earlier run; returns (folder, digests)."""
    out = tmp_path / "out"
    code = cli.main([str(recording), "--model", str(xlsr_checkpoint), "--output-dir", str(out),
                     "--chunk-seconds", "6", "--quiet"])
    assert code == 0
    return out, file_digests(out)


def _start(tmp_path, stage, args):
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, str(driver), stage, *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def _wait_ready(proc) -> None:
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if selector.select(timeout=0.5):
            line = proc.stdout.readline()
            if line.strip() == b"READY":
                return
            if not line:
                break
    proc.kill()
    raise AssertionError(f"driver never got ready: {proc.stderr.read().decode()[-2000:]}")


def _interrupt(proc, signum) -> tuple[int, float, str]:
    sent = time.monotonic()
    proc.send_signal(signum)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return proc.returncode, time.monotonic() - sent, err.decode()


def _args(recording, checkpoint, out, *extra):
    # --chunk-seconds 2 differs from the earlier run's 6, so the run recomputes.
    return [recording, "--model", checkpoint, "--output-dir", out, "--chunk-seconds", "2",
            "--quiet", "--summary-json", out.parent / "summary.json", *extra]


@pytest.mark.parametrize("stage,signum,extra", [
    ("early", signal.SIGINT, []),
    ("inference", signal.SIGTERM, []),
    ("mat", signal.SIGINT, ["--mat-version", "7.3"]),
])
def test_interrupted_run_leaves_earlier_outputs_and_no_temp_files(
        tmp_path, recording, xlsr_checkpoint, earlier, stage, signum, extra):
    out, before = earlier
    args = _args(recording, xlsr_checkpoint, out, *extra)
    proc = _start(tmp_path, stage, args)
    _wait_ready(proc)
    if stage == "inference":
        assert any(n.startswith(".wav2vec2_embeddings.npy.tmp-") for n in os.listdir(out))
    if stage == "mat":
        assert any(n.startswith(".wav2vec2_embeddings.mat.tmp-") for n in os.listdir(out))
    code, seconds, err = _interrupt(proc, signum)
    assert code == 128 + signum, err
    assert seconds < PROMPT_EXIT_S
    assert "Traceback" not in err
    assert f"interrupted by {signal.Signals(signum).name}" in err
    assert temp_files(out) == []
    assert file_digests(out) == before
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["exit_code"] == 128 + signum and summary["error"]["code"] == "interrupted"
    # A rerun completes and replaces the set.
    assert cli.main([str(a) for a in args]) == 0
    assert file_digests(out) != before and temp_files(out) == []


def test_sigterm_during_the_renames_is_held_until_the_set_is_complete(
        tmp_path, recording, xlsr_checkpoint, earlier):
    out, _ = earlier
    args = _args(recording, xlsr_checkpoint, out)
    proc = _start(tmp_path, "commit", args)
    _wait_ready(proc)
    code, seconds, err = _interrupt(proc, signal.SIGTERM)
    assert code == 143, err
    assert seconds < PROMPT_EXIT_S
    assert temp_files(out) == []
    # The new set is complete and consistent: a rerun with the same options finds it up to date.
    npy = np.load(out / "wav2vec2_embeddings.npy")
    meta = json.loads((out / "wav2vec2_embeddings.json").read_text())
    assert list(npy.shape) == meta["npy_shape"] and meta["chunk_seconds"] == 2.0
    summary_path = tmp_path / "summary.json"
    assert cli.main([str(a) for a in args]) == 0
    assert json.loads(summary_path.read_text())["files"][0]["status"] == "up_to_date"


def test_sigkill_leaves_only_temp_files_that_the_next_run_removes(
        tmp_path, recording, xlsr_checkpoint, earlier):
    out, before = earlier
    args = _args(recording, xlsr_checkpoint, out)
    proc = _start(tmp_path, "inference", args)
    _wait_ready(proc)
    proc.kill()  # no cleanup possible
    proc.communicate(timeout=60)
    leftovers = temp_files(out)
    assert leftovers  # the temporary .npy and the lock file
    finals = {name: digest for name, digest in file_digests(out).items()
              if not name.startswith(".") and not name.endswith(".lock")}
    assert finals == before
    assert cli.main([str(a) for a in args]) == 0
    assert temp_files(out) == []
    assert np.load(out / "wav2vec2_embeddings.npy").shape == (599, 32)
    assert Path(out / "wav2vec2_embeddings.mat").exists()


def test_an_up_to_date_rerun_removes_what_a_killed_run_left(
        tmp_path, recording, xlsr_checkpoint, earlier):
    out, before = earlier
    # Killed while recomputing the same outputs with --overwrite: its temporary .npy (full
    # size) and its lock file stay behind.
    proc = _start(tmp_path, "inference", _args(recording, xlsr_checkpoint, out, "--overwrite"))
    _wait_ready(proc)
    proc.kill()
    proc.communicate(timeout=60)
    assert any(n.endswith(".lock") for n in temp_files(out))
    assert any(".npy.tmp-" in n for n in temp_files(out))
    # The rerun with the earlier run's options finds the outputs up to date and cleans up.
    summary = tmp_path / "summary.json"
    code = cli.main([str(recording), "--model", str(xlsr_checkpoint), "--output-dir", str(out),
                     "--chunk-seconds", "6", "--quiet", "--summary-json", str(summary)])
    assert code == 0
    assert json.loads(summary.read_text())["files"][0]["status"] == "up_to_date"
    assert temp_files(out) == []
    assert file_digests(out) == before
