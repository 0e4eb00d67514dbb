"""Test material for the MATLAB/Octave suite: a tiny checkpoint and recordings with hostile names.

Usage: python make_fixture.py FOLDER

Writes into FOLDER (which must exist) a random-weight xlsr-style checkpoint, a few WAV files and
fixture.json listing their paths. One recording lies below a folder chain that spells
``$(touch /tmp/w2v_pwned_<id>)`` and has spaces, quotes, ``&``, ``;``, ``$(...)`` and backticks in
its own name: if any of it ever reached a shell unquoted, a marker file would appear.
"""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path

import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from synth import build_checkpoint, speech_like

SAMPLE_RATE = 16000


def write_wav(path: Path, duration_s: float, seed: int) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, speech_like(duration_s, SAMPLE_RATE, seed=seed), SAMPLE_RATE, subtype="PCM_16")
    return str(path)


def main(folder: str) -> None:
    root = Path(folder).resolve()
    tag = secrets.token_hex(4)
    marker = f"/tmp/w2v_pwned_{tag}"
    relative_markers = [
        f"w2v_pwned_{tag}_semicolon",
        f"w2v_pwned_{tag}_dollar",
        f"w2v_pwned_{tag}_backtick",
    ]
    hostile_folder = root / f"$(touch {marker})"  # a chain: "$(touch ", "tmp", "...)"
    hostile_name = (
        f'it\'s "a" b & c; touch {relative_markers[0]}; '
        f"$(touch {relative_markers[1]}) `touch {relative_markers[2]}`.wav"
    )
    fixture = {
        "checkpoint": str(build_checkpoint("xlsr", root / "checkpoint")),
        "hostile": write_wav(hostile_folder / hostile_name, 3.0, seed=1),
        "second": write_wav(root / "audio" / "zweite Aufnahme \u00e4.wav", 2.0, seed=2),
        "short": write_wav(root / "audio" / "short.wav", 0.01, seed=3),
        "num_samples": {"hostile": 3 * SAMPLE_RATE, "second": 2 * SAMPLE_RATE},
        "marker": marker,
        "relative_markers": relative_markers,
    }
    (root / "fixture.json").write_text(json.dumps(fixture, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1])
