"""Shared fixtures: small local checkpoints and synthetic audio. Nothing is downloaded."""

from __future__ import annotations

import os

# Before transformers is imported anywhere: no test may reach a model hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import numpy as np
import pytest
import soundfile as sf
from synth import CHECKPOINTS, build_checkpoint, speech_like


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory) -> dict:
    """name -> folder of a small random-weight checkpoint, for every kind in CHECKPOINTS."""
    root = tmp_path_factory.mktemp("checkpoints")
    return {name: build_checkpoint(name, root / name) for name in CHECKPOINTS}


@pytest.fixture(scope="session")
def xlsr_checkpoint(checkpoints):
    return checkpoints["xlsr"]


@pytest.fixture(scope="session")
def base_checkpoint(checkpoints):
    return checkpoints["base"]


@pytest.fixture()
def make_wav(tmp_path):
    """Write speech-like audio to a file; returns (path, waveform as written)."""

    def _make(name="speech.wav", duration_s=3.0, sample_rate=16000, channels=1,
              subtype="PCM_16", seed=0, fmt=None):
        mono = speech_like(duration_s, sample_rate, seed=seed)
        data = mono if channels == 1 else np.stack([mono * (0.5 + 0.5 * c / channels)
                                                    for c in range(channels)], axis=1)
        path = tmp_path / name
        sf.write(path, data, sample_rate, subtype=subtype, format=fmt)
        return path, data

    return _make
