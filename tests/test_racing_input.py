"""The hash in a ``.json`` is the hash of the audio that was decoded, even when an input is
replaced while earlier files of the batch are processed."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import soundfile as sf
from synth import speech_like
from w2vbackend import cli, runner


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_input_replaced_during_the_batch_is_hashed_as_decoded(tmp_path, monkeypatch,
                                                                 xlsr_checkpoint):
    first, second = tmp_path / "a.wav", tmp_path / "b.wav"
    sf.write(first, speech_like(2.0, 16000, seed=1), 16000, subtype="PCM_16")
    sf.write(second, speech_like(2.0, 16000, seed=2), 16000, subtype="PCM_16")
    replacement = tmp_path / "replacement.wav"
    sf.write(replacement, speech_like(2.5, 16000, seed=3), 16000, subtype="PCM_16")

    real_step = runner._compute_and_write
    calls = []

    def step(job, *args, **kwargs):
        calls.append(job.outcome.audio)
        if len(calls) == 1:  # while the first file is processed, the second is replaced
            second.write_bytes(replacement.read_bytes())
        return real_step(job, *args, **kwargs)

    monkeypatch.setattr(runner, "_compute_and_write", step)
    common = ["--model", str(xlsr_checkpoint), "--quiet"]
    assert cli.main([str(first), str(second), "--output-dir", str(tmp_path / "out"),
                     *common]) == 0
    assert len(calls) == 2
    meta = json.loads((tmp_path / "out" / "b_wav2vec2_embeddings.json").read_text())
    assert meta["audio"]["sha256"] == _sha256(replacement)
    assert meta["fingerprint"]["inputs"]["audio_sha256"] == _sha256(replacement)
    # The embeddings are those of the replacement ...
    monkeypatch.setattr(runner, "_compute_and_write", real_step)
    assert cli.main([str(replacement), "--output-dir", str(tmp_path / "alone"), *common]) == 0
    assert np.array_equal(np.load(tmp_path / "out" / "b_wav2vec2_embeddings.npy"),
                          np.load(tmp_path / "alone" / "wav2vec2_embeddings.npy"))
    # ... and a rerun agrees that the outputs describe the file as it is now.
    summary = tmp_path / "summary.json"
    assert cli.main([str(first), str(second), "--output-dir", str(tmp_path / "out"),
                     "--summary-json", str(summary), *common]) == 0
    statuses = [f["status"] for f in json.loads(summary.read_text())["files"]]
    assert statuses == ["up_to_date", "up_to_date"]


def test_a_file_that_keeps_changing_is_an_audio_error(tmp_path, monkeypatch, xlsr_checkpoint):
    from w2vbackend import audio

    path = tmp_path / "a.wav"
    sf.write(path, speech_like(2.0, 16000, seed=1), 16000, subtype="PCM_16")
    counter = iter(range(1000))
    monkeypatch.setattr(audio, "file_sha256", lambda p: f"{next(counter):064x}")
    summary = tmp_path / "summary.json"
    code = cli.main([str(path), "--model", str(xlsr_checkpoint), "--quiet",
                     "--output-dir", str(tmp_path / "out"), "--summary-json", str(summary)])
    assert code == 1
    error = json.loads(summary.read_text())["files"][0]["error"]
    assert error["code"] == "audioInvalid" and "changed while it was read" in error["message"]
