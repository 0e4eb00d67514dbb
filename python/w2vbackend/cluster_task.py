"""What one task of a job array runs: its shard of the inputs, with one model load.

:class:`ShardTask` is what submitit pickles and calls on the compute node. It calls
:func:`w2vbackend.runner.run` on the shard and, while it works, appends each file's outcome as one
JSON line to ``<log dir>/<job id>_outcomes.jsonl`` as soon as the file is finished, so that the
submitting side can show progress, and knows which files were done when a task is killed.

Signals: SIGTERM (scancel, the time limit) stops the task after the temporary files of the file
in progress are removed. Preemption and the approaching time limit (submitit's signal, USR2 by
default, 90 s before the limit) requeue the task through submitit's checkpointing: the task starts
again with the same shard, and the files already written are skipped as up to date. After
``max_num_timeout`` (3) requeues for time, or where the task cannot be requeued, it stops as for
SIGTERM.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

from submitit.helpers import Checkpointable

OUTCOMES_SUFFIX = "_outcomes.jsonl"


class TaskTerminated(BaseException):
    """SIGTERM in a task (scancel, time limit): raised so that temporary files are removed.
    A BaseException, like KeyboardInterrupt, so that the runner stops instead of reporting the
    file failed and going on with the next."""


def shard_request(request, all_paths: Sequence[str], subset: Sequence[str]):
    """A copy of ``request`` for ``subset`` of ``all_paths`` that writes the same output names
    as a run over all of them (``<stem>_<basename>`` whenever there are several inputs)."""
    from .names import derive_basenames

    names = dict(zip(all_paths, derive_basenames(all_paths, request.basename)))
    part = dataclasses.replace(request, audio=tuple(subset))
    if len(subset) == 1 and len(all_paths) > 1:
        part = dataclasses.replace(part, basename=names[subset[0]])
    return part


def outcomes_path(folder: str | os.PathLike, job_id: str) -> Path:
    return Path(folder) / f"{job_id}{OUTCOMES_SUFFIX}"


def outcome_from_json(data: dict[str, Any]):
    """A :class:`~w2vbackend.runner.FileOutcome` from its ``to_json()`` form."""
    from .runner import FileOutcome

    outcome = FileOutcome(audio=data["audio"], basename=data["basename"])
    outcome.status = data.get("status", outcome.status)
    outcome.outputs = dict(data.get("outputs") or outcome.outputs)
    outcome.error = data.get("error")
    outcome.mat_version = data.get("mat_version")
    return outcome


def read_outcomes(path: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """audio path -> outcome JSON from an outcomes file (missing file: empty; a torn last line
    from a killed task is ignored)."""
    found: dict[str, dict[str, Any]] = {}
    with contextlib.suppress(OSError), open(path, encoding="utf-8") as stream:
        for line in stream:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                data = json.loads(line)
                found[data["audio"]] = data
    return found


def _finished(outcome) -> bool:
    from .runner import STATUS_FAILED

    return outcome.status != STATUS_FAILED or outcome.error is not None


class _RecordingReporter:
    """Wraps a Reporter: after every message the runner gives (it gives one whenever a file is
    finished, once its outcome is complete), newly finished outcomes are appended to the file."""

    def __init__(self, reporter, outcomes: list, path: Optional[Path]):
        self._reporter = reporter
        self._outcomes = outcomes
        self._path = path
        self._recorded: set[int] = set()

    def __getattr__(self, name: str):
        return getattr(self._reporter, name)

    def info(self, message: str) -> None:
        self._reporter.info(message)
        self.record()

    def warning(self, message: str) -> None:
        self._reporter.warning(message)
        self.record()

    def error(self, message: str, tb: Optional[str] = None) -> None:
        self._reporter.error(message, tb)
        self.record()

    def record(self) -> None:
        lines = []
        for i, outcome in enumerate(self._outcomes):
            if i not in self._recorded and _finished(outcome):
                self._recorded.add(i)
                lines.append(json.dumps(outcome.to_json()) + "\n")
        if lines and self._path is not None:
            with open(self._path, "a", encoding="utf-8") as stream:
                stream.write("".join(lines))
                stream.flush()
                os.fsync(stream.fileno())


def _raise_terminated(signum, frame) -> None:
    signal.signal(signum, signal.SIG_IGN)  # one exception; the cleanup must not be interrupted
    raise TaskTerminated(f"task stopped by {signal.Signals(signum).name} (scancel, time limit "
                         "or node shutdown)")


def _stop_instead_of_failing_the_file(signum: int) -> None:
    """Wrap submitit's preemption handler: its "not requeued" exception becomes TaskTerminated,
    which the runner does not take for a failure of the file in progress."""
    original = signal.getsignal(signum)
    if not callable(original):
        return

    def handler(number, frame):
        try:
            original(number, frame)
        except Exception as exc:
            raise TaskTerminated(f"task stopped by {signal.Signals(number).name}: {exc}") from exc

    signal.signal(signum, handler)


class ShardTask(Checkpointable):
    """The callable submitted per shard; checkpointing (requeue on preemption or time limit)
    resubmits it with the same arguments (see the module docstring)."""

    def __call__(self, request_fields: dict[str, Any], all_paths: list[str], files: list[str],
                 folder: str) -> list[dict[str, Any]]:
        return run_shard(request_fields, all_paths, files, folder)


def run_shard(request_fields: dict[str, Any], all_paths: list[str], files: list[str],
              folder: str) -> list[dict[str, Any]]:
    """Process ``files`` (this task's shard of ``all_paths``) with the options in
    ``request_fields`` (a :class:`~w2vbackend.runner.Request` as a dict). Returns each file's
    outcome as JSON, in input order; submitit stores it as the task's result."""
    from .device import sanitize_thread_env

    sanitize_thread_env()
    from .progress import Reporter
    from .request import Request
    from .runner import run

    job_id = os.environ.get("SLURM_ARRAY_JOB_ID")
    job_id = (f"{job_id}_{os.environ.get('SLURM_ARRAY_TASK_ID')}" if job_id
              else os.environ.get("SLURM_JOB_ID", f"pid{os.getpid()}"))
    with contextlib.suppress(ValueError, OSError, AttributeError, KeyError):
        signal.signal(signal.SIGTERM, _raise_terminated)  # submitit ignores it; we clean up
        name = os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2")
        _stop_instead_of_failing_the_file(signal.Signals[f"SIG{name}"])
    request = dataclasses.replace(shard_request(Request(**request_fields), all_paths, files),
                                  summary_json=None)
    outcomes: list = []
    reporter = _RecordingReporter(Reporter(quiet=request.quiet, verbose=True), outcomes,
                                  outcomes_path(folder, job_id))
    if files:
        reporter.info(f"task {job_id}: {len(files)} file(s)")
        run(request, reporter, into=outcomes)
    reporter.record()
    return [o.to_json() for o in outcomes]
