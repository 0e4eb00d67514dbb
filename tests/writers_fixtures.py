"""Helpers for the output tests: synthetic output sets written through the real writers, and
an Octave runner for read-back checks."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import numpy as np
from w2vbackend.audio import AudioInfo
from w2vbackend.engine import EngineSettings, Result, RunFacts
from w2vbackend.geometry import FrameGeometry
from w2vbackend.model import ModelInfo
from w2vbackend.names import OutputPaths
from w2vbackend.npystore import NpyStore
from w2vbackend.outputs import WrittenOutputs, write_outputs
from w2vbackend.transaction import OutputTransaction

OCTAVE = shutil.which("octave")
STRIDE_S = 0.02


def synthetic_embeddings(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """float32 values that differ in every frame, dimension and layer (so a transposition or a
    mixed-up layer shows)."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape).astype(np.float32)


def synthetic_result(shape: tuple[int, ...], layers: tuple[int, ...] | None = None,
                     model_name: str = "facebook/wav2vec2-large-xlsr-53") -> Result:
    """A :class:`Result` describing embeddings of ``shape`` from a 16 kHz wav2vec2-like model
    (stride 320, receptive field 400), without the array (a sink holds it)."""
    frames = shape[-2]
    if layers is None:
        layers = tuple(range(shape[0])) if len(shape) == 3 else (24,)
    geometry = FrameGeometry.from_kernels(16000, (400,), (320,))
    samples = (frames - 1) * 320 + 400
    model = ModelInfo(name=model_name, revision=None, commit_hash=None, model_type="wav2vec2",
                      num_hidden_layers=max(layers), hidden_size=shape[-1], do_normalize=True,
                      device="cpu", dtype="float32")
    audio = AudioInfo(path="/x.wav", sample_rate=16000, num_samples=samples,
                      original_sample_rate=16000, original_channels=1,
                      original_num_samples=samples, reader="soundfile")
    facts = RunFacts(settings=EngineSettings(), chunk_frames=1000, context_frames=25,
                     positional_frames=(64, 63), num_windows=1, normalisation=(0.0, 1.0),
                     group_norm=None, wall_time=0.0)
    return Result(embeddings=None, layers=tuple(layers), num_frames=frames,
                  hidden_size=shape[-1], geometry=geometry, model=model, audio=audio,
                  facts=facts)


def write_synthetic(folder: Path, shape: tuple[int, ...], *, basename: str = "emb",
                    mat_version: str = "auto", seed: int = 0, digest: str = "d" * 64,
                    layers: tuple[int, ...] | None = None, model_name: str = "m/x"
                    ) -> tuple[np.ndarray, WrittenOutputs]:
    """Write a full output set for synthetic embeddings of ``shape`` through the writers."""
    data = synthetic_embeddings(shape, seed)
    paths = OutputPaths(Path(folder), basename)
    with OutputTransaction(paths) as tx:
        store = NpyStore(tx.temp("npy"))
        store.begin(shape)
        for position in range(shape[0] if len(shape) == 3 else 1):
            store.write(position, 0, data[position] if len(shape) == 3 else data)
        result = synthetic_result(shape, layers, model_name)
        written = write_outputs(tx, store, result, mat_version=mat_version,
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
