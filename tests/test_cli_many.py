"""The command line's many-inputs options without a scheduler: --files-from and --shard."""

from __future__ import annotations

import io
import json

import pytest
import soundfile as sf
from synth import build_checkpoint, speech_like
from w2vbackend import cli


@pytest.fixture(scope="module")
def material(tmp_path_factory):
    root = tmp_path_factory.mktemp("many")
    checkpoint = build_checkpoint("base", root / "checkpoint")
    files = []
    for i, seconds in enumerate((3.0, 1.0, 1.0, 1.0)):
        path = root / f"s{i}.wav"
        sf.write(path, speech_like(seconds, 16000, seed=i), 16000, subtype="PCM_16")
        files.append(str(path))
    return checkpoint, files


def _main(args, summary):
    code = cli.main([*args, "--quiet", "--threads", "1", "--summary-json", str(summary)])
    return code, json.loads(summary.read_text())


def test_shards_cover_every_file_once_with_the_names_of_a_full_run(material, tmp_path,
                                                                   monkeypatch):
    checkpoint, files = material
    listing = tmp_path / "list.txt"
    listing.write_text("# stimuli\n\n" + "\n".join(files[1:]) + "\n", encoding="utf-8")
    common = [files[0], "--files-from", str(listing), "--model", str(checkpoint),
              "--output-dir", str(tmp_path / "out")]
    seen = []
    for k in range(2):
        monkeypatch.setenv("SLURM_ARRAY_TASK_ID", str(k + 1))
        monkeypatch.setenv("SLURM_ARRAY_TASK_MIN", "1")
        monkeypatch.setenv("SLURM_ARRAY_TASK_MAX", "2")
        monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "2")
        code, document = _main([*common, "--shard", "auto"], tmp_path / f"summary{k}.json")
        assert code == 0
        seen.append([(f["audio"], f["basename"]) for f in document["files"]])
    # Balanced by duration: the 3 s file alone, the three 1 s files together. The lone file
    # still gets the <stem>_<basename> name of a run over all four.
    assert seen[0] == [(files[0], "s0_wav2vec2_embeddings")]
    assert [a for a, _ in seen[1]] == files[1:]
    written = sorted(p.name for p in (tmp_path / "out").glob("*.npy"))
    assert written == [f"s{i}_wav2vec2_embeddings.npy" for i in range(4)]


def test_files_from_stdin_and_an_empty_shard(material, tmp_path, monkeypatch):
    checkpoint, files = material
    monkeypatch.setattr("sys.stdin", io.StringIO(files[1] + "\n"))
    code, document = _main(["--files-from", "-", "--model", str(checkpoint), "--shard", "1/2",
                            "--output-dir", str(tmp_path / "out")], tmp_path / "s.json")
    assert code == 0 and document["files"] == []  # one file, two shards: this one is empty
    monkeypatch.setattr("sys.stdin", io.StringIO(files[1] + "\n"))
    code, document = _main(["--files-from", "-", "--model", str(checkpoint),
                            "--output-dir", str(tmp_path / "out")], tmp_path / "s.json")
    assert code == 0 and [f["status"] for f in document["files"]] == ["written"]


@pytest.mark.parametrize("args", [["--shard", "2/2"], ["--no-wait"], ["--shard", "auto"],
                                  ["--cluster", "slurm", "--shard", "0/2"],
                                  ["--files-from", "/nonexistent/list.txt"]])
def test_usage_errors(material, tmp_path, monkeypatch, args):
    for name in ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT"):
        monkeypatch.delenv(name, raising=False)
    code, document = _main([material[1][0], *args, "--output-dir", str(tmp_path)],
                           tmp_path / "s.json")
    assert code == 2 and document["error"]["code"] == "badArgument"


def test_request_file_as_matlab_writes_it(tmp_path):
    request = tmp_path / "request.json"
    # jsonencode of w2v.internal.build_request with 'Cluster', 'slurm', ...
    request.write_text(json.dumps({
        "audio": ["/x/a.wav", "/x/b.wav"], "output_dir": "/x/out", "threads": [],
        "cluster": "slurm", "partition": "gpu", "gpus_per_node": 1, "mem_gb": 16,
        "time_min": 120, "tasks": 8, "sbatch": ["account=lab"], "log_dir": "/x/logs"}))
    parsed, options = cli.parse_command(["--request", str(request), "--partition", "big"])
    assert parsed.audio == ("/x/a.wav", "/x/b.wav") and parsed.threads is None
    assert (options.cluster, options.partition, options.gpus_per_node, options.mem_gb,
            options.time_min, options.tasks, options.log_dir) == \
        ("slurm", "big", 1, 16.0, 120, 8, "/x/logs")  # the command line wins
    assert options.sbatch == {"account": "lab"}
    request.write_text(json.dumps({"audio": ["/x/a.wav"], "tasks": "many"}))
    with pytest.raises(cli.UsageError):
        cli.parse_command(["--request", str(request)])
