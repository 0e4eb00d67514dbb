"""Job arrays on a real SLURM: munged, slurmctld and slurmd started by this module (one node,
this machine; see slurm_harness.py), the test checkpoint, short speech-like files.

Skips, with the reason, where the daemons cannot be installed or started; under CI (CI=true)
that is a failure instead.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import soundfile as sf
from slurm_harness import SlurmCluster, SlurmUnavailable
from synth import build_checkpoint, speech_like
from w2vbackend import cluster
from w2vbackend.cluster_options import options_from
from w2vbackend.request import Request, make_request
from w2vbackend.runner import Reporter, run

SHORT_SECONDS = (1.0, 2.5, 1.5, 3.0, 2.0, 1.2)
# Long enough that a task is caught while it writes (its temporary .npy exists for ~2 s).
LONG_SECONDS = 400.0


def _unavailable(reason: str):
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"SLURM is required under CI: {reason}")
    pytest.skip(f"no SLURM here: {reason}")


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    harness = SlurmCluster(tmp_path_factory.mktemp("slurm"))
    why = harness.missing()
    if why:
        _unavailable(why)
    previous = os.environ.get("SLURM_CONF")
    try:
        try:
            harness.start()
        except SlurmUnavailable as exc:
            _unavailable(str(exc))
        os.environ["SLURM_CONF"] = str(harness.conf)
        yield harness
    finally:
        harness.stop()
        if previous is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = previous


@pytest.fixture(scope="module")
def stimuli(tmp_path_factory):
    root = tmp_path_factory.mktemp("stimuli")
    checkpoint = build_checkpoint("base", root / "checkpoint")
    files = []
    for i, seconds in enumerate(SHORT_SECONDS):
        path = root / f"stim{i}.wav"
        sf.write(path, speech_like(seconds, 16000, seed=i), 16000, subtype="PCM_16")
        files.append(str(path))
    long = root / "long.wav"
    sf.write(long, speech_like(LONG_SECONDS, 16000, seed=99), 16000, subtype="PCM_16")
    files.append(str(long))
    return checkpoint, files


def _request(checkpoint, files, out) -> Request:
    # One thread everywhere: the same kernels here and in the tasks, so the bytes can match.
    return make_request({"audio": list(files), "output_dir": str(out), "model": str(checkpoint),
                         "threads": 1})


def _options(log_dir, **extra):
    return options_from({"cluster": "slurm", "tasks": 3, "cpus_per_task": 1, "time_min": 10,
                         "log_dir": str(log_dir), **extra})


def _temps(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if ".tmp-" in p.name]


def test_array_matches_local_run_survives_scancel_and_resumes(slurm, stimuli, tmp_path):
    checkpoint, files = stimuli
    started = time.perf_counter()
    local = run(_request(checkpoint, files, tmp_path / "local"))
    local_seconds = time.perf_counter() - started
    assert [o.status for o in local] == ["written"] * len(files)

    # First run: submit, catch the task that holds the long file while it writes, scancel it.
    out, logs = tmp_path / "cluster", tmp_path / "logs"
    stream = io.StringIO()
    reporter = Reporter(stream=stream)
    started = time.perf_counter()
    _, code = cluster.run_request(_request(checkpoint, files, out),
                                  _options(logs, no_wait=True), reporter)
    assert code == 0
    state_path = next(logs.glob("*_state.json"))
    state = cluster.read_state(str(state_path))
    assert len(state["tasks"]) == 3
    assert sorted(f for t in state["tasks"] for f in t["files"]) == sorted(files)
    victim = next(t for t in state["tasks"] if files[-1] in t["files"])
    deadline = time.monotonic() + 120
    while not (out.exists() and any(p.name.startswith(".long_") for p in _temps(out))):
        assert time.monotonic() < deadline, f"never saw long.wav being written\n{slurm.logs()}"
        time.sleep(0.05)
    slurm.run("scancel", victim["job_id"])
    first, code = cluster.wait_for(str(state_path), reporter, poll_seconds=0.5)
    first_seconds = time.perf_counter() - started
    assert code == 1
    by_file = {o.audio: o for o in first}
    for path in files:
        outcome = by_file[path]
        if path in victim["files"]:
            assert outcome.status == "failed", outcome
            assert outcome.error["code"] == "clusterTaskFailed"
            log = f"{logs}/{victim['job_id']}_0_log.err"
            assert log in outcome.error["message"] and os.path.exists(log)
            assert not (out / f"{Path(path).stem}_wav2vec2_embeddings.npy").exists()
        else:
            assert outcome.status == "written", outcome
    assert _temps(out) == [], "a killed task left temporary files"

    # Second run: the cancelled task's files are written, the others are up to date.
    started = time.perf_counter()
    second, code = cluster.run_request(_request(checkpoint, files, out), _options(logs),
                                       reporter)
    second_seconds = time.perf_counter() - started
    assert code == 0
    for outcome in second:
        expected = "written" if outcome.audio in victim["files"] else "up_to_date"
        assert outcome.status == expected, outcome
    for here, there in zip(local, second):
        assert Path(there.outputs["npy"]).read_bytes() == Path(here.outputs["npy"]).read_bytes()
    slurm.wait_until_empty()
    transcript = stream.getvalue()
    assert re.search(r"\[\d+/7\] .*stim0\.wav: (written|up to date) \(task \d+_\d\)", transcript)
    print(f"\nlocal run: {local_seconds:.1f} s; array with scancel: {first_seconds:.1f} s; "
          f"array rerun: {second_seconds:.1f} s\n--- transcript\n{transcript}")


def _read_until(stream, pattern: str, timeout: float) -> str:
    """Lines of ``stream`` up to the first that matches ``pattern``."""
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        if re.search(pattern, line):
            return "".join(seen)
    raise AssertionError(f"no line matching {pattern!r} in:\n{''.join(seen)}")


def test_cli_ctrl_c_leaves_the_array_running_and_wait_collects_it(slurm, stimuli, tmp_path):
    checkpoint, files = stimuli
    listing = tmp_path / "stimuli.txt"
    listing.write_text("# the short stimuli\n" + "\n".join(files[:-1]) + "\n", encoding="utf-8")
    out, logs = tmp_path / "out", tmp_path / "logs"
    # Held (sbatch --hold), so the array is certainly still queued when Ctrl-C arrives.
    command = [sys.executable, "-m", "w2vbackend", "--cluster", "slurm", "--tasks", "2",
               "--cpus-per-task", "1", "--time-min", "10", "--sbatch", "hold",
               "--log-dir", str(logs), "--output-dir", str(out), "--model", str(checkpoint),
               "--threads", "1", "--files-from", str(listing)]
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        before = _read_until(proc.stderr, r"waiting for job", 120)
        proc.send_signal(signal.SIGINT)
        rest = proc.stderr.read()
        assert proc.wait(timeout=60) == 130, before + rest
    finally:
        if proc.poll() is None:
            proc.kill()
    job = re.search(r"submitted job (\d+): 2 task\(s\) over 6 file\(s\)", before).group(1)
    state = logs / f"{job}_state.json"
    assert f"w2v-extract --wait {state}" in rest and f"scancel {job}" in rest
    assert sorted(slurm.queued()) == [f"{job}_{k}" for k in range(2)]  # left running
    assert not out.exists() or not list(out.glob("*.npy"))

    slurm.run("scontrol", "release", job)
    summary = tmp_path / "summary.json"
    started = time.perf_counter()
    collect = subprocess.run([sys.executable, "-m", "w2vbackend", "--wait", str(state),
                              "--summary-json", str(summary)],
                             capture_output=True, text=True, timeout=300)
    seconds = time.perf_counter() - started
    assert collect.returncode == 0, collect.stderr
    assert "w2v-extract: 6 files: 6 written, 0 up to date, 0 failed" in collect.stderr
    document = json.loads(summary.read_text())
    assert document["ok"] and [f["audio"] for f in document["files"]] == files[:-1]
    assert all(Path(f["outputs"]["npy"]).is_file() for f in document["files"])
    print(f"\n--- submit, then Ctrl-C\n$ {' '.join(command)}\n{before}{rest}"
          f"--- collect ({seconds:.1f} s)\n$ w2v-extract --wait {state}\n{collect.stderr}")


def test_preempted_task_is_requeued_and_finishes(slurm, stimuli, tmp_path):
    checkpoint, files = stimuli
    out, logs = tmp_path / "out", tmp_path / "logs"
    chosen = [files[0], files[-1]]
    reporter = Reporter(stream=io.StringIO())
    # 30 min: far from the limit, so submitit takes USR2 for preemption and requeues.
    _, code = cluster.run_request(_request(checkpoint, chosen, out),
                                  _options(logs, tasks=2, time_min=30, no_wait=True), reporter)
    state_path = next(logs.glob("*_state.json"))
    victim = next(t for t in cluster.read_state(str(state_path))["tasks"]
                  if files[-1] in t["files"])
    deadline = time.monotonic() + 120
    while not (out.exists() and any(p.name.startswith(".long_") for p in _temps(out))):
        assert time.monotonic() < deadline, f"never saw long.wav being written\n{slurm.logs()}"
        time.sleep(0.05)
    slurm.run("scancel", "--signal=USR2", victim["job_id"])
    # SLURM delays a requeued job (BeginTime about 2 min ahead); the test does not wait for that.
    deadline = time.monotonic() + 60
    while "BeginTime" not in slurm.run("squeue", "-h", "-j", victim["job_id"], "-o", "%r",
                                       check=False).stdout:
        assert time.monotonic() < deadline, f"the task was not requeued\n{slurm.logs()}"
        time.sleep(0.2)
    while slurm.run("scontrol", "update", f"JobId={victim['job_id']}", "StartTime=now",
                    check=False).returncode != 0:  # refused while the old run is completing
        assert time.monotonic() < deadline, f"cannot release the requeued task\n{slurm.logs()}"
        time.sleep(0.5)
    outcomes, code = cluster.wait_for(str(state_path), reporter, poll_seconds=0.5)
    assert code == 0, reporter.stream.getvalue()
    assert [o.status for o in outcomes] == ["written", "written"]
    log = (logs / f"{victim['job_id']}_0_log.out").read_text()
    assert "Caught signal SIGUSR2" in log, log
    assert log.count(f"Starting with JobEnvironment(job_id={victim['job_id']},") == 2, log
    assert _temps(out) == []
