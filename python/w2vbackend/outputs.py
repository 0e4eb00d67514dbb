"""Writing one output set: the filled ``.npy``, the MAT-file (or ``B.mat.failed``) and the
``.json``, committed together.

* ``B.npy`` — float32 embeddings, ``(num_frames, hidden_size)`` for one layer,
  ``(num_layers, num_frames, hidden_size)`` for several.
* ``B.mat`` — ``embeddings`` (``[frames x hidden]`` or ``[frames x hidden x layers]`` single)
  and the variables of :func:`w2vbackend.metadata.mat_variables`; MAT v5 or v7.3
  (:func:`w2vbackend.matwriter.choose_mat_version`).
* ``B.json`` — :func:`w2vbackend.metadata.build_document`.
* ``B.mat.failed`` — only when no MAT-file could be written; holds the reason.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from .integrity import output_facts
from .matwriter import write_mat
from .metadata import build_document, mat_variables
from .npystore import NpyStore
from .outdir import check_free_space, output_error
from .stages import StageTimes, stage
from .transaction import OutputTransaction, write_text_file

if TYPE_CHECKING:  # pragma: no cover
    from .engine import Result


@dataclass
class WrittenOutputs:
    """Final paths after a successful commit (None for files not written)."""

    npy: Path
    json: Path
    mat: Optional[Path]
    mat_failed: Optional[Path]
    mat_version: Optional[str]
    mat_failed_reason: Optional[str]


def write_outputs(tx: OutputTransaction, store: NpyStore, result: Result, *, mat_version: str,
                  fingerprint: Mapping[str, Any], threads: Optional[int] = None,
                  wall_time: Optional[float] = None,
                  timing: Optional[StageTimes] = None) -> WrittenOutputs:
    """Write the MAT-file and the .json next to the filled ``store`` (the .npy temporary of
    ``tx``), then commit the set. Disk problems raise OutputError and leave nothing behind.
    ``timing``: the file's stage times so far, recorded in the .json under ``timing``."""
    paths = tx.paths
    if tuple(store.shape or ()) != tuple(result.shape):
        raise RuntimeError(f"stored shape {store.shape} != {result.shape}")
    with stage("write_npy"):
        store.finish()
    with stage("write_mat"):
        check_free_space(paths.folder, store.nbytes)
        version, reason = write_mat(tx.temp("mat"), store, mat_variables(result), mat_version)
    if version is None:
        tx.discard("mat")
        try:
            write_text_file(tx.temp("mat_failed"),
                            f"No MAT-file could be written for {paths.mat}.\n{reason}\n"
                            f"The embeddings are in {paths.npy} and the metadata in "
                            f"{paths.json}.\n")
        except OSError as exc:
            raise output_error(paths.mat_failed, "write", exc) from None
    written = {"npy": paths.npy, "json": paths.json,
               "mat": paths.mat if version else None,
               "mat_failed": None if version else paths.mat_failed}
    sizes = {"npy": store.path.stat().st_size,
             "mat": tx.temp("mat").stat().st_size if version else None}
    outputs = {"folder": str(paths.folder), "basename": paths.basename,
               **{k: (str(v) if v is not None else None) for k, v in written.items()},
               "mat_version": version, "mat_failed_reason": reason, "bytes": sizes,
               **output_facts(store.path, tx.temp("mat") if version else None)}
    with stage("json"):
        doc = build_document(result, outputs=outputs, fingerprint=fingerprint, threads=threads,
                             wall_time=wall_time, timing=None if timing is None else {
                                 "stages_s": timing.seconds, "calls": timing.calls,
                                 "note": "seconds per stage up to writing this document"})
        try:
            write_text_file(tx.temp("json"), json.dumps(doc, indent=2, allow_nan=False) + "\n")
        except OSError as exc:
            raise output_error(paths.json, "write", exc) from None
    with stage("commit"):
        tx.commit()
    return WrittenOutputs(npy=paths.npy, json=paths.json, mat=written["mat"],
                          mat_failed=written["mat_failed"], mat_version=version,
                          mat_failed_reason=reason)
