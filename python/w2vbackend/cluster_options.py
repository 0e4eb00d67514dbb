"""The options for many inputs: ``--files-from``, ``--shard`` and SLURM submission (``--cluster``).

Torch-free and independent of the rest of the command line: :func:`add_arguments` adds them to
an argparse parser, :func:`take_options` removes them from the parsed namespace (and from a
``--request`` file's keys) into a :class:`ClusterOptions`, and :mod:`w2vbackend.cluster` acts on
them.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Optional

from .errors import UsageError
from .file_list import read_file_list

CLUSTERS = ("slurm",)
DEFAULT_TASKS = 16
DEFAULT_TIME_MIN = 60
DEFAULT_LOG_DIR = "w2v-slurm"


@dataclass
class ClusterOptions:
    """What ``--files-from``, ``--shard`` and the submission options asked for (see --help)."""

    files_from: Optional[str] = None
    shard: Optional[str] = None
    cluster: Optional[str] = None
    tasks: Optional[int] = None
    partition: Optional[str] = None
    gpus_per_node: Optional[int] = None
    cpus_per_task: Optional[int] = None
    mem_gb: Optional[float] = None
    time_min: int = DEFAULT_TIME_MIN
    array_parallelism: Optional[int] = None
    sbatch: dict[str, Any] = field(default_factory=dict)
    log_dir: Optional[str] = None
    no_wait: bool = False
    wait: Optional[str] = None

    @property
    def submits(self) -> bool:
        """True when this run submits a job array or collects one."""
        return self.cluster is not None or self.wait is not None


KEYS = tuple(f.name for f in fields(ClusterOptions))


def add_arguments(parser: argparse.ArgumentParser,
                  default: Callable[[Any], Any] = lambda value: value) -> None:
    """Add the options to ``parser``; ``default`` maps each default (e.g. to argparse.SUPPRESS)."""
    inputs = parser.add_argument_group(
        "many inputs", "inputs from a list, and one shard of them per job-array task")
    inputs.add_argument(
        "--files-from", metavar="FILE", default=default(None),
        help="read input paths from FILE, one per line ('-' = standard input); blank lines and "
             "lines starting with # are skipped; relative paths are relative to the current "
             "folder; added after any AUDIO given on the command line")
    inputs.add_argument(
        "--shard", metavar="K/N", default=default(None),
        help="process only shard K of N (K = 0..N-1) of the inputs, split by audio duration; "
             "'auto' reads the SLURM job-array task (SLURM_ARRAY_TASK_ID, _MIN, _COUNT); the "
             "split is the same in every task, so each input is processed by exactly one "
             "task")
    slurm = parser.add_argument_group(
        "cluster submission", "submit one SLURM job array over the inputs (through submitit) "
        "and gather its outcome; each task loads the model once")
    slurm.add_argument("--cluster", choices=CLUSTERS, default=default(None),
                       help="submit to this scheduler instead of running here")
    slurm.add_argument("--tasks", type=int, metavar="N", default=default(None),
                       help=f"number of array tasks (default: one per input, at most "
                            f"{DEFAULT_TASKS})")
    slurm.add_argument("--partition", default=default(None),
                       help="SLURM partition (default: the cluster's)")
    slurm.add_argument("--gpus-per-node", type=int, metavar="N", default=default(None),
                       help="GPUs per task")
    slurm.add_argument("--cpus-per-task", type=int, metavar="N", default=default(None),
                       help="CPU cores per task")
    slurm.add_argument("--mem-gb", type=float, metavar="GB", default=default(None),
                       help="memory per task in GB (default: the partition's)")
    slurm.add_argument("--time-min", type=int, metavar="MIN", default=default(DEFAULT_TIME_MIN),
                       help=f"time limit per task in minutes (default: {DEFAULT_TIME_MIN})")
    slurm.add_argument("--array-parallelism", type=int, metavar="N", default=default(None),
                       help="at most N tasks run at once (sbatch --array=...%%N; default: "
                            "all)")
    slurm.add_argument("--sbatch", action="append", metavar="KEY=VALUE", default=default(None),
                       help="extra sbatch option, repeatable: --sbatch account=lab "
                            "--sbatch qos=high --sbatch exclusive")
    slurm.add_argument("--log-dir", metavar="DIR", default=default(None),
                       help=f"folder for the job's scripts, logs, results and state file, "
                            f"visible from the compute nodes (default: "
                            f"<output-dir>/{DEFAULT_LOG_DIR})")
    slurm.add_argument("--no-wait", action="store_true", default=default(False),
                       help="return after submission, printing the job id and the state file "
                            "to give to --wait")
    slurm.add_argument("--wait", metavar="STATE", default=default(None),
                       help="wait for the job array of this state file (from --no-wait or an "
                            "interrupted wait) and gather its outcome; no AUDIO needed"
                            "")


def _positive_int(key: str, value: Any, minimum: int = 1) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or float(value) != int(value) or value < minimum:
        what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise UsageError(f"{key.replace('_', '-')} must be {what}, got {value!r}")
    return int(value)


def _sbatch_pairs(value: Any) -> dict[str, Any]:
    """``["account=lab", "exclusive"]`` or ``{"account": "lab"}`` as sbatch key -> value."""
    if value is None or value == []:
        return {}
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        items = [([*v.split("=", 1), True])[:2] for v in value]
    else:
        raise UsageError(f"sbatch must be KEY=VALUE strings or an object, got {value!r}")
    pairs = {}
    for key, item in items:
        key = str(key).strip().lstrip("-")
        if not key:
            raise UsageError(f"sbatch: empty option name in {value!r}")
        pairs[key] = item
    return pairs


def options_from(values: dict[str, Any]) -> ClusterOptions:
    """Checked options from parsed values (argparse or a request file; MATLAB's ``[]`` = unset)."""
    values = {k: (None if v == [] and k != "sbatch" else v) for k, v in values.items()}
    unknown = sorted(set(values) - set(KEYS))
    if unknown:  # pragma: no cover - callers pass only KEYS
        raise UsageError(f"unknown option(s): {', '.join(unknown)}")
    options = ClusterOptions()
    for key in ("files_from", "shard", "cluster", "partition", "log_dir", "wait"):
        value = values.get(key)
        if value is not None and not (isinstance(value, str) and value):
            raise UsageError(f"{key.replace('_', '-')} must be a non-empty string, got {value!r}")
        setattr(options, key, value)
    for key in ("tasks", "cpus_per_task", "array_parallelism"):
        setattr(options, key, _positive_int(key, values.get(key)))
    options.gpus_per_node = _positive_int("gpus_per_node", values.get("gpus_per_node"), 0)
    options.time_min = _positive_int("time_min", values.get("time_min", DEFAULT_TIME_MIN)) \
        or DEFAULT_TIME_MIN
    mem = values.get("mem_gb")
    if mem is not None and (isinstance(mem, bool) or not isinstance(mem, (int, float))
                            or not mem > 0 or not math.isfinite(mem)):
        raise UsageError(f"mem-gb must be a positive number of GB, got {mem!r}")
    options.mem_gb = None if mem is None else float(mem)
    no_wait = values.get("no_wait", False)
    if not isinstance(no_wait, bool):
        raise UsageError(f"no-wait must be true or false, got {no_wait!r}")
    options.no_wait = no_wait
    options.sbatch = _sbatch_pairs(values.get("sbatch"))
    if options.cluster is not None and options.cluster not in CLUSTERS:
        raise UsageError(f"cluster must be one of {', '.join(CLUSTERS)}, got {options.cluster!r}")
    _check_combination(options)
    return options


def _check_combination(options: ClusterOptions) -> None:
    if options.shard is not None and options.submits:
        raise UsageError("--shard is for tasks of your own sbatch array; --cluster and --wait "
                         "split the inputs themselves")
    if options.wait is not None and options.cluster is not None:
        raise UsageError("--wait collects an array already submitted; do not give --cluster")
    if options.no_wait and options.cluster is None:
        raise UsageError("--no-wait needs --cluster")


def take_options(namespace: dict[str, Any]) -> ClusterOptions:
    """Remove the options of this module from ``namespace`` (argparse's ``vars``, possibly merged
    with a request file) and return them checked; ``--files-from``'s paths are appended to
    ``namespace["audio"]``."""
    options = options_from({key: namespace.pop(key) for key in KEYS if key in namespace})
    if options.files_from is not None:
        namespace["audio"] = list(namespace.get("audio") or []) + read_file_list(
            options.files_from)
        if not namespace["audio"]:
            raise UsageError(f"{options.files_from}: the file list names no files")
    return options
