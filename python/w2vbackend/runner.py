"""Many recordings, one model load: the work behind ``w2v-extract``.

:func:`run` takes a :class:`~w2vbackend.request.Request` and returns one :class:`FileOutcome` per
input. Inputs whose outputs are up to date (same audio content, model and parameters; see
:mod:`w2vbackend.fingerprint`) are skipped before the model is loaded; when every input is up to
date the model is never loaded. With a target rate (or TR) each input's resampled set
``B_<rate>Hz.*`` is written after its embeddings (:mod:`w2vbackend.retime_step`); an input whose
embeddings are up to date and whose set is not is only resampled, without the model, and the
``--cnd`` file is written over all inputs at the end. A file that fails does not stop the
others. Interruptions (KeyboardInterrupt, SIGTERM turned into an exception by the CLI) propagate
after the temporary files of the file in progress have been removed.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from . import __version__
from .errors import UsageError, W2VError, printable
from .fingerprint import fingerprint_digest, fingerprint_inputs, is_up_to_date, read_metadata
from .lock import OutputLock
from .names import OutputPaths, derive_basenames
from .npystore import NpyStore
from .outdir import output_error, prepare_output_dir, probe_basename
from .outputs import write_outputs
from .prefetch import Prefetcher
from .progress import Reporter
from .request import Request, settings_of
from .retime_step import settings_of as retime_settings_of
from .retime_step import up_to_date_entry, write_run_cnd, write_step
from .stages import StageTimes, recording, stage
from .transaction import OutputTransaction, remove_stale_temps

STATUS_WRITTEN = "written"
STATUS_UP_TO_DATE = "up_to_date"
STATUS_FAILED = "failed"
# Decode and resample the next input in a background thread while the model computes the
# current one (w2vbackend.prefetch); False runs every step in turn.
PREFETCH = True


@dataclass
class FileOutcome:
    """What happened to one input. ``outputs``: kind -> absolute path or None; ``resampled``:
    None, or the resampled set's ``npy``, ``mat``, ``json`` paths, ``fs`` and ``grid_start``."""

    audio: str
    basename: str
    status: str = STATUS_FAILED
    outputs: dict[str, Any] = field(default_factory=lambda: {
        "npy": None, "mat": None, "json": None, "mat_failed": None, "resampled": None})
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


@dataclass
class _Job:
    outcome: FileOutcome
    paths: OutputPaths
    digest: str = ""
    audio_sha256: str = ""
    estimated_seconds: float = 0.0
    native_ok: bool = False     # B.* up to date: only the resampled set is missing
    retimed: Optional[dict[str, Any]] = None  # the resampled set's entry, once on disk
    inputs: dict[str, Any] = field(default_factory=dict)
    times: StageTimes = field(default_factory=StageTimes)


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

    Raises UsageError (before any work) for unsafe base names or two inputs that would write the
    same files, and after loading the model for layer indices it does not have.
    """
    reporter = reporter or Reporter(quiet=True)
    basenames = derive_basenames(request.audio, request.basename)
    jobs = [_Job(FileOutcome(audio=a, basename=b), OutputPaths(Path("."), b))
            for a, b in zip(request.audio, basenames)]
    if into is not None:
        into.extend(job.outcome for job in jobs)
    try:
        folder = prepare_output_dir(request.output_dir)
        for job in jobs:
            job.paths = OutputPaths(folder, job.outcome.basename)
            probe_basename(folder, job.outcome.basename)
        _refuse_overwriting_inputs(jobs)
    except UsageError:
        raise
    except W2VError as exc:
        for job in jobs:
            job.outcome.fail(exc.code, str(exc))
        reporter.error(str(exc))
        return [job.outcome for job in jobs]

    pending = [job for job in jobs if _check_job(job, request, reporter)]
    needs_model = [job for job in pending if not job.native_ok]
    loaded = None
    if needs_model:
        loaded = _load(request, needs_model, reporter)
        if loaded is None:
            pending = [job for job in pending if job.native_ok]
    if pending:
        for job in pending:
            if not job.native_ok:
                job.estimated_seconds = _estimate_seconds(job.outcome.audio)
        reporter.start_overall(sum(j.estimated_seconds for j in pending), len(pending))
        # The next file that needs the model is decoded while the model runs.
        prefetch = Prefetcher(pending, lambda job: _read_audio(job, loaded), enabled=PREFETCH)
        try:
            for job in pending:
                _process_job(job, request, loaded, reporter, prefetch)
                prefetch.skip(job)  # not taken (up to date, or failed before reading)
        finally:
            prefetch.close()
            reporter.close()
    if request.cnd is not None:
        _write_cnd(request, jobs, reporter)
    return [job.outcome for job in jobs]


def _write_cnd(request: Request, jobs: Sequence[_Job], reporter: Reporter) -> None:
    """One CND file over every input; none (and the file left as it was) when one failed."""
    missing = [job for job in jobs if job.retimed is None]
    if missing:
        reporter.error(f"{printable(request.cnd)}: not written: {len(missing)} of {len(jobs)} "
                       "inputs have no resampled features")
        return
    try:
        version = write_run_cnd(request, [job.retimed for job in jobs])
    except OSError as exc:
        raise output_error(Path(request.cnd), "write", exc) from None
    reporter.info(f"wrote {request.cnd} (CND, MAT v{version}, {len(jobs)} trials)")


def _refuse_overwriting_inputs(jobs: Sequence[_Job]) -> None:
    """An input named like one of the outputs (``wav2vec2_embeddings.mat`` as the audio, in the
    output folder) would be overwritten: a usage error before any work."""
    outputs = {os.path.realpath(path): job for job in jobs for path in job.paths.all_paths()}
    for job in jobs:
        clash = outputs.get(os.path.realpath(job.outcome.audio))
        if clash is not None:
            raise UsageError(f"{printable(job.outcome.audio)} is also an output of this run "
                             f"(base name {clash.outcome.basename!r}); choose another "
                             "--basename or --output-dir")


def _report_failure(job: _Job, exc: BaseException, reporter: Reporter) -> None:
    tb = traceback.format_exc()
    if isinstance(exc, W2VError):
        code, message = exc.code, _one_line(str(exc))
    else:
        code, message = "backendFailed", _one_line(f"{type(exc).__name__}: {exc}")
    job.outcome.fail(code, message, tb)
    reporter.error(with_file(job.outcome.audio, message), tb)


def with_file(audio: str, message: str) -> str:
    """``<file>: <reason>``, unless the reason already names the file."""
    shown = printable(audio)
    return message if os.path.basename(shown) in message else f"{shown}: {message}"


def _one_line(text: str) -> str:
    return printable(" ".join(text.split())) or "unknown error"


def _check_job(job: _Job, request: Request, reporter: Reporter) -> bool:
    """Hash the audio and decide whether the file needs work (True) or is done/failed."""
    from .audio import file_sha256

    try:
        with recording(job.times):
            with stage("hash"):
                job.audio_sha256 = file_sha256(job.outcome.audio)
            with stage("fingerprint"):
                job.digest = fingerprint_digest(fingerprint_inputs(request, job.audio_sha256))
        if not request.overwrite and is_up_to_date(job.paths, job.digest):
            if not _retime_pending(job, request):
                _mark_up_to_date(job, reporter)
                _remove_leftovers(job.paths)
                return False
            job.native_ok = True
    except UsageError:
        raise
    except Exception as exc:
        _report_failure(job, exc, reporter)
        return False
    return True


def _retime_pending(job: _Job, request: Request) -> bool:
    """Whether a resampled set is asked for and not up to date (fills ``job.retimed`` if it
    is)."""
    settings = retime_settings_of(request)
    if settings is None:
        return False
    job.retimed = up_to_date_entry(job.paths, settings, job.digest)
    return job.retimed is None


def _resampled_outputs(entry: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
    if entry is None:
        return None
    return {key: entry[key] for key in ("npy", "mat", "json", "fs", "grid_start")}


def _mark_up_to_date(job: _Job, reporter: Reporter) -> None:
    paths = job.paths
    job.outcome.status = STATUS_UP_TO_DATE
    job.outcome.outputs = {"npy": str(paths.npy), "mat": str(paths.mat), "json": str(paths.json),
                           "mat_failed": None, "resampled": _resampled_outputs(job.retimed)}
    job.outcome.mat_version = ((read_metadata(paths.json) or {}).get("outputs") or {}).get(
        "mat_version")
    reporter.info(f"{job.outcome.audio}: up to date ({paths.folder / paths.basename}.*)")


def _remove_leftovers(paths: OutputPaths) -> None:
    """Outputs up to date: remove what a killed run left (temporary files, often as large as
    the outputs, and its lock file), if no run holds the lock now."""
    try:
        with OutputLock(paths.lock):
            remove_stale_temps(paths)
    except W2VError:
        pass  # a run is active (its temporaries are not leftovers) or the lock is not ours


def _load(request: Request, pending: Sequence[_Job], reporter: Reporter):
    """Load the model once; on failure every pending file fails with the same error. Layer
    indices out of the model's range are a usage error for the whole run."""
    from .device import set_threads

    if not reporter.verbose:
        # transformers' and huggingface_hub's own bars and notices would mix with ours.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from transformers.utils import logging as hf_logging

    from .layers import resolve_layers
    from .model import load_model

    if not reporter.verbose:
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    try:
        set_threads(request.threads)
        with stage("load_model"):
            loaded = load_model(request.model, revision=request.revision,
                                device=request.device, dtype=request.dtype)
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


def _read_audio(job: _Job, loaded):
    """The job's waveform at the model's rate (run ahead by the prefetcher), hashed again from
    the bytes decoded (``job.audio_sha256`` follows a file replaced meanwhile). None for a job
    whose outputs only need resampling. Its caveats are in ``Audio.warnings`` and reported by
    the caller, once, in the main thread."""
    from .audio import load_audio_as_hashed

    if job.native_ok or loaded is None:
        return None
    with recording(job.times):
        audio, job.audio_sha256 = load_audio_as_hashed(
            job.outcome.audio, loaded.geometry.sample_rate, job.audio_sha256, warn=False)
    return audio


def _process_job(job: _Job, request: Request, loaded, reporter: Reporter,
                 prefetch: Prefetcher) -> None:
    try:
        with OutputLock(job.paths.lock):
            # The fingerprint as it is now: with the model loaded, its cache entry and layer
            # count are known. Another run may have finished these outputs meanwhile.
            if loaded is not None:
                with recording(job.times), stage("fingerprint"):
                    job.inputs = fingerprint_inputs(request, job.audio_sha256,
                                                    loaded.num_hidden_layers)
                    job.digest = fingerprint_digest(job.inputs)
            native_ok = not request.overwrite and is_up_to_date(job.paths, job.digest)
            if native_ok and not _retime_pending(job, request):
                _mark_up_to_date(job, reporter)
                remove_stale_temps(job.paths)
                reporter.advance_overall(job.estimated_seconds)
                return
            if not native_ok:
                if loaded is None:
                    raise W2VError(f"{job.paths.json} changed while this run waited for it; "
                                   "run again")
                with recording(job.times):
                    _compute_and_write(job, request, loaded, reporter, prefetch)
            else:
                _mark_up_to_date(job, reporter)
            _resample(job, request, reporter)
    except UsageError:
        raise  # a segment outside this recording: the request is wrong, not the file
    except Exception as exc:
        job.retimed = None
        _report_failure(job, exc, reporter)


def _resample(job: _Job, request: Request, reporter: Reporter) -> None:
    """Write the resampled set from the outputs on disk (the lock is held)."""
    settings = retime_settings_of(request)
    if settings is None:
        return
    entry = write_step(job.paths, settings, job.digest, warn=reporter.warning)
    job.retimed = entry
    job.outcome.status = STATUS_WRITTEN
    job.outcome.outputs["resampled"] = _resampled_outputs(entry)
    reporter.info(f"wrote {os.path.dirname(entry['npy'])}/"
                  f"{os.path.basename(entry['npy'])[:-4]}.* ({entry['fs']:g} Hz, "
                  f"{entry['n_samples']} samples)")


def _compute_and_write(job: _Job, request: Request, loaded, reporter: Reporter,
                       prefetch: Prefetcher) -> None:
    from .engine import run_engine

    started = time.perf_counter()
    outcome, paths = job.outcome, job.paths
    with OutputTransaction(paths) as tx:
        audio = prefetch.take(job)
        if job.inputs.get("audio_sha256") != job.audio_sha256:  # replaced since it was hashed
            job.inputs = fingerprint_inputs(request, job.audio_sha256, loaded.num_hidden_layers)
            job.digest = fingerprint_digest(job.inputs)
        for message in audio.warnings:
            reporter.warning(message)
        if not job.estimated_seconds:
            reporter.grow_overall(audio.duration)
        store = NpyStore(tx.temp("npy"))
        bar = reporter.file_bar(os.path.basename(outcome.audio), audio.duration)
        done = [0.0]

        def progress(seconds: float) -> None:
            step = max(0.0, seconds - done[0])
            done[0] = seconds
            if bar is not None:
                bar.update(round(step, 2))
            reporter.advance_overall(step)

        engine = run_engine
        if request.verify:
            from .fidelity import run_verified as engine
        try:
            if request.segments:
                from .segmented import run_segments

                result = run_segments(audio, loaded, settings_of(request), request.segments,
                                      sink=store, progress=progress, sha256=job.audio_sha256)
            else:
                result = engine(audio, loaded, settings_of(request), sink=store,
                                progress=progress, sha256=job.audio_sha256)
        finally:
            if bar is not None:
                bar.close()
        if result.fidelity is not None:
            _report_fidelity(outcome.audio, result.fidelity, reporter)
        del audio  # the whole waveform is not needed while the files are written
        written = write_outputs(tx, store, result, mat_version=request.mat_version,
                                fingerprint={"sha256": job.digest, "inputs": job.inputs},
                                threads=request.threads,
                                wall_time=time.perf_counter() - started, timing=job.times)
    outcome.status = STATUS_WRITTEN
    outcome.mat_version = written.mat_version
    outcome.outputs = {"npy": str(written.npy), "json": str(written.json),
                       "mat": str(written.mat) if written.mat else None,
                       "mat_failed": str(written.mat_failed) if written.mat_failed else None,
                       "resampled": None}
    if written.mat_failed_reason:
        reporter.warning(f"{outcome.audio}: no MAT-file written ({written.mat_failed_reason}); "
                         f"see {written.mat_failed}")
    mat = f", {paths.basename}.mat (v{written.mat_version})" if written.mat else ""
    reporter.info(f"wrote {paths.folder / paths.basename}.npy{mat}, {paths.basename}.json")


def _report_fidelity(audio: str, fidelity: dict, reporter: Reporter) -> None:
    """The verify check's one line: a warning when it did not pass."""
    from .fidelity import fidelity_line

    line = with_file(audio, fidelity_line(fidelity))
    if fidelity["passed"]:
        reporter.info(line)
    else:
        reporter.warning(line)


def summary_document(outcomes: Sequence[FileOutcome], exit_code: int,
                     error: Optional[dict[str, str]] = None) -> dict[str, Any]:
    """The ``--summary-json`` document."""
    return {"ok": exit_code == 0, "exit_code": exit_code, "version": __version__,
            "error": error, "files": [o.to_json() for o in outcomes]}


def exit_code_for(outcomes: Sequence[FileOutcome]) -> int:
    """0 when every input was written or up to date, else 1."""
    return 0 if all(o.status != STATUS_FAILED for o in outcomes) else 1
