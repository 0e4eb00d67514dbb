"""Names that would hide, spoof or overwrite: refused before any work."""

from __future__ import annotations

import pytest
from w2vbackend import cli
from w2vbackend.errors import UsageError
from w2vbackend.names import validate_basename


@pytest.mark.parametrize("name", [".", ".hidden", "abc\u202edcba", "line\u0085break",
                                  "zero\u200bwidth"])
def test_hidden_and_spoofing_base_names_are_refused(name):
    with pytest.raises(UsageError, match="base name"):
        validate_basename(name)


@pytest.mark.parametrize("name", ["wav2vec2_embeddings", "Ünïcode-名前", "a b", "x.y"])
def test_ordinary_names_are_accepted(name):
    assert validate_basename(name) == name


def test_an_input_named_like_an_output_is_not_overwritten(tmp_path, make_wav, capsys):
    path, _ = make_wav("wav2vec2_embeddings.mat", fmt="WAV")
    before = path.read_bytes()
    code = cli.main([str(path), "--model", str(tmp_path / "no-model"), "--output-dir",
                     str(path.parent), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "is also an output of this run" in err and "--basename" in err
    assert path.read_bytes() == before
