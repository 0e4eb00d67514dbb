"""Many inputs: a shard of them here (``--shard``), or one SLURM job array over them
(``--cluster slurm``, through submitit), with progress and one summary of every file.

:func:`run_request` is the whole flow; the command line calls it with the options of
:mod:`w2vbackend.cluster_options`.

Submission: the inputs are split by audio duration (:mod:`w2vbackend.shard`) into ``--tasks``
shards, and ``AutoExecutor(folder=<log dir>).map_array`` submits one array task per shard; each
task runs :class:`w2vbackend.cluster_task.ShardTask` (one model load, the usual up-to-date check,
temporary files and locks; requeued by submitit on preemption or time limit). A state file
``<log dir>/<job id>_state.json`` records the request, the shards and the task ids, so that
``--wait STATE`` can collect later.

Job states are read without accounting (``sacct``, which submitit's own watcher calls, fails on
clusters without accounting storage): a task is finished when submitit's result pickle
``<id>_0_result.pkl`` exists, or when ``squeue`` no longer lists it (then ``scontrol show job``
gives its final state if SLURM still remembers it). Files that a task finished are read from its
``<id>_outcomes.jsonl``; the other files of a task that died (time limit, node failure,
``scancel``) are reported failed with the path of its log.

Ctrl-C while waiting leaves the array running (nothing is lost or cancelled; the tasks may be
long) and prints how to collect it (``--wait STATE``) and how to cancel it (``scancel ID``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

from .cluster_options import DEFAULT_LOG_DIR, DEFAULT_TASKS, ClusterOptions
from .cluster_task import (
    ShardTask,
    outcome_from_json,
    outcomes_path,
    read_outcomes,
    shard_request,
)
from .errors import UsageError, W2VError
from .shard import parse_shard, select_shard, split_paths

STATE_VERSION = 1
# The status of a file whose task has not finished yet (--no-wait, or Ctrl-C while waiting).
STATUS_SUBMITTED = "submitted"
EXIT_INTERRUPTED = 128 + int(signal.SIGINT)
POLL_SECONDS = 2.0
# A task that squeue no longer lists may still be writing its result pickle (shared file
# systems lag); it is declared dead only after this many polls without either.
_GRACE_POLLS = 2


class ClusterError(W2VError):
    """The scheduler refused or could not be reached (CLI exit code 1)."""

    code = "clusterFailed"


def run_request(request, options: ClusterOptions, reporter) -> tuple[list, int]:
    """Run ``request`` as ``options`` say: one shard here, a job array, or a local run.

    Returns (one :class:`~w2vbackend.runner.FileOutcome` per input, exit code as the command
    line's: 0 all written or up to date, 1 some failed, 130 interrupted while waiting).
    """
    from .runner import exit_code_for, run

    if options.wait is not None:
        return wait_for(options.wait, reporter)
    if options.cluster is not None:
        return submit(request, options, reporter)
    if options.shard is not None:
        shard = parse_shard(options.shard)
        all_paths = [os.path.abspath(os.fspath(a)) for a in request.audio]
        files = select_shard(all_paths, shard)
        reporter.info(f"shard {shard}: {len(files)} of {len(all_paths)} file(s)")
        if not files:
            return [], 0
        request = shard_request(request, all_paths, files)
    outcomes = run(request, reporter)
    return outcomes, exit_code_for(outcomes)


# ------------------------------------------------------------------------------------------
# Submission


def _executor(folder: Path, options: ClusterOptions, tasks: int):
    import submitit

    executor = submitit.AutoExecutor(folder=folder, cluster=options.cluster)
    parameters: dict[str, Any] = {"timeout_min": options.time_min, "name": "w2v-extract",
                                  "slurm_array_parallelism": options.array_parallelism or tasks}
    for key, value in (("slurm_partition", options.partition),
                       ("gpus_per_node", options.gpus_per_node),
                       ("cpus_per_task", options.cpus_per_task),
                       ("mem_gb", options.mem_gb)):
        if value is not None:
            parameters[key] = value
    if options.sbatch:
        parameters["slurm_additional_parameters"] = dict(options.sbatch)
    executor.update_parameters(**parameters)
    return executor


def submit(request, options: ClusterOptions, reporter) -> tuple[list, int]:
    """Submit one job array over ``request.audio``; wait for it unless ``--no-wait``."""
    from .names import derive_basenames

    # The request is checked and resolved (absolute paths); clashing names are a usage error
    # here, not in every task.
    all_paths = list(request.audio)
    derive_basenames(all_paths, request.basename)
    count = min(options.tasks or min(len(all_paths), DEFAULT_TASKS), len(all_paths))
    shards = split_paths(all_paths, count)
    folder = Path(options.log_dir or os.path.join(request.output_dir, DEFAULT_LOG_DIR)).absolute()
    folder.mkdir(parents=True, exist_ok=True)
    fields = dataclasses.asdict(request)
    fields["audio"] = []
    try:
        executor = _executor(folder, options, count)
        jobs = executor.map_array(ShardTask(), [fields] * count, [all_paths] * count, shards,
                                  [str(folder)] * count)
    except UsageError:
        raise
    except Exception as exc:
        raise ClusterError(f"submission to {options.cluster} failed: {_one_line(exc)}") from None
    array_id = jobs[0].job_id.split("_")[0]
    state = {"version": STATE_VERSION, "job_id": array_id, "folder": str(folder),
             "submitted": time.time(), "audio": all_paths, "request": fields,
             "tasks": [{"job_id": job.job_id, "files": files} for job, files in zip(jobs, shards)]}
    state_path = folder / f"{array_id}_state.json"
    _write_json(state_path, state)
    try:  # from here on, Ctrl-C leaves the array running (module docstring)
        reporter.info(f"submitted job {array_id}: {count} task(s) over {len(all_paths)} "
                      f"file(s); logs in {folder}")
        if options.no_wait:
            reporter.info(f"collect with: w2v-extract --wait {shlex.quote(str(state_path))}")
            print(json.dumps({"job_id": array_id, "state": str(state_path)}), flush=True)
            outcomes = _Collector(state, reporter).results()
            for outcome in outcomes:
                outcome.status = STATUS_SUBMITTED
            return outcomes, 0
    except BaseException as exc:
        if not _is_interrupt(exc):
            raise
        return _left_running(_Collector(state, reporter), str(state_path), exc)
    return wait_for(str(state_path), reporter)


def _write_json(path: Path, document: dict[str, Any]) -> None:
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temp.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    os.replace(temp, path)


def _one_line(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())


# ------------------------------------------------------------------------------------------
# Waiting and collecting


def read_state(path: str) -> dict[str, Any]:
    try:
        state = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the state file ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise UsageError(f"{path}: the state file is not valid JSON ({exc})") from None
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
        raise UsageError(f"{path}: not a w2v-extract state file (version {STATE_VERSION})")
    return state


def queued_tasks(array_id: str) -> Optional[dict[str, str]]:
    """task id (``<array>_<index>``, or the job id of a one-task job) -> state, for the tasks
    SLURM still lists; None when squeue cannot be asked."""
    try:
        result = subprocess.run(["squeue", "-h", "-r", "-j", str(array_id), "-o", "%i|%T"],
                                capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        # squeue refuses a job id it has forgotten ("Invalid job id"): nothing queued.
        return {} if "Invalid job id" in result.stderr else None
    listed = {}
    for line in result.stdout.splitlines():
        task, _, status = line.strip().partition("|")
        if task:
            listed[task] = status
    return listed


def final_state(task_id: str) -> str:
    """SLURM's last word on a task that has left the queue (``scontrol show job``), or
    ``"ended"`` once SLURM has forgotten it."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        text = subprocess.run(["scontrol", "show", "job", task_id], capture_output=True,
                              text=True, timeout=60).stdout
        match = re.search(r"JobState=(\S+)(?:\s+Reason=(\S+))?", text)
        if match:
            reason = match.group(2)
            return match.group(1) + (f" ({reason})" if reason and reason != "None" else "")
    return "ended"


def _paths(folder: str, task_id: str):
    from submitit.core.utils import JobPaths

    return JobPaths(folder, job_id=task_id, task_id=0)


def _task_result(folder: str, task_id: str) -> Optional[tuple[str, Any]]:
    pickle = _paths(folder, task_id).result_pickle
    if not pickle.exists():
        return None
    from submitit.core.utils import pickle_load

    for _ in range(3):
        with contextlib.suppress(EOFError, OSError):
            return pickle_load(pickle)
        time.sleep(1)
    return ("error", f"cannot read {pickle}")


class _Collector:
    """Everything known about one submitted array; :meth:`poll` advances it."""

    def __init__(self, state: dict[str, Any], reporter):
        self.state = state
        self.folder = state["folder"]
        self.reporter = reporter
        self.outcomes: dict[str, Any] = {}
        self.pending = {t["job_id"]: list(t["files"]) for t in state["tasks"]}
        self.absent = dict.fromkeys(self.pending, 0)
        self.total = len(state["audio"])
        from .names import derive_basenames

        self.names = dict(zip(state["audio"], derive_basenames(
            state["audio"], state["request"]["basename"])))

    def _note(self, data: dict[str, Any], task_id: str) -> None:
        if data["audio"] in self.outcomes:
            return
        outcome = outcome_from_json(data)
        self.outcomes[outcome.audio] = outcome
        what = outcome.status.replace("_", " ")
        if outcome.error:
            what += f": {outcome.error.get('message')}"
        self.reporter.info(f"[{len(self.outcomes)}/{self.total}] {outcome.audio}: {what} "
                           f"(task {task_id})")

    def poll(self) -> bool:
        """One look at every unfinished task; True when all are finished."""
        listed = queued_tasks(self.state["job_id"]) if self.pending else {}
        for task_id, files in list(self.pending.items()):
            for data in read_outcomes(outcomes_path(self.folder, task_id)).values():
                self._note(data, task_id)
            result = _task_result(self.folder, task_id)
            if result is None and listed is not None and task_id not in listed:
                self.absent[task_id] += 1
                if self.absent[task_id] > _GRACE_POLLS:
                    result = ("dead", final_state(task_id))
            if result is not None:
                self._finish(task_id, files, result)
        return not self.pending

    def _finish(self, task_id: str, files: list[str], result: tuple[str, Any]) -> None:
        kind, value = result
        if kind == "success":
            for data in value:
                self._note(data, task_id)
        log = _paths(self.folder, task_id).stderr
        if kind == "dead":
            why = f"task {task_id} ended before this file was finished ({value}); see {log}"
        else:
            last = [ln for ln in str(value).strip().splitlines() if ln.strip()][-1:] or ["?"]
            why = f"task {task_id} failed ({last[0].strip()}); see {log}"
        for path in files:
            if path not in self.outcomes:
                self._note({"audio": path, "basename": self.names[path], "status": "failed",
                            "error": {"code": "clusterTaskFailed", "message": why}}, task_id)
        del self.pending[task_id]

    def results(self) -> list:
        from .runner import FileOutcome

        return [self.outcomes.get(path) or FileOutcome(audio=path, basename=self.names[path])
                for path in self.state["audio"]]


def wait_for(state_path: str, reporter, poll_seconds: float = POLL_SECONDS
             ) -> tuple[list, int]:
    """Wait for the array of ``state_path`` and gather every file's outcome (module docstring)."""
    from .runner import exit_code_for

    state = read_state(state_path)
    collector = _Collector(state, reporter)
    try:
        reporter.info(f"waiting for job {state['job_id']} ({len(state['tasks'])} task(s), "
                      f"{collector.total} file(s)); Ctrl-C leaves it running")
        while not collector.poll():
            time.sleep(poll_seconds)
    except BaseException as exc:
        if not _is_interrupt(exc):
            raise
        return _left_running(collector, state_path, exc)
    outcomes = collector.results()
    return outcomes, exit_code_for(outcomes)


def _is_interrupt(exc: BaseException) -> bool:
    """Ctrl-C, or the command line's SIGTERM/SIGHUP exception (it carries ``signum``)."""
    return isinstance(exc, KeyboardInterrupt) or hasattr(exc, "signum")


def unfinished(outcomes: Sequence) -> bool:
    """True when some files are still with the scheduler (their status is "submitted")."""
    return any(o.status == STATUS_SUBMITTED for o in outcomes)


def _left_running(collector: _Collector, state_path: str, exc: BaseException
                  ) -> tuple[list, int]:
    job = collector.state["job_id"]
    quoted = shlex.quote(str(state_path))
    message = (f"job {job} left running: collect with: w2v-extract --wait {quoted}; "
               f"cancel with: scancel {job}")
    collector.reporter.warning(message)
    outcomes = collector.results()
    for outcome in outcomes:
        if outcome.status == "failed" and outcome.error is None:
            outcome.status = STATUS_SUBMITTED
    signum = getattr(exc, "signum", int(signal.SIGINT))
    return outcomes, (EXIT_INTERRUPTED if signum == signal.SIGINT else 128 + int(signum))

