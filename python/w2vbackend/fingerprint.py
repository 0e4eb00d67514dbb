"""What makes a rerun skip a file: a fingerprint of everything that changes the numbers, and
the check that the outputs on disk are the ones it describes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from . import __version__
from .integrity import outputs_intact
from .layers import resolve_layers
from .metadata import JSON_FORMAT, JSON_FORMAT_VERSION, jsonable
from .names import OutputPaths
from .segments import segments_as_json

if TYPE_CHECKING:  # pragma: no cover
    from .request import Request


def model_identity(model: str, revision: Optional[str]) -> dict[str, Any]:
    """What identifies the checkpoint's weights without loading it.

    A local folder: its absolute path and the size and modification time of each file in it (a
    retrained model in the same folder is a different model). A hub id: the id, the revision
    asked for, and the commit the local cache resolves that revision to, where it is cached.
    """
    path = Path(os.path.expanduser(model))
    if path.is_dir():
        files = []
        for entry in sorted(path.iterdir()):
            if entry.is_file():
                st = entry.stat()
                files.append([entry.name, st.st_size, st.st_mtime_ns])
        return {"local_folder": str(path.resolve()), "files": files}
    return {"hub_id": model, "revision": revision, "cached_commit": _cached_commit(model,
                                                                                  revision)}


def _cached_commit(model: str, revision: Optional[str]) -> Optional[str]:
    try:
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover
        return None
    ref = revision or "main"
    if re.fullmatch(r"[0-9a-f]{40}", ref):
        return ref
    folder = Path(constants.HF_HUB_CACHE) / ("models--" + model.replace("/", "--"))
    try:
        return (folder / "refs" / ref).read_text().strip() or None
    except (OSError, ValueError):
        return None


def model_num_layers(model: str, revision: Optional[str]) -> Optional[int]:
    """The checkpoint's number of transformer layers, read from its ``config.json`` without
    loading it (a local folder, or the Hugging Face cache); None when it is not at hand."""
    path: Optional[str] = None
    folder = os.path.expanduser(model)
    if os.path.isdir(folder):
        path = os.path.join(folder, "config.json")
    else:
        try:
            from huggingface_hub import try_to_load_from_cache

            found = try_to_load_from_cache(model, "config.json", revision=revision)
            path = found if isinstance(found, str) else None
        except Exception:
            path = None
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as stream:
            value = json.load(stream).get("num_hidden_layers")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def fingerprint_inputs(request: Request, audio_sha256: str,
                       num_hidden_layers: Optional[int] = None) -> dict[str, Any]:
    """Everything that changes the numbers or the files: audio content, model identity, every
    numeric parameter, the MAT version asked for, and the backend's version. The device is left
    out on purpose (CPU and GPU agree to rounding, and moving to a GPU should not redo work).

    ``layers`` is hashed as the resolved indices (so ``last``, ``-1`` and ``L`` are one run);
    ``num_hidden_layers`` defaults to the checkpoint's ``config.json``."""
    total = num_hidden_layers or model_num_layers(request.model, request.revision)
    layers: Any = request.layers if isinstance(request.layers, str) else list(request.layers)
    if total is not None:
        layers = list(resolve_layers(request.layers, total))
    return {
        "audio_sha256": audio_sha256,
        "model": request.model,
        "revision": request.revision,
        "model_identity": model_identity(request.model, request.revision),
        "layers": layers,
        "chunk_seconds": request.chunk_seconds,
        "context_seconds": request.context_seconds,
        "dtype": request.dtype,
        "mat_version": request.mat_version,
        "group_norm": request.group_norm,
        "segments": segments_as_json(request.segments),
        "causal": ({"context_seconds": request.causal_context, "step_seconds": request.causal_step}
                   if request.causal else None),
        "w2vbackend": __version__,
        "format_version": JSON_FORMAT_VERSION,
        # Only when asked for, so that earlier outputs keep their fingerprint: the check adds a
        # block to the .json, and a run without it must not pass for a verified one.
        **({"verify": True} if request.verify else {}),
    }


def retime_inputs(native_digest: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """What makes a resampled set ``B_<rate>Hz.*`` up to date: the fingerprint of the outputs it
    is made from and every resampling setting (rate, grid, length, method, filter, edge, MAT
    version). Kept apart from :func:`fingerprint_inputs` on purpose: a new target rate must
    not recompute the embeddings, only resample them again."""
    return {"source_sha256": native_digest, "resampling": dict(settings),
            "w2vbackend": __version__, "format_version": JSON_FORMAT_VERSION}


def fingerprint_digest(inputs: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of ``inputs``."""
    text = json.dumps(jsonable(inputs), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_metadata(path: Path) -> Optional[dict]:
    """The parsed .json, or None when it is missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as stream:
            data = json.load(stream)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_up_to_date(paths: OutputPaths, digest: str) -> bool:
    """True when ``B.json`` records fingerprint ``digest`` and ``B.npy`` and ``B.mat`` are
    intact: the files it describes, by header, size and SHA-256
    (:func:`w2vbackend.integrity.outputs_intact`). A ``B.mat.failed`` instead of a MAT-file is
    never up to date (a rerun may succeed)."""
    meta = read_metadata(paths.json)
    if not meta or meta.get("format") != JSON_FORMAT:
        return False
    if (meta.get("fingerprint") or {}).get("sha256") != digest:
        return False
    return outputs_intact(paths, meta)
