"""Many recordings, one model load: the work behind ``w2v-extract``.

:func:`run` takes a :class:`Request` and returns one :class:`FileOutcome` per input. Inputs whose
outputs are up to date (same audio content, model and parameters; see
:func:`w2vbackend.writers.fingerprint_inputs`) are skipped before the model is loaded; when every
input is up to date the model is never loaded. A file that fails does not stop the others.
Interruptions (KeyboardInterrupt, SIGTERM turned into an exception by the CLI) propagate after
the temporary files of the file in progress have been removed.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import traceback
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from . import __version__
from .defaults import (
    DEFAULT_CHUNK_SECONDS,
    DEFAULT_CONTEXT_SECONDS,
    DEFAULT_MODEL,
    DTYPE_NAMES,
    GROUP_NORM_MODES,
)
from .errors import UsageError, W2VError
from .layers import parse_layers
from .writers import (
    DEFAULT_BASENAME,
    FrameInfo,
    NpyStore,
    OutputLock,
    OutputPaths,
    OutputTransaction,
    derive_basenames,
    fingerprint_digest,
    fingerprint_inputs,
    is_up_to_date,
    normalize_mat_version,
    package_versions,
    prepare_output_dir,
    probe_basename,
    write_outputs,
)

DTYPES = DTYPE_NAMES

STATUS_WRITTEN = "written"
STATUS_UP_TO_DATE = "up_to_date"
STATUS_FAILED = "failed"


@dataclass
class Request:
    """One run: the inputs and every option (see ``w2v-extract --help``).

    ``context_seconds=None`` means the engine's default. ``layers``: ``"last"``, ``"all"``, an
    int, a list of ints, or a string such as ``"6,12,-1"`` (transformers numbering).
    """

    audio: list[str]
    output_dir: str = "."
    basename: str = DEFAULT_BASENAME
    model: str = DEFAULT_MODEL
    device: str = "auto"
    chunk_seconds: float = DEFAULT_CHUNK_SECONDS
    context_seconds: Optional[float] = None
    layers: Any = "last"
    dtype: str = "float32"
    revision: Optional[str] = None
    threads: Optional[int] = None
    overwrite: bool = False
    mat_version: str = "auto"
    group_norm: str = "recording"
    quiet: bool = False
    verbose: bool = False
    summary_json: Optional[str] = None


@dataclass
class FileOutcome:
    """What happened to one input. ``outputs``: kind -> absolute path or None."""

    audio: str
    basename: str
    status: str = STATUS_FAILED
    outputs: dict[str, Optional[str]] = field(default_factory=lambda: {
        "npy": None, "mat": None, "json": None, "mat_failed": None})
    error: Optional[dict[str, str]] = None
    traceback: Optional[str] = None
    mat_version: Optional[str] = None

    def fail(self, code: str, message: str, tb: Optional[str] = None) -> None:
        self.status = STATUS_FAILED
        self.error = {"code": code, "message": message}
        self.traceback = tb

    def to_json(self) -> dict[str, Any]:
        return {"audio": self.audio, "status": self.status, "basename": self.basename,
                "outputs": dict(self.outputs), "mat_version": self.mat_version,
                "error": self.error}


class Reporter:
    """Where the runner says what it does: progress bars and one-line messages on stderr."""

    def __init__(self, *, quiet: bool = False, verbose: bool = False, stream=None):
        self.quiet = quiet
        self.verbose = verbose
        self.stream = stream if stream is not None else sys.stderr
        self._overall = None

    def info(self, message: str) -> None:
        if not self.quiet:
            self._write(f"w2v-extract: {message}")

    def warning(self, message: str) -> None:
        self._write(f"w2v-extract: warning: {message}")

    def error(self, message: str, tb: Optional[str] = None) -> None:
        self._write(f"w2v-extract: error: {message}")
        if tb and self.verbose:
            self._write(tb.rstrip("\n"))

    def _write(self, line: str) -> None:
        from tqdm import tqdm

        # tqdm.write keeps open progress bars intact below the message.
        tqdm.write(line, file=self.stream)

    def start_overall(self, total_seconds: float, files: int) -> None:
        if self.quiet or files < 2:
            return
        self._overall = self._bar(total_seconds, f"{files} files", position=0)

    def file_bar(self, name: str, seconds: float):
        if self.quiet:
            return None
        return self._bar(seconds, name, position=1 if self._overall is not None else 0,
                         leave=self._overall is None)

    def advance_overall(self, seconds: float) -> None:
        if self._overall is not None:
            self._overall.update(seconds)

    def grow_overall(self, seconds: float) -> None:
        if self._overall is not None:
            self._overall.total = (self._overall.total or 0) + seconds
            self._overall.refresh()

    def close(self) -> None:
        if self._overall is not None:
            self._overall.close()
            self._overall = None

    def _bar(self, total: float, desc: str, position: int, leave: bool = True):
        from tqdm import tqdm

        interactive = hasattr(self.stream, "isatty") and self.stream.isatty()
        return tqdm(total=round(float(total), 2), desc=_short(desc, 40), unit="s audio",
                    file=self.stream, position=position, leave=leave, dynamic_ncols=True,
                    mininterval=0.2 if interactive else 10.0,
                    bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} s audio "
                               "[{elapsed}<{remaining}, {rate_fmt}]")


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1):]


@dataclass
class _Job:
    outcome: FileOutcome
    paths: OutputPaths
    digest: str = ""
    audio_sha256: str = ""
    estimated_seconds: float = 0.0


def validate_request(request: Request) -> None:
    """Raise UsageError for option values that can be checked without the model."""
    if not request.audio:
        raise UsageError("no audio files given")
    for name in ("chunk_seconds",):
        value = getattr(request, name)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0 \
                or value != value or value == float("inf"):
            raise UsageError(f"{name} must be a positive number of seconds, got {value!r}")
    if request.context_seconds is None:
        # Resolved here, before fingerprinting: a changed default recomputes old outputs.
        request.context_seconds = DEFAULT_CONTEXT_SECONDS
    value = request.context_seconds
    if (not isinstance(value, (int, float)) or isinstance(value, bool)
                              or not value >= 0 or value == float("inf")):
        raise UsageError(f"context_seconds must be >= 0 seconds, got {value!r}")
    if request.dtype not in DTYPES:
        raise UsageError(f"dtype {request.dtype!r} is not one of {', '.join(DTYPES)}")
    if request.group_norm not in GROUP_NORM_MODES:
        raise UsageError(f"group_norm {request.group_norm!r} is not one of "
                         f"{', '.join(GROUP_NORM_MODES)}")
    request.mat_version = normalize_mat_version(request.mat_version)
    threads = request.threads
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                or threads < 1):
        raise UsageError(f"threads must be a positive integer, got {threads!r}")
    if not isinstance(request.model, str) or not request.model.strip():
        raise UsageError("model must be a hub id or a folder")
    parse_layers(request.layers)  # syntax only; the range needs the model


def _fingerprint(request: Request, audio_sha256: str) -> dict[str, Any]:
    return fingerprint_inputs(
        audio_sha256=audio_sha256, model=request.model, revision=request.revision,
        layers=request.layers, chunk_seconds=request.chunk_seconds,
        context_seconds=request.context_seconds, dtype=request.dtype,
        mat_version=request.mat_version, extra={"group_norm": request.group_norm})


def _estimate_seconds(path: str) -> float:
    try:
        import soundfile

        return float(soundfile.info(path).duration)
    except Exception:
        return 0.0


def run(request: Request, reporter: Optional[Reporter] = None,
        into: Optional[list[FileOutcome]] = None) -> list[FileOutcome]:
    """Process every input of ``request``; see the module docstring. Returns one outcome per
    input, in input order; with ``into``, the outcomes are also appended to that list as soon as
    the inputs are known (so a caller that is interrupted still sees them).

    Raises UsageError (before any work) for bad options, unsafe base names, or two inputs that
    would write the same files, and after loading the model for layer indices it does not have.
    """
    reporter = reporter or Reporter(quiet=True)
    validate_request(request)
    local = os.path.expanduser(request.model)
    if os.path.isdir(local):
        # A local model is recorded by its absolute path (in the .mat, .json and fingerprint).
        request.model = os.path.abspath(local)
    audio_paths = [os.path.abspath(os.fspath(a)) for a in request.audio]
    basenames = derive_basenames(audio_paths, request.basename)
    jobs = [_Job(FileOutcome(audio=a, basename=b), OutputPaths(Path("."), b))
            for a, b in zip(audio_paths, basenames)]
    if into is not None:
        into.extend(job.outcome for job in jobs)
    try:
        folder = prepare_output_dir(request.output_dir)
        for job in jobs:
            job.paths = OutputPaths(folder, job.outcome.basename)
            probe_basename(folder, job.outcome.basename)
    except UsageError:
        raise
    except W2VError as exc:
        for job in jobs:
            job.outcome.fail(exc.code, str(exc))
        reporter.error(str(exc))
        return [job.outcome for job in jobs]

    pending = [job for job in jobs if _check_job(job, request, reporter)]
    if pending:
        loaded = _load(request, pending, reporter)
        if loaded is not None:
            for job in pending:
                job.estimated_seconds = _estimate_seconds(job.outcome.audio)
            reporter.start_overall(sum(j.estimated_seconds for j in pending), len(pending))
            try:
                for job in pending:
                    _process_job(job, request, loaded, reporter)
            finally:
                reporter.close()
    return [job.outcome for job in jobs]


def _report_failure(job: _Job, exc: BaseException, reporter: Reporter) -> None:
    tb = traceback.format_exc()
    if isinstance(exc, W2VError):
        code, message = exc.code, _one_line(str(exc))
    else:
        code, message = "backendFailed", _one_line(f"{type(exc).__name__}: {exc}")
    job.outcome.fail(code, message, tb)
    reporter.error(_with_file(job.outcome.audio, message), tb)


def _with_file(audio: str, message: str) -> str:
    """``<file>: <reason>``, unless the reason already names the file."""
    return message if os.path.basename(audio) in message else f"{audio}: {message}"


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "unknown error"


def _check_job(job: _Job, request: Request, reporter: Reporter) -> bool:
    """Hash the audio and decide whether the file needs work (True) or is done/failed."""
    from .audio import file_sha256

    try:
        job.audio_sha256 = file_sha256(job.outcome.audio)
        job.digest = fingerprint_digest(_fingerprint(request, job.audio_sha256))
        if not request.overwrite and is_up_to_date(job.paths, job.digest):
            _mark_up_to_date(job, reporter)
            return False
    except Exception as exc:
        _report_failure(job, exc, reporter)
        return False
    return True


def _mark_up_to_date(job: _Job, reporter: Reporter) -> None:
    paths = job.paths
    job.outcome.status = STATUS_UP_TO_DATE
    job.outcome.outputs = {"npy": str(paths.npy), "mat": str(paths.mat), "json": str(paths.json),
                           "mat_failed": None}
    from .writers import read_metadata

    job.outcome.mat_version = ((read_metadata(paths.json) or {}).get("outputs") or {}).get(
        "mat_version")
    reporter.info(f"{job.outcome.audio}: up to date ({paths.folder / paths.basename}.*)")


def _load(request: Request, pending: Sequence[_Job], reporter: Reporter):
    """Load the model once; on failure every pending file fails with the same error. Layer
    indices out of the model's range are a usage error for the whole run."""
    from .device import set_threads

    if not reporter.verbose:
        # transformers' and huggingface_hub's own bars and notices would mix with ours.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from transformers.utils import logging as hf_logging

    from .extract import resolve_layers
    from .model import load_model

    if not reporter.verbose:
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    try:
        set_threads(request.threads)
        loaded = load_model(request.model, revision=request.revision, device=request.device,
                            dtype=request.dtype)
    except UsageError:
        raise
    except Exception as exc:
        tb = traceback.format_exc()
        code = exc.code if isinstance(exc, W2VError) else "backendFailed"
        message = _one_line(str(exc) if isinstance(exc, W2VError)
                            else f"{type(exc).__name__}: {exc}")
        reporter.error(message, tb)
        for job in pending:
            job.outcome.fail(code, message, tb)
        return None
    resolve_layers(request.layers, loaded.num_hidden_layers)
    return loaded


def _process_job(job: _Job, request: Request, loaded, reporter: Reporter) -> None:
    try:
        with OutputLock(job.paths.lock):
            # Another run may have finished these outputs while this one loaded the model.
            if not request.overwrite and is_up_to_date(job.paths, job.digest):
                _mark_up_to_date(job, reporter)
                reporter.advance_overall(job.estimated_seconds)
                return
            _compute_and_write(job, request, loaded, reporter)
    except Exception as exc:
        _report_failure(job, exc, reporter)


def _compute_and_write(job: _Job, request: Request, loaded, reporter: Reporter) -> None:
    from .audio import AudioWarning, load_audio
    from .extract import extract

    started = time.perf_counter()
    outcome, paths = job.outcome, job.paths
    with OutputTransaction(paths) as tx:
        with warnings.catch_warnings():
            # The same caveats are in Audio.warnings; they are reported once, below.
            warnings.simplefilter("ignore", AudioWarning)
            audio = load_audio(outcome.audio, loaded.geometry.sample_rate)
        for message in audio.warnings:
            reporter.warning(message)
        if not job.estimated_seconds:
            reporter.grow_overall(audio.duration)
        store = NpyStore(tx.temp("npy"))
        bar = reporter.file_bar(os.path.basename(outcome.audio), audio.duration)
        bytes_per_second = _bytes_per_audio_second(request, loaded)
        done = [0.0]

        def progress(seconds: float) -> None:
            step = max(0.0, seconds - done[0])
            done[0] = seconds
            store.note_progress(seconds, bytes_per_second)
            if bar is not None:
                bar.update(round(step, 2))
            reporter.advance_overall(step)

        context = request.context_seconds
        try:
            result = extract(audio, model=loaded, layers=request.layers,
                             chunk_seconds=request.chunk_seconds, context_seconds=context,
                             allocate=store.allocate, progress=progress,
                             group_norm=request.group_norm)
        finally:
            if bar is not None:
                bar.close()
        store.adopt(result.embeddings)
        info = FrameInfo(shape=tuple(result.embeddings.shape), time_axis=result.time_axis,
                         layers=tuple(int(v) for v in result.layers),
                         sample_rate=int(result.sample_rate),
                         frame_stride=float(result.frame_stride),
                         receptive_field=float(result.receptive_field),
                         frame_center_offset=float(result.frame_center_offset),
                         model_name=str(loaded.name))
        engine = dict(result.metadata)
        del result  # the map is closed before its file is renamed (required on Windows)
        # The fingerprint as it is now (the model's cache entry exists once it is loaded); the
        # audio was hashed once, before the work.
        inputs = _fingerprint(request, job.audio_sha256)
        run_fields = _run_fields(request, loaded, audio, job.audio_sha256, engine, started)
        del audio  # the whole waveform is not needed while the files are written
        written = write_outputs(tx, store, info, mat_version=request.mat_version, run=run_fields,
                                fingerprint={"sha256": fingerprint_digest(inputs),
                                             "inputs": inputs})
    outcome.status = STATUS_WRITTEN
    outcome.mat_version = written.mat_version
    outcome.outputs = {"npy": str(written.npy), "json": str(written.json),
                       "mat": str(written.mat) if written.mat else None,
                       "mat_failed": str(written.mat_failed) if written.mat_failed else None}
    if written.mat_failed_reason:
        reporter.warning(f"{outcome.audio}: no MAT-file written ({written.mat_failed_reason}); "
                         f"see {written.mat_failed}")
    mat = f", {paths.basename}.mat (v{written.mat_version})" if written.mat else ""
    reporter.info(f"wrote {paths.folder / paths.basename}.npy{mat}, {paths.basename}.json")


def _bytes_per_audio_second(request: Request, loaded) -> float:
    geometry = loaded.geometry
    frames_per_second = geometry.sample_rate / geometry.stride
    with contextlib.suppress(Exception):
        from .extract import resolve_layers

        resolved = resolve_layers(request.layers, loaded.num_hidden_layers)
        count = 1 if resolved is None else len(resolved)
        return 4.0 * frames_per_second * loaded.hidden_size * count
    return 4.0 * frames_per_second * loaded.hidden_size


def _run_fields(request: Request, loaded, audio, sha: str, engine: dict, started: float
                ) -> dict[str, Any]:
    """The .json fields that come from the request, the model, the audio and the engine."""
    return {
        "audio": {
            "path": audio.path,
            "sha256": sha,
            "duration_s": audio.duration,
            "num_samples": int(audio.waveform.shape[0]),
            "sample_rate": int(audio.sample_rate),
            "original_sample_rate": int(audio.original_sample_rate),
            "original_channels": int(audio.original_channels),
            "original_num_samples": int(audio.original_num_samples),
            "reader": audio.reader,
            "warnings": list(audio.warnings),
        },
        "model": {
            "name": loaded.name,
            "revision": loaded.revision,
            "commit_hash": loaded.commit_hash,
            "model_type": engine.get("model_type"),
            "num_hidden_layers": loaded.num_hidden_layers,
            "hidden_size": loaded.hidden_size,
            "do_normalize": loaded.do_normalize,
        },
        "device": engine.get("device", str(loaded.device)),
        "dtype": engine.get("dtype", request.dtype),
        "output_dtype": "float32",
        "threads": request.threads,
        "chunk_seconds": engine.get("chunk_seconds", request.chunk_seconds),
        "context_seconds": engine.get("context_seconds", request.context_seconds),
        "chunk_frames": engine.get("chunk_frames"),
        "context_frames": engine.get("context_frames"),
        "num_windows": engine.get("num_windows"),
        "group_norm": engine.get("group_norm"),
        "stride_samples": engine.get("stride_samples", loaded.geometry.stride),
        "receptive_field_samples": engine.get("receptive_field_samples",
                                              loaded.geometry.receptive_field),
        "normalisation": {"mean": engine.get("normalisation_mean"),
                          "std": engine.get("normalisation_std"),
                          "applied": engine.get("normalisation_mean") is not None},
        "package_versions": package_versions(),
        "wall_time_s": time.perf_counter() - started,
        "engine_wall_time_s": engine.get("wall_time"),
    }


def summary_document(outcomes: Sequence[FileOutcome], exit_code: int,
                     error: Optional[dict[str, str]] = None) -> dict[str, Any]:
    """The ``--summary-json`` document."""
    return {"ok": exit_code == 0, "exit_code": exit_code, "version": __version__,
            "error": error, "files": [o.to_json() for o in outcomes]}


def exit_code_for(outcomes: Sequence[FileOutcome]) -> int:
    """0 when every input was written or up to date, else 1."""
    return 0 if all(o.status != STATUS_FAILED for o in outcomes) else 1

