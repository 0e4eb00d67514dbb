"""The input catalogue end to end through the command line.

Every file the audio layer accepts gives complete, finite outputs whose frame count is the
model's formula; every file it refuses gives exactly one error line on stderr that names the file,
exit status 1, and no output file at all (not even a temporary one). A folder mixing both is
processed in one run: the refused files do not stop the others.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_audio_catalogue import ACCEPTED, REFUSED
from w2vbackend import cli
from w2vbackend.geometry import FrameGeometry

GEOMETRY = FrameGeometry.from_kernels(16000, (10, 3, 3, 3, 3, 2, 2), (5, 2, 2, 2, 2, 2, 2))


def run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refused_input_gives_one_line_and_no_outputs(case, tmp_path, capsys, xlsr_checkpoint):
    folder = tmp_path / "in"
    folder.mkdir()
    path = REFUSED[case].build(folder)
    out = tmp_path / "out"
    code, err = run([path, "--model", xlsr_checkpoint, "--output-dir", out, "--quiet"], capsys)
    assert code == 1
    error_lines = [line for line in err.splitlines() if line.startswith("w2v-extract: error:")]
    assert len(error_lines) == 1, err
    assert str(path) in error_lines[0] or ascii(str(path))[1:-1] in error_lines[0]
    assert REFUSED[case].reason in error_lines[0]
    assert "Traceback" not in err
    assert not out.exists() or not any(out.iterdir()), sorted(p.name for p in out.iterdir())


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_accepted_input_gives_complete_finite_outputs(case, tmp_path, capsys, xlsr_checkpoint):
    folder = tmp_path / "in"
    folder.mkdir()
    path = ACCEPTED[case].build(folder)
    out = tmp_path / "out"
    code, err = run([path, "--model", xlsr_checkpoint, "--output-dir", out, "--quiet",
                     "--basename", "emb"], capsys)
    meta_path = out / "emb.json"
    if code == 1:
        # Accepted by the reader but shorter than one frame (a single sample): refused by the
        # engine with the reason, and nothing written.
        assert "needs at least 0.0250 s" in err, err
        assert not any(out.iterdir())
        return
    assert code == 0, err
    embeddings = np.load(out / "emb.npy")
    meta = json.loads(meta_path.read_text())
    assert np.isfinite(embeddings).all()
    assert embeddings.shape[0] == GEOMETRY.num_frames(meta["audio"]["num_samples"])
    assert (out / "emb.mat").exists()
    assert sorted(p.name for p in out.iterdir()) == ["emb.json", "emb.mat", "emb.npy"]


def test_one_run_over_a_mixed_folder_reports_each_failure(tmp_path, capsys, xlsr_checkpoint):
    good = {name: ACCEPTED[name] for name in ("wav 16-bit", "flac 24-bit", "silence")
            if name in ACCEPTED}
    bad = {name: REFUSED[name] for name in ("0-byte file", "NaN sample", "RIFF header followed "
                                            "by garbage", "text file named .wav")}
    assert len(good) >= 2 and len(bad) == 4
    paths = []
    for index, entry in enumerate([*good.values(), *bad.values()]):
        folder = tmp_path / f"case{index}"
        folder.mkdir()
        built = entry.build(folder)
        renamed = built.with_name(f"stim{index}{built.suffix}")
        built.rename(renamed)
        paths.append(renamed)
    out = tmp_path / "out"
    summary = tmp_path / "summary.json"
    code, err = run([*paths, "--model", xlsr_checkpoint, "--output-dir", out, "--quiet",
                     "--summary-json", summary], capsys)
    assert code == 1
    outcome = json.loads(summary.read_text())
    statuses = [f["status"] for f in outcome["files"]]
    assert statuses.count("written") == len(good)
    assert statuses.count("failed") == len(bad)
    assert len([line for line in err.splitlines()
                if line.startswith("w2v-extract: error:")]) == len(bad)
    written = sorted(p.name for p in out.iterdir())
    assert len(written) == 3 * len(good)
    for index in range(len(good), len(paths)):
        assert not any(name.startswith(f"stim{index}_") for name in written)
