"""The duration-balanced split and the shard names (K/N, auto from SLURM's variables)."""

from __future__ import annotations

import random

import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st
from synth import speech_like
from w2vbackend.errors import UsageError
from w2vbackend.shard import (
    FALLBACK_SECONDS,
    Shard,
    file_weights,
    parse_shard,
    select_shard,
    split_by_duration,
    split_paths,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 3600, allow_nan=False), max_size=60), st.integers(1, 12))
def test_every_file_in_exactly_one_shard_and_balanced(weights, count):
    shards = split_by_duration(weights, count)
    assert len(shards) == count
    flat = [i for shard in shards for i in shard]
    assert sorted(flat) == list(range(len(weights)))
    assert all(shard == sorted(shard) for shard in shards)
    loads = [sum(weights[i] for i in shard) for shard in shards]
    # Longest-first greedy: the fullest shard exceeds the emptiest by at most one file.
    assert max(loads) - min(loads) <= max(weights, default=0) + 1e-6
    assert split_by_duration(weights, count) == shards  # deterministic


def test_split_balances_durations_not_counts():
    weights = [60.0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 50.0]
    shards = split_by_duration(weights, 2)
    assert shards == [[0], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]]
    # Five files each (a split by count) would give 65 s and 55 s.
    loads = sorted(sum(weights[i] for i in s) for s in shards)
    assert loads == [60.0, 60.0]


def test_equal_durations_are_dealt_in_turn():
    paths = [f"f{i}.wav" for i in range(10)]
    weights = dict.fromkeys(paths, 2.0)
    shards = split_paths(paths, 3, seconds=weights.get)
    assert shards == [["f0.wav", "f3.wav", "f6.wav", "f9.wav"], ["f1.wav", "f4.wav", "f7.wav"],
                      ["f2.wav", "f5.wav", "f8.wav"]]
    shuffled = paths[:]
    random.Random(1).shuffle(shuffled)
    again = split_paths(shuffled, 3, seconds=weights.get)
    assert sorted(map(len, again)) == sorted(map(len, shards))


def test_real_durations_and_fallback_for_unreadable(tmp_path):
    paths = []
    for seconds in (1.0, 3.0):
        path = tmp_path / f"{seconds}.wav"
        sf.write(path, speech_like(seconds, 16000), 16000, subtype="PCM_16")
        paths.append(str(path))
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"not audio")
    paths += [str(garbage), str(tmp_path / "missing.wav")]
    assert file_weights(paths) == pytest.approx([1.0, 3.0, 2.0, 2.0])
    assert file_weights([str(garbage)]) == [FALLBACK_SECONDS]
    shards = [select_shard(paths, Shard(k, 3)) for k in range(3)]
    assert sorted(p for s in shards for p in s) == sorted(paths)


@pytest.mark.parametrize("text, expected", [("0/1", Shard(0, 1)), ("2/3", Shard(2, 3)),
                                            (" 4/10 ", Shard(4, 10))])
def test_parse_k_of_n(text, expected):
    assert parse_shard(text) == expected


@pytest.mark.parametrize("text", ["3/3", "-1/3", "1/0", "1", "a/b", "1/2/3", ""])
def test_bad_shards_are_usage_errors(text):
    with pytest.raises(UsageError):
        parse_shard(text)


@pytest.mark.parametrize("env, expected", [
    ({"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "4"}, Shard(0, 4)),
    ({"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_ARRAY_TASK_MIN": "1",
      "SLURM_ARRAY_TASK_MAX": "3"}, Shard(2, 3)),
    ({"SLURM_ARRAY_TASK_ID": "14", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "10",
      "SLURM_ARRAY_TASK_MAX": "16", "SLURM_ARRAY_TASK_STEP": "2"}, Shard(2, 4)),
])
def test_auto_reads_the_array_task(env, expected):
    assert parse_shard("auto", env) == expected


@pytest.mark.parametrize("env", [
    {},
    {"SLURM_ARRAY_TASK_ID": "1"},
    {"SLURM_ARRAY_TASK_ID": "x", "SLURM_ARRAY_TASK_COUNT": "2"},
    # --array=1,5,7: three tasks whose ids are no evenly spaced range
    {"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_ARRAY_TASK_MIN": "1",
     "SLURM_ARRAY_TASK_MAX": "7"},
])
def test_auto_outside_a_regular_array_is_a_usage_error(env):
    with pytest.raises(UsageError):
        parse_shard("auto", env)
