"""Segments: each computed as its own recording, stamped with its time in the whole recording."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.io
import soundfile as sf
import torch
from synth import speech_like
from w2vbackend import cli, extract
from w2vbackend.errors import UsageError
from w2vbackend.model import load_model
from w2vbackend.segments import Segment, parse_segments, read_segment_file

SR = 16000


@pytest.fixture(scope="module")
def models(checkpoints):
    return {name: load_model(str(checkpoints[name]), device="cpu") for name in ("xlsr", "base")}


# --------------------------------------------------------------------------------------------
# Parsing


def test_a_tsv_table_with_labels(tmp_path):
    path = tmp_path / "trials.tsv"
    path.write_text("Onset\toffset\tlabel\tcondition\textra\n0.5\t1.25\tA\tloud\tx\n"
                    "1.25\t3\tB\t\ty\n")
    assert read_segment_file(path) == (Segment(0.5, 1.25, "A", "loud"),
                                       Segment(1.25, 3.0, "B", None))


def test_a_csv_table_and_the_json_forms_agree(tmp_path):
    path = tmp_path / "trials.csv"
    path.write_text("onset,offset\n0,1.5\n2,3\n")
    expected = (Segment(0.0, 1.5), Segment(2.0, 3.0))
    assert parse_segments(str(path)) == expected
    assert parse_segments([[0, 1.5], [2, 3]]) == expected
    assert parse_segments([{"onset": 0, "offset": 1.5}, {"onset": 2, "offset": 3}]) == expected
    assert parse_segments([0, 1.5]) == (Segment(0.0, 1.5),)  # jsonencode of a 1 x 2 matrix
    assert parse_segments([]) is None


@pytest.mark.parametrize(("text", "needle"), [
    ("onset,offset\n0,2\n1.5,3\n", "starts before segment 1 ends"),
    ("onset,offset\n2,3\n0,1\n", "in order of onset"),
    ("onset,offset\n1,1\n", "is not after onset"),
    ("onset,offset\n0,abc\n", "line 2: offset 'abc' is not a number"),
    ("onset,offset\n-1,2\n", ">= 0"),
    ("start,stop\n0,1\n", "must name the columns onset and offset"),
    ("onset,offset\n", "no segments"),
    ("", "is empty"),
    ("onset,offset,label\n0,1\n", "2 columns, the header has 3"),
])
def test_bad_tables_are_one_clear_usage_error(tmp_path, text, needle):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(UsageError, match=needle) as info:
        parse_segments(str(path))
    assert "\n" not in str(info.value)


def test_a_missing_table_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="cannot read the segments file"):
        parse_segments(str(tmp_path / "nope.tsv"))


# --------------------------------------------------------------------------------------------
# The engine


@pytest.mark.parametrize("name", ["xlsr", "base"])
def test_replacing_segment_b_leaves_segment_a_bit_for_bit(models, name):
    lm = models[name]
    audio = speech_like(6.0, SR, seed=1)
    other = audio.copy()
    other[int(3.1 * SR):int(5.9 * SR)] = speech_like(2.8, SR, seed=7)
    segments = [(0.2, 2.9), (3.1, 5.9)]
    kw = dict(model=lm, sample_rate=SR, chunk_seconds=1.0, context_seconds=0.5)
    first = extract(audio, segments=segments, **kw)
    second = extract(other, segments=segments, **kw)
    a = first.segments[0]
    a_frames = slice(a.frame_start, a.frame_start + a.num_frames)
    np.testing.assert_array_equal(first.embeddings[a_frames], second.embeddings[a_frames])
    b = first.segments[1]
    assert not np.array_equal(first.embeddings[b.frame_start:], second.embeddings[b.frame_start:])
    # Without segments the same frames do change: the property is the segments' doing.
    whole = [extract(x, **kw) for x in (audio, other)]
    grid = slice(round(0.2 * SR) // 320, round(2.9 * SR) // 320 - 1)
    assert not np.array_equal(whole[0].embeddings[grid], whole[1].embeddings[grid])


def test_segment_times_are_exact_in_the_recording_and_frame_counts_follow_the_model(models):
    lm = models["xlsr"]
    audio = speech_like(5.0, SR, seed=2)
    segments = [(0.37031, 1.9), (2.00001, 2.03), (2.5, 4.999)]  # off the 320-sample grid
    result = extract(audio, model=lm, sample_rate=SR, segments=segments, chunk_seconds=0.5)
    starts = [round(on * SR) for on, _ in segments]
    stops = [round(off * SR) for _, off in segments]
    lengths = lm.model._get_feat_extract_output_lengths(torch.tensor(
        [b - a for a, b in zip(starts, stops)])).tolist()
    assert [p.num_frames for p in result.segments] == lengths
    assert result.num_frames == sum(lengths) == result.embeddings.shape[0]
    expected = np.concatenate([(s + 320 * np.arange(n)) / SR for s, n in zip(starts, lengths)])
    np.testing.assert_array_equal(result.time_axis, expected)
    assert result.time_axis[0] == 5925 / SR  # round(0.37031 * 16000) = 5925, not 5760 or 6080


def test_a_segment_is_its_own_recording(models):
    """Each segment's frames equal transformers' own pass over that segment's samples."""
    lm = models["base"]
    audio = speech_like(4.0, SR, seed=3)
    result = extract(audio, model=lm, sample_rate=SR, segments=[(0.1, 1.7), (2.0131, 3.9)],
                     chunk_seconds=None)
    for placed in result.segments:
        piece = audio[placed.sample_start:placed.sample_stop]
        x = lm.feature_extractor(piece, sampling_rate=SR, return_tensors="pt").input_values
        with torch.inference_mode():
            reference = lm.model(x).last_hidden_state[0].numpy()
        mine = result.embeddings[placed.frame_start:placed.frame_start + placed.num_frames]
        np.testing.assert_allclose(mine, reference, atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize(("segments", "needle"), [
    ([(1.0, 4.5)], "ends after the recording"),
    ([(1.0, 1.02)], "shorter than one frame"),
])
def test_segments_that_do_not_fit_are_usage_errors(models, segments, needle):
    with pytest.raises(UsageError, match=needle):
        extract(speech_like(4.0, SR), model=models["xlsr"], sample_rate=SR, segments=segments)


# --------------------------------------------------------------------------------------------
# The command line


def test_cli_segments_with_layers_in_every_format(xlsr_checkpoint, tmp_path, capsys):
    audio = speech_like(5.0, SR, seed=4)
    wav = tmp_path / "story.wav"
    sf.write(wav, audio, SR, subtype="FLOAT")
    table = tmp_path / "trials.tsv"
    table.write_text("onset\toffset\tlabel\n0.25\t2.0\tfirst\n2.5\t4.75\tsecond\n")
    out = tmp_path / "out"
    argv = [str(wav), "--model", str(xlsr_checkpoint), "--output-dir", str(out),
            "--segments", str(table), "--layers", "1,-1", "--quiet"]
    assert cli.main(argv) == 0
    reference = extract(wav, model=str(xlsr_checkpoint), device="cpu", layers=[1, -1],
                        segments=str(table))
    npy = np.load(out / "wav2vec2_embeddings.npy")
    np.testing.assert_array_equal(npy, reference.embeddings)
    mat = scipy.io.loadmat(out / "wav2vec2_embeddings.mat")
    np.testing.assert_array_equal(mat["time_axis"][:, 0], reference.time_axis)
    n0 = reference.segments[0].num_frames
    np.testing.assert_array_equal(mat["segment_frames"], [[1, n0], [n0 + 1, npy.shape[1]]])
    np.testing.assert_array_equal(mat["segment_times"], [[4000 / SR, 32000 / SR],
                                                         [40000 / SR, 76000 / SR]])
    doc = json.loads((out / "wav2vec2_embeddings.json").read_text())
    assert [s["label"] for s in doc["segments"]] == ["first", "second"]
    assert [s["frame_start"] for s in doc["segments"]] == [0, n0]
    assert doc["normalisation"]["statistics"] == "segment"
    assert doc["fingerprint"]["inputs"]["segments"][1] == {
        "onset": 2.5, "offset": 4.75, "label": "second", "condition": None}
    # A changed table is a changed fingerprint: the rerun recomputes.
    table.write_text("onset\toffset\tlabel\n0.25\t2.0\tfirst\n2.5\t4.5\tsecond\n")
    assert cli.main([*argv, "--summary-json", str(tmp_path / "s.json")]) == 0
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["files"][0]["status"] == "written"
    capsys.readouterr()


@pytest.mark.parametrize(("rows", "needle"), [
    ("0,2\n1,3\n", "must not overlap"),
    ("0,2\n3,9\n", "ends after the recording"),
])
def test_cli_bad_segments_exit_2_with_one_line(xlsr_checkpoint, tmp_path, capsys, rows, needle):
    wav = tmp_path / "a.wav"
    sf.write(wav, speech_like(4.0, SR), SR)
    table = tmp_path / "t.csv"
    table.write_text("onset,offset\n" + rows)
    code = cli.main([str(wav), "--model", str(xlsr_checkpoint), "--output-dir",
                     str(tmp_path / "out"), "--segments", str(table), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and needle in errors[0]
    assert not list((tmp_path / "out").glob("*.npy"))
