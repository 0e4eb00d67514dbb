"""The resampling step of a ``w2v-extract`` run (``--target-rate`` / ``--tr``).

After the embeddings ``B.*`` of an input are written, or found up to date, the set
``B_<rate>Hz.*`` is written from them by :func:`w2vbackend.retime_outputs.write_resampled`
(what ``python -m w2vbackend.retime`` runs), unless it is up to date, and recorded in ``B.json``
under ``outputs.resampled``. Its own fingerprint (:func:`w2vbackend.fingerprint.retime_inputs`)
covers ``B``'s fingerprint and every resampling setting, so a new target rate resamples again
without recomputing the embeddings. ``--cnd`` writes one file over the sets of all inputs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Optional

from .errors import OutputError
from .fingerprint import fingerprint_digest, read_metadata, retime_inputs
from .metadata import with_resampled
from .names import OutputPaths
from .retime_outputs import (
    RetimeSettings,
    entry_of,
    is_resampled_up_to_date,
    read_resampled,
    resampled_paths,
    write_cnd,
    write_resampled,
)
from .transaction import write_text_file

if TYPE_CHECKING:  # pragma: no cover
    from .request import Request


def settings_of(request: Request) -> Optional[RetimeSettings]:
    """The resampling a request asks for, or None."""
    rate = request.resample_rate
    if rate is None:
        return None
    return RetimeSettings(fs=rate, grid_start=request.grid_start, method=request.method,
                          edge=request.edge, mat_version=request.mat_version)


def paths_of(native: OutputPaths, settings: RetimeSettings) -> OutputPaths:
    """``B_<rate>Hz`` next to ``B``."""
    return resampled_paths(native.folder / native.basename, settings)


def up_to_date_entry(native: OutputPaths, settings: RetimeSettings,
                     native_digest: str) -> Optional[dict[str, Any]]:
    """The set's entry (:func:`w2vbackend.retime_outputs.entry_of`) when it is on disk and
    made from the outputs with fingerprint ``native_digest`` with these settings, else None."""
    paths = paths_of(native, settings)
    digest = fingerprint_digest(retime_inputs(native_digest, settings.fields()))
    if not is_resampled_up_to_date(paths, digest):
        return None
    doc = read_resampled(paths)
    return entry_of(doc) if doc is not None else None


def write_step(native: OutputPaths, settings: RetimeSettings, native_digest: str, *,
               warn: Optional[Callable[[str], None]] = None) -> dict[str, Any]:
    """Write the set from ``B.npy``/``B.json`` (the caller holds ``B``'s lock) and record it
    in ``B.json``; returns its entry."""
    paths = paths_of(native, settings)
    inputs = retime_inputs(native_digest, settings.fields())
    digest = fingerprint_digest(inputs)
    entry = write_resampled(native.folder / native.basename, settings, paths,
                            fingerprint={"sha256": digest, "inputs": inputs}, warn=warn)
    _record(native, paths.basename, entry, digest)
    return entry


def _record(native: OutputPaths, name: str, entry: dict[str, Any], digest: str) -> None:
    document = read_metadata(native.json)
    if document is None:
        raise OutputError(f"{native.json}: unreadable; cannot record {name}")
    recorded = {key: entry[key] for key in ("npy", "mat", "json", "fs", "grid_start",
                                            "n_samples")}
    recorded.update(method=entry["spec"]["method"], edge=entry["spec"]["edge"], sha256=digest)
    temp = native.temp_for(native.json)
    try:
        write_text_file(temp, json.dumps(with_resampled(document, name, recorded), indent=2,
                                         allow_nan=False) + "\n")
        os.replace(temp, native.json)
    except OSError as exc:
        if temp.exists():
            os.unlink(temp)
        raise OutputError(f"{native.json}: cannot record {name} ({exc.strerror or exc})") \
            from None


def write_run_cnd(request: Request, entries: Sequence[dict[str, Any]]) -> str:
    """The ``--cnd`` file: one trial per input, in input order; returns the MAT version."""
    assert request.cnd is not None
    return write_cnd(request.cnd, entries, mat_version=request.mat_version)
