"""Helpers for the output tests: synthetic output sets written through the real writers, and
an Octave runner for read-back checks."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import numpy as np
from w2vbackend.writers import (
    FrameInfo,
    NpyStore,
    OutputPaths,
    OutputTransaction,
    WrittenOutputs,
    write_outputs,
)

OCTAVE = shutil.which("octave")
STRIDE_S = 0.02


def synthetic_embeddings(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """float32 values that differ in every frame, dimension and layer (so a transposition or a
    mixed-up layer shows)."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape).astype(np.float32)


def frame_info(shape: tuple[int, ...], layers: tuple[int, ...] | None = None,
               model_name: str = "facebook/wav2vec2-large-xlsr-53") -> FrameInfo:
    frames = shape[-2]
    if layers is None:
        layers = tuple(range(shape[0])) if len(shape) == 3 else (24,)
    return FrameInfo(shape=tuple(shape), time_axis=np.arange(frames) * 320 / 16000,
                     layers=layers, sample_rate=16000, frame_stride=STRIDE_S,
                     receptive_field=0.025, frame_center_offset=0.0125, model_name=model_name)


def write_synthetic(folder: Path, shape: tuple[int, ...], *, basename: str = "emb",
                    mat_version: str = "auto", seed: int = 0, digest: str = "d" * 64,
                    layers: tuple[int, ...] | None = None, model_name: str = "m/x"
                    ) -> tuple[np.ndarray, WrittenOutputs]:
    """Write a full output set for synthetic embeddings of ``shape`` through the writers."""
    data = synthetic_embeddings(shape, seed)
    paths = OutputPaths(Path(folder), basename)
    with OutputTransaction(paths) as tx:
        store = NpyStore(tx.temp("npy"))
        target = store.allocate(shape)
        target[...] = data
        del target
        info = frame_info(shape, layers, model_name)
        written = write_outputs(tx, store, info, mat_version=mat_version,
                                run={"audio": {"path": "/x.wav"}},
                                fingerprint={"sha256": digest, "inputs": {}})
    return data, written


def file_digests(folder: Path) -> dict[str, str]:
    """name -> SHA-256 of every file in ``folder`` (to prove files were left untouched)."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(folder).iterdir()) if p.is_file()}


def temp_files(folder: Path) -> list[str]:
    """Names of temporary files (ours: ``.<name>.tmp-<pid>-<hex>``) and lock files in folder."""
    return sorted(p.name for p in Path(folder).iterdir()
                  if ".tmp-" in p.name or p.name.endswith(".lock"))


def run_octave(script: str, timeout: float = 60) -> str:
    """Run ``script`` in Octave; returns stdout. Raises on a non-zero exit without output."""
    result = subprocess.run([OCTAVE, "--no-gui", "--norc", "--quiet", "--eval", script],
                            capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0 and not result.stdout.strip():
        raise RuntimeError(f"octave failed ({result.returncode}): {result.stderr}")
    return result.stdout
