"""Files w2v creates never follow a planted symbolic link: the lock file, the summary's
temporary, and every temporary output (the .npy map, the MAT-files, the .json)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from w2vbackend import cli
from w2vbackend.errors import OutputError
from w2vbackend.lock import OutputLock
from w2vbackend.matfile import Mat73Writer
from w2vbackend.matwriter import write_mat_v5
from w2vbackend.npystore import NpyStore
from w2vbackend.transaction import write_text_file
from writers_fixtures import write_synthetic

SECRET = "my notes, not to be touched\n"


@pytest.fixture()
def victim(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text(SECRET)
    return path


def test_a_symlinked_lock_is_not_followed(tmp_path, victim):
    out = tmp_path / "out"
    out.mkdir()
    (out / "B.lock").symlink_to(victim)
    with pytest.raises(OutputError, match=r"symbolic link.*rm "):
        OutputLock(out / "B.lock").acquire()
    assert victim.read_text() == SECRET
    assert (out / "B.lock").is_symlink()


def test_a_dangling_lock_link_does_not_create_its_target(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    target = tmp_path / "created-by-w2v"
    (out / "B.lock").symlink_to(target)
    with pytest.raises(OutputError, match="symbolic link"):
        OutputLock(out / "B.lock").acquire()
    assert not target.exists() and not target.is_symlink()


def test_a_fifo_as_lock_is_refused(tmp_path):
    os.mkfifo(tmp_path / "B.lock")
    with pytest.raises(OutputError, match="not a regular file"):
        OutputLock(tmp_path / "B.lock").acquire()


def test_the_lock_still_works_and_is_removed(tmp_path):
    with OutputLock(tmp_path / "B.lock"):
        assert (tmp_path / "B.lock").read_text().split()[0] == str(os.getpid())
        with pytest.raises(OutputError, match="another run"):
            OutputLock(tmp_path / "B.lock").acquire()
    assert not (tmp_path / "B.lock").exists()


def test_summary_temp_links_for_this_pid_are_not_followed(tmp_path, victim):
    summary = tmp_path / "summary.json"
    # The names an attacker can predict: the summary's name and this process's pid.
    for name in (f".summary.json.tmp-{os.getpid()}", f".summary.json.tmp-{os.getpid() + 1}"):
        (tmp_path / name).symlink_to(victim)
    cli.write_summary(str(summary), {"ok": True})
    assert victim.read_text() == SECRET
    assert not summary.is_symlink() and json.loads(summary.read_text()) == {"ok": True}


def test_a_summary_temp_name_taken_by_a_link_is_refused(tmp_path, victim, monkeypatch,
                                                        capsys):
    import secrets

    monkeypatch.setattr(secrets, "token_hex", lambda n=None: "ab" * 8)
    (tmp_path / f".summary.json.tmp-{os.getpid()}-{'ab' * 8}").symlink_to(victim)
    cli.write_summary(str(tmp_path / "summary.json"), {"ok": True})
    assert victim.read_text() == SECRET
    assert not (tmp_path / "summary.json").exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot write the summary" in err[0]


def test_a_summary_that_is_a_link_is_replaced_by_a_file(tmp_path, victim):
    (tmp_path / "summary.json").symlink_to(victim)
    cli.write_summary(str(tmp_path / "summary.json"), {"ok": True})
    assert victim.read_text() == SECRET
    assert not (tmp_path / "summary.json").is_symlink()


@pytest.mark.parametrize("writer", ["npy", "mat5", "mat73", "text"])
def test_temporary_outputs_never_follow_a_planted_link(tmp_path, victim, writer):
    temp = tmp_path / ".B.x.tmp-1-deadbeef"
    temp.symlink_to(victim)
    store = NpyStore(tmp_path / "real.npy")
    store.begin((4, 3))
    store.write(0, 0, np.ones((4, 3), np.float32))
    store.finish()
    with pytest.raises((OSError, OutputError)):
        if writer == "npy":
            NpyStore(temp).begin((4, 3))
        elif writer == "mat5":
            write_mat_v5(temp, store, {})
        elif writer == "mat73":
            Mat73Writer(temp)
        else:
            write_text_file(temp, "text")
    assert victim.read_text() == SECRET


def test_outputs_are_regular_files_with_the_same_bytes_as_numpy(tmp_path):
    data, written = write_synthetic(tmp_path, (2, 5, 3), mat_version="7.3")
    assert np.array_equal(np.load(written.npy), data)
    reference = tmp_path / "ref.npy"
    np.save(reference, data)
    assert Path(written.npy).read_bytes() == reference.read_bytes()
    for path in (written.npy, written.mat, written.json):
        assert Path(path).is_file() and not Path(path).is_symlink()
