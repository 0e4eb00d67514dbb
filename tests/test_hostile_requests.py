"""Hostile or absurd requests are usage errors: exit status 2, one error line, no traceback;
names in messages are escaped and cut."""

from __future__ import annotations

import json

import pytest
from w2vbackend import cli

DEEP = '{"audio": "a.wav", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
REQUESTS = {
    "100,000-deep JSON": (DEEP, "nested too deeply"),
    "chunk_seconds 10**400": ('{"audio": "a.wav", "chunk_seconds": 1' + "0" * 400 + "}",
                              "chunk_seconds"),
    "threads 10**400": ('{"audio": "a.wav", "threads": 1' + "0" * 400 + "}", "threads"),
    "layers 1e300": ('{"audio": "a.wav", "layers": 1e300}', "layers"),
    "layers [10**30]": ('{"audio": "a.wav", "layers": [1' + "0" * 30 + "]}", "layers"),
    "NUL in output_dir": ('{"audio": "a.wav", "output_dir": "o\\u0000x"}', "output_dir"),
    "NUL in summary_json": ('{"audio": "a.wav", "summary_json": "s\\u0000x"}', "summary_json"),
    "chunk_seconds 1e-9": ('{"audio": "a.wav", "chunk_seconds": 1e-9}', "chunk_seconds"),
}
ARGUMENTS = {
    "--threads 10**20": (["--threads", "100000000000000000000"], "threads"),
    "--threads 5000": (["--threads", "5000"], "threads"),
    "--chunk-seconds 1e-9": (["--chunk-seconds", "1e-9"], "chunk_seconds"),
}


def _usage_error(capsys, argv, needle):
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == 2, err[-500:]
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and needle in errors[0], err[-500:]
    assert len(err) < 1000
    return errors[0]


@pytest.mark.parametrize("case", list(REQUESTS))
def test_hostile_request_files(case, tmp_path, capsys):
    text, needle = REQUESTS[case]
    path = tmp_path / "request.json"
    path.write_text(text)
    _usage_error(capsys, ["--request", str(path)], needle)


@pytest.mark.parametrize("case", list(ARGUMENTS))
def test_hostile_arguments(case, tmp_path, capsys):
    args, needle = ARGUMENTS[case]
    _usage_error(capsys, [str(tmp_path / "a.wav"), *args], needle)


def test_a_50_mb_base_name_is_not_echoed_whole(tmp_path, capsys):
    line = _usage_error(capsys, [str(tmp_path / "a.wav"), "--basename", "x" * 50_000_000],
                        "base name")
    assert len(line) < 400


def test_a_nul_in_the_summary_path_of_an_unparsable_command_line(tmp_path, capsys):
    code = cli.main(["--no-such-option", "--summary-json", str(tmp_path / "s\x00x.json")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "cannot write the summary" in err and "\\x00" in err
    assert all(line.isprintable() for line in err.splitlines())


def test_a_newline_in_a_path_is_printed_escaped(tmp_path, capsys):
    audio = tmp_path / "forged\nw2v-extract: 1 file: 1 written.wav"
    summary = tmp_path / "summary.json"
    code = cli.main([str(audio), "--model", str(tmp_path / "no-model"), "--output-dir",
                     str(tmp_path / "out\nx"), "--summary-json", str(summary)])
    err = capsys.readouterr().err
    assert code == 1
    assert "forged\\nw2v-extract" in err
    assert not any(line.startswith("w2v-extract: 1 file: 1 written") for line in err.splitlines())
    # The summary keeps the real name (JSON escapes it itself).
    assert json.loads(summary.read_text())["files"][0]["audio"] == str(audio)
