"""Locks left by other users: a stale one is replaced where the folder allows it, reported
with what to do where it does not; a held one means the outputs are busy."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from w2vbackend.lock import OutputLock

PYTHON_PATH = str(Path(__file__).resolve().parent.parent / "python")
TRY_LOCK = r'''
import os, sys
from w2vbackend.errors import OutputError
from w2vbackend.lock import OutputLock
lock = OutputLock(sys.argv[1])
try:
    lock.acquire()
except OutputError as exc:
    print("ERROR", exc); sys.exit(1)
print("LOCKED", os.stat(sys.argv[1]).st_uid)
lock.release()
'''


@pytest.fixture()
def other_user():
    if os.geteuid() != 0:
        pytest.skip("needs root to run a second user's process (setpriv)")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no unprivileged user 'nobody' on this system")


@pytest.fixture()
def shared():
    """A folder outside pytest's root-only tmp tree, so the other user can reach it."""
    folder = Path(tempfile.mkdtemp(prefix="w2v-shared-"))
    os.chmod(folder, 0o777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _as(user, lock_path: Path) -> tuple[int, str]:
    proc = subprocess.run(
        ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups",
         sys.executable, "-c", TRY_LOCK, str(lock_path)],
        capture_output=True, text=True, timeout=60,
        env=dict(os.environ, PYTHONPATH=PYTHON_PATH), cwd="/")
    return proc.returncode, (proc.stdout + proc.stderr).strip()


def _stale_lock(path: Path) -> None:
    """What a killed run of this (root) user leaves: a 0644 lock file that no one holds."""
    lock = OutputLock(path)
    lock.acquire()
    os.close(lock._fd)  # the process "died": the flock goes, the file stays
    lock._fd = None
    assert path.exists() and oct(path.stat().st_mode & 0o777) == "0o644"


def test_another_users_stale_lock_is_replaced_in_a_writable_folder(other_user, shared):
    _stale_lock(shared / "B.lock")
    code, text = _as(other_user, shared / "B.lock")
    assert code == 0, text
    assert text == f"LOCKED {other_user.pw_uid}"
    assert not (shared / "B.lock").exists()


def test_another_users_stale_lock_in_a_sticky_folder_says_what_to_do(other_user, shared):
    os.chmod(shared, 0o1777)  # like /tmp: only the owner may remove a file
    _stale_lock(shared / "B.lock")
    code, text = _as(other_user, shared / "B.lock")
    assert code == 1
    assert "stale lock file left by user root" in text and f"rm {shared / 'B.lock'}" in text
    assert len(text.splitlines()) == 1


def test_another_users_held_lock_means_busy(other_user, shared):
    with OutputLock(shared / "B.lock"):
        code, text = _as(other_user, shared / "B.lock")
        assert code == 1 and "being written by another run" in text, text
        assert f"(pid {os.getpid()})" in text
    assert not (shared / "B.lock").exists()


def test_an_unreadable_foreign_lock_says_what_to_do(other_user, shared):
    _stale_lock(shared / "B.lock")
    os.chmod(shared / "B.lock", 0o600)
    code, text = _as(other_user, shared / "B.lock")
    assert code == 1
    assert "cannot tell whether a run holds it" in text and "rm " in text
    assert (shared / "B.lock").exists()
