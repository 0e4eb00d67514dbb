"""Damaged outputs are never "up to date": the rerun recomputes them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from synth import speech_like
from w2vbackend import cli, integrity

B = "wav2vec2_embeddings"


def _flip_npy_data(out: Path) -> None:
    path = out / f"{B}.npy"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _overwrite_npy_header(out: Path) -> None:
    path = out / f"{B}.npy"
    data = bytearray(path.read_bytes())
    data[:16] = b"\x00" * 16
    path.write_bytes(bytes(data))


def _zero_mat_bytes(out: Path) -> None:
    path = out / f"{B}.mat"
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    assert data[middle:middle + 4] != b"\x00" * 4 or data[middle + 8:middle + 12] != b"\x00" * 4
    spot = middle if data[middle:middle + 4] != b"\x00" * 4 else middle + 8
    data[spot:spot + 4] = b"\x00" * 4
    path.write_bytes(bytes(data))


def _edit_num_frames(out: Path) -> None:
    path = out / f"{B}.json"
    meta = json.loads(path.read_text())
    meta["num_frames"] += 1
    path.write_text(json.dumps(meta, indent=2))


DAMAGE = {"flipped npy byte": _flip_npy_data, "overwritten npy header": _overwrite_npy_header,
          "four zeroed mat bytes": _zero_mat_bytes, "num_frames edited": _edit_num_frames}


@pytest.fixture()
def run(tmp_path, xlsr_checkpoint):
    audio = tmp_path / "speech.wav"
    sf.write(audio, speech_like(3.0, 16000, seed=5), 16000, subtype="PCM_16")

    def _run(*extra):
        summary = tmp_path / "summary.json"
        code = cli.main([str(audio), "--model", str(xlsr_checkpoint), "--output-dir",
                         str(tmp_path / "out"), "--quiet", "--summary-json", str(summary),
                         *extra])
        return code, json.loads(summary.read_text())["files"][0]["status"]

    return _run


@pytest.mark.parametrize("large", [False, True], ids=["always-hashed", "large-set"])
@pytest.mark.parametrize("mat_version", ["5", "7.3"])
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_outputs_are_recomputed(run, tmp_path, monkeypatch, damage, mat_version, large):
    if large:  # sets over the threshold are hashed only when they look touched
        monkeypatch.setattr(integrity, "DIGEST_ALWAYS_BYTES", 0)
    out = tmp_path / "out"
    assert run("--mat-version", mat_version) == (0, "written")
    good = {p.name: p.read_bytes() for p in out.iterdir() if p.suffix in (".npy", ".mat")}
    assert run("--mat-version", mat_version) == (0, "up_to_date")
    sizes = {p.name: p.stat().st_size for p in out.iterdir()}
    DAMAGE[damage](out)
    if damage != "num_frames edited":
        assert {p.name: p.stat().st_size for p in out.iterdir()} == sizes  # same sizes
    assert run("--mat-version", mat_version) == (0, "written")
    assert np.array_equal(np.load(out / f"{B}.npy"), np.frombuffer(
        good[f"{B}.npy"][128:], dtype="<f4").reshape(np.load(out / f"{B}.npy").shape))
    assert run("--mat-version", mat_version) == (0, "up_to_date")


def test_the_json_records_digests_and_the_npy_header(run, tmp_path):
    assert run()[0] == 0
    out = tmp_path / "out"
    meta = json.loads((out / f"{B}.json").read_text())
    for kind in ("npy", "mat"):
        digest = hashlib.sha256((out / f"{B}.{kind}").read_bytes()).hexdigest()
        assert meta["outputs"]["sha256"][kind] == digest
    array = np.load(out / f"{B}.npy")
    assert meta["outputs"]["npy_header"] == {"shape": list(array.shape), "descr": "<f4",
                                             "fortran_order": False, "data_offset": 128}


def test_an_npy_replaced_by_a_link_is_not_up_to_date(run, tmp_path):
    assert run()[0] == 0
    out = tmp_path / "out"
    moved = tmp_path / "moved.npy"
    (out / f"{B}.npy").rename(moved)
    (out / f"{B}.npy").symlink_to(moved)
    assert run() == (0, "written")
    assert not (out / f"{B}.npy").is_symlink()


def test_large_sets_skip_the_digest_only_while_inode_and_mtime_are_unchanged(
        run, tmp_path, monkeypatch):
    import os

    from w2vbackend.fingerprint import read_metadata
    from w2vbackend.names import OutputPaths

    assert run()[0] == 0
    paths = OutputPaths(tmp_path / "out", B)
    meta = read_metadata(paths.json)
    monkeypatch.setattr(integrity, "DIGEST_ALWAYS_BYTES", 0)
    hashed = []
    real = integrity.file_digest
    monkeypatch.setattr(integrity, "file_digest", lambda p: hashed.append(p) or real(p))
    assert integrity.outputs_intact(paths, meta) and hashed == []
    stamp = os.stat(paths.npy).st_mtime_ns
    os.utime(paths.npy, ns=(stamp + 10**9, stamp + 10**9))
    assert integrity.outputs_intact(paths, meta) and len(hashed) == 2
