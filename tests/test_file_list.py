"""--files-from lists and the checks of the many-inputs and submission options."""

from __future__ import annotations

import io

import pytest
from w2vbackend.cluster_options import options_from, take_options
from w2vbackend.errors import UsageError
from w2vbackend.file_list import parse_file_list, read_file_list


def test_comments_blank_lines_and_spaces():
    text = "# stimuli\n\na.wav\n  b c.wav  \r\n\t# not this\nsub/d.flac\n#e.wav\n"
    assert parse_file_list(text) == ["a.wav", "b c.wav", "sub/d.flac"]


def test_file_and_stdin(tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text("x.wav\n/abs/y.wav\n", encoding="utf-8")
    assert read_file_list(str(listing)) == ["x.wav", "/abs/y.wav"]
    assert read_file_list("-", stdin=io.StringIO("z.wav\n")) == ["z.wav"]


def test_unreadable_lists_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="cannot read the file list"):
        read_file_list(str(tmp_path / "missing.txt"))
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(UsageError, match="not UTF-8"):
        read_file_list(str(binary))


def test_take_options_appends_the_list_and_removes_the_keys(tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text("b.wav\nc.wav\n", encoding="utf-8")
    namespace = {"audio": ["a.wav"], "files_from": str(listing), "shard": "1/2", "model": "m"}
    options = take_options(namespace)
    assert namespace == {"audio": ["a.wav", "b.wav", "c.wav"], "model": "m"}
    assert options.shard == "1/2" and not options.submits
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(UsageError, match="names no files"):
        take_options({"audio": [], "files_from": str(empty)})


def test_submission_options_as_matlab_sends_them():
    options = options_from({"cluster": "slurm", "partition": "gpu", "gpus_per_node": 1.0,
                            "mem_gb": 16, "time_min": 30.0, "files_from": [], "wait": [],
                            "sbatch": {"account": "lab", "--qos": "high"}})
    assert (options.partition, options.gpus_per_node, options.mem_gb, options.time_min) == \
        ("gpu", 1, 16.0, 30)
    assert options.sbatch == {"account": "lab", "qos": "high"}
    assert options_from({"sbatch": ["account=lab", "exclusive"]}).sbatch == \
        {"account": "lab", "exclusive": True}


@pytest.mark.parametrize("values", [
    {"cluster": "pbs"},
    {"cluster": "slurm", "tasks": 0},
    {"cluster": "slurm", "gpus_per_node": -1},
    {"cluster": "slurm", "mem_gb": 0},
    {"cluster": "slurm", "time_min": 1.5},
    {"cluster": "slurm", "shard": "0/2"},
    {"wait": "s.json", "cluster": "slurm"},
    {"no_wait": True},
    {"cluster": "slurm", "no_wait": "yes"},
    {"sbatch": [1]},
])
def test_bad_combinations_and_values_are_usage_errors(values):
    with pytest.raises(UsageError):
        options_from(values)
